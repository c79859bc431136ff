"""Pool family: max pooling (with indices), average pooling and adaptive pooling over
(N, C, H, W); 1-D pooling runs as 2-D with H = 1."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig as _contig

__all__ = ["MaxPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, k, s, p, d, ceil_mode):
        y, idx = _C.max_pool2d(_contig(x), k, s, p, d, ceil_mode)
        ctx.idx, ctx.in_hw = idx, x.shape[2:]
        return y, idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        return _C.max_pool2d_backward(_contig(g), ctx.idx, ctx.in_hw), None, None, None, None, None


class AdaptiveMaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, out):
        y, idx = _C.adaptive_max_pool2d(_contig(x), out)
        ctx.idx, ctx.in_hw = idx, x.shape[2:]
        return y, idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        return _C.max_pool2d_backward(_contig(g), ctx.idx, ctx.in_hw), None


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, k, s, p, ceil_mode, count_include_pad, div):
        ctx.args = (x.shape[2:], k, s, p, ceil_mode, count_include_pad, div)
        return _C.avg_pool2d(_contig(x), k, s, p, ceil_mode, count_include_pad, div)

    @staticmethod
    def backward(ctx, g):
        return (_C.avg_pool2d_backward(_contig(g), *ctx.args),) + (None,) * 6


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, out):
        ctx.in_hw = x.shape[2:]
        return _C.adaptive_avg_pool2d(_contig(x), out)

    @staticmethod
    def backward(ctx, g):
        return _C.adaptive_avg_pool2d_backward(_contig(g), ctx.in_hw), None
