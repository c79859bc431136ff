"""Reduce family: sum, mean, amax / amin, var, std, vector norms (forward and backward side by
side). Where a derivative has a removable singularity (std or a norm of a constant / zero
input) the backward gives PyTorch's value, 0, not NaN."""
from __future__ import annotations

import math

from .. import _C
from ..autograd import Function

__all__ = ["keepdims_shape", "Sum", "Mean", "Amax", "Amin", "Var", "Std", "Norm"]

B = _C.Binary
R = _C.Reduce
U = _C.Unary


def keepdims_shape(shape, axes):
    """The shape of a reduction over `axes` with keepdim=True."""
    axes = [a % len(shape) if len(shape) else 0 for a in axes]
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _save_result(ctx, x, out, axes, keepdim):
    """Saves x, the reduction's keepdim-shaped result out and the axes for the backward (Amax,
    Std, Norm: their gradients read the result) and returns out as the caller asked: with the
    reduced dims dropped when keepdim is False."""
    ctx.save_for_backward(x, out)
    ctx.axes = axes
    if keepdim:
        return out
    axes = [a % x.ndim for a in axes]
    return out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))


def _is_zero(a):
    return _C.binary(B.eq, a, _C.full((), 0.0, a.dtype, a.device))


class Sum(Function):
    """sum over axes (normalised dims); Mean divides by the number of reduced elements."""

    _mean = False

    @classmethod
    def forward(cls, ctx, x, axes, keepdim):
        ctx.in_shape = x.shape
        ctx.kshape = keepdims_shape(x.shape, axes)
        ctx.n = math.prod(x.shape[a] for a in axes)
        return _C.reduce(R.mean if cls._mean else R.sum, x, axes, keepdim)

    @classmethod
    def backward(cls, ctx, g):
        g = g.reshape(ctx.kshape)
        if cls._mean:
            g = _C.unary(U.mul_scalar, g, 1.0 / max(ctx.n, 1), 0.0)
        return g.expand(ctx.in_shape), None, None


class Mean(Sum):
    _mean = True


class Amax(Function):
    """max over axes; the gradient is shared evenly among tied extremes. Amin: min."""

    _code = R.max

    @classmethod
    def forward(cls, ctx, x, axes, keepdim):
        return _save_result(ctx, x, _C.reduce(cls._code, x, axes, True), axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        maskf = _C.cast(_C.binary(B.eq, x, out), str(x.dtype))
        count = _C.reduce(R.sum, maskf, ctx.axes, True)
        share = _C.binary(B.div, g.reshape(out.shape), count)
        return _C.binary(B.mul, maskf, share), None, None


class Amin(Amax):
    _code = R.min


def _var_grad(x, g, axes, correction):
    """d var / dx times g (g in the keepdim shape): 2 (x - mean) / (n - correction) * g. With no
    degrees of freedom left (n <= correction) the variance is NaN / inf and so is its gradient."""
    n = math.prod(x.shape[a] for a in axes)
    dof = n - correction
    mean = _C.reduce(R.mean, x, axes, True)
    d = _C.binary(B.sub, x, mean)
    if dof > 0:
        d = _C.unary(U.mul_scalar, d, 2.0 / dof, 0.0)
    else:
        d = _C.binary(B.div, _C.unary(U.mul_scalar, d, 2.0, 0.0), _C.full((), float(dof), d.dtype, d.device))
    return _C.binary(B.mul, d, g)


def _zero_where(cond, g):
    return _C.where(cond, _C.full((), 0.0, g.dtype, g.device), g)


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
        return _var_grad(x, g.reshape(ctx.kshape), ctx.axes, ctx.correction), None, None, None


class Std(Function):
    """sqrt(var); the gradient is var's divided by 2 std, and 0 where std == 0 (a constant
    input: PyTorch's value, where the quotient would be 0 / 0)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        s = _C.unary(U.sqrt, _C.reduce(R.var, x, axes, True, correction))
        ctx.correction = correction
        return _save_result(ctx, x, s, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        gs = _zero_where(_is_zero(s),
                         _C.binary(B.div, g.reshape(s.shape), _C.unary(U.mul_scalar, s, 2.0, 0.0)))
        return _var_grad(x, gs, ctx.axes, ctx.correction), None, None, None


class Norm(Function):
    """The p-norm over axes (p > 0, inf included): (sum |x|^p)^(1/p). Its gradient
    sign(x) |x|^(p-1) / norm^(p-1) is taken as 0 where the norm is 0, like PyTorch's."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, p):
        a = _C.unary(U.abs, x)
        if math.isinf(p):
            n = _C.reduce(R.max, a, axes, True) if x.size else _C.reduce(R.sum, a, axes, True)
        elif p == 1:
            n = _C.reduce(R.sum, a, axes, True)
        elif p == 2:
            n = _C.unary(U.sqrt, _C.reduce(R.sum, _C.binary(B.mul, x, x), axes, True))
        else:
            n = _C.unary(U.pow_scalar, _C.reduce(R.sum, _C.unary(U.pow_scalar, a, p), axes, True), 1.0 / p)
        ctx.p = p
        return _save_result(ctx, x, n, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved_tensors
        p = ctx.p
        g = g.reshape(n.shape)
        zero = _is_zero(n)
        sign = _C.unary(U.sign, x)
        if p == 1:
            return _C.binary(B.mul, sign, g), None, None, None
        if math.isinf(p):  # shared evenly among the entries of largest magnitude
            a = _C.unary(U.abs, x)
            hit = _C.cast(_C.binary(B.eq, a, n), str(x.dtype))
            share = _C.binary(B.div, g, _C.reduce(R.sum, hit, ctx.axes, True))
            return _zero_where(zero, _C.binary(B.mul, _C.binary(B.mul, hit, sign), share)), None, None, None
        if p == 2:
            scale = _zero_where(zero, _C.binary(B.div, g, n))
            return _C.binary(B.mul, x, scale), None, None, None
        a = _C.unary(U.abs, x)
        num = _C.binary(B.mul, sign, _C.unary(U.pow_scalar, a, p - 1.0))
        scale = _zero_where(zero, _C.binary(B.div, g, _C.unary(U.pow_scalar, n, p - 1.0)))
        return _C.binary(B.mul, num, scale), None, None, None
