"""dlcore.ops: Keras 3's ``keras.ops`` (its NumPy-like and neural-network functions) over
dlcore tensors, so Keras code runs with only its import changed (``from dlcore import ops``).

Names, arguments and semantics are Keras's: ``axis`` / ``keepdims`` (an int, a tuple or None
for all), NumPy broadcasting, Python numbers weakly typed (an int tensor plus 0.5 is float,
a float64 tensor plus 0.5 stays float64), float32 (dlcore's default dtype, Keras's floatx) for
what is made from Python floats and for float results of int inputs (``mean``, ``sqrt``,
``divide``...). dlcore has one integer dtype, int64: where Keras gives int32 (``argmax``,
``arange``, ``sum`` of bools, ``cast(x, "int32")``) these give int64. Everything is composed
from dlcore's tensor functions, so gradients flow through it (``loss.backward()`` or
``GradientTape``); floor / ceil / round / sign and the comparisons have none, as in Keras.

Bad input raises a ValueError / TypeError / IndexError whose message starts with
``ops.<name>:`` and names the argument and the shapes.

Not covered: keras.ops.image / linalg (beyond ``norm``) / signal, the control-flow ops beyond
``cond`` and ``vectorized_map`` (scan, fori_loop, while_loop), sparse tensors, float16 /
bfloat16 and the non-int64 integer dtypes (int8...int32 map to int64), and ``norm``'s
SVD-based matrix orders ('nuc', 2, -2).
"""
from __future__ import annotations

import builtins
import functools
import math
import numbers

from . import _C
from .autograd import no_grad
from ._ops import _args
from ._ops.elementwise import Erf as _Erf
from .dtype import bool_, canonical, float64, get_default_dtype, int64
from .dtype import promote as _promote
from .losses import categorical_crossentropy as _cce
from .losses import sparse_categorical_crossentropy as _scce
from .nn import functional as F
from .tensor import Tensor
from .tensor import (
    abs as _abs, all as _all, amax as _amax, amin as _amin, any as _any, arange as _arange,
    argmax as _argmax, argmin as _argmin, argsort as _argsort, cat as _cat, clip as _clip, cos as _cos,
    cumsum as _cumsum, einsum as _einsum, exp as _exp, expm1 as _expm1, flip as _flip, full as _full,
    gather as _gather, isinf as _isinf, isnan as _isnan, linspace as _linspace, log as _log, log1p as _log1p,
    logsumexp as _logsumexp, matmul as _matmul, maximum as _maximum, mean as _mean, minimum as _minimum,
    norm as _norm, ones as _ones, pad as _pad, reshape as _reshape, sign as _sign, sin as _sin,
    sort as _sort, split as _split, sqrt as _sqrt, square as _square, stack as _stack, std as _std,
    sum as _sum, tanh as _tanh, topk as _topk, transpose as _transpose, tril as _tril, triu as _triu,
    var as _var, where as _where, zeros as _zeros, tensor as _tensor)

__all__ = [
    # core
    "convert_to_tensor", "convert_to_numpy", "cast", "shape", "ndim", "size", "is_tensor", "stop_gradient",
    "cond", "vectorized_map", "slice", "slice_update", "dynamic_update_slice",
    # shapes
    "reshape", "transpose", "expand_dims", "squeeze", "concatenate", "stack", "split", "tile", "repeat",
    "flip", "pad", "broadcast_to", "ravel",
    # creation
    "zeros", "ones", "zeros_like", "ones_like", "full", "full_like", "arange", "linspace", "eye",
    "tril", "triu",
    # reductions
    "sum", "mean", "max", "min", "amax", "amin", "prod", "std", "var", "argmax", "argmin", "cumsum",
    "any", "all", "logsumexp", "moments", "norm", "count_nonzero",
    # elementwise
    "abs", "absolute", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "square", "power", "reciprocal",
    "sin", "cos", "tanh", "floor", "ceil", "round", "sign", "erf", "maximum", "minimum", "clip", "where",
    "add", "subtract", "multiply", "divide", "true_divide", "negative", "equal", "not_equal", "greater",
    "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
    "isnan", "isinf", "isfinite",
    # linear algebra
    "matmul", "dot", "einsum", "outer",
    # neural network
    "relu", "relu6", "sigmoid", "softmax", "log_softmax", "softplus", "softsign", "gelu", "silu", "swish",
    "elu", "selu", "leaky_relu", "hard_sigmoid", "log_sigmoid", "one_hot",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    # indexing and sorting
    "take", "take_along_axis", "top_k", "sort", "argsort",
]

_INT_NAMES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


def _dtype(dtype, op):
    """A Keras dtype argument as dlcore's: Keras's integer names (also NumPy's and PyTorch's
    int32...) are int64, dlcore's integer dtype; None stays None."""
    if dtype is None:
        return None
    name = dtype if isinstance(dtype, str) else (getattr(dtype, "name", None) or getattr(dtype, "__name__", None)
                                                 or str(dtype))
    if str(name).replace("torch.", "") in _INT_NAMES:
        return int64
    return canonical(dtype, f"ops.{op}: dtype")


def _t(x):
    return x if isinstance(x, Tensor) else _tensor(x)


def _f(x):
    """x as a float tensor: an int or bool one as the default float dtype (Keras's floatx)."""
    x = _t(x)
    return x if x.dtype.is_floating_point else x.type(get_default_dtype())


def _axes(x, axis, op):
    """Keras's axis argument (None: all) as a sorted list of dims, checked against x's shape."""
    return sorted(set(_args.axes(axis, x.ndim, f"ops.{op}", x.shape, name="axis")))


def _axis(x, axis, op, ndim=None):
    """One axis, checked against x's shape (or against ``ndim`` dims when given)."""
    return _args.dim(axis, x.ndim if ndim is None else ndim, f"ops.{op}", x.shape, name="axis")


def _pair(a, b, op):
    """a and b as two tensors of one dtype, Python numbers weakly typed (Tensor._operand's
    promotion); their shapes must broadcast."""
    if isinstance(a, Tensor):
        a, b = a._operand(b, f"ops.{op}")
    elif isinstance(b, Tensor):
        b, a = b._operand(a, f"ops.{op}")
    else:
        a, b = _t(a)._operand(b, f"ops.{op}")
    _args.broadcast_shape(a.shape, b.shape, f"ops.{op}")
    return a, b


# ---- core --------------------------------------------------------------------------------------

def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """x as a dlcore Tensor (a Tensor itself when it has the dtype; Python ints int64, Python
    floats float32, NumPy arrays keep their dtype)."""
    d = _dtype(dtype, "convert_to_tensor")
    if isinstance(x, Tensor):
        return x if d is None or x.dtype == d else x.type(d)
    return _tensor(x, dtype=d)


def convert_to_numpy(x):
    """x as a NumPy array (a view of a CPU tensor's memory, a host copy of a GPU one)."""
    return convert_to_tensor(x).detach().cpu().numpy()


def cast(x, dtype):
    """x converted to dtype (gradients flow between float dtypes)."""
    return convert_to_tensor(x).type(_dtype(dtype, "cast"))


def shape(x):
    """x's shape as a tuple of Python ints (None for a symbolic input's unknown size)."""
    s = getattr(x, "shape", None)
    return tuple(None if v is None else int(v) for v in (s if s is not None else _t(x).shape))


def ndim(x):
    """The number of dims of x."""
    return len(shape(x))


def size(x):
    """The number of elements of x."""
    return math.prod(shape(x))


def is_tensor(x):
    """True for a dlcore Tensor."""
    return isinstance(x, Tensor)


def stop_gradient(variable):
    """The value of variable with no gradient flowing back through it."""
    return _t(variable).detach()


def cond(pred, true_fn, false_fn):
    """true_fn() if pred else false_fn() (eager: only the chosen branch runs)."""
    return true_fn() if bool(pred) else false_fn()


def vectorized_map(function, elements):
    """function applied to each slice of elements along axis 0 (elements a tensor, or a tuple /
    list of tensors whose slices are passed together), the results stacked on a new axis 0."""
    if isinstance(elements, (tuple, list)):
        items = [_t(e) for e in elements]
        n = items[0].shape[0]
        outs = [function(type(elements)(e[i] for e in items)) for i in range(n)]
    else:
        e = _t(elements)
        outs = [function(e[i]) for i in range(e.shape[0])]
    if outs and isinstance(outs[0], (tuple, list)):
        return type(outs[0])(stack([o[k] for o in outs]) for k in range(len(outs[0])))
    return stack(outs)


def _box(x, start_indices, sizes, op):
    """start_indices and sizes as int tuples that fit inside x's shape."""
    start = [_args.integer(s, f"ops.{op}", "start_indices") for s in start_indices]
    sizes = [_args.integer(s, f"ops.{op}", "shape") for s in sizes]
    sizes = [x.shape[i] - start[i] if s == -1 else s for i, s in enumerate(sizes)] if len(start) == x.ndim else sizes
    if len(start) != x.ndim or len(sizes) != x.ndim or builtins.any(
            b < 0 or n < 0 or b + n > d for b, n, d in zip(start, sizes, x.shape)):
        raise ValueError(f"ops.{op}: start_indices {tuple(start)} and size {tuple(sizes)} do not fit inside "
                         f"inputs of shape {tuple(x.shape)}")
    return start, sizes


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras's name
    """The block of inputs of the given shape starting at start_indices (-1 in shape: to the end)."""
    x = _t(inputs)
    start, sizes = _box(x, start_indices, shape, "slice")
    return x[tuple(builtins.slice(b, b + n) for b, n in zip(start, sizes))]


def slice_update(inputs, start_indices, updates):
    """A copy of inputs with the block at start_indices replaced by updates (gradients flow to
    both)."""
    x, u = _t(inputs), _t(updates)
    if u.ndim != x.ndim:
        raise ValueError(f"ops.slice_update: updates must have as many axes as inputs, got shapes "
                         f"{tuple(u.shape)} and {tuple(x.shape)}")
    d = _promote(x.dtype, u.dtype)
    x, u = x.type(d), u.type(d)
    start, sizes = _box(x, start_indices, u.shape, "slice_update")
    amounts = [a for b, n, size in reversed(list(zip(start, sizes, x.shape))) for a in (b, size - b - n)]
    inside = _pad(_ones(*u.shape, dtype=bool_, device=x.device), amounts)
    return _where(inside, _pad(u, amounts), x)


dynamic_update_slice = slice_update


# ---- shapes ------------------------------------------------------------------------------------

def reshape(x, newshape):
    """x with a new shape (an int or a tuple; one size may be -1)."""
    return _reshape(_t(x), _args.shape_tuple(newshape, "ops.reshape", "newshape"))


def transpose(x, axes=None):
    """x with its axes permuted (None: reversed)."""
    x = _t(x)
    if axes is None:
        return x.permute(*reversed(range(x.ndim))) if x.ndim else x
    return x.permute(*[_axis(x, a, "transpose") for a in axes])


def expand_dims(x, axis):
    """x with size-1 axes inserted at axis (an int or a tuple, positions in the result)."""
    x = _t(x)
    axes = [axis] if isinstance(axis, numbers.Integral) else list(axis)
    out_nd = x.ndim + len(axes)
    positions = sorted(_args.dim(a, out_nd, "ops.expand_dims", x.shape, name="axis") for a in axes)
    if len(set(positions)) != len(positions):
        raise ValueError(f"ops.expand_dims: repeated axis in {axis!r}")
    sizes, it = [], iter(x.shape)
    for i in range(out_nd):
        sizes.append(1 if i in positions else next(it))
    return _reshape(x, tuple(sizes))


def squeeze(x, axis=None):
    """x without its size-1 axes (or only those in axis, which must have size 1)."""
    x = _t(x)
    if axis is None:
        return _reshape(x, tuple(s for s in x.shape if s != 1))
    axes = _axes(x, axis, "squeeze")
    bad = [a for a in axes if x.shape[a] != 1]
    if bad:
        raise ValueError(f"ops.squeeze: axis {bad[0]} of shape {tuple(x.shape)} has size {x.shape[bad[0]]}, not 1")
    return _reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def concatenate(xs, axis=0):
    """The tensors of xs joined along axis (None: flattened first)."""
    ts = [_t(x) for x in xs]
    if not ts:
        raise ValueError("ops.concatenate: xs is empty")
    if axis is None:
        return _cat([t.reshape(-1) for t in ts], 0)
    return _cat(ts, _axis(ts[0], axis, "concatenate"))


def stack(x, axis=0):
    """The tensors of x (of one shape) stacked along a new axis."""
    ts = [_t(v) for v in x]
    if not ts:
        raise ValueError("ops.stack: x is empty")
    return _stack(ts, _axis(ts[0], axis, "stack", ts[0].ndim + 1))


def split(x, indices_or_sections, axis=0):
    """A list of pieces of x along axis: ``indices_or_sections`` equal pieces (an int that
    divides the size), or the pieces between the given split indices."""
    x = _t(x)
    d = _axis(x, axis, "split")
    n = x.shape[d]
    if isinstance(indices_or_sections, numbers.Number) or hasattr(indices_or_sections, "__index__"):
        k = _args.integer(indices_or_sections, "ops.split", "indices_or_sections", 1)
        if n % k:
            raise ValueError(f"ops.split: axis {d} of shape {tuple(x.shape)} (size {n}) does not split into "
                             f"{k} equal sections")
        sizes = [n // k] * k
    else:
        cuts = [_args.integer(i, "ops.split", "indices_or_sections") for i in indices_or_sections]
        cuts = [builtins.min(builtins.max(n + i if i < 0 else i, 0), n) for i in cuts]  # as slice bounds
        if cuts != sorted(cuts):
            raise ValueError(f"ops.split: split indices {list(indices_or_sections)} must not decrease "
                             f"(axis {d} of shape {tuple(x.shape)})")
        bounds = [0] + cuts + [n]
        sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    return list(_split(x, sizes, d))


def tile(x, repeats):
    """x repeated ``repeats[i]`` times along axis i (NumPy's tile: fewer repeats than axes
    apply to the last ones, more add leading axes)."""
    x = _t(x)
    reps = _args.shape_tuple(repeats, "ops.tile", "repeats")
    reps = (1,) * (x.ndim - len(reps)) + reps
    return x.repeat(*reps) if reps else x


def repeat(x, repeats, axis=None):
    """Each element of x repeated ``repeats`` times (an int, or one count per element) along
    axis (None: x flattened first)."""
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    d = _axis(x, axis, "repeat")
    if hasattr(repeats, "tolist"):  # a tensor or NumPy array of counts: Python ints (host data)
        repeats = repeats.tolist()
    if isinstance(repeats, numbers.Number):
        r = _args.integer(repeats, "ops.repeat", "repeats", 0)
        shp = x.shape[:d + 1] + (r,) + x.shape[d + 1:]
        return x.unsqueeze(d + 1).expand(*shp).reshape(*(x.shape[:d] + (x.shape[d] * r,) + x.shape[d + 1:]))
    counts = [_args.integer(r, "ops.repeat", "repeats", 0) for r in repeats]
    if len(counts) == 1:
        return repeat(x, counts[0], d)
    if len(counts) != x.shape[d]:
        raise ValueError(f"ops.repeat: {len(counts)} repeats for axis {d} of shape {tuple(x.shape)}")
    index = [i for i, c in enumerate(counts) for _ in range(c)]
    return x.index_select(d, _tensor(index, dtype=int64, device=x.device))


def flip(x, axis=None):
    """x reversed along axis (None: every axis)."""
    x = _t(x)
    return _flip(x, _axes(x, axis, "flip"))


def pad(x, pad_width, mode="constant", constant_values=None):
    """x padded with constant_values (default 0): pad_width is ((before, after),) per axis,
    one (before, after) pair for all axes, or one int. Only mode='constant'."""
    x = _t(x)
    if mode != "constant":
        raise ValueError(f"ops.pad: only mode='constant' is supported, got mode={mode!r}")
    if isinstance(pad_width, numbers.Integral):
        pad_width = [pad_width]
    pw = list(pad_width)
    if builtins.all(isinstance(p, numbers.Integral) for p in pw):  # n, (n,) or (before, after): every axis
        pw = [pw]
    pairs = [tuple(p) if hasattr(p, "__len__") else (p,) for p in pw]
    pairs = [p * 2 if len(p) == 1 else p for p in pairs]
    if len(pairs) == 1:
        pairs = pairs * x.ndim
    if len(pairs) != x.ndim or builtins.any(len(p) != 2 for p in pairs):
        raise ValueError(f"ops.pad: pad_width {pad_width!r} does not give (before, after) for each axis of "
                         f"shape {tuple(x.shape)}")
    amounts = [_args.integer(v, "ops.pad", "pad_width", 0) for p in reversed(pairs) for v in p]
    return _pad(x, amounts, value=constant_values)


def broadcast_to(x, shape):
    """x broadcast to shape (a view)."""
    return _t(x).expand(*_args.shape_tuple(shape, "ops.broadcast_to", "shape"))


def ravel(x):
    """x flattened to one axis."""
    return _t(x).reshape(-1)


# ---- creation ----------------------------------------------------------------------------------

def _float_dtype(dtype, op):
    return _dtype(dtype, op) or get_default_dtype()


def zeros(shape, dtype=None):
    """A tensor of zeros (dtype default float32)."""
    return _zeros(*_args.shape_tuple(shape, "ops.zeros"), dtype=_float_dtype(dtype, "zeros"))


def ones(shape, dtype=None):
    """A tensor of ones (dtype default float32)."""
    return _ones(*_args.shape_tuple(shape, "ops.ones"), dtype=_float_dtype(dtype, "ones"))


def full(shape, fill_value, dtype=None):
    """A tensor filled with fill_value (dtype default float32)."""
    return _full(_args.shape_tuple(shape, "ops.full"), fill_value, dtype=_float_dtype(dtype, "full"))


def zeros_like(x, dtype=None):
    """Zeros of x's shape and dtype (or dtype)."""
    x = _t(x)
    return _zeros(*x.shape, dtype=_dtype(dtype, "zeros_like") or x.dtype, device=x.device)


def ones_like(x, dtype=None):
    """Ones of x's shape and dtype (or dtype)."""
    x = _t(x)
    return _ones(*x.shape, dtype=_dtype(dtype, "ones_like") or x.dtype, device=x.device)


def full_like(x, fill_value, dtype=None):
    """fill_value in x's shape and dtype (or dtype)."""
    x = _t(x)
    return _full(tuple(x.shape), fill_value, dtype=_dtype(dtype, "full_like") or x.dtype, device=x.device)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop) (int64 for int arguments, else float32)."""
    return _arange(start, stop, step, dtype=_dtype(dtype, "arange"))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """num evenly spaced values from start to stop (stop left out when endpoint is False);
    with retstep, (values, step). Scalar start and stop."""
    num = _args.integer(num, "ops.linspace", "num", 0)
    start, stop = _args.real(start, "ops.linspace", "start"), _args.real(stop, "ops.linspace", "stop")
    d = _dtype(dtype, "linspace") or get_default_dtype()
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else math.nan
    if endpoint or num == 0:
        out = _linspace(start, stop, num, dtype=d if d.is_floating_point else float64)
    else:
        out = _linspace(start, stop - step, num, dtype=d if d.is_floating_point else float64)
    out = out if out.dtype == d else out.type(d)
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None):
    """An N x M matrix with ones on the k-th diagonal (dtype default float32)."""
    n = _args.integer(N, "ops.eye", "N", 0)
    m = n if M is None else _args.integer(M, "ops.eye", "M", 0)
    k = _args.integer(k, "ops.eye", "k")
    offset = _arange(m).unsqueeze(0) - _arange(n).unsqueeze(1)
    return (offset == k).type(_float_dtype(dtype, "eye"))


def tril(x, k=0):
    """x with the elements above the k-th diagonal of its last two axes set to 0."""
    return _tril(_t(x), k)


def triu(x, k=0):
    """x with the elements below the k-th diagonal of its last two axes set to 0."""
    return _triu(_t(x), k)


# ---- reductions --------------------------------------------------------------------------------

def _keep(out, x, axes, keepdims):
    """A reduction's result over all axes reshaped to keepdims' shape."""
    return out.reshape(*[1 if i in axes else s for i, s in enumerate(x.shape)]) if keepdims else out


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    """The sum over axis (bools count as ints)."""
    x = _t(x)
    return _sum(x, _axes(x, axis, "sum"), bool(keepdims))


def mean(x, axis=None, keepdims=False):
    """The mean over axis (float32 for int or bool input, so the mean of a mask is a fraction)."""
    x = _f(x)
    return _mean(x, _axes(x, axis, "mean"), bool(keepdims))


def _extreme(x, axis, keepdims, initial, op, is_max):
    x = _t(x)
    axes = _axes(x, axis, op)
    if x.numel() == 0 and initial is None:
        raise ValueError(f"ops.{op}: zero-size input of shape {tuple(x.shape)} has no {op}imum; give initial")
    out = (_amax if is_max else _amin)(x, axes, bool(keepdims))
    if initial is not None:
        out = (maximum if is_max else minimum)(out, initial)
    return out


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - Keras's name
    """The maximum over axis (at least ``initial`` when given); ties share the gradient."""
    return _extreme(x, axis, keepdims, initial, "max", True)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - Keras's name
    """The minimum over axis (at most ``initial`` when given)."""
    return _extreme(x, axis, keepdims, initial, "min", False)


amax, amin = max, min


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over axis (pairwise products, so zeros and negative values are exact and
    gradients flow)."""
    x = _t(x)
    if dtype is not None:
        x = x.type(_dtype(dtype, "prod"))
    elif x.dtype == bool_:
        x = x.type(int64)
    axes = _axes(x, axis, "prod")
    rest = [i for i in range(x.ndim) if i not in axes]
    y = x.permute(*(rest + axes)) if x.ndim else x
    lead = tuple(y.shape[:len(rest)])
    y = y.reshape(*lead, -1)
    while y.shape[-1] > 1:
        n = y.shape[-1]
        if n % 2:
            y = _cat([y, _ones(*lead, 1, dtype=y.dtype, device=y.device)], -1)
        y = y[..., 0::2] * y[..., 1::2]
    out = y.reshape(*lead) if y.shape[-1] == 1 else _ones(*lead, dtype=y.dtype, device=y.device)
    return _keep(out, x, axes, keepdims)


def var(x, axis=None, keepdims=False):
    """The (population) variance over axis; float32 for int input."""
    x = _f(x)
    return _var(x, _axes(x, axis, "var"), bool(keepdims), correction=0)


def std(x, axis=None, keepdims=False):
    """The (population) standard deviation over axis; float32 for int input."""
    x = _f(x)
    return _std(x, _axes(x, axis, "std"), bool(keepdims), correction=0)


def _arg(x, axis, keepdims, op, fn):
    x = _t(x)
    if axis is None:
        out = fn(x.reshape(-1), 0)
        return out.reshape(*[1] * x.ndim) if keepdims else out
    return fn(x, _axis(x, axis, op), bool(keepdims))


def argmax(x, axis=None, keepdims=False):
    """The index of the maximum along axis (None: of the flattened x); int64."""
    return _arg(x, axis, keepdims, "argmax", _argmax)


def argmin(x, axis=None, keepdims=False):
    """The index of the minimum along axis (None: of the flattened x); int64."""
    return _arg(x, axis, keepdims, "argmin", _argmin)


def cumsum(x, axis=None, dtype=None):
    """Running sums along axis (None: of the flattened x)."""
    x = _t(x)
    if dtype is not None:
        x = x.type(_dtype(dtype, "cumsum"))
    if axis is None:
        x, axis = x.reshape(-1), 0
    return _cumsum(x, _axis(x, axis, "cumsum"))


def any(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    """True where some element over axis is nonzero."""
    x = _t(x)
    return _any(x, _axes(x, axis, "any"), bool(keepdims))


def all(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    """True where every element over axis is nonzero."""
    x = _t(x)
    return _all(x, _axes(x, axis, "all"), bool(keepdims))


def count_nonzero(x, axis=None):
    """The number of nonzero elements over axis (int64)."""
    x = _t(x)
    return _sum(x != 0, _axes(x, axis, "count_nonzero"))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over axis, computed without overflow; its gradient is softmax(x)."""
    x = _f(x)
    return _logsumexp(x, _axes(x, axis, "logsumexp"), bool(keepdims))


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) of x over axes (population variance, as Keras)."""
    if synchronized:
        raise NotImplementedError("ops.moments: synchronized=True (cross-replica statistics) is not supported")
    x = _f(x)
    dims = _axes(x, axes, "moments")
    return (_mean(x, dims, bool(keepdims)),
            _var(x, dims, bool(keepdims), correction=0))


def norm(x, ord=None, axis=None, keepdims=False):
    """Keras's (NumPy's) norm: a vector norm over one axis (ord None / 2, any p > 0, inf, -inf,
    0: the count of nonzeros) or a matrix norm over two ('fro', 1, -1, inf, -inf); axis None
    is the 2-norm of all elements when ord is None, else the vector / matrix norm of a 1-D /
    2-D x. float32 for int input."""
    x = _f(x)
    if axis is None:
        if ord is None:
            return _keep(_norm(x, 2), x, range(x.ndim), keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(f"ops.norm: ord={ord!r} with axis=None needs a 1-D or 2-D x, got shape {tuple(x.shape)}")
        axis = tuple(range(x.ndim))
    axes = [axis] if isinstance(axis, numbers.Integral) else list(axis)
    dims = [_axis(x, a, "norm") for a in axes]
    if len(dims) == 1:
        (d,) = dims
        if ord is None or ord == 2:
            return _norm(x, 2, d, bool(keepdims))
        if isinstance(ord, str) or isinstance(ord, bool):
            raise ValueError(f"ops.norm: ord={ord!r} is not a vector norm (axis {axis!r}, shape {tuple(x.shape)})")
        a = _abs(x)
        if ord == math.inf:
            return _amax(a, d, bool(keepdims))
        if ord == -math.inf:
            return _amin(a, d, bool(keepdims))
        if ord == 0:
            return _sum((x != 0).type(x.dtype), d, bool(keepdims))
        if ord > 0:
            return _norm(x, ord, d, bool(keepdims))
        return _sum(a ** ord, d, bool(keepdims)) ** (1.0 / ord)
    if len(dims) != 2 or dims[0] == dims[1]:
        raise ValueError(f"ops.norm: axis must be an int or a pair of distinct axes, got {axis!r} for shape "
                         f"{tuple(x.shape)}")
    r, c = dims
    if ord is None or ord == "fro":
        return _norm(x, 2, dims, bool(keepdims))
    if ord in (1, -1, math.inf, -math.inf) and not isinstance(ord, bool):
        # 1 / -1: the largest / smallest column sum of |x|; inf / -inf: the same over rows
        over, across = (r, c) if ord in (1, -1) else (c, r)
        sums = _sum(_abs(x), over, True)
        out = (_amax if ord > 0 else _amin)(sums, across, True)
        return out if keepdims else out.reshape(*[s for i, s in enumerate(out.shape) if i not in dims])
    raise ValueError(f"ops.norm: matrix ord={ord!r} is not supported (only 'fro', 1, -1, inf and -inf: "
                     f"'nuc', 2 and -2 need an SVD)")


# ---- elementwise -------------------------------------------------------------------------------

def abs(x):  # noqa: A001 - Keras's name
    """|x| (int stays int)."""
    return _abs(_t(x))


absolute = abs


def exp(x):
    """e ** x (float32 for int input)."""
    return _exp(_f(x))


def expm1(x):
    """e ** x - 1, exact near 0."""
    return _expm1(_f(x))


def log(x):
    """The natural logarithm."""
    return _log(_f(x))


def log1p(x):
    """log(1 + x), exact near 0."""
    return _log1p(_f(x))


def sqrt(x):
    """The square root (float32 for int input)."""
    return _sqrt(_f(x))


def rsqrt(x):
    """1 / sqrt(x)."""
    return 1.0 / _sqrt(_f(x))


def square(x):
    """x * x (int stays int)."""
    return _square(_t(x))


def power(x1, x2):
    """x1 ** x2, broadcast (an int tensor to an int power stays int)."""
    if isinstance(x1, Tensor) and isinstance(x2, numbers.Number):
        return x1 ** x2
    a, b = _pair(x1, x2, "power")
    return a ** b


def reciprocal(x):
    """1 / x."""
    return 1.0 / _f(x)


def sin(x):
    """The sine."""
    return _sin(_f(x))


def cos(x):
    """The cosine."""
    return _cos(_f(x))


def tanh(x):
    """The hyperbolic tangent."""
    return _tanh(_f(x))


def floor(x):
    """The largest integer <= x, as a float (no gradient)."""
    x = _f(x)
    return Tensor._wrap(_C.unary(_C.Unary.floor, x._data))


def ceil(x):
    """The smallest integer >= x, as a float (no gradient)."""
    x = _f(x)
    return Tensor._wrap(_C.unary(_C.Unary.ceil, x._data))


def round(x, decimals=0):  # noqa: A001 - Keras's name
    """x rounded to ``decimals`` decimals, halves to even (no gradient); int stays int for
    decimals >= 0."""
    x = _t(x)
    decimals = _args.integer(decimals, "ops.round", "decimals")
    if not x.dtype.is_floating_point:
        if decimals >= 0:
            return x
        x = x.type(get_default_dtype())
    scale = 10.0 ** decimals
    y = x * scale if decimals else x
    y = Tensor._wrap(_C.unary(_C.Unary.round, y.detach()._data))
    return y / scale if decimals else y


def sign(x):
    """-1, 0 or 1 as x is negative, zero or positive (no gradient)."""
    return _sign(_t(x))


def erf(x):
    """The error function; its gradient is 2 / sqrt(pi) exp(-x^2)."""
    return _Erf.apply(_f(x))


def maximum(x1, x2):
    """The elementwise maximum, broadcast."""
    return _maximum(*_pair(x1, x2, "maximum"))


def minimum(x1, x2):
    """The elementwise minimum, broadcast."""
    return _minimum(*_pair(x1, x2, "minimum"))


def clip(x, x_min, x_max):
    """x clamped into [x_min, x_max] (scalars)."""
    return _clip(_t(x), x_min, x_max)


def where(condition, x1=None, x2=None):
    """x1 where condition (nonzero) else x2, broadcast; with only condition, the tuple of index
    tensors of its nonzero elements."""
    c = _t(condition)
    c = c if c.dtype == bool_ else c != 0
    if x1 is None and x2 is None:
        nz = Tensor._wrap(_C.nonzero(c._data))
        return tuple(nz[:, i] for i in range(c.ndim))
    if x1 is None or x2 is None:
        raise ValueError("ops.where: give both x1 and x2, or neither")
    a, b = _pair(x1, x2, "where")
    _args.broadcast_shape(c.shape, _args.broadcast_shape(a.shape, b.shape, "ops.where"), "ops.where")
    return _where(c, a, b)


def add(x1, x2):
    """x1 + x2, broadcast."""
    a, b = _pair(x1, x2, "add")
    return a + b


def subtract(x1, x2):
    """x1 - x2, broadcast."""
    a, b = _pair(x1, x2, "subtract")
    return a - b


def multiply(x1, x2):
    """x1 * x2, broadcast."""
    a, b = _pair(x1, x2, "multiply")
    return a * b


def divide(x1, x2):
    """x1 / x2, broadcast (float32 for int inputs)."""
    a, b = _pair(x1, x2, "divide")
    return a / b


true_divide = divide


def negative(x):
    """-x."""
    return -_t(x)


def _compare(x1, x2, op, fn):
    a, b = _pair(x1, x2, op)
    return fn(a, b)


def equal(x1, x2):
    """x1 == x2 (bool), broadcast."""
    return _compare(x1, x2, "equal", lambda a, b: a == b)


def not_equal(x1, x2):
    """x1 != x2 (bool), broadcast."""
    return _compare(x1, x2, "not_equal", lambda a, b: a != b)


def greater(x1, x2):
    """x1 > x2 (bool), broadcast."""
    return _compare(x1, x2, "greater", lambda a, b: a > b)


def greater_equal(x1, x2):
    """x1 >= x2 (bool), broadcast."""
    return _compare(x1, x2, "greater_equal", lambda a, b: a >= b)


def less(x1, x2):
    """x1 < x2 (bool), broadcast."""
    return _compare(x1, x2, "less", lambda a, b: a < b)


def less_equal(x1, x2):
    """x1 <= x2 (bool), broadcast."""
    return _compare(x1, x2, "less_equal", lambda a, b: a <= b)


def _bool(x):
    x = _t(x)
    return x if x.dtype == bool_ else x != 0


def logical_and(x1, x2):
    """Both nonzero (bool), broadcast."""
    return _compare(_bool(x1), _bool(x2), "logical_and", lambda a, b: a & b)


def logical_or(x1, x2):
    """Either nonzero (bool), broadcast."""
    return _compare(_bool(x1), _bool(x2), "logical_or", lambda a, b: a | b)


def logical_xor(x1, x2):
    """Exactly one nonzero (bool), broadcast."""
    return _compare(_bool(x1), _bool(x2), "logical_xor", lambda a, b: a != b)


def logical_not(x):
    """x is zero (bool)."""
    return ~_bool(x)


def isnan(x):
    """x is NaN (bool)."""
    return _isnan(_t(x))


def isinf(x):
    """x is +-inf (bool)."""
    return _isinf(_t(x))


def isfinite(x):
    """x is neither NaN nor +-inf (bool)."""
    x = _t(x)
    return ~(_isnan(x) | _isinf(x))


# ---- linear algebra ----------------------------------------------------------------------------

def _float_pair(x1, x2):
    """Two operands of one dtype for a product; ints go through float64 (exact up to 2**53)
    and come back as int64."""
    a, b = _t(x1), _t(x2)
    d = _promote(a.dtype, b.dtype)
    work = d if d.is_floating_point else float64
    return a.type(work), b.type(work), d


def matmul(x1, x2):
    """The matrix product, NumPy's rules (1-D operands as vectors, leading axes broadcast)."""
    a, b, d = _float_pair(x1, x2)
    out = _matmul(a, b)
    return out if out.dtype == d else out.type(d)


def dot(x1, x2):
    """NumPy's dot: a product with a scalar, the inner product of vectors, the matrix product
    of 2-D operands, else a sum over x1's last axis and x2's second-to-last."""
    a, b, d = _float_pair(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        out = a * b
    elif b.ndim <= 2:
        out = _matmul(a, b)
    else:
        k = b.shape[-2]
        if a.shape[-1] != k:
            raise ValueError(f"ops.dot: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: "
                             f"{a.shape[-1]} (last axis of x1) != {k} (second-to-last axis of x2)")
        nd = b.ndim  # b's axis -2 to the front: (k, b's other axes in order) as a (k, rest) matrix
        bm = b.permute(nd - 2, *range(nd - 2), nd - 1).reshape(k, -1)
        out = _matmul(a.reshape(-1, k), bm).reshape(*a.shape[:-1], *b.shape[:-2], b.shape[-1])
    return out if out.dtype == d else out.type(d)


def einsum(subscripts, *operands):
    """Sums of products over labelled axes, as ``subscripts`` says ("ij,jk->ik", "...ij->...ji")."""
    ts = [_t(o) for o in operands]
    d = functools.reduce(_promote, [t.dtype for t in ts])
    work = d if d.is_floating_point else float64
    out = _einsum(subscripts, *[t.type(work) for t in ts])
    return out if out.dtype == d else out.type(d)


def outer(x1, x2):
    """The outer product of x1 and x2, both flattened."""
    a, b = _t(x1).reshape(-1, 1), _t(x2).reshape(1, -1)
    return multiply(a, b)


# ---- neural network ----------------------------------------------------------------------------

def relu(x):
    """max(x, 0) (int stays int)."""
    x = _t(x)
    return F.relu(x) if x.dtype.is_floating_point else _maximum(x, 0)


def relu6(x):
    """min(max(x, 0), 6)."""
    return F.relu6(_f(x))


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return F.sigmoid(_f(x))


def softmax(x, axis=-1):
    """exp(x) normalised to sum to 1 over axis (an int, a tuple, or None: all axes)."""
    x = _f(x)
    if isinstance(axis, numbers.Integral):
        return F.softmax(x, _axis(x, axis, "softmax"))
    return _exp(log_softmax(x, axis))


def log_softmax(x, axis=-1):
    """x - logsumexp(x) over axis (an int, a tuple, or None: all axes)."""
    x = _f(x)
    if isinstance(axis, numbers.Integral):
        return F.log_softmax(x, _axis(x, axis, "log_softmax"))
    return x - _logsumexp(x, _axes(x, axis, "log_softmax"), True)


def softplus(x):
    """log(1 + exp(x)), computed stably."""
    return F.softplus(_f(x), threshold=math.inf)


def softsign(x):
    """x / (1 + |x|)."""
    return F.softsign(_f(x))


def gelu(x, approximate=True):
    """x * Phi(x): with Keras's default approximate=True the tanh form, else the exact erf one."""
    return F.gelu(_f(x), approximate="tanh" if approximate else "none")


def silu(x):
    """x * sigmoid(x) (swish)."""
    return F.silu(_f(x))


swish = silu


def elu(x, alpha=1.0):
    """x for x > 0, alpha (exp(x) - 1) below."""
    return F.elu(_f(x), alpha)


def selu(x):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return F.selu(_f(x))


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, negative_slope * x below (Keras's default slope 0.2)."""
    return F.leaky_relu(_f(x), negative_slope)


def hard_sigmoid(x):
    """relu6(x + 3) / 6."""
    return F.hardsigmoid(_f(x))


def log_sigmoid(x):
    """log(sigmoid(x)), computed stably."""
    return F.logsigmoid(_f(x))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """(..., num_classes) indicator vectors of the integer labels x (float32 by default; a
    label outside [0, num_classes) gives a row of zeros), the class axis at ``axis``."""
    if sparse:
        raise ValueError("ops.one_hot: sparse=True is not supported")
    x = _t(x)
    if x.dtype.is_floating_point:
        x = x.type(int64)
    n = _args.integer(num_classes, "ops.one_hot", "num_classes", 1)
    out = (x.unsqueeze(-1) == _arange(n, device=x.device)).type(_float_dtype(dtype, "one_hot"))
    d = _args.dim(axis, x.ndim + 1, "ops.one_hot", x.shape, name="axis")
    return out if d == x.ndim else _transpose(out.unsqueeze(d), d, -1).squeeze(-1)


def _same_shape(target, output, op):
    t, o = _t(target), _t(output)
    if tuple(t.shape) != tuple(o.shape):
        raise ValueError(f"ops.{op}: target and output must have the same shape, got target.shape="
                         f"{tuple(t.shape)} and output.shape={tuple(o.shape)}")
    if not o.dtype.is_floating_point:
        o = o.type(get_default_dtype())
    return t.type(o.dtype) if t.dtype != o.dtype else t, o


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no reduction) of target in [0, 1] and output
    probabilities (clipped to [1e-7, 1 - 1e-7]) or logits."""
    t, o = _same_shape(target, output, "binary_crossentropy")
    if from_logits:
        return F.binary_cross_entropy_with_logits(o, t, reduction="none")
    return F.binary_cross_entropy(_clip(o, 1e-7, 1.0 - 1e-7), t, reduction="none")


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy of probability targets along axis (output: probabilities, normalised and
    clipped, or logits), the axis reduced."""
    t, o = _same_shape(target, output, "categorical_crossentropy")
    if o.ndim < 1:
        raise ValueError("ops.categorical_crossentropy: target and output must have at least one axis")
    return _cce(t, o, from_logits=from_logits, axis=_axis(o, axis, "categorical_crossentropy"))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy of integer class labels against scores with the class axis at ``axis``
    (probabilities, normalised and clipped, or logits); target has output's shape without that
    axis (or with it of size 1)."""
    t, o = _t(target), _t(output)
    if o.ndim < 1:
        raise ValueError("ops.sparse_categorical_crossentropy: output must have at least one axis")
    d = _axis(o, axis, "sparse_categorical_crossentropy")
    if t.ndim == o.ndim and t.shape[d] == 1:
        t = t.squeeze(d)
    if tuple(t.shape) != tuple(o.shape[:d] + o.shape[d + 1:]):
        raise ValueError(f"ops.sparse_categorical_crossentropy: target.shape={tuple(t.shape)} must be "
                         f"output.shape={tuple(o.shape)} without axis {d}")
    if d != o.ndim - 1:
        o = _transpose(o.unsqueeze(-1), d, -1).squeeze(d)
    return _scce(t, _f(o), from_logits=from_logits)


# ---- indexing and sorting ----------------------------------------------------------------------

def _indices(indices, n):
    """Integer indices as int64, negative ones counted from the end (n)."""
    i = _t(indices)
    if i.dtype != int64:
        i = i.type(int64)
    return _where(i < 0, i + n, i)


def take(x, indices, axis=None):
    """Elements of x at indices along axis (None: of the flattened x); the result's shape is
    x's with that axis replaced by the indices' shape. Negative indices count from the end."""
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    d = _axis(x, axis, "take")
    i = _indices(indices, x.shape[d])
    out = x.index_select(d, i.reshape(-1))
    return out.reshape(*x.shape[:d], *i.shape, *x.shape[d + 1:])


def take_along_axis(x, indices, axis=None):
    """x's elements at indices along axis (NumPy's take_along_axis: indices has x's number of
    axes, the others broadcast; None: the flattened x)."""
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    d = _axis(x, axis, "take_along_axis")
    i = _indices(indices, x.shape[d])
    if i.ndim != x.ndim:
        raise ValueError(f"ops.take_along_axis: indices (shape {tuple(i.shape)}) must have as many axes as x "
                         f"(shape {tuple(x.shape)})")
    other = _args.broadcast_shape(tuple(s for k, s in enumerate(x.shape) if k != d),
                                  tuple(s for k, s in enumerate(i.shape) if k != d), "ops.take_along_axis")
    xs, is_ = list(other), list(other)
    xs.insert(d, x.shape[d])
    is_.insert(d, i.shape[d])
    return _gather(x.expand(*xs), d, i.expand(*is_).contiguous())


def top_k(x, k, sorted=True):  # noqa: A002 - Keras's argument name
    """(values, indices) of the k largest elements along the last axis, largest first."""
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("ops.top_k: x must have at least one axis")
    k = _args.integer(k, "ops.top_k", "k", 0)
    if k > x.shape[-1]:
        raise ValueError(f"ops.top_k: k={k} is larger than the last axis of shape {tuple(x.shape)}")
    return _topk(x, k)


def sort(x, axis=-1):
    """x sorted ascending along axis (None: flattened); gradients flow to the values."""
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return _sort(x, _axis(x, axis, "sort")).values


def argsort(x, axis=-1):
    """The indices that sort x ascending along axis (None: flattened); int64."""
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    with no_grad():
        return _argsort(x, _axis(x, axis, "argsort"))


# ---- errors name ops.<name> --------------------------------------------------------------------

def _named(name, fn):
    """fn whose ValueError / TypeError / IndexError messages start with ``ops.<name>:`` (an
    error from a tensor function underneath keeps its own text after that)."""
    prefix = f"ops.{name}:"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            msg = str(e)
            if msg.startswith("ops."):
                raise
            raise type(e)(f"{prefix} {msg}") from e
    return wrapper


for _name in __all__:
    globals()[_name] = _named(_name, globals()[_name])
del _name
