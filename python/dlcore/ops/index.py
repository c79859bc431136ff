"""Index family: index_select, gather and advanced indexing by index tensors (forward: gather
kernels; backward: scatter-add into a zero gradient)."""
from __future__ import annotations

from .. import _C
from ..autograd import Function


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.in_shape, ctx.dtype, ctx.axis, ctx.idx = x.shape, x.dtype, axis, idx
        return _C.index_select(x, axis, idx)

    @staticmethod
    def backward(ctx, g):
        gx = _C.zeros(ctx.in_shape, ctx.dtype, g.device)
        _C.index_add_(gx, ctx.axis, ctx.idx, g)
        return gx, None, None


class Gather(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.in_shape, ctx.dtype, ctx.axis, ctx.idx = x.shape, x.dtype, axis, idx
        return _C.gather(x, axis, idx)

    @staticmethod
    def backward(ctx, g):
        gx = _C.zeros(ctx.in_shape, ctx.dtype, g.device)
        _C.scatter_add_(gx, ctx.axis, ctx.idx, g)
        return gx, None, None


class Index(Function):
    """x indexed along `dims` by int64 index arrays (broadcast together to a shape B): the result
    is (B..., the other dims...). The backward adds g into a zero gradient at the same places, in
    index order (repeated indices accumulate, deterministically)."""

    @staticmethod
    def forward(ctx, x, dims, indices):
        ctx.in_shape, ctx.dtype, ctx.dims, ctx.indices = x.shape, x.dtype, dims, indices
        return _C.index_get(x, dims, indices)

    @staticmethod
    def backward(ctx, g):
        gx = _C.zeros(ctx.in_shape, ctx.dtype, g.device)
        _C.index_put_(gx, ctx.dims, ctx.indices, g, True)
        return gx, None, None

