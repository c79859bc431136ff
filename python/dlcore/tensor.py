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
import threading
import weakref
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
from ._ops import _args, activation, elementwise, gemm, reduce
from ._ops import index as index_ops
from ._ops import inplace as inplace_ops
from ._ops import shape as shape_ops

__all__ = ["Tensor", "tensor", "as_tensor", "is_tensor", "is_floating_point", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "randint_like", "arange", "eye", "Generator",
           "default_generator", "current_generator", "use_generator", "manual_seed", "rand",
           "randn", "uniform", "normal", "randperm", "randint", "add", "sub", "mul", "div", "pow",
           "neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "sin", "cos", "log1p",
           "expm1", "sign", "clip", "clamp", "maximum", "minimum", "where", "isnan", "isinf", "square",
           "masked_fill", "narrow", "unbind", "numel", "mm", "bmm", "tril", "triu", "multinomial",
           "sort", "argsort", "topk", "cumsum", "linspace", "einsum", "scatter_add",
           "index_add",
           "softmax", "log_softmax", "logsumexp", "flip",
           "sum", "mean", "all", "any", "MaxResult", "amax", "amin", "max", "min", "var", "std", "norm",
           "argmax", "argmin", "matmul", "reshape", "view", "flatten", "permute", "transpose",
           "expand", "broadcast_to", "unsqueeze", "squeeze", "cat", "concatenate", "stack",
           "split", "chunk", "pad", "index_select", "gather", "one_hot"]


def _as_array(data, dtype=None, device=None):
    """A new Array holding a copy of Python data, a NumPy array or a Tensor (the dtype rules
    are _C.from_object's: NumPy float arrays keep their dtype, Python floats take the default)."""
    if isinstance(data, Tensor):
        data = data._data
    d = _canonical_dtype(dtype)
    return _C.from_object(data, d, get_default_dtype(), _device_name(device, "tensor"), "tensor")


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

    def int(self):
        """int64 (dlcore's integer dtype; PyTorch's int() gives int32)."""
        return self.type(int64)

    def bool(self):
        return self.type(bool_)

    def type_as(self, other):
        return self.type(other.dtype)

    def nelement(self):
        return self.numel()

    def element_size(self):
        """Bytes per element."""
        return self.dtype.itemsize

    # ---- autograd ----
    def detach(self):
        return Tensor._wrap(self._data)

    @property
    def data(self):
        """This tensor's values without its autograd history (shares memory, like detach());
        assigning a tensor replaces the values this tensor holds."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    # ---- in place (PyTorch's trailing-underscore family) ----
    def _inplace(self, op, result):
        """Writes `result` (a Tensor of this tensor's shape, or broadcastable to it) into this
        tensor: every in-place op ends here. Where a gradient is recorded (this tensor's, or the
        result's: ``buf[:, 0] = x``) the op joins the graph as in PyTorch (_record_inplace); a
        leaf that requires grad, or a view of one, is refused."""
        if result is self:  # (dropout outside training: nothing changes)
            return self
        if result.dtype.is_floating_point and not self.dtype.is_floating_point:
            raise TypeError(f"{op}: the result is {result.dtype} but the tensor is {self.dtype}; "
                            f"use the out-of-place op, or convert the tensor first")
        if result.requires_grad or self._recorded():
            _record_inplace(self, op, result)
        else:
            self._data.copy_(result._data)
        return self

    def _recorded(self):
        """Whether an in-place write into this tensor now must be recorded in the graph."""
        if not autograd.is_grad_enabled():
            return False
        base = self._base
        return self.requires_grad or (base is not None and base.requires_grad)

    def _overwrite_recorded(self, src=None):
        """Whether copy_ / fill_ / zero_ must be recorded. Overwriting a leaf that requires grad
        (or a view of one) with a value that needs no gradient is a plain write outside the
        graph, as dlcore has always allowed (initializers, weight loading; PyTorch asks for
        no_grad there); a backward that saved the old value still raises (version counter)."""
        if isinstance(src, Tensor) and src.requires_grad and autograd.is_grad_enabled():
            return True
        if not self._recorded():
            return False
        owner = self._base
        owner = self if owner is None else owner
        return not (owner._node is None and owner.requires_grad)

    def add_(self, other, alpha=1):
        return self._inplace("add_", self + (other if alpha == 1 else other * alpha))

    def sub_(self, other, alpha=1):
        return self._inplace("sub_", self - (other if alpha == 1 else other * alpha))

    def mul_(self, other):
        return self._inplace("mul_", self * other)

    def div_(self, other):
        return self._inplace("div_", self / other)

    def pow_(self, exponent):
        return self._inplace("pow_", self ** exponent)

    def neg_(self):
        return self._inplace("neg_", -self)

    def abs_(self):
        return self._inplace("abs_", abs(self))

    def exp_(self):
        return self._inplace("exp_", exp(self))

    def log_(self):
        return self._inplace("log_", log(self))

    def sqrt_(self):
        return self._inplace("sqrt_", sqrt(self))

    def relu_(self):
        return self._inplace("relu_", relu(self))

    def sigmoid_(self):
        return self._inplace("sigmoid_", sigmoid(self))

    def tanh_(self):
        return self._inplace("tanh_", tanh(self))

    def clip_(self, min=None, max=None):
        return self._inplace("clamp_", clip(self, min, max))

    clamp_ = clip_

    def masked_fill(self, mask, value):
        """A copy with `value` where the bool `mask` (broadcast to this shape) is True."""
        return where(_t(mask), value, self)

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill_", self.masked_fill(mask, value))

    def index_add_(self, dim, index, source, *, alpha=1):
        """Adds alpha * source's slices into this tensor at the positions `index` (1-D int64)
        along dim, in place; repeated indices accumulate (PyTorch's index_add_). Outside a
        recorded graph (the sparse updates of an embedding table, word2vec's SGD, under
        dlcore.no_grad()) only the indexed rows are touched; recorded, it is index_add written
        back like every in-place op."""
        if self._recorded() or (isinstance(source, Tensor) and source.requires_grad and autograd.is_grad_enabled()):
            return self._inplace("index_add_", index_add(self, dim, index, source, alpha=alpha))
        if self.ndim == 0:
            raise ValueError("index_add_: the tensor is 0-d; it needs at least one dimension")
        d = _args.dim(dim, self.ndim, "index_add_", self.shape)
        src = _t(source)
        if alpha != 1:
            src = src * _args.real(alpha, "index_add_", "alpha")
        if src.dtype != self.dtype:
            src = src.to(self.dtype)
        _C.index_add_(self._data, d, _index_tensor(index, "index_add_", self._data.device), src.contiguous()._data)
        return self

    def zero_(self):
        if self._overwrite_recorded():
            return self._inplace("zero_", zeros_like(self))
        self._data.fill_(0.0)
        return self

    def fill_(self, value):
        if self._overwrite_recorded(value):
            v = value if isinstance(value, Tensor) else tensor(_args.real(value, "fill_", "value", allow_bool=True),
                                                               dtype=self.dtype, device=self.device)
            if v.ndim != 0:
                raise ValueError(f"fill_: value must be a number or a 0-d tensor, got shape {tuple(v.shape)}")
            return self._inplace("fill_", _t(v).to(self.dtype).expand(self.shape))
        if _big_int(value) and self._data.dtype == int64:
            self._data[...] = int(value)  # exact: a double holds integers only up to 2**53
        else:
            self._data.fill_(_args.real(value, "fill_", "value", allow_bool=True))
        return self

    def copy_(self, src):
        """Copies src (broadcast, converted to this tensor's dtype, from any device) into this
        tensor; an overlapping source is read completely first. Recorded in the graph when
        src or this tensor requires grad (the gradient of src is summed over the broadcast)."""
        if self._overwrite_recorded(src):
            return self._assign("copy_", src)
        self._data.copy_(src._data if isinstance(src, Tensor) else src)
        return self

    def _value(self, value):
        """An assigned value as a Tensor on this tensor's device, of its dtype (differentiably)."""
        v = value if isinstance(value, Tensor) else tensor(value, dtype=self.dtype, device=self.device)
        if v.device != self.device:
            v = v.to(self.device)
        return v if v.dtype == self.dtype else v.to(self.dtype)

    def _assign(self, op, value):
        """copy_ / a basic-index assignment, recorded: value (leading 1s dropped, broadcast to
        this tensor's shape) written in place."""
        return self._inplace(op, _fit(op, self._value(value), self.shape))

    def clone(self):
        return shape_ops.Contiguous.apply(self)

    def __deepcopy__(self, memo):
        """copy.deepcopy of a graph leaf (a parameter, a user's tensor): a new tensor of the
        same class over a copy of the values, with requires_grad and a copy of .grad (so
        copy.deepcopy(module) gives an independent module, as in PyTorch)."""
        if id(self) in memo:
            return memo[id(self)]
        if self._node is not None:
            raise RuntimeError("deepcopy: only graph leaves (tensors created by the user, parameters) "
                               "can be deep-copied; detach() the tensor first")
        new = type(self).__new__(type(self))
        Variable.__init__(new, self._data.clone(), self.requires_grad)
        if self.grad is not None:
            new.grad = Tensor._wrap(self.grad._data.clone())
        memo[id(self)] = new
        return new

    def contiguous(self):
        return self if self._data.is_contiguous() else shape_ops.Contiguous.apply(self)

    # ---- arithmetic ----
    def _operand(self, other, op):
        if isinstance(other, Tensor):
            a, b = self, other
            if a.dtype != b.dtype:
                d = _result_dtype(a, b)
                a, b = a.type(d), b.type(d)
            return a, b
        if isinstance(other, numbers.Number):
            d = self.dtype
            if not d.is_floating_point and isinstance(other, numbers.Real) and not isinstance(other, numbers.Integral):
                d = get_default_dtype()
            elif d == bool_ and not isinstance(other, bool):
                d = int64  # bool tensor and an int scalar: int64, like PyTorch
            return self.type(d), Tensor._wrap(_scalar_array(other, d, self._data.device))
        if hasattr(other, "__array__") or isinstance(other, (list, tuple)):  # NumPy data: the edge
            return self._operand(Tensor._wrap(_as_array(other, device=self._data.device)), op)
        raise TypeError(f"{op}: unsupported operand type {type(other).__name__}")

    # The arithmetic operators first take the two common cases without _operand: another tensor
    # of the same dtype, and a Python number with a float tensor (one affine kernel).
    def __add__(self, o):
        k = _operand_kind(self, o)
        if k is _SAME:
            return elementwise.Add.apply(self, o)
        if k is _SCALAR:
            return elementwise.Affine.apply(self, 1.0, float(o))
        a, b = self._operand(o, "add")
        return elementwise.Add.apply(a, b)

    __radd__ = __add__

    def __sub__(self, o):
        k = _operand_kind(self, o)
        if k is _SAME:
            return elementwise.Sub.apply(self, o)
        if k is _SCALAR:
            return elementwise.Affine.apply(self, 1.0, -float(o))
        a, b = self._operand(o, "sub")
        return elementwise.Sub.apply(a, b)

    def __rsub__(self, o):
        if _operand_kind(self, o) is _SCALAR:
            return elementwise.Affine.apply(self, -1.0, float(o))
        a, b = self._operand(o, "sub")
        return elementwise.Sub.apply(b, a)

    def __mul__(self, o):
        k = _operand_kind(self, o)
        if k is _SAME:
            return elementwise.Mul.apply(self, o)
        if k is _SCALAR:
            return elementwise.Affine.apply(self, float(o), 0.0)
        a, b = self._operand(o, "mul")
        return elementwise.Mul.apply(a, b)

    __rmul__ = __mul__

    def __truediv__(self, o):
        k = _operand_kind(self, o)
        if k is _SAME and self._data.dtype.is_floating_point:
            return elementwise.Div.apply(self, o)
        if k is _SCALAR and o != 0:
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

    # augmented assignment writes in place, as PyTorch's (x += y is x.add_(y); x[i] *= 2 then
    # writes the product of the view back through it)
    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)

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
            return _view_of(shape_ops.GetItem.apply(self, items), self)
        basic, dims, arrays, lead = _advanced_parts(items, adv, self)
        view = shape_ops.GetItem.apply(self, basic) if builtins.any(i != slice(None) for i in basic) else self
        out = index_ops.Index.apply(view, dims, arrays)
        if lead:  # NumPy puts adjacent advanced dims' result where they were
            nb = out.ndim - (view.ndim - len(dims))
            order = list(range(nb, nb + lead)) + list(range(nb)) + list(range(nb + lead, out.ndim))
            out = shape_ops.Permute.apply(out, tuple(order))
        return out

    def __setitem__(self, index, value):
        if (isinstance(value, Tensor) and value.requires_grad and autograd.is_grad_enabled()) or self._recorded():
            return self._setitem_recorded(index, value)
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

    def _setitem_recorded(self, index, value):
        """self[index] = value as an op of the graph: a basic index writes through a view, an
        advanced one is an out-of-place index_put written back in place."""
        items, adv = _parse_index(index, self)
        if not adv:
            self[items]._assign("__setitem__", value)
            return
        v = self._value(value)
        basic, dims, arrays, lead = _advanced_parts(items, adv, self)
        view = self[basic] if builtins.any(i != slice(None) for i in basic) else self
        if lead:  # the value is laid out as the result would be: move the index dims first
            nb = v.ndim - (view.ndim - len(dims))
            if nb > 0:
                v = v.permute(list(range(lead, lead + nb)) + list(range(lead)) + list(range(lead + nb, v.ndim)))
        view._inplace("__setitem__", index_ops.IndexPut.apply(view, dims, arrays, v))

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

    def unsqueeze(self, dim=None, *, axis=None):
        return unsqueeze(self, dim, axis=axis)

    def squeeze(self, dim=None, *, axis=None):
        return squeeze(self, dim, axis=axis)

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return sum(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim=None, keepdim=False, correction=1, *, axis=None, keepdims=None):
        return var(self, dim, keepdim, correction, axis=axis, keepdims=keepdims)

    def std(self, dim=None, keepdim=False, correction=1, *, axis=None, keepdims=None):
        return std(self, dim, keepdim, correction, axis=axis, keepdims=keepdims)

    def norm(self, p=2, dim=None, keepdim=False):
        return norm(self, p, dim, keepdim)

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

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

    def split(self, split_size_or_sections, dim=0, *, axis=None):
        return split(self, split_size_or_sections, dim, axis=axis)

    def chunk(self, chunks, dim=0, *, axis=None):
        return chunk(self, chunks, dim, axis=axis)

    def gather(self, dim, index):
        return gather(self, dim, index)

    def index_select(self, dim, index):
        return index_select(self, dim, index)

    def softmax(self, dim, dtype=None):
        return softmax(self, dim, dtype)

    def log_softmax(self, dim, dtype=None):
        return log_softmax(self, dim, dtype)

    def logsumexp(self, dim, keepdim=False):
        return logsumexp(self, dim, keepdim)

    def clamp_min(self, min):
        return clip(self, min, None)

    def clamp_max(self, max):
        return clip(self, None, max)

    def flip(self, *dims):
        return flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def repeat(self, *sizes):
        """The tensor tiled sizes[i] times along dim i (leading sizes add dims), as a copy."""
        sizes = _sizes(sizes, "repeat")
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: needs at least {self.ndim} sizes for a tensor of shape {tuple(self.shape)}, "
                             f"got {sizes}")
        if builtins.any(r < 0 for r in sizes):
            raise ValueError(f"repeat: sizes must be non-negative, got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        # (s0, s1..) -> (1, s0, 1, s1..) expanded to (r0, s0, r1, s1..), then merged pairwise
        pairs = [v for s in shape for v in (1, s)]
        big = [v for r, s in zip(sizes, shape) for v in (r, s)]
        return reshape(expand(reshape(self, *pairs), *big), *[r * s for r, s in zip(sizes, shape)])

    def uniform_(self, from_=0.0, to=1.0, *, generator=None):
        """Fills the tensor with uniform values in [from_, to) (in place: under no_grad for a
        parameter, as nn.init does)."""
        return self._inplace("uniform_", _random(self.shape, self.dtype, _C.RandomDist.uniform, from_, to, False,
                                                  generator, self.device, "uniform_"))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fills the tensor with normal values (in place)."""
        return self._inplace("normal_", _random(self.shape, self.dtype, _C.RandomDist.normal, mean, std, False,
                                                 generator, self.device, "normal_"))

    # ---- more of PyTorch's Tensor methods, on the functions above ----
    def mm(self, other):
        if self.ndim != 2 or getattr(other, "ndim", 0) != 2:
            raise ValueError(f"mm: both arguments must be 2-D, got shapes {tuple(self.shape)} and "
                             f"{tuple(getattr(other, 'shape', ()))}")
        return matmul(self, other)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dims, got shape {tuple(self.shape)}")
        return transpose(self, 0, 1) if self.ndim == 2 else self

    def narrow(self, dim, start, length):
        """A view of `length` elements of dim from `start`."""
        dim = _args.dim(dim, self.ndim, "narrow", self.shape)
        index = [slice(None)] * self.ndim
        index[dim] = slice(int(start), int(start) + int(length))
        if not 0 <= int(start) <= self.shape[dim] or int(length) < 0 or int(start) + int(length) > self.shape[dim]:
            raise IndexError(f"narrow: start {start} and length {length} do not fit dim {dim} of size "
                             f"{self.shape[dim]} (tensor shape {tuple(self.shape)})")
        return self[tuple(index)]

    def view_as(self, other):
        return view(self, tuple(other.shape))

    def reshape_as(self, other):
        return reshape(self, tuple(other.shape))

    def expand_as(self, other):
        return expand(self, tuple(other.shape))

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def new_zeros(self, *size, dtype=None, device=None):
        return zeros(*size, dtype=dtype or self.dtype, device=device or self.device)

    def new_ones(self, *size, dtype=None, device=None):
        return ones(*size, dtype=dtype or self.dtype, device=device or self.device)

    def new_full(self, size, fill_value, dtype=None, device=None):
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device)

    def new_empty(self, *size, dtype=None, device=None):
        return empty(*size, dtype=dtype or self.dtype, device=device or self.device)

    def new_tensor(self, data, dtype=None, device=None):
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device)

    # ---- method forms of the tensor functions (x.add(y), x.sin(), ...), as PyTorch has them ----
    def add(self, other, *, alpha=1):
        return add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return sub(self, other, alpha=alpha)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def neg(self):
        return neg(self)

    def sin(self):
        return sin(self)

    def cos(self):
        return cos(self)

    def log1p(self):
        return log1p(self)

    def expm1(self):
        return expm1(self)

    def sign(self):
        return sign(self)

    def square(self):
        return square(self)

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    def where(self, condition, other):
        return where(condition, self, other)

    def isnan(self):
        return isnan(self)

    def isinf(self):
        return isinf(self)

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def broadcast_to(self, *size):
        return expand(self, *size)

    def unbind(self, dim=0):
        return unbind(self, dim)

    def tril(self, diagonal=0):
        return tril(self, diagonal)

    def triu(self, diagonal=0):
        return triu(self, diagonal)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return multinomial(self, num_samples, replacement, generator=generator)

    def scatter_add(self, dim, index, src):
        return scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        return self._inplace("scatter_add_", scatter_add(self, dim, index, src))

    def index_add(self, dim, index, source, *, alpha=1):
        return index_add(self, dim, index, source, alpha=alpha)

    def cumsum(self, dim, dtype=None):
        return cumsum(self, dim, dtype)

    def sort(self, dim=-1, descending=False, stable=False):
        return sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return topk(self, k, dim, largest, sorted)

    def __format__(self, spec):
        if self.ndim == 0:  # f"{loss:.4f}" works on a 0-d tensor, like PyTorch
            return format(self.item(), spec)
        return format(repr(self), spec)


Tensor._wrap = autograd.wrapper(Tensor)
_C.set_tensor_type(Tensor)  # Function.apply makes its outputs as plain Tensors, in C++

# The commonest operators and activation methods as C methods (csrc/bindings/autograd.cpp): they
# take another tensor of the same dtype, or a Python float / int with a float tensor, straight to
# the Function's apply (or, recording nothing, to its kernel); everything else goes to the Python
# methods above, which they call.
for _name, _kind, _fn in (("__add__", "add", elementwise.Add), ("__radd__", "add", elementwise.Add),
                          ("__sub__", "sub", elementwise.Sub), ("__rsub__", "rsub", elementwise.Sub),
                          ("__mul__", "mul", elementwise.Mul), ("__rmul__", "mul", elementwise.Mul)):
    _C.install_fast_operator(Tensor, _name, _kind, Tensor.__dict__[_name], _fn, elementwise.Affine, None)
for _name in ("relu", "sigmoid", "tanh"):
    _C.install_fast_operator(Tensor, _name, "act", Tensor.__dict__[_name], activation.Activation, None,
                             getattr(_C.Act, _name))


_SAME, _SCALAR, _OTHER = "same", "scalar", "other"


def _operand_kind(t, o):
    """_SAME: o is a tensor of t's dtype; _SCALAR: o is a real number and t a float tensor (an
    affine kernel takes it); _OTHER: anything that needs _operand's promotion rules."""
    if isinstance(o, Tensor):
        return _SAME if o._data.dtype is t._data.dtype else _OTHER
    if (type(o) is float or type(o) is int or isinstance(o, numbers.Real)) and type(o) is not bool \
            and t._data.dtype.is_floating_point:
        return _SCALAR
    return _OTHER


def _big_int(v):
    """An integer that a double does not hold exactly (beyond 2**53)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and builtins.abs(int(v)) > 2 ** 53


def _scalar_array(v, d, device):
    """A 0-d array of dtype d holding v exactly: a Python int beyond 2**53 goes through the exact
    integer conversion (which raises beyond int64), not through a double."""
    if d == int64 and _big_int(v):
        if not -2 ** 63 <= int(v) < 2 ** 63:
            raise ValueError(f"value {int(v)} does not fit in int64 (the largest is {2 ** 63 - 1})")
        return _C.from_object(int(v), int64, get_default_dtype(), device, "tensor").reshape(())
    return _C.full((), v, d, device)


def _category(d):
    return 2 if d.is_floating_point else (0 if d == bool_ else 1)


def _result_dtype(a, b):
    """PyTorch's promotion of two tensors: a 0-d tensor next to a tensor with dims does not
    widen it within the same category (float32 * a float64 scalar tensor stays float32); a 0-d
    tensor of a higher category gives that category's default (float32 or int64)."""
    if (a.ndim == 0) != (b.ndim == 0):
        dim, zero = (b, a) if a.ndim == 0 else (a, b)
        cz, cd = _category(zero.dtype), _category(dim.dtype)
        if cz <= cd:
            return dim.dtype
        return get_default_dtype() if cz == 2 else int64
    return _promote(a.dtype, b.dtype)


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
                nz = _C.nonzero(i.to(t._data.device))  # the indices live where the tensor does
                cols = [nz.select(1, j) for j in range(k)]
            else:
                if tdim >= t.ndim:
                    raise IndexError(f"too many indices for a tensor of shape {tuple(t.shape)}")
                cols = [i.to(t._data.device)]
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


def as_tensor(data, dtype=None, device=None):
    """data as a Tensor, sharing memory where it can (as PyTorch): a Tensor of that dtype and
    device is returned itself (else converted), a NumPy array of a dlcore dtype on the CPU is
    shared (from_numpy), anything else is copied (tensor)."""
    d = _canonical_dtype(dtype)
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=d)
    if type(data).__module__ == "numpy" and type(data).__name__ == "ndarray" and (device is None or
                                                                                _device(device) == "cpu"):
        try:
            t = from_numpy(data)
        except (TypeError, ValueError):
            t = None
        if t is not None and (d is None or t.dtype == d):
            return t
    return tensor(data, dtype=d, device=device)


def is_tensor(obj):
    """True for a dlcore Tensor (Parameters included)."""
    return isinstance(obj, Tensor)


def is_floating_point(t):
    return t.dtype.is_floating_point


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
    if builtins.any(s < 0 for s in out):
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
    dev = _device_name(device, "full")
    if _big_int(fill_value) and d == int64:
        return _placed(_scalar_array(fill_value, d, dev).expand(shape).contiguous(), requires_grad)
    return _placed(_C.full(shape, _args.real(fill_value, "full", "fill_value", allow_bool=True), d, dev),
                   requires_grad)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    d = _canonical_dtype(dtype) or get_default_dtype()
    return _placed(_C.empty(_shape_arg(shape, "empty"), d, _device_name(device, "empty")), requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return empty(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def _like_float(t, dtype, op):
    d = _canonical_dtype(dtype) if dtype is not None else t.dtype
    if not d.is_floating_point:
        raise TypeError(f"{op}: random values need a float dtype; the input is {d} (pass dtype=dlcore.float32)")
    return d


def rand_like(t, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform [0, 1) values of t's shape (and dtype and device unless given)."""
    return rand(*t.shape, dtype=_like_float(t, dtype, "rand_like"), device=device or t.device,
                requires_grad=requires_grad, generator=generator)


def randn_like(t, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal values of t's shape (and dtype and device unless given)."""
    return randn(*t.shape, dtype=_like_float(t, dtype, "randn_like"), device=device or t.device,
                 requires_grad=requires_grad, generator=generator)


def randint_like(t, low=0, high=None, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers uniform in [low, high) (randint_like(t, high) means low=0) of t's shape, in t's
    dtype (a float tensor gets integral floats, as PyTorch) unless dtype is given."""
    if high is None:
        low, high = 0, low
    r = randint(low, high, tuple(t.shape), generator=generator, device=device or t.device)
    d = _canonical_dtype(dtype) if dtype is not None else t.dtype
    r = r if d == int64 else r.type(d)
    return r.requires_grad_(True) if requires_grad else r


def arange(start, end=None, step=1, dtype=None, device=None):
    if end is None:
        start, end = 0, start
    is_int = builtins.all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (start, end, step))
    if dtype is None:
        dtype = int64 if is_int else get_default_dtype()
    d, dev = _canonical_dtype(dtype), _device_name(device, "arange")
    if is_int and d == int64 and builtins.any(_big_int(v) for v in (start, end, step)):
        # beyond 2**53 a double loses integers: count and step in exact int64 arithmetic
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            raise ValueError("arange: step must be nonzero")
        n = builtins.max(0, -((start - end) // step))
        base = _C.arange(0.0, float(n), 1.0, int64, dev)
        return Tensor._wrap(_C.binary(_C.Binary.add, _C.binary(_C.Binary.mul, base, _scalar_array(step, int64, dev)),
                                      _scalar_array(start, int64, dev)))
    start, end, step = (_args.real(v, "arange", n) for v, n in ((start, "start"), (end, "end"), (step, "step")))
    return Tensor._wrap(_C.arange(start, end, step, d, dev))


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end inclusive (default float dtype). As
    PyTorch, the first half counts up from start and the second half down from end, so both
    ends are exact."""
    steps = _args.integer(steps, "linspace", "steps", 0)
    start, end = _args.real(start, "linspace", "start"), _args.real(end, "linspace", "end")
    d = _canonical_dtype(dtype) if dtype is not None else get_default_dtype()
    if not d.is_floating_point:
        raise TypeError(f"linspace: dtype must be a float dtype, got {d}")
    i = arange(steps, dtype=d, device=device)
    step = (end - start) / builtins.max(steps - 1, 1)
    out = where(i < steps // 2, i * step + start, (i - (steps - 1)) * step + end)
    return out.requires_grad_() if requires_grad else out


def eye(n, m=None, dtype=None, device=None):
    n = _args.integer(n, "eye", "n", 0)
    m = n if m is None else _args.integer(m, "eye", "m", 0)
    t = zeros(n, m, dtype=dtype, device=device)
    k = builtins.min(n, m)
    if k:
        t._data.as_strided((k,), (m + 1,)).fill_(1.0)  # the diagonal, a strided view
    return t


class Generator:
    """Counter-based generator state: (seed, next Philox counter block). Drawing is atomic:
    threads sharing one generator never get the same block twice (their order still depends
    on scheduling: give each thread its own generator for reproducible runs)."""

    shard = (0, 1)  # (part, parts) of a batch that draws over batch-major tensors take: sharded()

    def __init__(self, seed=0):
        self._lock = threading.Lock()
        self.manual_seed(seed)

    def manual_seed(self, seed):
        seed = _args.integer(seed, "manual_seed", "seed")
        self.seed = seed & ((1 << 64) - 1)
        self.counter = 0
        return self

    def get_state(self):
        return (self.seed, self.counter)

    def set_state(self, state):
        try:
            seed, counter = state
        except (TypeError, ValueError):
            raise ValueError(f"Generator.set_state: state must be a (seed, counter) pair, got {state!r}") from None
        seed = _args.integer(seed, "Generator.set_state", "seed")
        counter = _args.integer(counter, "Generator.set_state", "counter", 0)
        if not 0 <= seed < 1 << 64 or counter >= 1 << 64:
            raise ValueError(f"Generator.set_state: seed and counter must fit in 64 bits, got {state!r}")
        self.seed, self.counter = seed, counter

    def advance(self, blocks):
        """Reserves `blocks` Philox counter blocks; returns the first."""
        with self._lock:
            c = self.counter
            self.counter = c + int(blocks)
        return c

    def take(self, dtype, n):
        return self.advance(_C.random_blocks(dtype, int(n)))

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
_current = threading.local()


def current_generator():
    """The generator that random ops without a ``generator=`` argument draw from: the one set
    by use_generator() on this thread, else dlcore's default generator."""
    return getattr(_current, "generator", None) or default_generator


class use_generator:
    """Context manager: on this thread, random ops without a ``generator=`` argument (rand,
    dropout, initializers, DataLoader shuffling without its own generator) draw from ``g`` (a
    Generator, or a seed for a new one). Two models built and trained in two threads, each in
    its own use_generator, are each reproducible."""

    def __init__(self, g):
        self.generator = g if isinstance(g, Generator) else Generator(g)

    def __enter__(self):
        self._prev = getattr(_current, "generator", None)
        _current.generator = self.generator
        return self.generator

    def __exit__(self, *exc):
        _current.generator = self._prev
        return False


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
    g = generator or current_generator()
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
    keys = _random((_args.integer(n, "randperm", "n", 0),), float64, _C.RandomDist.uniform, 0.0, 1.0, False, generator, None, "randperm")
    return Tensor._wrap(_C.argsort(keys._data).to(_device_name(device, "randperm")))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Category indices (int64) drawn from the rows of ``input`` ((K,) or (N, K) non-negative
    weights, not necessarily normalised): shape (num_samples,) or (N, num_samples). Each draw
    is the argmax of log(weight) plus Gumbel noise -log(-log(u)), so zero weights are never
    drawn; without replacement the num_samples largest keys, in order. PyTorch's semantics,
    dlcore's generator (so not PyTorch's numbers)."""
    op = "multinomial"
    w = _float(input, op)
    n = _args.integer(num_samples, op, "num_samples", 1)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"{op}: input must be a 1-D or 2-D tensor of category weights, got shape {tuple(w.shape)}")
    with autograd.no_grad():
        w = w.detach().type(float64)
        bad = (w < 0) | isnan(w) | isinf(w)
        if bool(bad.any()) or bool((w.sum(-1) <= 0).any()):
            raise ValueError(f"{op}: input must hold finite, non-negative weights with a positive sum in every "
                             f"row (shape {tuple(w.shape)})")
        if not replacement and n > int((w > 0).sum(-1).amin()):
            raise ValueError(f"{op}: cannot draw {n} samples without replacement from a row with "
                             f"{int((w > 0).sum(-1).amin())} non-zero weights (shape {tuple(w.shape)})")
        lw = log(w)
        draws = (n,) if replacement else ()
        u = _random(tuple(w.shape[:-1]) + draws + (w.shape[-1],), float64, _C.RandomDist.uniform, 0.0, 1.0, False,
                    generator, w.device, op)
        keys = (unsqueeze(lw, -2) if replacement else lw) - log(-log(clip(u, 1e-300, 1.0 - 2.0 ** -53)))
        if replacement:
            return argmax(keys, -1)
        return Tensor._wrap(_C.argsort((-keys)._data))[..., :n].contiguous()


def randint(low, high=None, size=(), generator=None, device=None, *, dtype=None, requires_grad=False):
    """Integers drawn uniformly from [low, high) (int64, or ``dtype``). As in PyTorch, the
    forms are randint(high, size) and randint(low, high, size)."""
    if isinstance(high, (tuple, list)) and size == ():  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = _args.integer(low, "randint", "low"), _args.integer(high, "randint", "high")
    if not high > low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    if high - low > 2 ** 53 or _big_int(low) or _big_int(high):
        raise ValueError(f"randint: the range [{low}, {high}) is beyond 2**53, where dlcore's generator "
                         f"(through float64) cannot draw every integer uniformly")
    u = _random(tuple(size) if not isinstance(size, numbers.Integral) else (size,), float64,
                _C.RandomDist.uniform, float(low), float(high), False, generator, device, "randint")._data
    out = Tensor._wrap(_C.cast(_C.unary(_C.Unary.floor, u), int64))
    if dtype is not None and dtype != int64:
        out = out.type(dtype)
    return out.requires_grad_() if requires_grad else out


# ---- functions --------------------------------------------------------------------------------

def _record_inplace(t, op, result):
    """t.<op>(...) with result (its value, computed out of place from t's current history) as
    an op of the graph, PyTorch's in-place semantics:

    * a leaf that requires grad, or a view of one, is refused (its gradient would not be its own);
    * result is written into t's memory (bumping its version: a backward that saved the old value
      raises), and t takes result's node - the node's edge to t's previous history was taken when
      it was made, and so were the edges of every earlier consumer of t;
    * a value result's backward read from t's memory (x.mul_(y) needs the old x for y's gradient)
      is kept as a copy; result itself, if its backward reads it (relu_, exp_), is read from t's
      memory instead (where t has result's layout), so a later in-place change of t raises there
      as in PyTorch;
    * t a view (t._base: h[:, 0] += 1, v.relu_()): the write changed the base too - the base's new
      node is CopySlices (its gradient outside t's region to its old history, inside to result);
    * every live view of the memory written (t too, when it is one) becomes a view of the new
      value (ViewOf), as PyTorch regenerates a view's grad_fn after its base changed.
    """
    base = t._base
    if base is not None and not t._data.may_overlap(base._data):
        base = None  # the base's memory was replaced (.data =, Module.to) since: no longer a view
    for who, what in ((t, "a leaf tensor"), (base, "a view of a leaf tensor")):
        if who is not None and who.requires_grad and who._node is None:
            raise RuntimeError(f"{op}: {what} that requires grad (shape {tuple(who.shape)}) is being used in an "
                               "in-place operation (its gradient would not be its own); modify it under "
                               "dlcore.no_grad() (as an optimizer step does), or work on a clone()")
    if result.dtype != t.dtype:
        result = result.to(t.dtype)
    result = _fit(op, result, t.shape)
    if result._node is None:  # a constant or a leaf: t's old history gets a zero gradient
        result = inplace_ops.Overwrite.apply(t, result)
    arr, out, node = t._data, result._data, result._node
    saved = node.saved if node is not None else ()
    if saved:
        saved = tuple(a.clone() if a is not None and a is not out and a.may_overlap(arr) else a for a in saved)
    arr.copy_(out)
    if saved:
        if arr.strides == out.strides:  # (a backward kernel reads the layout it saved)
            saved = tuple(arr if a is out else a for a in saved)
        node.saved, node.saved_versions = saved, tuple(None if a is None else a.version for a in saved)
    if base is None:
        t._node, t._out_index, t.requires_grad = result._node, result._out_index, result.requires_grad
    else:
        b = base._data
        new = inplace_ops.CopySlices.apply(base, result, _geometry(b, arr))
        base._node, base._out_index, base.requires_grad = new._node, 0, new.requires_grad
    # every view of the memory written (t among them when it is one) is a view of its owner's
    # new value now: its history starts again from there
    root = t if base is None else base
    for u in [r() for r in root._views or ()]:
        if u is None or not u._data.may_overlap(root._data):
            continue
        view = inplace_ops.ViewOf.apply(root, _geometry(root._data, u._data))
        u._node, u._out_index, u.requires_grad = view._node, 0, view.requires_grad


def _geometry(base, view):
    """Where the array view lies in base's memory (shapes, strides, offsets; _ops/inplace.py)."""
    return (base.shape, base.strides, base.offset, view.shape, view.strides, view.offset)


def _view_of(out, x):
    """out, a view op's result over x's memory, remembers the tensor owning that memory
    (PyTorch's ``_base``): an in-place write through the view changes that tensor's value."""
    base = x._base
    if base is None:
        base = x
    out._base = base
    views = base._views
    if views is None:
        base._views = [weakref.ref(out)]
    else:
        views.append(weakref.ref(out))
        if len(views) >= 16 and not len(views) & (len(views) - 1):  # at 16, 32, 64...: drop the dead
            views[:] = [r for r in views if r() is not None]
    return out


def _fit(op, v, shape):
    """v (an in-place op's result, an assigned value) broadcast to the written tensor's shape,
    leading size-1 dims beyond it dropped (NumPy's and PyTorch's assignment rule)."""
    if v.shape == shape:
        return v
    extra = 0
    while v.ndim - extra > len(shape) and v.shape[extra] == 1:
        extra += 1
    try:
        return expand(reshape(v, v.shape[extra:]) if extra else v, shape)
    except ValueError:
        raise ValueError(f"{op}: a value of shape {tuple(v.shape)} cannot be written into a tensor of shape "
                         f"{tuple(shape)}") from None


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _float(x, op):
    x = _t(x)
    _args.require_float(x.dtype, op)
    return x


def _tensor_arg(x, op, arg="input"):
    """x itself when it is a Tensor; TypeError naming op and arg otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {arg} must be a dlcore Tensor, got {type(x).__name__}")
    return x


def _float_tensor(x, op, arg="input"):
    """x itself when it is a float Tensor; TypeError naming op and arg otherwise."""
    _tensor_arg(x, op, arg)
    _args.require_float(x.dtype, op, arg)
    return x


def add(a, b, *, alpha=1):
    """a + alpha * b (alpha scales `other`, as PyTorch's add)."""
    return _t(a) + (b if alpha == 1 else _t(b) * alpha)


def sub(a, b, *, alpha=1):
    """a - alpha * b."""
    return _t(a) - (b if alpha == 1 else _t(b) * alpha)


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
    """x clamped into [min, max] (either may be None). An integer tensor with a fractional
    bound is promoted to the default float dtype first, like PyTorch (clamping [1, 2, 3] into
    [0.5, 2.5] gives [1.0, 2.0, 2.5], not a truncated bound)."""
    x = _t(x)
    for name, v in (("min", min), ("max", max)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise TypeError(f"clip: {name} must be a real number or None, got {type(v).__name__} {v!r}")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if not x.dtype.is_floating_point and builtins.any(v is not None and not isinstance(v, numbers.Integral)
                                             for v in (min, max)):
        x = x.type(get_default_dtype())
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


def square(x):
    """x * x."""
    x = _t(x)
    return x * x


def masked_fill(x, mask, value):
    """A copy of x with `value` where the bool `mask` (broadcast to x's shape) is True."""
    return _t(x).masked_fill(mask, value)


def _softmax(x, dim, dtype, log, op):
    """softmax / log_softmax of x along dim (cast to dtype first when given): the one home of
    their argument rules (nn.functional's forms add PyTorch's legacy choice when dim is None)."""
    x = _float(x, op)
    if dtype is not None:
        x = x.to(dtype=dtype)
    dim = _args.dim(dim, x.ndim, op, x.shape)
    return (activation.LogSoftmax if log else activation.Softmax).apply(x, dim)


def softmax(x, dim, dtype=None):
    """exp(x - max) / sum exp(x - max) along dim."""
    return _softmax(x, dim, dtype, False, "softmax")


def log_softmax(x, dim, dtype=None):
    return _softmax(x, dim, dtype, True, "log_softmax")


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) over dim, computed as m + log(sum(exp(x - m))) with m the (detached)
    maximum, so it neither overflows nor underflows; its gradient is softmax(x)."""
    x = _float(x, "logsumexp")
    axes = _axes(x, dim, "logsumexp")
    with autograd.no_grad():
        m = amax(x, axes, keepdim=True)
        m = where(isinf(m), 0.0, m)  # rows of infinities: exp(x - 0) gives them their value
    out = log(sum(exp(x - m), axes, keepdim))
    return out + (m if keepdim else m.reshape(tuple(out.shape)))


def flip(x, dims):
    """x reversed along each of dims (a copy, as PyTorch's flip)."""
    x = _t(x)
    axes = set(_args.axes(dims, x.ndim, "flip", x.shape))
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))].clone()


def _axes(x, dim, op):
    return _args.axes(dim, x.ndim, op, x.shape)


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("sum", dim, keepdim, axis, keepdims)
    x = _t(x)
    if x.dtype == bool_:
        x = x.type(int64)
    return reduce.Sum.apply(x, _axes(x, dim, "sum"), keepdim)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("mean", dim, keepdim, axis, keepdims)
    return reduce.Mean.apply(_float(x, "mean"), _axes(_t(x), dim, "mean"), keepdim)


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum over one or several dims; the gradient is shared evenly among ties."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("amax", dim, keepdim, axis, keepdims)
    x = _t(x)
    return reduce.Amax.apply(x, _axes(x, dim, "amax"), keepdim)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("amin", dim, keepdim, axis, keepdims)
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
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{'max' if is_max else 'min'}: dim must be an int (use amax/amin for several dims), got {dim!r}")
    idx = _arg(x, dim, True, "max" if is_max else "min", _C.Reduce.argmax if is_max else _C.Reduce.argmin)
    d = _args.dim(dim, x.ndim, "max" if is_max else "min", x.shape) if x.ndim else 0
    values = index_ops.Gather.apply(x, d, idx._data)
    if not keepdim:
        values, idx = squeeze(values, d), squeeze(idx, d)
    return MaxResult(values, idx)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("max", dim, keepdim, axis, keepdims)
    return _extreme(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("min", dim, keepdim, axis, keepdims)
    return _extreme(x, dim, keepdim, False)


def var(x, dim=None, keepdim=False, correction=1, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("var", dim, keepdim, axis, keepdims)
    x = _float(x, "var")
    return reduce.Var.apply(x, _axes(x, dim, "var"), keepdim, float(correction))


def std(x, dim=None, keepdim=False, correction=1, *, axis=None, keepdims=None):
    """Standard deviation; its gradient at a constant input is 0 (PyTorch's), not NaN."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("std", dim, keepdim, axis, keepdims)
    x = _float(x, "std")
    return reduce.Std.apply(x, _axes(x, dim, "std"), keepdim, float(correction))


def norm(x, p=2, dim=None, keepdim=False):
    """The vector p-norm over dim (default: all elements), p > 0 or inf (torch.linalg.vector_norm
    / torch.norm for vectors); its gradient at a zero input is 0, like PyTorch's."""
    x = _float(x, "norm")
    if p in ("fro", None):
        p = 2
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
        raise ValueError(f"norm: p must be a positive number or inf, got {p!r}")
    return reduce.Norm.apply(x, _axes(x, dim, "norm"), keepdim, float(p))


def _arg(x, dim, keepdim, op, code):
    x = _t(x)
    if dim is None:
        return Tensor._wrap(_C.reduce(code, x._data.reshape(-1), [0], False))
    return Tensor._wrap(_C.reduce(code, x._data, [_args.dim(dim, x.ndim, op, x.shape)] if x.ndim else [],
                                  keepdim))


def _count_true(x, dim, keepdim, op):
    """(the number of nonzero elements over dim, the number of elements reduced)."""
    x = _t(x)
    b = x if x.dtype == bool_ else (x != 0)
    axes = _args.axes(dim, x.ndim, op, x.shape)
    n = math.prod(x.shape[a] for a in axes)
    return reduce.Sum.apply(b.type(int64), axes, keepdim), n


def all(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """True where every element over dim is nonzero (a bool tensor)."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("all", dim, keepdim, axis, keepdims)
    count, n = _count_true(x, dim, keepdim, "all")
    return count == n


def any(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """True where some element over dim is nonzero (a bool tensor)."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("any", dim, keepdim, axis, keepdims)
    count, _ = _count_true(x, dim, keepdim, "any")
    return count > 0


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("argmax", dim, keepdim, axis, keepdims)
    return _arg(x, dim, keepdim, "argmax", _C.Reduce.argmax)


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _args.numpy_names("argmin", dim, keepdim, axis, keepdims)
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
    x = _t(x)
    out = shape_ops.Reshape.apply(x, _sizes(shape, "reshape"))
    return _view_of(out, x) if out._data.may_overlap(x._data) else out


def view(x, *shape):
    """x with a new shape as a view of the same memory; raises when that needs a copy."""
    x = _t(x)
    return _view_of(shape_ops.View.apply(x, _sizes(shape, "view")), x)


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
    return _view_of(shape_ops.Permute.apply(x, norm), x)


def transpose(x, d0=-2, d1=-1):
    x = _t(x)
    nd = x.ndim
    d0, d1 = (_args.dim(d, nd, "transpose", x.shape) for d in (d0, d1))
    dims = list(range(builtins.max(nd, 1)))[:nd]
    if nd:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return _view_of(shape_ops.Permute.apply(x, tuple(dims)), x)


def expand(x, *shape):
    """x broadcast to `shape` (-1 keeps a dim; new dims lead) as a view: no copy."""
    x = _t(x)
    return _view_of(shape_ops.Expand.apply(x, _sizes(shape, "expand")), x)


broadcast_to = expand


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) of x sorted along dim; stable (equal values keep their order) whether
    or not ``stable`` is asked for, NaN last ascending and first descending, as PyTorch. The
    values carry gradients (a gather). One argsort kernel on x's device."""
    x = _t(x)
    if x.ndim == 0:
        return MaxResult(x, zeros((), dtype=int64, device=x.device))
    d = _args.dim(dim, x.ndim, "sort", x.shape)
    xt = transpose(x, d, -1) if d != x.ndim - 1 else x
    keys = xt.detach()
    if descending:  # NaN first: it sorts as the smallest key
        keys = where(isnan(keys), full_like(keys, -math.inf), -keys) if keys.dtype.is_floating_point else -keys
    idx = Tensor._wrap(_C.argsort(keys.contiguous()._data))
    vals = gather(xt, -1, idx)
    if d != x.ndim - 1:
        vals, idx = transpose(vals, d, -1), transpose(idx, d, -1)
    return MaxResult(vals, idx)


def argsort(x, dim=-1, descending=False, stable=False):
    """The indices that sort x along dim (sort's indices)."""
    return sort(x, dim, descending, stable).indices


def topk(x, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) elements of x along dim, in order."""
    x = _t(x)
    d = _args.dim(dim, builtins.max(x.ndim, 1), "topk", x.shape)
    n = x.shape[d] if x.ndim else 1
    k = _args.integer(k, "topk", "k", 0)
    if k > n:
        raise ValueError(f"topk: k ({k}) is larger than dim {dim}'s size {n} (shape {tuple(x.shape)})")
    vals, idx = sort(x, d, descending=largest)
    if x.ndim == 0:
        return MaxResult(vals, idx)
    return MaxResult(vals.narrow(d, 0, k), idx.narrow(d, 0, k))


def cumsum(x, dim, dtype=None):
    """Running sums of x along dim (int and bool inputs sum in int64, as PyTorch), composed
    as a log-depth scan of shifted additions: ceil(log2(n)) adds, with gradients."""
    x = _t(x)
    if dtype is not None:
        x = x.to(dtype=dtype)
    elif not x.dtype.is_floating_point and x.dtype != int64:
        x = x.type(int64)
    if x.ndim == 0:
        return x.clone()
    d = _args.dim(dim, x.ndim, "cumsum", x.shape)
    n, s = x.shape[d], 1
    while s < n:
        pad_shape = x.shape[:d] + (s,) + x.shape[d + 1:]
        x = x + cat([zeros(*pad_shape, dtype=x.dtype, device=x.device), x.narrow(d, 0, n - s)], d)
        s *= 2
    return x


def _triangle(x, diagonal, lower, op):
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dims, got shape {tuple(x.shape)}")
    k = _args.integer(diagonal, op, "diagonal")
    n, m = x.shape[-2], x.shape[-1]
    offset = unsqueeze(arange(m, device=x.device), 0) - unsqueeze(arange(n, device=x.device), 1)  # j - i
    keep = offset <= k if lower else offset >= k
    return where(keep, x, zeros_like(x))


def tril(x, diagonal=0):
    """x with the elements above the `diagonal`-th diagonal of its last two dims set to 0
    (diagonal 0 is the main one, > 0 above it, < 0 below)."""
    return _triangle(x, diagonal, True, "tril")


def triu(x, diagonal=0):
    """x with the elements below the `diagonal`-th diagonal of its last two dims set to 0."""
    return _triangle(x, diagonal, False, "triu")


def narrow(x, dim, start, length):
    """A view of `length` elements of x along dim, from `start`."""
    return _t(x).narrow(dim, start, length)


def unbind(x, dim=0):
    """The slices of x along dim, as a tuple of views without that dim."""
    x = _t(x)
    dim = _args.dim(dim, x.ndim, "unbind", x.shape)
    return tuple(x[(slice(None),) * dim + (i,)] for i in range(x.shape[dim]))


def numel(x):
    """The number of elements of x."""
    return _t(x).numel()


def mm(a, b):
    """The matrix product of two 2-D tensors (matmul restricted to 2-D, as PyTorch's mm)."""
    return _t(a).mm(b)


def bmm(a, b):
    """Batched matrix product of (B, n, m) and (B, m, p) tensors: (B, n, p), no broadcasting."""
    a, b = _t(a), _t(b)
    if a.ndim != 3 or getattr(b, "ndim", 0) != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: expects (B, n, m) and (B, m, p) tensors, got shapes {tuple(a.shape)} and "
                         f"{tuple(getattr(b, 'shape', ()))}")
    return matmul(a, b)


def unsqueeze(x, dim=None, *, axis=None):
    if axis is not None:
        dim = _args.numpy_names("unsqueeze", dim, False, axis, None)[0]
    elif dim is None:
        raise TypeError("unsqueeze: missing the argument dim")
    x = _t(x)
    d = _args.dim(dim, x.ndim + 1, "unsqueeze", x.shape)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x, dim=None, *, axis=None):
    if axis is not None:
        dim = _args.numpy_names("squeeze", dim, False, axis, None)[0]
    x = _t(x)
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dd = set(_args.axes(dim, x.ndim, "squeeze", x.shape)) if x.ndim else set()
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dd and s == 1)))


def cat(tensors, dim=0, *, axis=None):
    if axis is not None:
        dim = _args.numpy_names("cat", dim, False, axis, None, 0)[0]
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    ref = ts[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    d = _args.dim(dim, ref.ndim, "cat", ref.shape)
    dt = ref.dtype
    for i, t in enumerate(ts):
        dt = _promote(dt, t.dtype)
        if t.ndim != ref.ndim or builtins.any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d):
            raise ValueError(f"cat: tensor {i} has shape {tuple(t.shape)}, incompatible with "
                             f"{tuple(ref.shape)} along dims other than {d}")
    ts = [t.type(dt) for t in ts]
    return shape_ops.Concat.apply(d, *ts)


concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    if axis is not None:
        dim = _args.numpy_names("stack", dim, False, axis, None, 0)[0]
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {tuple(t.shape)}, expected {tuple(ts[0].shape)}")
    dim = _args.dim(dim, ts[0].ndim + 1, "stack", ts[0].shape)
    return cat([unsqueeze(t, dim) for t in ts], dim)


def split(x, split_size_or_sections, dim=0, *, axis=None):
    if axis is not None:
        dim = _args.numpy_names("split", dim, False, axis, None, 0)[0]
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor cannot be split")
    d = _args.dim(dim, x.ndim, "split", x.shape)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Number) or hasattr(split_size_or_sections, "__index__"):
        s = _args.integer(split_size_or_sections, "split", "split_size", 1 if n else 0)
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
    else:
        sizes = [_args.integer(v, "split", "sections", 0) for v in split_size_or_sections]
        total = builtins.sum(sizes)
        if total != n:
            raise ValueError(f"split: sections {sizes} sum to {total}, but dim {d} has size {n}")
    out = shape_ops.Split.apply(x, sizes, d)
    return tuple(_view_of(o, x) for o in out) if isinstance(out, tuple) else (_view_of(out, x),)


def chunk(x, chunks, dim=0, *, axis=None):
    if axis is not None:
        dim = _args.numpy_names("chunk", dim, False, axis, None, 0)[0]
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor cannot be chunked")
    dim = _args.dim(dim, x.ndim, "chunk", x.shape)
    chunks = _args.integer(chunks, "chunk", "chunks", 1)
    n = x.shape[dim]
    size = builtins.max(-(-n // chunks), 1)
    return split(x, size, dim)


def pad(input, pad, mode="constant", value=None):
    """Constant padding, PyTorch's F.pad: ``pad`` lists (before, after) amounts for the last
    dim first, then the one before it, ... (e.g. (left, right, top, bottom) for an image); a
    negative amount crops. Only mode='constant' (value, default 0)."""
    op = "pad"
    x = _t(input)
    if mode != "constant":
        raise ValueError(f"{op}: only mode='constant' is supported, got mode={mode!r}")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"{op}: pad must be a tuple of ints, got {type(pad).__name__}")
    amounts = [_args.integer(p, op, "pad") for p in pad]
    if len(amounts) % 2 or len(amounts) // 2 > x.ndim:
        raise ValueError(f"{op}: pad must have an even length of at most 2 * {x.ndim} (input shape "
                         f"{tuple(x.shape)}), got {tuple(pad)}")
    pads = [(0, 0)] * x.ndim
    for i in range(len(amounts) // 2):
        d = x.ndim - 1 - i
        pads[d] = (amounts[2 * i], amounts[2 * i + 1])
        if x.shape[d] + pads[d][0] + pads[d][1] < 0:
            raise ValueError(f"{op}: pad {tuple(pad)} crops dim {d} of shape {tuple(x.shape)} below size 0")
    v = 0.0 if value is None else _args.real(value, op, "value")
    return shape_ops.Pad.apply(x, tuple(pads), v)


def _index_tensor(index, op, device="cpu"):
    """The int64 Array of an index argument (a Tensor, kept on its device, or Python / NumPy
    integer data, made on `device`: the device of the tensor it indexes)."""
    idx = index._data if isinstance(index, Tensor) else _C.from_object(index, None, get_default_dtype(), device, op)
    if idx.dtype != int64:
        raise TypeError(f"{op}: 'index' must be an integer tensor, got {idx.dtype}")
    return idx


def index_select(x, dim, index):
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("index_select: the input is 0-d; it needs at least one dimension")
    dim = _args.dim(dim, x.ndim, "index_select", x.shape)
    return index_ops.IndexSelect.apply(x, dim, _index_tensor(index, "index_select", x._data.device))


def gather(x, dim, index):
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("gather: the input is 0-d; it needs at least one dimension")
    dim = _args.dim(dim, x.ndim, "gather", x.shape)
    return index_ops.Gather.apply(x, dim, _index_tensor(index, "gather", x._data.device))


def _einsum_labels(spec, t, equation):
    """An operand's subscripts as a list of labels, its '...' expanded to labels of its own
    (digits: never letters) for the dims it stands for."""
    if spec.count("...") > 1 or "." in spec.replace("...", ""):
        raise ValueError(f"einsum: bad ellipsis in {equation!r}")
    if "..." in spec:
        head, tail = spec.split("...")
        n = t.ndim - len(head) - len(tail)
        if n < 0:
            raise ValueError(f"einsum: subscripts {spec!r} need at least {len(head) + len(tail)} dims, "
                             f"got shape {tuple(t.shape)}")
        labels = list(head) + [str(k - n) for k in range(n)] + list(tail)  # '-n'..'-1': aligned from the right
    else:
        labels = list(spec)
    if not builtins.all(c.isalpha() for c in labels if not c.lstrip("-").isdigit()):
        raise ValueError(f"einsum: subscripts must be letters, got {spec!r} in {equation!r}")
    if len(labels) != t.ndim:
        raise ValueError(f"einsum: subscripts {spec!r} name {len(labels)} dims but the operand has shape "
                         f"{tuple(t.shape)} (in {equation!r})")
    if len(set(labels)) != len(labels):
        raise ValueError(f"einsum: a label repeated within one operand (a diagonal) is not supported: {spec!r}")
    return labels


def einsum(equation, *operands):
    """Sums of products over the labelled dims of the operands, as ``equation`` says
    ("ij,jk->ik", "bhqd,bhkd->bhqk", "...ij->...ji"; without '->' the output is the ellipsis
    dims, then the labels that appear once in alphabetical order, as in PyTorch). Computed
    pairwise from the left with reshapes and batched matmuls, so gradients flow; size-1 dims
    broadcast. A label repeated within one operand (a diagonal) is refused."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [_t(o) for o in operands]
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(ts):
        raise ValueError(f"einsum: {equation!r} names {len(specs)} operands, got {len(ts)}")
    labels = [_einsum_labels(sp, t, equation) for sp, t in zip(specs, ts)]
    counts = {}
    for ls in labels:
        for c in ls:
            counts[c] = counts.get(c, 0) + 1
    ell = sorted({c for ls in labels for c in ls if c.startswith("-")}, key=int)
    if arrow:
        if "..." in rhs:
            head, tail = rhs.split("...")
            out = list(head) + ell + list(tail)
        else:
            out = list(rhs)
        unknown = [c for c in out if c not in counts]
        if unknown or len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts of {equation!r} must be distinct labels of the inputs")
    else:
        out = ell + sorted(c for c, n in counts.items() if n == 1 and not c.startswith("-"))
    sizes = {}
    for ls, t in zip(labels, ts):
        for c, n in zip(ls, t.shape):
            if sizes.get(c, 1) != 1 and n != 1 and sizes[c] != n:
                raise ValueError(f"einsum: label {c!r} has sizes {sizes[c]} and {n} in {equation!r}")
            sizes[c] = builtins.max(sizes.get(c, 1), n)

    def reduce_only(t, ls, keep):
        """Sums the labels of t that nothing later needs."""
        drop = [i for i, c in enumerate(ls) if c not in keep]
        if drop:
            t = t.sum(tuple(drop)) if len(drop) < len(ls) else t.sum()
            ls = [c for c in ls if c in keep]
        return t, ls

    acc, acc_ls = ts[0], labels[0]
    for k in range(1, len(ts) + 1):
        later = set(out).union(*[set(x) for x in labels[k:]])
        if k == len(ts):
            acc, acc_ls = reduce_only(acc, acc_ls, later)
            break
        b, b_ls = ts[k], labels[k]
        acc, acc_ls = reduce_only(acc, acc_ls, later | set(b_ls))
        b, b_ls = reduce_only(b, b_ls, later | set(acc_ls))
        batch = [c for c in acc_ls if c in b_ls and c in later]
        contract = [c for c in acc_ls if c in b_ls and c not in later]
        a_only = [c for c in acc_ls if c not in b_ls]
        b_only = [c for c in b_ls if c not in acc_ls]
        a = acc.permute(*[acc_ls.index(c) for c in batch + a_only + contract]) if acc_ls else acc
        b = b.permute(*[b_ls.index(c) for c in batch + contract + b_only]) if b_ls else b
        nb, nc = len(batch), len(contract)
        bs, cs = [sizes[c] for c in batch], [sizes[c] for c in contract]  # broadcast where one side has 1
        a_sizes, b_sizes = list(a.shape[nb:nb + len(a_only)]), list(b.shape[nb + nc:])
        a = expand(a, *(bs + a_sizes + cs)).contiguous()
        b = expand(b, *(bs + cs + b_sizes)).contiguous()
        n_b, n_m, n_k, n_n = (math.prod(x) for x in (bs, a_sizes, cs, b_sizes))
        prod = matmul(reshape(a, n_b, n_m, n_k), reshape(b, n_b, n_k, n_n))
        acc, acc_ls = reshape(prod, *(bs + a_sizes + b_sizes)), batch + a_only + b_only
    if acc_ls != out:
        acc = acc.permute(*[acc_ls.index(c) for c in out]) if out else acc
    return expand(acc, *[sizes[c] for c in out]) if out else acc


def scatter_add(x, dim, index, src):
    """A copy of x with each src[i][j]... added at x[index[i][j]...] along dim (the other
    coordinates kept); index and src have one shape. Gradients flow to x and src."""
    x = _t(x)
    dim = _args.dim(dim, builtins.max(x.ndim, 1), "scatter_add", x.shape)
    idx, src = _index_tensor(index, "scatter_add", x._data.device), _t(src)
    if tuple(idx.shape) != tuple(src.shape) or src.ndim != x.ndim:
        raise ValueError(f"scatter_add: index and src must have one shape, with as many dims as the input; "
                         f"got input {tuple(x.shape)}, index {tuple(idx.shape)}, src {tuple(src.shape)}")
    return index_ops.ScatterAdd.apply(x, dim, idx, src.type(x.dtype))


def index_add(x, dim, index, source, *, alpha=1):
    """A copy of x with alpha * source's slices added at the positions a 1-D index gives along
    dim (repeated indices add up). Gradients flow to x and source."""
    x = _t(x)
    dim = _args.dim(dim, builtins.max(x.ndim, 1), "index_add", x.shape)
    idx, source = _index_tensor(index, "index_add", x._data.device), _t(source)
    if alpha != 1:
        source = source * alpha
    return index_ops.IndexAdd.apply(x, dim, idx, source.type(x.dtype))


def one_hot(index, num_classes=-1, dtype=None):
    idx = _index_tensor(index, "one_hot")
    num_classes = _args.integer(num_classes, "one_hot", "num_classes", -1)
    if num_classes == -1:  # at least 1, so that a negative index gets the kernel's range error
        num_classes = builtins.max(int(_C.reduce(_C.Reduce.max, idx.reshape(-1), [0], False).item()) + 1, 1) \
            if idx.size else 0
    d = _canonical_dtype(dtype) or int64
    return Tensor._wrap(_C.one_hot(idx, int(num_classes), d))
