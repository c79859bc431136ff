"""Index family: index_select and gather (forward: gather kernels; backward: scatter-add into
a zero gradient)."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function


class IndexSelect(Function):
    """index_select along axis with a 1-D int64 index; Gather: gather with an index of the
    input's rank. The backward scatter-adds g into a zero gradient through the same index."""

    _forward, _scatter_add = _C.index_select, _C.index_add_

    @classmethod
    def forward(cls, ctx, x, axis, idx):
        ctx.in_shape, ctx.dtype, ctx.axis, ctx.idx = x.shape, x.dtype, axis, idx
        return cls._forward(x, axis, idx)

    @classmethod
    def backward(cls, ctx, g):
        gx = np.zeros(ctx.in_shape, ctx.dtype)
        cls._scatter_add(gx, ctx.axis, ctx.idx, g)
        return gx, None, None


class Gather(IndexSelect):
    _forward, _scatter_add = _C.gather, _C.scatter_add_
