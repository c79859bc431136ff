"""Index family: index_select and gather (forward: gather kernels; backward: scatter-add into
a zero gradient)."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function


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
