"""Embedding family (on the index kernels): rows of a table picked by flat int64 indices;
backward scatter-adds into a zero gradient and leaves the padding_idx row at zero."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig

__all__ = ["Embedding"]


class Embedding(Function):
    """apply(weight, flat int64 indices, output shape, padding_idx or None) -> rows of weight."""

    @staticmethod
    def forward(ctx, weight, idx, out_shape, padding_idx):
        ctx.wshape, ctx.dtype, ctx.idx, ctx.padding_idx = weight.shape, weight.dtype, idx, padding_idx
        return _C.index_select(weight, 0, idx).reshape(out_shape)

    @staticmethod
    def backward(ctx, g):
        gw = _C.zeros(ctx.wshape, ctx.dtype, g.device)
        _C.index_add_(gw, 0, ctx.idx, contig(g.reshape(-1, ctx.wshape[1])))
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx].fill_(0.0)
        return gw, None, None, None
