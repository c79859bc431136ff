"""Argument normalisation shared by every op family (written once): contiguity of raw arrays,
int-or-tuple arguments, dim / axes normalisation, dtype checks, and the reduction of a
broadcast gradient back to its operand's shape (sum_to). Plain values in, plain values out;
errors name the op and the argument."""
from __future__ import annotations

import numbers
import operator

from .. import _C
from ..autograd import Function, replayed_as_python

__all__ = ["contig", "integer", "real", "ntuple", "shape_tuple", "dim", "axes", "require_float",
           "broadcast_shape", "sum_to", "numpy_names", "check_range", "Converted"]


def contig(a):
    """a itself when contiguous (None passes through), else a contiguous copy."""
    return a if a is None or a.is_contiguous() else a.contiguous()


@replayed_as_python
def check_range(arr, low, high, error):
    """Raises ``error(lo, hi)`` (an exception made from the smallest and largest value) when a
    value of the integer array ``arr`` lies outside [low, high]: the one place where an op
    checks tensor data. A step replayed by dlcore.compile runs it again on each batch (it is a
    check, not a value the step computes with)."""
    if arr.size:
        flat = arr.reshape(-1)
        lo = _C.reduce(_C.Reduce.min, flat, [0], False).item()
        hi = _C.reduce(_C.Reduce.max, flat, [0], False).item()
        if lo < low or hi > high:
            raise error(lo, hi)


def integer(v, op, name, minimum=None):
    """v as a Python int: an int, a NumPy integer or anything with __index__ (a 0-d int64
    tensor). A float - even 2.0 - or a bool is a TypeError naming op, the argument and the value
    (truncating 2.5 to 2 would be a silently wrong size); below ``minimum`` a ValueError."""
    if isinstance(v, bool) or isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an integer, got {v!r}")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an integer, got {type(v).__name__} {v!r}") from None
    if minimum is not None and i < minimum:
        what = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{op}: {name} must be {what}, got {i}")
    return i


def real(v, op, name, allow_bool=False):
    """v as a Python float: an int, float or NumPy / 0-d tensor number; anything else (a str, a
    bool unless allow_bool, None) is a TypeError naming op, the argument and the value."""
    if (isinstance(v, bool) and not allow_bool) or isinstance(v, (str, bytes)) or v is None:
        raise TypeError(f"{op}: {name} must be a number, got {type(v).__name__} {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a number, got {type(v).__name__} {v!r}") from None


def ntuple(v, n, op, name):
    """An int, or a tuple of n ints (a 1-tuple is repeated), as a tuple of n ints."""
    if isinstance(v, bool) or isinstance(v, (str, bytes)):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, numbers.Number) or hasattr(v, "__index__"):
        return (integer(v, op, name),) * n
    try:
        items = list(v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    t = tuple(integer(e, op, name) for e in items)
    if len(t) == 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def shape_tuple(s, op="shape", name="shape"):
    """An int or a sequence of ints as a shape tuple (floats refused, see integer())."""
    if isinstance(s, numbers.Number) or hasattr(s, "__index__"):
        return (integer(s, op, name),)
    try:
        items = list(s)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {type(s).__name__} {s!r}") from None
    return tuple(integer(v, op, name) for v in items)


def dim(d, ndim, op, shape, name="dim"):
    """Normalises dim d for a tensor with `ndim` dims (0-d tensors take -1 and 0) or raises an
    IndexError naming the op, the argument (``name``: NumPy-style APIs call it axis) and the
    shape."""
    n = max(ndim, 1)
    if not isinstance(d, numbers.Integral) or isinstance(d, bool):
        raise TypeError(f"{op}: {name} must be an int, got {type(d).__name__} {d!r}")
    if not -n <= d < n:
        raise IndexError(f"{op}: {name} {d} is out of range for a tensor of shape {tuple(shape)} "
                         f"(expected {name} in [{-n}, {n - 1}])")
    return int(d) % n


def axes(dims, ndim, op, shape, name="dim"):
    """None (every dim), an int or a sequence of ints as a list of dims in [0, ndim). An empty
    sequence means every dim too, as in PyTorch (``x.sum(dim=())`` is the full sum). Errors
    call the argument ``name`` (axis for NumPy-style APIs)."""
    if dims is None or (not isinstance(dims, numbers.Number) and not hasattr(dims, "__index__")
                        and len(dims) == 0):
        dims = range(ndim)
    elif isinstance(dims, numbers.Number) or hasattr(dims, "__index__"):
        dims = [dims]
    out = [integer(a, op, name) for a in dims]
    n = max(ndim, 1)
    for a in out:
        if not -n <= a < n:
            raise IndexError(f"{op}: {name} {a} is out of range for a tensor of shape {tuple(shape)} "
                             f"(expected {name} in [{-n}, {n - 1}])")
    return [a % ndim for a in out] if ndim else []


def numpy_names(op, dim, keepdim, axis, keepdims, dim_default=None):
    """(dim, keepdim) when NumPy's names axis / keepdims were given for them, as PyTorch's ops
    accept; giving both names of one argument is a TypeError naming op."""
    if axis is not None:
        if dim is not dim_default and dim != dim_default:
            raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r} (NumPy's name for dim); give one")
        dim = axis
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{op}: got both keepdim and keepdims (NumPy's name for keepdim); give one")
        keepdim = bool(keepdims)
    return dim, keepdim


def require_float(dtype, op, arg=None):
    """TypeError unless dtype is float32 or float64."""
    if not dtype.is_floating_point:
        if arg is None:
            raise TypeError(f"{op}: needs a float32 or float64 tensor, got {dtype}")
        raise TypeError(f"{op}: {arg} must be float32 or float64, got {dtype}")


def broadcast_shape(a, b, op):
    """The broadcast of shapes a and b (the one C++ rule); ValueError naming op and both."""
    return _C.broadcast_shapes(tuple(a), tuple(b), op)

def sum_to(g, shape):
    """Sums a broadcast gradient g back to `shape` (the shape of the operand)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = list(range(lead)) + [lead + i for i, s in enumerate(shape)
                                if s == 1 and g.shape[lead + i] != 1]
    return _C.reduce(_C.Reduce.sum, g, axes, True).reshape(shape)


class Converted(Function):
    """y = x.<by>(arg) for a non-tensor arg (a shape, dtype or device) whose gradient is
    converted back: g.<back>(x.<of>), back defaulting to by. One frame for the shape family's
    Reshape / View / Expand and the elementwise family's Cast / ToDevice."""

    of = by = back = None

    @classmethod
    def forward(cls, ctx, x, arg):
        ctx.was = getattr(x, cls.of)
        return getattr(x, cls.by)(arg)

    @classmethod
    def backward(cls, ctx, g):
        return getattr(g, cls.back or cls.by)(ctx.was), None
