"""Reduce family: sum, mean, amax / amin, var (forward and backward side by side)."""
from __future__ import annotations

import math

from .. import _C
from ..autograd import Function

B = _C.Binary
R = _C.Reduce
U = _C.Unary


def keepdims_shape(shape, axes):
    """The shape of a reduction over `axes` with keepdim=True."""
    axes = [a % len(shape) if len(shape) else 0 for a in axes]
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


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
        out = _C.reduce(cls._code, x, axes, True)
        ctx.save_for_backward(x, out)
        ctx.axes = axes
        return out if keepdim else out.reshape(tuple(s for i, s in enumerate(x.shape)
                                                     if i not in [a % x.ndim for a in axes]))

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        maskf = _C.cast(_C.binary(B.eq, x, out), str(x.dtype))
        count = _C.reduce(R.sum, maskf, ctx.axes, True)
        share = _C.binary(B.div, g.reshape(out.shape), count)
        return _C.binary(B.mul, maskf, share), None, None


class Amin(Amax):
    _code = R.min


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
        n = math.prod(x.shape[a] for a in ctx.axes)
        mean = _C.reduce(R.mean, x, ctx.axes, True)
        d = _C.binary(B.sub, x, mean)
        d = _C.unary(U.mul_scalar, d, 2.0 / max(n - ctx.correction, 1e-300), 0.0)
        return _C.binary(B.mul, d, g.reshape(ctx.kshape)), None, None, None
