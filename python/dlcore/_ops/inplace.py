"""The graph nodes of in-place ops (PyTorch's semantics; tensor.py's ``Tensor._inplace`` is the
one place that records an in-place op and uses them).

An in-place op on a tensor whose gradient is recorded is computed out of place (its node reads
the tensor's previous history), written into the tensor's memory, and the tensor takes the
result's node. Two cases need a node of their own:

* `Overwrite`: the new value is no op's result (``zero_``, ``fill_``, ``copy_`` of a constant
  or of a leaf into a graph tensor): the old history gets a zero gradient, the value its own.
* a view written in place (``h[:, 0] += 1``, ``v.relu_()`` with v a view of h): the write also
  changed its base. `CopySlices` becomes the base's new node - the base's gradient goes to the
  base's old history except inside the view's region, which goes to the in-place op's result -
  and `ViewOf` makes the view a view of that new base again.

A view's place in its base is its geometry over their shared storage:
``(base shape, base strides, base offset, view shape, view strides, view offset)`` in elements.
The backwards lay a gradient out like the base's memory in a scratch buffer, so bases of any
layout (permuted, sliced, negative steps) work.
"""
from __future__ import annotations

from .. import _C
from ..autograd import Function

__all__ = ["Overwrite", "CopySlices", "ViewOf"]


class Overwrite(Function):
    """apply(x, value): value (a tensor of x's shape) replacing x - x's history gets zeros, value
    the gradient (PyTorch's copy_ / fill_ / zero_ rule)."""

    @staticmethod
    def forward(ctx, x, value):
        return value

    @staticmethod
    def backward(ctx, g):
        gx = _C.zeros(g.shape, g.dtype, g.device) if ctx.needs_input_grad[0] else None
        return gx, g


def _scratch(g, geom):
    """A zero buffer spanning the base's memory and the base's and view's layouts over it."""
    bshape, bstrides, boff, vshape, vstrides, voff = geom
    lo = boff + sum((n - 1) * s for n, s in zip(bshape, bstrides) if s < 0 and n > 0)
    hi = boff + sum((n - 1) * s for n, s in zip(bshape, bstrides) if s > 0 and n > 0)
    buf = _C.zeros((hi - lo + 1,), g.dtype, g.device)
    return buf.as_strided(bshape, bstrides, boff - lo), buf.as_strided(vshape, vstrides, voff - lo)


class CopySlices(Function):
    """apply(base, result, geom): the base's new node after its view at geom was overwritten by
    result (the write itself has happened: forward returns the base's array as it is)."""

    @staticmethod
    def forward(ctx, base, result, geom):
        ctx.geom = geom
        return base

    @staticmethod
    def backward(ctx, g):
        if 0 in ctx.geom[0]:
            return g, None, None
        gb, gv = _scratch(g, ctx.geom)
        _C.copy(g, gb)
        g_result = gv.clone()
        gv.fill_(0.0)
        return gb.clone(), g_result, None


class ViewOf(Function):
    """apply(base, geom): the view at geom of base's memory (a view made again over the base's
    new history after an in-place write through it)."""

    @staticmethod
    def forward(ctx, base, geom):
        ctx.geom = geom
        _, _, _, vshape, vstrides, voff = geom
        return base.as_strided(vshape, vstrides, voff)

    @staticmethod
    def backward(ctx, g):
        if 0 in ctx.geom[0]:
            return _C.zeros(ctx.geom[0], g.dtype, g.device), None
        gb, gv = _scratch(g, ctx.geom)
        _C.copy(g, gv)
        return gb.clone(), None
