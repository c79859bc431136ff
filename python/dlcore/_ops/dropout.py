"""Dropout family: inverted, alpha and per-channel dropout with a Philox mask drawn at
(seed, counter), so the mask is the same for any thread count."""
from __future__ import annotations

from .. import _C
from ..autograd import Function

__all__ = ["Dropout"]


class Dropout(Function):
    """Inverted / alpha dropout with a Philox mask drawn at (seed, counter); the backward
    multiplies by the saved mask and scale."""

    @staticmethod
    def forward(ctx, x, kind, p, seed, counter, inner):
        y, mask = _C.dropout_forward(kind, x, p, seed, counter, inner)
        ctx.mask, ctx.inner = mask, inner
        ctx.scale = _C.dropout_grad_scale(kind, p)
        return y

    @staticmethod
    def backward(ctx, g):
        return _C.dropout_backward(g, ctx.mask, ctx.inner, ctx.scale), None, None, None, None, None
