"""Shape family: views and layout (reshape, permute, expand, contiguous, indexing) and
concatenation / splitting along a dim. Forward and backward side by side; views are NumPy
views of the raw arrays for now, copies are dlcore kernels."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function
from ._args import sum_to


def is_basic_index(index):
    """True when index has only ints, slices, None and Ellipsis (it selects a view)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


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
    """A C-contiguous copy (Tensor.contiguous / clone)."""

    @staticmethod
    def forward(ctx, x):
        return _C.cast(x, str(x.dtype))

    @staticmethod
    def backward(ctx, g):
        return g


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
        if is_basic_index(idx):
            _C.copy(g, gx[idx])
        elif isinstance(idx, np.ndarray) and idx.dtype == np.int64 and idx.ndim == 1:
            _C.index_add_(gx, 0, idx, g)
        else:  # general advanced indexing (rare in the hot path): unbuffered accumulate
            np.add.at(gx, idx, g)
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
