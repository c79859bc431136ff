"""dlcore.Tensor: an n-d array (float32, float64, int64, bool) with autograd.

On the CPU a Tensor's memory is a NumPy array (``t._data``), which gives shapes, strides,
zero-copy views, ``t.numpy()`` without copying and DLPack exchange for free; all arithmetic
is done by dlcore's own kernels (``dlcore._C``). CUDA tensors hold a device array registered by
the CUDA build (see dlcore.cuda).
"""
from __future__ import annotations

import builtins
import numbers
from collections import namedtuple

import numpy as np

from . import _C
from . import autograd
from . import cuda
from .autograd import Variable
from .dtype import SUPPORTED as _SUPPORTED
from .dtype import bool_, float32, float64, get_default_dtype, int64
from .dtype import canonical as _canonical_dtype
from .dtype import is_dtype_like as _is_dtype_like
from .dtype import promote as _promote
from .ops import _args, activation, elementwise, gemm, reduce
from .ops import index as index_ops
from .ops import shape as shape_ops


def _as_array(data, dtype=None):
    """Converts Python data / NumPy arrays to a supported NumPy array (always a copy)."""
    if isinstance(data, Tensor):
        data = data._data
    arr = np.array(data, copy=True)
    if dtype is not None:
        return arr.astype(_canonical_dtype(dtype), copy=False)
    k = arr.dtype.kind
    if k == "f":  # NumPy float64 stays float64 (as in PyTorch); Python floats take the default
        keep = isinstance(data, (np.ndarray, np.floating)) and arr.dtype in (float32, float64)
        return arr if keep else arr.astype(get_default_dtype())
    if k in "iu":
        return arr.astype(int64)
    if k == "b":
        return arr
    raise TypeError(f"tensor: cannot make a tensor from data of type {arr.dtype}")


class Tensor(Variable):
    __slots__ = ()
    __array_priority__ = 1000  # NumPy defers to Tensor's operators

    # Tensor._wrap(arr), a plain Tensor over arr (also when called through a Parameter), is
    # set below the class: autograd.wrapper(Tensor)

    def __init__(self, data, requires_grad=False, dtype=None):
        super().__init__(_as_array(data, dtype), requires_grad)

    # ---- metadata ----
    @property
    def shape(self):
        return self._data.shape

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return "cpu" if isinstance(self._data, np.ndarray) else "cuda"

    def stride(self):
        return tuple(s // self._data.itemsize for s in self._data.strides)

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __repr__(self):
        body = np.array2string(np.asarray(self._data), separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype not in (get_default_dtype(), int64, bool_):
            extra += f", dtype={self._data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{type(self._node).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion ----
    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("numpy(): can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python "
                             f"scalars; this one has shape {tuple(self.shape)}")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with {self._data.size} elements is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self._data.dtype != int64 or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def to(self, *args, device=None, dtype=None):
        """to(device), to(dtype), to(device, dtype), to(other_tensor) or keywords, like PyTorch.
        Returns self when nothing changes."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) and (a in ("cpu", "cuda") or a.startswith("cuda:")):
                device = a
            elif _is_dtype_like(a):
                dtype = a
            else:
                device = a
        t = self
        if dtype is not None:
            t = t.type(_canonical_dtype(dtype, "to()"))
        if device is not None and str(device) != t.device:
            t = _move(t, str(device))
        return t

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def type(self, dtype):
        d = _canonical_dtype(dtype)
        if d == self._data.dtype:
            return self
        return elementwise.Cast.apply(self, str(d))

    astype = type

    def float(self):
        return self.type(float32)

    def double(self):
        return self.type(float64)

    def long(self):
        return self.type(int64)

    # ---- autograd ----
    def detach(self):
        return Tensor._wrap(self._data)

    def zero_(self):
        _C.fill(self._data, 0.0)
        return self

    def fill_(self, value):
        _C.fill(self._data, float(value))
        return self

    def copy_(self, src):
        src = src._data if isinstance(src, Tensor) else np.asarray(src)
        if np.may_share_memory(src, self._data):  # overlapping: read everything first
            src = _C.cast(src, str(src.dtype))
        _C.copy(src, self._data)
        return self

    def clone(self):
        return shape_ops.Contiguous.apply(self)

    def contiguous(self):
        return self if self._data.flags.c_contiguous else shape_ops.Contiguous.apply(self)

    # ---- arithmetic ----
    def _operand(self, other, op):
        if isinstance(other, Tensor):
            a, b = self, other
            if a.dtype != b.dtype:
                d = _promote(a.dtype, b.dtype)
                a, b = a.type(d), b.type(d)
            return a, b
        if isinstance(other, (numbers.Number, np.number, np.bool_)):
            d = self.dtype
            if d.kind in "ib" and isinstance(other, (float, np.floating)):
                d = get_default_dtype()
            elif d == bool_ and not isinstance(other, (bool, np.bool_)):
                d = int64  # bool tensor and an int scalar: int64, like PyTorch
            return self.type(d), Tensor._wrap(np.asarray(other, dtype=d))
        if isinstance(other, (np.ndarray, list, tuple)):
            return self._operand(Tensor(other), op)
        raise TypeError(f"{op}: unsupported operand type {type(other).__name__}")

    def __add__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.kind == "f":
            return elementwise.Affine.apply(self, 1.0, float(o))
        a, b = self._operand(o, "add")
        return elementwise.Add.apply(a, b)

    __radd__ = __add__

    def __sub__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.kind == "f":
            return elementwise.Affine.apply(self, 1.0, -float(o))
        a, b = self._operand(o, "sub")
        return elementwise.Sub.apply(a, b)

    def __rsub__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.kind == "f":
            return elementwise.Affine.apply(self, -1.0, float(o))
        a, b = self._operand(o, "sub")
        return elementwise.Sub.apply(b, a)

    def __mul__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.kind == "f":
            return elementwise.Affine.apply(self, float(o), 0.0)
        a, b = self._operand(o, "mul")
        return elementwise.Mul.apply(a, b)

    __rmul__ = __mul__

    def __truediv__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.kind == "f" and o != 0:
            return elementwise.Affine.apply(self, 1.0 / float(o), 0.0)
        a, b = self._operand(o, "div")
        if a.dtype.kind != "f":
            a, b = a.type(get_default_dtype()), b.type(get_default_dtype())
        return elementwise.Div.apply(a, b)

    def __rtruediv__(self, o):
        a, b = self._operand(o, "div")
        if a.dtype.kind != "f":
            a, b = a.type(get_default_dtype()), b.type(get_default_dtype())
        return elementwise.Div.apply(b, a)

    def __pow__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.kind in "ib":
            if isinstance(o, numbers.Integral):  # int ** int stays int, like PyTorch
                if o < 0:
                    raise ValueError(f"pow: integers to negative integer powers are not allowed "
                                     f"(tensor of shape {tuple(self.shape)}, exponent {o})")
                a, b = self._operand(int(o), "pow")
                return elementwise.Pow.apply(a, b)
            return elementwise.PowScalar.apply(self.type(get_default_dtype()), float(o))
        if isinstance(o, numbers.Number):
            return elementwise.PowScalar.apply(self, float(o))
        a, b = self._operand(o, "pow")
        return elementwise.Pow.apply(a, b)

    def __rpow__(self, o):
        a, b = self._operand(o, "pow")
        return elementwise.Pow.apply(b, a)

    def __abs__(self):
        return abs(self)

    def __neg__(self):
        return elementwise.Neg.apply(self)

    def __matmul__(self, o):
        return matmul(self, o)

    def __rmatmul__(self, o):
        return matmul(Tensor(o), self)

    def _compare(self, o, op):
        a, b = self._operand(o, "compare")
        return Tensor._wrap(_C.binary(op, a._data, b._data))

    def __lt__(self, o):
        return self._compare(o, _C.Binary.lt)

    def __le__(self, o):
        return self._compare(o, _C.Binary.le)

    def __gt__(self, o):
        return self._compare(o, _C.Binary.gt)

    def __ge__(self, o):
        return self._compare(o, _C.Binary.ge)

    def __eq__(self, o):
        return self._compare(o, _C.Binary.eq)

    def __ne__(self, o):
        return self._compare(o, _C.Binary.ne)

    __hash__ = object.__hash__

    def __invert__(self):
        if self.dtype != bool_:
            raise TypeError("~ is defined for bool tensors only")
        return Tensor._wrap(_C.unary(_C.Unary.logical_not, self._data))

    def __and__(self, o):
        return self._compare(o, _C.Binary.logical_and)

    def __or__(self, o):
        return self._compare(o, _C.Binary.logical_or)

    # ---- indexing ----
    def __getitem__(self, index):
        index = _convert_index(index, self)
        return shape_ops.GetItem.apply(self, index)

    def __setitem__(self, index, value):
        if self.requires_grad and autograd.is_grad_enabled():
            what = "a leaf tensor that requires grad" if self._node is None else \
                "a tensor that is part of an autograd graph"
            raise RuntimeError(f"__setitem__: {what} (shape {tuple(self.shape)}) cannot be modified "
                               "in place (its gradient would be silently wrong); wrap the assignment "
                               "in dlcore.no_grad(), or build the new value with where/cat")
        index = _convert_index(index, self)
        src = value._data if isinstance(value, Tensor) else np.asarray(value, dtype=self.dtype)
        if src.dtype != self.dtype or np.may_share_memory(src, self._data):
            # a converted or private copy: t[1:] = t[:-1] must read every value before writing
            src = _C.cast(src, str(self.dtype))
        if shape_ops.is_basic_index(index):
            dst = self._data[index]
            while src.ndim > dst.ndim and src.shape[0] == 1:  # NumPy drops leading 1s of the value
                src = src.reshape(src.shape[1:])
            _C.copy(src, dst)
        else:
            self._data[index] = src

    # ---- methods mirroring the functions below ----
    def reshape(self, *shape):
        return reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return flatten(self, start_dim, end_dim)

    def permute(self, *dims):
        return permute(self, *dims)

    def transpose(self, d0=-2, d1=-1):
        return transpose(self, d0, d1)

    @property
    def T(self):
        return permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        return transpose(self, -2, -1)

    def expand(self, *shape):
        return expand(self, *shape)

    def unsqueeze(self, dim):
        return unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return squeeze(self, dim)

    def sum(self, dim=None, keepdim=False):
        return sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return mean(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return min(self, dim, keepdim)

    def var(self, dim=None, keepdim=False, correction=1):
        return var(self, dim, keepdim, correction)

    def std(self, dim=None, keepdim=False, correction=1):
        return sqrt(var(self, dim, keepdim, correction))

    def argmax(self, dim=None, keepdim=False):
        return argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return argmin(self, dim, keepdim)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def sqrt(self):
        return sqrt(self)

    def abs(self):
        return abs(self)

    def relu(self):
        return relu(self)

    def sigmoid(self):
        return sigmoid(self)

    def tanh(self):
        return tanh(self)

    def clip(self, min=None, max=None):
        return clip(self, min, max)

    clamp = clip

    def pow(self, p):
        return self ** p

    def matmul(self, o):
        return matmul(self, o)

    def split(self, split_size_or_sections, dim=0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return chunk(self, chunks, dim)

    def gather(self, dim, index):
        return gather(self, dim, index)

    def index_select(self, dim, index):
        return index_select(self, dim, index)


Tensor._wrap = autograd.wrapper(Tensor)


def _move(t, device):
    """t copied to another device ("cpu", "cuda", "cuda:N")."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"to(): unknown device '{device}'; expected 'cpu' or 'cuda'")
    if device == "cpu":
        return Tensor._wrap(_C.cuda_to_host(t._data))
    if not cuda.is_built():
        raise RuntimeError("to('cuda'): dlcore was built without CUDA (no nvcc at build time)")
    if not cuda.is_available():
        raise RuntimeError("to('cuda'): no CUDA device is available (no driver or no GPU)")
    return Tensor._wrap(_C.cuda_from_host(t._data))


def _convert_index(index, t):
    def conv(i):
        if isinstance(i, Tensor):
            i = i._data
        if isinstance(i, list):
            return np.asarray(i, dtype=int64 if not builtins_all_bool(i) else bool_)
        if isinstance(i, np.ndarray) and i.ndim == 0 and i.dtype.kind in "iu":
            return int(i)  # a 0-d integer index is a basic index (NumPy would return a scalar)
        return i

    if isinstance(index, tuple):
        index = tuple(conv(i) for i in index)
        return _as_view_index(index)
    index = conv(index)
    if isinstance(index, np.ndarray):
        if index.dtype == bool_:
            if index.shape != t.shape[:index.ndim]:
                raise IndexError(f"boolean mask of shape {index.shape} does not match the tensor "
                                 f"shape {tuple(t.shape)}")
            index = np.nonzero(index)
            index = index[0].astype(int64) if len(index) == 1 else index
        elif index.dtype.kind in "iu":
            n = t.shape[0] if t.ndim else 0
            if index.size and (index.min() < -n or index.max() >= n):
                bad = index.max() if index.max() >= n else index.min()
                raise IndexError(f"index {int(bad)} "
                                 f"is out of bounds for axis 0 with size {n}")
            index = np.where(index < 0, index + n, index).astype(int64)
    return _as_view_index(index)


def _as_view_index(index):
    """A basic index that selects one element (t[1] on a 1-D tensor, t[()] on a 0-d one) makes
    NumPy return a scalar, not an array: appending an Ellipsis gives the 0-d view instead, so
    results, gradients and assignments always go through arrays."""
    if not shape_ops.is_basic_index(index):
        return index
    items = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in items):
        return index
    return items + (Ellipsis,)


def builtins_all_bool(seq):
    return len(seq) > 0 and all(isinstance(x, (bool, np.bool_)) for x in seq)


# ---- creation ---------------------------------------------------------------------------------

def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (list, scalar, NumPy array or Tensor)."""
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    return t.to(device) if device not in (None, "cpu") else t


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (no copy)."""
    return _share(arr, "from_numpy")


def _share(arr, _op):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{_op}: expected a numpy.ndarray, got {type(arr).__name__}")
    if arr.dtype.isnative is False and arr.dtype.newbyteorder("=") in _SUPPORTED:
        raise TypeError(f"{_op}: the array of shape {arr.shape} is not in native byte order; use "
                        "arr.astype(arr.dtype.newbyteorder('='))")
    if arr.dtype not in _SUPPORTED:
        raise TypeError(f"{_op}: unsupported dtype {arr.dtype} (argument of shape {arr.shape}); "
                        "dlcore supports float32, float64, int64 and bool (convert with .astype(...))")
    item = arr.itemsize
    if arr.ctypes.data % item or any(s % item for s in arr.strides):
        raise ValueError(f"{_op}: the array of shape {arr.shape} is misaligned for {arr.dtype} "
                         f"(strides {arr.strides}); pass np.ascontiguousarray(arr)")
    return Tensor._wrap(arr)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (NumPy, PyTorch CPU tensors, ...)."""
    arr = np.from_dlpack(obj)
    return _share(arr, "from_dlpack")


def _on(t, device):
    """Places a new CPU tensor on `device` (the device= argument of the creation functions)."""
    if device is None or str(device) == "cpu":
        return t
    moved = t.detach().to(device)
    return moved.requires_grad_(True) if t.requires_grad else moved


def _creation(shape, dtype, requires_grad, fill, device=None):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    d = _canonical_dtype(dtype) or get_default_dtype()
    t = Tensor._wrap(fill(shape, d))
    return _on(t.requires_grad_(True) if requires_grad else t, device)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    return _creation(shape, dtype, requires_grad, lambda s, d: np.zeros(s, d), device)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    return _creation(shape, dtype, requires_grad, lambda s, d: np.ones(s, d), device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:  # inferred from the fill value, like PyTorch
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = bool_
        elif isinstance(fill_value, (numbers.Integral, np.integer)):
            dtype = int64
    return _creation((shape,) if isinstance(shape, int) else tuple(shape), dtype, requires_grad,
                     lambda s, d: np.full(s, fill_value, d), device)


def empty(*shape, dtype=None, device=None):
    return _creation(shape, dtype, False, lambda s, d: np.empty(s, d), device)


def zeros_like(t, dtype=None):
    return zeros(*t.shape, dtype=dtype or t.dtype)


def ones_like(t, dtype=None):
    return ones(*t.shape, dtype=dtype or t.dtype)


def arange(start, end=None, step=1, dtype=None, device=None):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if is_int else get_default_dtype()
    return _on(Tensor._wrap(np.arange(start, end, step, dtype=_canonical_dtype(dtype))), device)


def eye(n, m=None, dtype=None, device=None):
    return _on(Tensor._wrap(np.eye(n, m, dtype=_canonical_dtype(dtype) or get_default_dtype())), device)


class Generator:
    """Counter-based generator state: (seed, next Philox counter block)."""

    def __init__(self, seed=0):
        self.manual_seed(seed)

    def manual_seed(self, seed):
        self.seed = int(seed) & ((1 << 64) - 1)
        self.counter = 0
        return self

    def get_state(self):
        return (self.seed, self.counter)

    def set_state(self, state):
        self.seed, self.counter = int(state[0]), int(state[1])

    def take(self, dtype, n):
        c = self.counter
        self.counter += _C.random_blocks(str(dtype), int(n))
        return c


default_generator = Generator(0)


def manual_seed(seed):
    """Seeds dlcore's generator: same seed, same random tensors, for any thread count."""
    default_generator.manual_seed(seed)
    return default_generator


def _random(shape, dtype, dist, a, b, requires_grad, generator):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    d = _canonical_dtype(dtype) or get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"random tensors must be float32 or float64, got {d}")
    if dist == _C.RandomDist.uniform and not a <= b:
        raise ValueError(f"uniform: low ({float(a)}) must not exceed high ({float(b)})")
    if dist == _C.RandomDist.normal and not b >= 0:
        raise ValueError(f"normal: std must be non-negative, got {float(b)}")
    arr = np.empty(tuple(int(s) for s in shape), d)
    g = generator or default_generator
    _C.random_fill(dist, arr, float(a), float(b), g.seed, g.take(d, arr.size))
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def rand(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    return _on(_random(shape, dtype, _C.RandomDist.uniform, 0.0, 1.0, requires_grad, generator), device)


def randn(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    return _on(_random(shape, dtype, _C.RandomDist.normal, 0.0, 1.0, requires_grad, generator), device)


def uniform(shape, low=0.0, high=1.0, dtype=None, generator=None):
    return _random((shape,) if isinstance(shape, int) else tuple(shape), dtype,
                   _C.RandomDist.uniform, low, high, False, generator)


def normal(shape, mean=0.0, std=1.0, dtype=None, generator=None):
    return _random((shape,) if isinstance(shape, int) else tuple(shape), dtype,
                   _C.RandomDist.normal, mean, std, False, generator)


def randperm(n, generator=None):
    """A random permutation of range(n) (argsort of uniform keys from the dlcore generator)."""
    keys = _random((int(n),), float64, _C.RandomDist.uniform, 0.0, 1.0, False, generator)._data
    return Tensor._wrap(np.argsort(keys, kind="stable").astype(int64))


def randint(low, high=None, size=(), generator=None):
    if high is None:
        low, high = 0, low
    if not high > low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    u = _random(tuple(size) if not isinstance(size, int) else (size,), float64,
                _C.RandomDist.uniform, float(low), float(high), False, generator)._data
    return Tensor._wrap(_C.cast(_C.unary(_C.Unary.floor, u), "int64"))


# ---- functions --------------------------------------------------------------------------------

def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _float(x, op):
    x = _t(x)
    _args.require_float(x.dtype, op)
    return x


def _float_tensor(x, op, arg="input"):
    """x itself when it is a float Tensor; TypeError naming op and arg otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {arg} must be a dlcore Tensor, got {type(x).__name__}")
    _args.require_float(x.dtype, op, arg)
    return x


def add(a, b):
    return _t(a) + b


def sub(a, b):
    return _t(a) - b


def mul(a, b):
    return _t(a) * b


def div(a, b):
    return _t(a) / b


def pow(a, b):
    return _t(a) ** b


def neg(x):
    return elementwise.Neg.apply(_t(x))


def exp(x):
    return elementwise.Exp.apply(_float(x, "exp"))


def log(x):
    return elementwise.Log.apply(_float(x, "log"))


def sqrt(x):
    return elementwise.Sqrt.apply(_float(x, "sqrt"))


def abs(x):
    return elementwise.Abs.apply(_t(x))


def relu(x):
    return activation.Activation.apply(_float(x, "relu"), _C.Act.relu, 0.0, 0.0)


def sigmoid(x):
    return activation.Activation.apply(_float(x, "sigmoid"), _C.Act.sigmoid, 0.0, 0.0)


def tanh(x):
    return activation.Activation.apply(_float(x, "tanh"), _C.Act.tanh, 0.0, 0.0)


def sin(x):
    return elementwise.Sin.apply(_float(x, "sin"))


def cos(x):
    return elementwise.Cos.apply(_float(x, "cos"))


def log1p(x):
    return elementwise.Log1p.apply(_float(x, "log1p"))


def expm1(x):
    return elementwise.Expm1.apply(_float(x, "expm1"))


def sign(x):
    return Tensor._wrap(_C.unary(_C.Unary.sign, _t(x)._data))


def clip(x, min=None, max=None):
    x = _t(x)
    lo = -np.inf if min is None else float(min)
    hi = np.inf if max is None else float(max)
    if lo > hi:
        raise ValueError(f"clip: min ({lo}) is greater than max ({hi})")
    return elementwise.Clip.apply(x, lo, hi)


clamp = clip


def maximum(a, b):
    a, b = _t(a)._operand(b, "maximum")
    return elementwise.Maximum.apply(a, b)


def minimum(a, b):
    a, b = _t(a)._operand(b, "minimum")
    return elementwise.Minimum.apply(a, b)


def where(condition, a, b):
    c = _t(condition)
    if c.dtype != bool_:
        raise TypeError(f"where: 'condition' must be a bool tensor, got {c.dtype}")
    if isinstance(a, Tensor):
        x, y = a._operand(b, "where")
    else:
        y, x = _t(b)._operand(a, "where")
    return elementwise.Where.apply(c, x, y)


def isnan(x):
    return Tensor._wrap(_C.unary(_C.Unary.isnan, _t(x)._data))


def isinf(x):
    return Tensor._wrap(_C.unary(_C.Unary.isinf, _t(x)._data))


def _axes(x, dim, op):
    return _args.axes(dim, x.ndim, op, x.shape)


def sum(x, dim=None, keepdim=False):
    x = _t(x)
    if x.dtype == bool_:
        x = x.type(int64)
    return reduce.Sum.apply(x, _axes(x, dim, "sum"), keepdim)


def mean(x, dim=None, keepdim=False):
    return reduce.Mean.apply(_float(x, "mean"), _axes(_t(x), dim, "mean"), keepdim)


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def amax(x, dim=None, keepdim=False):
    """Maximum over one or several dims; the gradient is shared evenly among ties."""
    x = _t(x)
    return reduce.Amax.apply(x, _axes(x, dim, "amax"), keepdim)


def amin(x, dim=None, keepdim=False):
    x = _t(x)
    return reduce.Amin.apply(x, _axes(x, dim, "amin"), keepdim)


def _extreme(x, dim, keepdim, is_max):
    """PyTorch's max/min: max(x) -> tensor; max(x, dim) -> (values, indices), the gradient
    flowing to the index; max(a, b) with a tensor b -> elementwise maximum."""
    if isinstance(dim, (Tensor, np.ndarray)):
        return maximum(x, dim) if is_max else minimum(x, dim)
    x = _t(x)
    if dim is None:
        return amax(x) if is_max else amin(x)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{'max' if is_max else 'min'}: dim must be an int (use amax/amin for several dims)")
    idx = _arg(x, dim, True, "max" if is_max else "min", _C.Reduce.argmax if is_max else _C.Reduce.argmin)
    d = int(dim) % x.ndim
    values = index_ops.Gather.apply(x, d, idx._data)
    if not keepdim:
        values, idx = squeeze(values, d), squeeze(idx, d)
    return MaxResult(values, idx)


def max(x, dim=None, keepdim=False):
    return _extreme(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False):
    return _extreme(x, dim, keepdim, False)


def var(x, dim=None, keepdim=False, correction=1):
    x = _float(x, "var")
    return reduce.Var.apply(x, _axes(x, dim, "var"), keepdim, float(correction))


def std(x, dim=None, keepdim=False, correction=1):
    return sqrt(var(x, dim, keepdim, correction))


def _arg(x, dim, keepdim, op, code):
    x = _t(x)
    if dim is None:
        return Tensor._wrap(_C.reduce(code, x._data.reshape(-1), [0], False))
    axes = _axes(x, dim, op)
    return Tensor._wrap(_C.reduce(code, x._data, axes, keepdim))


def argmax(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, "argmax", _C.Reduce.argmax)


def argmin(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, "argmin", _C.Reduce.argmin)


def matmul(a, b):
    a, b = _t(a), _t(b)
    if a.dtype != b.dtype:
        d = _promote(a.dtype, b.dtype)
        a, b = a.type(d), b.type(d)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    ka, kb = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: "
                         f"{ka} (dim {a.ndim - 1} of a) != {kb} (dim {builtins.max(b.ndim - 2, 0)} of b)")
    if a.ndim == 1 and b.ndim == 1:
        return reshape(gemm.MatMul.apply(unsqueeze(a, 0), unsqueeze(b, 1)), ())
    if a.ndim == 1:
        return squeeze(gemm.MatMul.apply(unsqueeze(a, 0), b), -2)
    if b.ndim == 1:
        return squeeze(gemm.MatMul.apply(a, unsqueeze(b, 1)), -1)
    return gemm.MatMul.apply(a, b)


def reshape(x, *shape):
    x = _t(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    n = x.numel()
    known = int(np.prod([s for s in shape if s != -1])) if shape else 1
    if shape.count(-1) > 1 or (-1 not in shape and known != n) or (-1 in shape and (known == 0 or n % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({n} elements) into {shape}")
    return shape_ops.Reshape.apply(x, shape)


def flatten(x, start_dim=0, end_dim=-1):
    x = _t(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _args.dim(start_dim, x.ndim, "flatten", x.shape), _args.dim(end_dim, x.ndim, "flatten", x.shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {tuple(x.shape)}")
    shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
    if x.numel() == 0:
        shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return reshape(x, shape)


def permute(x, *dims):
    x = _t(x)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    norm = tuple(_args.dim(d, x.ndim, "permute", x.shape) for d in dims)
    if sorted(norm) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {tuple(x.shape)}")
    return shape_ops.Permute.apply(x, norm)


def transpose(x, d0=-2, d1=-1):
    x = _t(x)
    nd = x.ndim
    for d in (d0, d1):
        if not -nd <= d < nd:
            raise IndexError(f"transpose: dim {d} is out of range for a tensor of shape {tuple(x.shape)}")
    dims = list(range(nd))
    dims[d0 % nd], dims[d1 % nd] = dims[d1 % nd], dims[d0 % nd]
    return shape_ops.Permute.apply(x, tuple(dims))


def expand(x, *shape):
    x = _t(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: target {shape} has fewer dims than the tensor {tuple(x.shape)}")
    if any(s == -1 for s in shape[:lead]):
        raise ValueError(f"expand: -1 is not allowed for the new leading dims of {shape} "
                         f"(tensor shape {tuple(x.shape)})")
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    try:
        np.broadcast_shapes(x.shape, full)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {tuple(x.shape)} to {shape}") from None
    return shape_ops.Expand.apply(x, full)


broadcast_to = expand


def unsqueeze(x, dim):
    x = _t(x)
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of shape {tuple(x.shape)}")
    d = dim % nd
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x, dim=None):
    x = _t(x)
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = [dim] if isinstance(dim, int) else list(dim)
    nd = builtins.max(x.ndim, 1)
    dd = set()
    for d in dims:
        if not -nd <= d < nd:
            raise IndexError(f"squeeze: dim {d} is out of range for a tensor of shape {tuple(x.shape)}")
        dd.add(d % nd)
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dd and s == 1)))


def cat(tensors, dim=0):
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    ref = ts[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    if not -ref.ndim <= dim < ref.ndim:
        raise IndexError(f"cat: dim {dim} is out of range for tensors of shape {tuple(ref.shape)}")
    d = dim % ref.ndim
    dt = ref.dtype
    for i, t in enumerate(ts):
        dt = _promote(dt, t.dtype)
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d):
            raise ValueError(f"cat: tensor {i} has shape {tuple(t.shape)}, incompatible with "
                             f"{tuple(ref.shape)} along dims other than {d}")
    ts = [t.type(dt) for t in ts]
    return shape_ops.Concat.apply(d, *ts)


concatenate = cat


def stack(tensors, dim=0):
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {tuple(t.shape)}, expected {tuple(ts[0].shape)}")
    dim = _args.dim(dim, ts[0].ndim + 1, "stack", ts[0].shape)
    return cat([unsqueeze(t, dim) for t in ts], dim)


def split(x, split_size_or_sections, dim=0):
    x = _t(x)
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"split: dim {dim} is out of range for a tensor of shape {tuple(x.shape)}")
    d = dim % x.ndim
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0:
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
    else:
        sizes = [int(v) for v in split_size_or_sections]
        total = builtins.sum(sizes)
        if total != n:
            raise ValueError(f"split: sections {sizes} sum to {total}, but dim {d} has size {n}")
    out = shape_ops.Split.apply(x, sizes, d)
    return out if isinstance(out, tuple) else (out,)


def chunk(x, chunks, dim=0):
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor cannot be chunked")
    dim = _args.dim(dim, x.ndim, "chunk", x.shape)
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks}")
    n = x.shape[dim]
    size = builtins.max(-(-n // chunks), 1)
    return split(x, size, dim)


def _index_tensor(index, op):
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: 'index' must be an integer tensor, got {idx.dtype}")
    return idx.astype(int64, copy=False)


def index_select(x, dim, index):
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("index_select: the input is 0-d; it needs at least one dimension")
    dim = _args.dim(dim, x.ndim, "index_select", x.shape)
    return index_ops.IndexSelect.apply(x, dim, _index_tensor(index, "index_select"))


def gather(x, dim, index):
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("gather: the input is 0-d; it needs at least one dimension")
    dim = _args.dim(dim, x.ndim, "gather", x.shape)
    return index_ops.Gather.apply(x, dim, _index_tensor(index, "gather"))


def one_hot(index, num_classes=-1, dtype=None):
    idx = _index_tensor(index, "one_hot")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    d = _canonical_dtype(dtype) or int64
    return Tensor._wrap(_C.one_hot(idx, int(num_classes), str(d)))
