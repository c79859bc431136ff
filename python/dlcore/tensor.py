"""dlcore.Tensor: an n-d array (float32, float64, int64, bool) with autograd.

A Tensor's memory is a ``dlcore._C.Array`` (``t._data``): shared storage on one device (CPU or
CUDA) + dtype + shape + strides + offset, with views computed in C++. CPU and CUDA tensors are
the same class; ``t.device`` comes from the storage. NumPy meets a tensor only at the edges:
``dlcore.tensor(np_array)``, ``from_numpy`` / ``t.numpy()`` / ``__array__`` (zero-copy on the
CPU), ``from_dlpack`` / ``__dlpack__``, and printing.
"""
from __future__ import annotations

import builtins
import contextlib
import math
import numbers
from collections import namedtuple

from . import _C
from . import autograd
from . import cuda
from . import _printing
from .autograd import Variable
from .device import device as _device
from .dtype import bool_, float32, float64, get_default_dtype, int64
from .dtype import canonical as _canonical_dtype
from .dtype import is_dtype_like as _is_dtype_like
from .dtype import promote as _promote
from .ops import _args, activation, elementwise, gemm, reduce
from .ops import index as index_ops
from .ops import shape as shape_ops


def _as_array(data, dtype=None, device=None):
    """A new Array holding a copy of Python data, a NumPy array or a Tensor (the dtype rules
    are _C.from_object's: NumPy float arrays keep their dtype, Python floats take the default)."""
    if isinstance(data, Tensor):
        data = data._data
    d = _canonical_dtype(dtype)
    return _C.from_object(data, d, get_default_dtype(), "cpu" if device is None else _device(device).name,
                          "tensor")


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
        return _device(self._data.device)

    @property
    def is_cuda(self):
        return self._data.device != "cpu"

    def stride(self, dim=None):
        s = self._data.strides
        return s if dim is None else s[dim]

    def storage_offset(self):
        return self._data.offset

    def data_ptr(self):
        return self._data.data_ptr()

    def is_contiguous(self):
        return self._data.is_contiguous()

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __repr__(self):
        body = _printing.array_body(self._data, "tensor(")
        extra = ""
        if self._data.dtype not in (get_default_dtype(), int64, bool_):
            extra += f", dtype={self._data.dtype}"
        if self._data.device != "cpu":
            extra += f", device='{self._data.device}'"
        if self._node is not None:
            extra += f", grad_fn=<{type(self._node).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion ----
    def numpy(self):
        """A NumPy array sharing this tensor's memory (CPU tensors only)."""
        if self.requires_grad:
            raise RuntimeError("numpy(): can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return self._data.numpy()

    def __array__(self, dtype=None, copy=None):
        a = self._data.numpy()
        if dtype is not None and dtype != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        return self._data.item()

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
            elif isinstance(a, _device) or (isinstance(a, str) and (a in ("cpu", "cuda") or a.startswith("cuda:"))):
                device = a
            elif _is_dtype_like(a):
                dtype = a
            else:
                device = a
        t = self
        if dtype is not None:
            t = t.type(_canonical_dtype(dtype, "to()"))
        if device is not None:
            dev = _device(device)
            if dev.name != t._data.device:
                t = elementwise.ToDevice.apply(t, _checked_device(dev, "to"))
        return t

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def type(self, dtype):
        d = _canonical_dtype(dtype)
        if d == self._data.dtype:
            return self
        return elementwise.Cast.apply(self, d)

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
        self._data.fill_(0.0)
        return self

    def fill_(self, value):
        self._data.fill_(float(value))
        return self

    def copy_(self, src):
        """Copies src (broadcast, converted to this tensor's dtype, from any device) into this
        tensor; an overlapping source is read completely first."""
        self._data.copy_(src._data if isinstance(src, Tensor) else src)
        return self

    def clone(self):
        return shape_ops.Contiguous.apply(self)

    def contiguous(self):
        return self if self._data.is_contiguous() else shape_ops.Contiguous.apply(self)

    # ---- arithmetic ----
    def _operand(self, other, op):
        if isinstance(other, Tensor):
            a, b = self, other
            if a.dtype != b.dtype:
                d = _promote(a.dtype, b.dtype)
                a, b = a.type(d), b.type(d)
            return a, b
        if isinstance(other, numbers.Number):
            d = self.dtype
            if not d.is_floating_point and isinstance(other, numbers.Real) and not isinstance(other, numbers.Integral):
                d = get_default_dtype()
            elif d == bool_ and not isinstance(other, bool):
                d = int64  # bool tensor and an int scalar: int64, like PyTorch
            return self.type(d), Tensor._wrap(_C.full((), other, d, self._data.device))
        if hasattr(other, "__array__") or isinstance(other, (list, tuple)):  # NumPy data: the edge
            return self._operand(Tensor._wrap(_as_array(other, device=self._data.device)), op)
        raise TypeError(f"{op}: unsupported operand type {type(other).__name__}")

    def __add__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.is_floating_point:
            return elementwise.Affine.apply(self, 1.0, float(o))
        a, b = self._operand(o, "add")
        return elementwise.Add.apply(a, b)

    __radd__ = __add__

    def __sub__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.is_floating_point:
            return elementwise.Affine.apply(self, 1.0, -float(o))
        a, b = self._operand(o, "sub")
        return elementwise.Sub.apply(a, b)

    def __rsub__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.is_floating_point:
            return elementwise.Affine.apply(self, -1.0, float(o))
        a, b = self._operand(o, "sub")
        return elementwise.Sub.apply(b, a)

    def __mul__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.is_floating_point:
            return elementwise.Affine.apply(self, float(o), 0.0)
        a, b = self._operand(o, "mul")
        return elementwise.Mul.apply(a, b)

    __rmul__ = __mul__

    def __truediv__(self, o):
        if isinstance(o, numbers.Number) and self.dtype.is_floating_point and o != 0:
            return elementwise.Affine.apply(self, 1.0 / float(o), 0.0)
        a, b = self._operand(o, "div")
        if not a.dtype.is_floating_point:
            a, b = a.type(get_default_dtype()), b.type(get_default_dtype())
        return elementwise.Div.apply(a, b)

    def __rtruediv__(self, o):
        a, b = self._operand(o, "div")
        if not a.dtype.is_floating_point:
            a, b = a.type(get_default_dtype()), b.type(get_default_dtype())
        return elementwise.Div.apply(b, a)

    def __pow__(self, o):
        if isinstance(o, numbers.Number) and not self.dtype.is_floating_point:
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
        items, adv = _parse_index(index, self)
        if not adv:
            return shape_ops.GetItem.apply(self, items)
        basic, dims, arrays, lead = _advanced_parts(items, adv, self)
        view = shape_ops.GetItem.apply(self, basic) if any(i != slice(None) for i in basic) else self
        out = index_ops.Index.apply(view, dims, arrays)
        if lead:  # NumPy puts adjacent advanced dims' result where they were
            nb = out.ndim - (view.ndim - len(dims))
            order = list(range(nb, nb + lead)) + list(range(nb)) + list(range(nb + lead, out.ndim))
            out = shape_ops.Permute.apply(out, tuple(order))
        return out

    def __setitem__(self, index, value):
        if self.requires_grad and autograd.is_grad_enabled():
            what = "a leaf tensor that requires grad" if self._node is None else \
                "a tensor that is part of an autograd graph"
            raise RuntimeError(f"__setitem__: {what} (shape {tuple(self.shape)}) cannot be modified "
                               "in place (its gradient would be silently wrong); wrap the assignment "
                               "in dlcore.no_grad(), or build the new value with where/cat")
        items, adv = _parse_index(index, self)
        src = value._data if isinstance(value, Tensor) else value
        if not adv:
            self._data[items] = src  # C++: broadcast, convert, read an overlapping source first
            return
        basic, dims, arrays, lead = _advanced_parts(items, adv, self)
        view = self._data[basic]
        if not isinstance(src, _C.Array):
            src = _as_array(src, self.dtype, self._data.device)
        if src.dtype != self.dtype or src.device != self._data.device or src.may_overlap(self._data):
            src = src.astype(self.dtype).to(self._data.device)
        if lead:  # the value is laid out as the result would be: move the index dims first
            nb = src.ndim - (view.ndim - len(dims))
            if nb > 0:
                order = list(range(lead, lead + nb)) + list(range(lead)) + list(range(lead + nb, src.ndim))
                src = src.permute(order)
        _C.index_put_(view, dims, arrays, src, False)

    # ---- methods mirroring the functions below ----
    def reshape(self, *shape):
        return reshape(self, *shape)

    def view(self, *shape):
        return view(self, *shape)

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
_C.set_tensor_type(Tensor)  # Function.apply makes its outputs as plain Tensors, in C++


def _checked_device(dev, op):
    """The device name for moving a tensor to dev, or a RuntimeError saying why there is no GPU."""
    if dev.type == "cuda":
        if not cuda.is_built():
            raise RuntimeError(f"{op}('cuda'): dlcore was built without CUDA (no nvcc at build time)")
        if not cuda.is_available():
            raise RuntimeError(f"{op}('cuda'): no CUDA device is available (no driver or no GPU)")
    return dev.name


def _index_array(i, t):
    """An index item as an Array (int64 or bool) when it is advanced, else the item itself."""
    if isinstance(i, Tensor):
        i = i._data
    elif isinstance(i, (list, tuple)) or hasattr(i, "__array__"):  # Python or NumPy index data
        i = _C.from_object(i, None, get_default_dtype(), "cpu", "index")
    if isinstance(i, _C.Array):
        if i.dtype == int64 and i.ndim == 0:
            return i.item()  # a 0-d integer index is a basic index
        if i.dtype not in (int64, bool_):
            raise IndexError(f"index: tensors used as indices must be int64 or bool, got {i.dtype}")
    elif isinstance(i, bool):
        raise IndexError("index: a Python bool is not a valid index (use a bool tensor as a mask)")
    return i


def _parse_index(index, t):
    """(items, positions of advanced items): each item an int, slice, None, Ellipsis or an
    int64 / bool Array."""
    raw = index if isinstance(index, tuple) else (index,)
    items = tuple(_index_array(i, t) for i in raw)
    adv = [k for k, i in enumerate(items) if isinstance(i, _C.Array)]
    return items, adv


def _advanced_parts(items, adv, t):
    """For an index with advanced items: (the basic index with each advanced item replaced by
    full slices, the dims of that basic view they index, their int64 index arrays, and where
    NumPy puts the result dims: 0 = first, else the count of view dims before them)."""
    consumed = builtins.sum(1 if not isinstance(i, _C.Array) else (i.ndim if i.dtype == bool_ else 1)
                            for i in items if i is not None and i is not Ellipsis)
    basic, dims, arrays = [], [], []
    tdim = vdim = 0
    first_adv_vdim = None
    for i in items:
        if i is None:
            basic.append(None)
            vdim += 1
        elif i is Ellipsis:
            n = t.ndim - consumed
            basic.append(Ellipsis)
            tdim += n
            vdim += n
        elif isinstance(i, _C.Array):
            k = i.ndim if i.dtype == bool_ else 1
            if i.dtype == bool_:
                covered = t.shape[tdim:tdim + k]
                if i.shape != covered:
                    raise IndexError(f"index: boolean mask of shape {i.shape} does not match the tensor's "
                                     f"shape {tuple(t.shape)} at dims {tdim}..{tdim + k - 1}")
                nz = _C.nonzero(i.to("cpu"))
                cols = [nz.select(1, j) for j in range(k)]
            else:
                if tdim >= t.ndim:
                    raise IndexError(f"too many indices for a tensor of shape {tuple(t.shape)}")
                cols = [i.to("cpu")]
            if first_adv_vdim is None:
                first_adv_vdim = vdim
            for c in cols:
                basic.append(slice(None))
                dims.append(vdim)
                arrays.append(c)
                tdim += 1
                vdim += 1
        else:
            basic.append(i)
            tdim += 1
            vdim += 0 if isinstance(i, numbers.Integral) else 1
    adjacent = adv == list(range(adv[0], adv[0] + len(adv)))
    return tuple(basic), dims, arrays, (first_adv_vdim if adjacent else 0)


# ---- creation ---------------------------------------------------------------------------------

def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (list, scalar, NumPy array or Tensor)."""
    t = Tensor._wrap(_as_array(data, dtype, device))
    return t.requires_grad_(True) if requires_grad else t


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (no copy; writes show on both sides)."""
    return Tensor._wrap(_C.share(arr, "from_numpy"))


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (NumPy, PyTorch CPU tensors, ...)."""
    return Tensor._wrap(_C.from_dlpack(obj))


def _shape_arg(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {s!r} in shape {tuple(shape)}")
        out.append(int(s))
    if any(s < 0 for s in out):
        raise ValueError(f"{op}: negative dimension in shape {tuple(out)}")
    if len(out) > _C.max_dims:
        raise ValueError(f"{op}: shape {tuple(out)} has {len(out)} dimensions; dlcore supports at most {_C.max_dims}")
    return tuple(out)


def _placed(arr, requires_grad):
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def _device_name(device, op):
    return "cpu" if device is None else _checked_device(_device(device), op)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    d = _canonical_dtype(dtype) or get_default_dtype()
    return _placed(_C.zeros(_shape_arg(shape, "zeros"), d, _device_name(device, "zeros")), requires_grad)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    d = _canonical_dtype(dtype) or get_default_dtype()
    return _placed(_C.full(_shape_arg(shape, "ones"), 1.0, d, _device_name(device, "ones")), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:  # inferred from the fill value, like PyTorch
        if isinstance(fill_value, bool):
            dtype = bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = int64
    d = _canonical_dtype(dtype) or get_default_dtype()
    shape = _shape_arg((shape,) if isinstance(shape, numbers.Integral) else tuple(shape), "full")
    return _placed(_C.full(shape, float(fill_value), d, _device_name(device, "full")), requires_grad)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    d = _canonical_dtype(dtype) or get_default_dtype()
    return _placed(_C.empty(_shape_arg(shape, "empty"), d, _device_name(device, "empty")), requires_grad)


def zeros_like(t, dtype=None, device=None):
    return zeros(*t.shape, dtype=dtype or t.dtype, device=device or t.device)


def ones_like(t, dtype=None, device=None):
    return ones(*t.shape, dtype=dtype or t.dtype, device=device or t.device)


def full_like(t, fill_value, dtype=None, device=None):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device)


def empty_like(t, dtype=None, device=None):
    return empty(*t.shape, dtype=dtype or t.dtype, device=device or t.device)


def arange(start, end=None, step=1, dtype=None, device=None):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = int64 if is_int else get_default_dtype()
    return Tensor._wrap(_C.arange(float(start), float(end), float(step), _canonical_dtype(dtype),
                                  _device_name(device, "arange")))


def eye(n, m=None, dtype=None, device=None):
    m = n if m is None else m
    t = zeros(n, m, dtype=dtype, device=device)
    k = builtins.min(n, m)
    if k:
        t._data.as_strided((k,), (m + 1,)).fill_(1.0)  # the diagonal, a strided view
    return t


class Generator:
    """Counter-based generator state: (seed, next Philox counter block)."""

    shard = (0, 1)  # (part, parts) of a batch that draws over batch-major tensors take: sharded()

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
        self.counter += _C.random_blocks(dtype, int(n))
        return c

    def take_batch(self, blocks, n):
        """The first counter of a draw of ``blocks(n)`` Philox blocks over a batch-major tensor
        (a dropout mask). Inside ``sharded(part, parts)`` the tensor is part ``part`` of a batch
        ``parts`` times larger: it takes the blocks the whole batch's draw gives that part (the
        same values, when n fills whole blocks), and the counter moves past the whole draw."""
        part, parts = self.shard
        b = blocks(int(n))
        c = self.counter
        self.counter = c + b * parts
        return c + b * part

    @contextlib.contextmanager
    def sharded(self, part, parts):
        """Within the block, batch draws (dropout) act as part ``part`` of ``parts`` equal,
        consecutive parts of one batch: what a data-parallel rank needs for the masks of the
        global batch (dlcore.distributed)."""
        if not 0 <= int(part) < int(parts):
            raise ValueError(f"Generator.sharded: part {part} is not in [0, {parts})")
        prev = self.shard
        self.shard = (int(part), int(parts))
        try:
            yield self
        finally:
            self.shard = prev


default_generator = Generator(0)


def manual_seed(seed):
    """Seeds dlcore's generator: same seed, same random tensors, for any thread count."""
    default_generator.manual_seed(seed)
    return default_generator


def _random(shape, dtype, dist, a, b, requires_grad, generator, device=None, op="rand"):
    shape = _shape_arg(shape, op)
    d = _canonical_dtype(dtype) or get_default_dtype()
    if not d.is_floating_point:
        raise TypeError(f"{op}: random tensors must be float32 or float64, got {d}")
    if dist == _C.RandomDist.uniform and not a <= b:
        raise ValueError(f"uniform: low ({float(a)}) must not exceed high ({float(b)})")
    if dist == _C.RandomDist.normal and not b >= 0:
        raise ValueError(f"normal: std must be non-negative, got {float(b)}")
    arr = _C.empty(shape, d, _device_name(device, op))
    g = generator or default_generator
    _C.random_fill(dist, arr, float(a), float(b), g.seed, g.take(d, arr.size))
    return _placed(arr, requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    return _random(shape, dtype, _C.RandomDist.uniform, 0.0, 1.0, requires_grad, generator, device, "rand")


def randn(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    return _random(shape, dtype, _C.RandomDist.normal, 0.0, 1.0, requires_grad, generator, device, "randn")


def uniform(shape, low=0.0, high=1.0, dtype=None, generator=None, device=None):
    return _random((shape,) if isinstance(shape, numbers.Integral) else tuple(shape), dtype,
                   _C.RandomDist.uniform, low, high, False, generator, device, "uniform")


def normal(shape, mean=0.0, std=1.0, dtype=None, generator=None, device=None):
    return _random((shape,) if isinstance(shape, numbers.Integral) else tuple(shape), dtype,
                   _C.RandomDist.normal, mean, std, False, generator, device, "normal")


def randperm(n, generator=None, device=None):
    """A random permutation of range(n) (the stable argsort of uniform keys from the dlcore
    generator)."""
    keys = _random((int(n),), float64, _C.RandomDist.uniform, 0.0, 1.0, False, generator, None, "randperm")
    return Tensor._wrap(_C.argsort(keys._data).to(_device_name(device, "randperm")))


def randint(low, high=None, size=(), generator=None, device=None):
    if high is None:
        low, high = 0, low
    if not high > low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    u = _random(tuple(size) if not isinstance(size, numbers.Integral) else (size,), float64,
                _C.RandomDist.uniform, float(low), float(high), False, generator, device, "randint")._data
    return Tensor._wrap(_C.cast(_C.unary(_C.Unary.floor, u), int64))


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
    lo = -math.inf if min is None else float(min)
    hi = math.inf if max is None else float(max)
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
    if isinstance(dim, Tensor) or hasattr(dim, "__array__"):
        return maximum(x, dim) if is_max else minimum(x, dim)
    x = _t(x)
    if dim is None:
        return amax(x) if is_max else amin(x)
    if not isinstance(dim, numbers.Integral):
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


def _sizes(shape, op):
    """*shape or a single tuple/list of sizes, as a tuple of ints (-1 allowed; the Array checks
    the rest of the shape rule)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {s!r} in {tuple(shape)}")
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    """x with a new shape (one size may be -1): a view when x's memory allows, else a copy."""
    return shape_ops.Reshape.apply(_t(x), _sizes(shape, "reshape"))


def view(x, *shape):
    """x with a new shape as a view of the same memory; raises when that needs a copy."""
    return shape_ops.View.apply(_t(x), _sizes(shape, "view"))


def flatten(x, start_dim=0, end_dim=-1):
    x = _t(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _args.dim(start_dim, x.ndim, "flatten", x.shape), _args.dim(end_dim, x.ndim, "flatten", x.shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {tuple(x.shape)}")
    shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
    if x.numel() == 0:
        shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
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
    """x broadcast to `shape` (-1 keeps a dim; new dims lead) as a view: no copy."""
    return shape_ops.Expand.apply(_t(x), _sizes(shape, "expand"))


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
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks}")
    n = x.shape[dim]
    size = builtins.max(-(-n // chunks), 1)
    return split(x, size, dim)


def _index_tensor(index, op):
    """The int64 Array of an index argument (a Tensor, or Python / NumPy integer data)."""
    idx = index._data if isinstance(index, Tensor) else _C.from_object(index, None, get_default_dtype(), "cpu", op)
    if idx.dtype != int64:
        raise TypeError(f"{op}: 'index' must be an integer tensor, got {idx.dtype}")
    return idx


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
        num_classes = int(_C.reduce(_C.Reduce.max, idx.reshape(-1), [0], False).item()) + 1 if idx.size else 0
    d = _canonical_dtype(dtype) or int64
    return Tensor._wrap(_C.one_hot(idx, int(num_classes), d))
