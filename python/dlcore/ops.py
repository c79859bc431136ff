"""Differentiable foundation ops: forward and backward side by side, each a composition of
bound kernels (``dlcore._C``). NumPy is used here only for allocation and for views
(reshape, transpose, slicing, broadcast_to), never for arithmetic.
"""
from __future__ import annotations

import numpy as np

from . import _C
from .autograd import Function

B = _C.Binary
U = _C.Unary
R = _C.Reduce


# ---- raw-array helpers ----------------------------------------------------------------------

def add(a, b):
    return _C.binary(B.add, a, b)


def mul(a, b):
    return _C.binary(B.mul, a, b)


def scale(a, s, shift=0.0):
    return _C.unary(U.mul_scalar, a, float(s), float(shift))


def zeros_like(a):
    return np.zeros(a.shape, a.dtype)


def scalar(v, dtype):
    return np.asarray(v, dtype=dtype)


def sum_to(g, shape):
    """Sums a broadcast gradient g back to `shape` (the shape of the operand)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = list(range(lead)) + [lead + i for i, s in enumerate(shape)
                                if s == 1 and g.shape[lead + i] != 1]
    return _C.reduce(R.sum, g, axes, True).reshape(shape)


def normalize_axes(axis, ndim):
    if axis is None:
        return list(range(ndim))
    if isinstance(axis, (int, np.integer)):
        return [int(axis)]
    return [int(a) for a in axis]


def keepdims_shape(shape, axes):
    axes = [a % len(shape) if len(shape) else 0 for a in axes]
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


# ---- elementwise binary ----------------------------------------------------------------------

class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return _C.binary(B.add, a, b)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shapes[0]), sum_to(g, ctx.shapes[1])


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return _C.binary(B.sub, a, b)

    @staticmethod
    def backward(ctx, g):
        gb = _C.unary(U.neg, g) if ctx.needs_input_grad[1] else None
        return sum_to(g, ctx.shapes[0]), (sum_to(gb, ctx.shapes[1]) if gb is not None else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _C.binary(B.mul, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(mul(g, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(mul(g, a), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _C.binary(B.div, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = sum_to(_C.binary(B.div, g, b), a.shape)
        if ctx.needs_input_grad[1]:  # d(a/b)/db = -out / b
            gb = sum_to(_C.unary(U.neg, _C.binary(B.div, mul(g, out), b)), b.shape)
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _C.binary(B.pow, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:  # b * a^(b-1)
            bm1 = _C.binary(B.sub, b, scalar(1, b.dtype))
            ga = sum_to(mul(g, mul(b, _C.binary(B.pow, a, bm1))), a.shape)
        if ctx.needs_input_grad[1]:  # out * log(a)
            gb = sum_to(mul(g, mul(out, _C.unary(U.log, a))), b.shape)
        return ga, gb


class MaxMin(Function):
    """maximum / minimum; at ties the gradient is split evenly, like PyTorch."""

    @staticmethod
    def forward(ctx, a, b, is_max):
        out = _C.binary(B.maximum if is_max else B.minimum, a, b)
        ctx.save_for_backward(a, b)
        ctx.is_max = is_max
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        win = _C.binary(B.gt if ctx.is_max else B.lt, a, b)
        tie = _C.binary(B.eq, a, b)
        half = scale(g, 0.5)
        z = np.zeros((), g.dtype)
        ga = _C.where(win, g, _C.where(tie, half, z))
        lose = _C.binary(B.gt if not ctx.is_max else B.lt, a, b)
        gb = _C.where(lose, g, _C.where(tie, half, z))
        return sum_to(ga, a.shape), sum_to(gb, b.shape), None


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (a.shape, b.shape)
        return _C.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        z = np.zeros((), g.dtype)
        ga = sum_to(_C.where(ctx.cond, g, z), ctx.shapes[0]) if ctx.needs_input_grad[1] else None
        gb = sum_to(_C.where(ctx.cond, z, g), ctx.shapes[1]) if ctx.needs_input_grad[2] else None
        return None, ga, gb


# ---- elementwise unary -----------------------------------------------------------------------

class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return _C.unary(U.neg, x)

    @staticmethod
    def backward(ctx, g):
        return _C.unary(U.neg, g)


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = _C.unary(U.exp, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return mul(g, out)


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _C.unary(U.log, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _C.binary(B.div, g, x)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = _C.unary(U.sqrt, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return _C.binary(B.div, g, scale(out, 2.0))


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _C.unary(U.abs, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return mul(g, _C.unary(U.sign, x))


def _contig(a):
    flags = getattr(a, "flags", None)
    return a if flags is None or flags.c_contiguous else _C.cast(a, str(a.dtype))


class _FusedAct(Function):
    """relu / sigmoid / tanh on the activation family's fused kernels (saved output y;
    backward is one kernel: g * f'(y))."""
    op = None

    @classmethod
    def forward(cls, ctx, x):
        out = _C.act_forward(cls.op, _contig(x))
        ctx.save_for_backward(out)
        return out

    @classmethod
    def backward(cls, ctx, g):
        (out,) = ctx.saved_tensors
        return _C.act_backward(cls.op, _contig(g), out)


class Relu(_FusedAct):
    op = _C.Act.relu


class Sigmoid(_FusedAct):
    op = _C.Act.sigmoid


class Tanh(_FusedAct):
    op = _C.Act.tanh


class Clip(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return _C.unary(U.clip, x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors  # gradient passes where lo <= x <= hi (PyTorch's clamp)
        inside = _C.binary(B.logical_and, _C.binary(B.ge, x, scalar(ctx.lo, x.dtype)),
                           _C.binary(B.le, x, scalar(ctx.hi, x.dtype)))
        return _C.where(inside, g, np.zeros((), g.dtype)), None, None


class PowScalar(Function):
    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return _C.unary(U.pow_scalar, x, p)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.p == 0:
            return zeros_like(g), None
        return mul(g, scale(_C.unary(U.pow_scalar, x, ctx.p - 1.0), ctx.p)), None


class Affine(Function):
    """x * a + b for Python scalars a, b (scalar arithmetic without broadcasting)."""

    @staticmethod
    def forward(ctx, x, a, b):
        ctx.a = a
        return _C.unary(U.mul_scalar, x, a, b)

    @staticmethod
    def backward(ctx, g):
        return scale(g, ctx.a), None, None


class Unary(Function):
    """Unary ops whose derivative is another unary op of the input: sin, cos, log1p, expm1."""

    @staticmethod
    def forward(ctx, x, op):
        ctx.save_for_backward(x)
        ctx.op = op
        return _C.unary(op, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        op = ctx.op
        if op == U.sin:
            return mul(g, _C.unary(U.cos, x)), None
        if op == U.cos:
            return _C.unary(U.neg, mul(g, _C.unary(U.sin, x))), None
        if op == U.log1p:
            return _C.binary(B.div, g, scale(x, 1.0, 1.0)), None
        if op == U.expm1:
            return mul(g, _C.unary(U.exp, x)), None
        return zeros_like(g), None  # floor, ceil, round, sign: zero almost everywhere


# ---- reductions ------------------------------------------------------------------------------

class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, mean):
        ctx.in_shape = x.shape
        ctx.kshape = keepdims_shape(x.shape, axes)
        ctx.n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        ctx.mean = mean
        return _C.reduce(R.mean if mean else R.sum, x, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(ctx.kshape)
        if ctx.mean:
            g = scale(g, 1.0 / max(ctx.n, 1))
        return np.broadcast_to(g, ctx.in_shape), None, None, None


class MaxReduce(Function):
    """max / min over axes; the gradient is shared evenly among tied extremes (amax)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_max):
        out = _C.reduce(R.max if is_max else R.min, x, axes, True)
        ctx.save_for_backward(x, out)
        ctx.axes = axes
        return out if keepdim else out.reshape(tuple(s for i, s in enumerate(x.shape)
                                                     if i not in [a % x.ndim for a in axes]))

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        mask = _C.binary(B.eq, x, out)
        maskf = _C.cast(mask, str(x.dtype))
        count = _C.reduce(R.sum, maskf, ctx.axes, True)
        share = _C.binary(B.div, g.reshape(out.shape), count)
        return mul(maskf, share), None, None, None


class Var(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        ctx.save_for_backward(x)
        ctx.axes, ctx.correction = axes, correction
        ctx.kshape = keepdims_shape(x.shape, axes)
        return _C.reduce(R.var, x, axes, keepdim, correction)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        n = int(np.prod([x.shape[a] for a in ctx.axes]))
        mean = _C.reduce(R.mean, x, ctx.axes, True)
        d = _C.binary(B.sub, x, mean)
        return mul(scale(d, 2.0 / max(n - ctx.correction, 1e-300)), g.reshape(ctx.kshape)), None, None, None


# ---- linear algebra ----------------------------------------------------------------------------

def _t(a):
    return np.swapaxes(a, -1, -2)


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _C.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(_C.matmul(g, _t(b)), a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(_C.matmul(_t(a), g), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Linear(Function):
    """y = x @ w.T + b in one GEMM with the bias added while the tile is hot (_C.linear).
    x (..., in), w (out, in), b (out,) or None."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return _C.linear(x, w, b)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = gw = gb = None
        g2 = g.reshape(-1, g.shape[-1])
        if ctx.needs_input_grad[0]:  # dL/dx = g @ w
            gx = _C.matmul(g2, w).reshape(x.shape)
        if ctx.needs_input_grad[1]:  # dL/dw = g^T @ x over all leading dims
            gw = _C.matmul(g2.T, x.reshape(-1, x.shape[-1]))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = _C.reduce(R.sum, g2, [0], False)
        return gx, gw, gb


# ---- layout ------------------------------------------------------------------------------------

class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.inv = tuple(np.argsort(dims))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inv), None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape), None


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return _C.cast(x, str(x.dtype))

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = str(x.dtype)
        return _C.cast(x, dtype)

    @staticmethod
    def backward(ctx, g):
        return _C.cast(g, ctx.in_dtype), None


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """x[index]. Basic indexing returns a view; the backward writes into a zero gradient
    through the same index (a view), or scatter-adds for integer-array indexing."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.in_shape, ctx.dtype)
        idx = ctx.index
        if _is_basic_index(idx):
            _C.copy(g, gx[idx])
        elif isinstance(idx, np.ndarray) and idx.dtype == np.int64 and idx.ndim == 1:
            _C.index_add_(gx, 0, idx, g)
        else:  # general advanced indexing (rare in the hot path): unbuffered accumulate
            np.add.at(gx, idx, g)
        return gx, None


class Concat(Function):
    @staticmethod
    def forward(ctx, axis, *xs):
        axis = axis % xs[0].ndim
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        shape = list(xs[0].shape)
        shape[axis] = sum(ctx.sizes)
        out = np.empty(shape, xs[0].dtype)
        pos = 0
        sl = [slice(None)] * len(shape)
        for x in xs:
            sl[axis] = slice(pos, pos + x.shape[axis])
            _C.copy(x, out[tuple(sl)])
            pos += x.shape[axis]
        return out

    @staticmethod
    def backward(ctx, g):
        grads, pos = [], 0
        sl = [slice(None)] * g.ndim
        for n in ctx.sizes:
            sl[ctx.axis] = slice(pos, pos + n)
            grads.append(g[tuple(sl)])
            pos += n
        return (None, *grads)


class Split(Function):
    @staticmethod
    def forward(ctx, x, sizes, axis):
        ctx.axis, ctx.sizes, ctx.in_shape, ctx.dtype = axis, sizes, x.shape, x.dtype
        outs, pos = [], 0
        sl = [slice(None)] * x.ndim
        for n in sizes:
            sl[axis] = slice(pos, pos + n)
            outs.append(x[tuple(sl)])
            pos += n
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        gx = np.zeros(ctx.in_shape, ctx.dtype)
        pos = 0
        sl = [slice(None)] * len(ctx.in_shape)
        for n, g in zip(ctx.sizes, grads):
            if g is not None:
                sl[ctx.axis] = slice(pos, pos + n)
                _C.copy(g, gx[tuple(sl)])
            pos += n
        return gx, None, None


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.in_shape, ctx.dtype, ctx.axis, ctx.idx = x.shape, x.dtype, axis, idx
        return _C.index_select(x, axis, idx)

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.in_shape, ctx.dtype)
        _C.index_add_(gx, ctx.axis, ctx.idx, g)
        return gx, None, None


class Gather(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.in_shape, ctx.dtype, ctx.axis, ctx.idx = x.shape, x.dtype, axis, idx
        return _C.gather(x, axis, idx)

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.in_shape, ctx.dtype)
        _C.scatter_add_(gx, ctx.axis, ctx.idx, g)
        return gx, None, None
