"""Shape family: views and layout (reshape, permute, expand, contiguous, indexing) and
concatenation / splitting along a dim. Forward and backward side by side; views are computed by
the Array in C++ (no copy), copies are dlcore kernels."""
from __future__ import annotations

import numbers

from .. import _C
from ..autograd import Function
from ._args import Converted, sum_to

__all__ = ["is_basic_index", "Reshape", "View", "Permute", "Expand", "Contiguous", "GetItem",
           "Concat", "Split", "Pad"]


def is_basic_index(index):
    """True when index has only ints, slices, None and Ellipsis (it selects a view)."""
    items = index if isinstance(index, tuple) else (index,)
    return all((isinstance(i, (numbers.Integral, slice)) and not isinstance(i, bool)) or i is None or i is Ellipsis
               for i in items)


class Reshape(Converted):
    of, by = "shape", "reshape"


class View(Converted):
    """x.view(shape): like Reshape, but raises instead of copying when x's memory layout does
    not allow the view (a copy would silently lose writes made through it)."""

    of, by, back = "shape", "view", "reshape"


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.inv = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.permute(dims)

    @staticmethod
    def backward(ctx, g):
        return g.permute(ctx.inv), None


class Expand(Converted):
    """x broadcast to shape (a view); the gradient is summed back to x's shape."""

    of, by = "shape", "expand"

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.was), None


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


class Pad(Function):
    """Constant padding: apply(x, pads, value) with pads ((before, after) per dim, every dim);
    a negative amount crops. Forward fills a new array with value and copies the kept part of x
    into it; backward is the matching window of the gradient."""

    @staticmethod
    def _windows(shape, pads):
        """(window of x, window of the output) as (start, length) per dim."""
        src, dst = [], []
        for n, (lo, hi) in zip(shape, pads):
            keep = n + min(lo, 0) + min(hi, 0)
            src.append((max(-lo, 0), keep))
            dst.append((max(lo, 0), keep))
        return src, dst

    @staticmethod
    def _narrow(a, window):
        for d, (start, n) in enumerate(window):
            if start or n != a.shape[d]:
                a = a.narrow(d, start, n)
        return a

    @staticmethod
    def forward(ctx, x, pads, value):
        out_shape = [n + lo + hi for n, (lo, hi) in zip(x.shape, pads)]
        src, dst = Pad._windows(x.shape, pads)
        ctx.in_shape, ctx.dtype, ctx.src, ctx.dst = x.shape, x.dtype, src, dst
        out = _C.full(out_shape, value, x.dtype, str(x.device))
        if all(n > 0 for _, n in src):
            _C.copy(Pad._narrow(x, src), Pad._narrow(out, dst))
        return out

    @staticmethod
    def backward(ctx, g):
        if all(s == 0 and n == m for (s, n), m in zip(ctx.src, ctx.in_shape)):
            return Pad._narrow(g, ctx.dst), None, None  # pure padding: a view of g
        gx = _C.zeros(ctx.in_shape, ctx.dtype, g.device)
        if all(n > 0 for _, n in ctx.src):
            _C.copy(Pad._narrow(g, ctx.dst), Pad._narrow(gx, ctx.src))
        return gx, None, None
