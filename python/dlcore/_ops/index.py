"""Index family: index_select, gather and advanced indexing by index tensors (forward: gather
kernels; backward: scatter-add into a zero gradient), scatter_add / index_add (the other
way round), and index_put (``x[idx] = v`` recorded in a graph)."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import sum_to

__all__ = ["IndexSelect", "Gather", "ScatterAdd", "IndexAdd", "Index", "IndexPut"]


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
        gx = _C.zeros(ctx.in_shape, ctx.dtype, g.device)
        cls._scatter_add(gx, ctx.axis, ctx.idx, g)
        return gx, None, None


class Gather(IndexSelect):
    _forward, _scatter_add = _C.gather, _C.scatter_add_


class ScatterAdd(Function):
    """x with src added at index along axis, as a new array (scatter_add: index and src of one
    shape; IndexAdd: a 1-D index over axis). The backward passes g to x and picks src's
    gradient out of g through the same index (gather / index_select)."""

    _add, _pick = _C.scatter_add_, _C.gather

    @classmethod
    def forward(cls, ctx, x, axis, idx, src):
        ctx.axis, ctx.idx = axis, idx
        out = x.clone()
        cls._add(out, axis, idx, src)
        return out

    @classmethod
    def backward(cls, ctx, g):
        return g, None, None, cls._pick(g, ctx.axis, ctx.idx)


class IndexAdd(ScatterAdd):
    _add, _pick = _C.index_add_, _C.index_select


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


class IndexPut(Function):
    """x with v written at the places x[dims <- indices] selects (out of place; Tensor's
    ``x[idx] = v`` on a graph tensor writes it back in place). v broadcasts to the selection's
    shape. The backward: x's gradient is g with the written places zeroed, v's the selection of
    g summed back to v's shape."""

    @staticmethod
    def forward(ctx, x, dims, indices, v):
        ctx.dims, ctx.indices, ctx.v_shape = dims, indices, v.shape
        out = x.clone()
        _C.index_put_(out, dims, indices, v, False)
        return out

    @staticmethod
    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.clone()
            _C.index_put_(gx, ctx.dims, ctx.indices, _C.zeros((), g.dtype, g.device), False)
        if ctx.needs_input_grad[3]:
            gv = sum_to(_C.index_get(g, ctx.dims, ctx.indices), ctx.v_shape)
        return gx, None, None, gv

