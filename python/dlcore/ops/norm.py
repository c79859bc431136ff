"""Norm family: batch, layer and group normalization, each one fused kernel forward (statistics
in double, PyTorch's running-statistics rules) and one backward."""
from __future__ import annotations

from .. import _C
from ..autograd import Function


class BatchNorm(Function):
    """y = (x - mean) * invstd * weight + bias over (N, C, *), statistics per channel."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, factor, eps):
        y, mean, invstd = _C.batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                training, factor, eps)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.training = training
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, invstd = ctx.saved_tensors
        dx, dw, db = _C.batch_norm_backward(g, x, weight, mean, invstd, ctx.training)
        need = ctx.needs_input_grad
        return (dx if need[0] else None, dw if need[1] else None, db if need[2] else None,
                None, None, None, None, None)


class LayerNorm(Function):
    """y = (x - mean) * rstd * weight + bias, statistics over the trailing norm_ndim dims."""

    @staticmethod
    def forward(ctx, x, weight, bias, norm_ndim, eps):
        y, mean, rstd = _C.layer_norm_forward(x, norm_ndim, weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.norm_ndim = norm_ndim
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        dx, dw, db = _C.layer_norm_backward(g, x, ctx.norm_ndim, weight, mean, rstd)
        need = ctx.needs_input_grad
        return (dx if need[0] else None, dw if need[1] else None, db if need[2] else None,
                None, None)


class GroupNorm(Function):
    """y = (x - mean) * rstd * weight + bias, statistics per group of channels."""

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        y, mean, rstd = _C.group_norm_forward(x, groups, weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.groups = groups
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        dx, dw, db = _C.group_norm_backward(g, x, ctx.groups, weight, mean, rstd)
        need = ctx.needs_input_grad
        return (dx if need[0] else None, dw if need[1] else None, db if need[2] else None,
                None, None)
