"""Shape family: views and layout (reshape, permute, expand, contiguous, indexing) and
concatenation / splitting along a dim. Forward and backward side by side; views are computed by
the Array in C++ (no copy), copies are dlcore kernels."""
from __future__ import annotations

import numbers

from .. import _C
from ..autograd import Function
from ._args import sum_to

__all__ = ["is_basic_index", "Reshape", "View", "Permute", "Expand", "Contiguous", "GetItem",
           "Concat", "Split"]


def is_basic_index(index):
    """True when index has only ints, slices, None and Ellipsis (it selects a view)."""
    items = index if isinstance(index, tuple) else (index,)
    return all((isinstance(i, (numbers.Integral, slice)) and not isinstance(i, bool)) or i is None or i is Ellipsis
               for i in items)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class View(Reshape):
    """x.view(shape): like Reshape, but raises instead of copying when x's memory layout does
    not allow the view (a copy would silently lose writes made through it)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.view(shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.inv = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.permute(dims)

    @staticmethod
    def backward(ctx, g):
        return g.permute(ctx.inv), None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.expand(shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape), None


class Contiguous(Function):
    """A C-contiguous copy (Tensor.contiguous / clone)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g


class GetItem(Function):
    """x[index] for a basic index (ints, slices with any step, None, Ellipsis): a view. The
    backward writes g into a zero gradient through the same index."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = _C.zeros(ctx.in_shape, ctx.dtype, g.device)
        gx[ctx.index] = g
        return gx, None


class Concat(Function):
    """cat along `axis`: apply(axis, *xs)."""

    @staticmethod
    def forward(ctx, axis, *xs):
        axis = axis % xs[0].ndim
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        shape = list(xs[0].shape)
        shape[axis] = sum(ctx.sizes)
        out = _C.empty(shape, xs[0].dtype, xs[0].device)
        pos = 0
        for x in xs:
            n = x.shape[axis]
            _C.copy(x, out.narrow(axis, pos, n))
            pos += n
        return out

    @staticmethod
    def backward(ctx, g):
        grads, pos = [], 0
        for n in ctx.sizes:
            grads.append(g.narrow(ctx.axis, pos, n))
            pos += n
        return (None, *grads)


class Split(Function):
    @staticmethod
    def forward(ctx, x, sizes, axis):
        ctx.axis, ctx.sizes, ctx.in_shape, ctx.dtype = axis, sizes, x.shape, x.dtype
        outs, pos = [], 0
        for n in sizes:
            outs.append(x.narrow(axis, pos, n))
            pos += n
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        device = next(g for g in grads if g is not None).device
        gx = _C.zeros(ctx.in_shape, ctx.dtype, device)
        pos = 0
        for n, g in zip(ctx.sizes, grads):
            if g is not None:
                _C.copy(g, gx.narrow(ctx.axis, pos, n))
            pos += n
        return gx, None, None
