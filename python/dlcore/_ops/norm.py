"""Norm family: batch, layer and group normalization, each one fused kernel forward (statistics
in double, PyTorch's running-statistics rules) and one backward; batch norm optionally with a
ReLU on its output fused into both."""
from __future__ import annotations

from .. import _C
from ..autograd import Function

__all__ = ["BatchNorm", "LayerNorm", "GroupNorm"]


def _needed(ctx, dx, dw, db, n_args):
    """The gradients of (x, weight, bias) the graph asked for, None for the other arguments."""
    need = ctx.needs_input_grad
    return (dx if need[0] else None, dw if need[1] else None, db if need[2] else None) + (None,) * (n_args - 3)


class BatchNorm(Function):
    """y = (x - mean) * invstd * weight + bias over (N, C, *), statistics per channel.
    relu=True fuses a ReLU on the output, y = max(bn(x), 0), in the same kernel pass, and the
    backward masks grad_output by that saved output inside the norm's own passes (BatchNorm +
    ReLU without the ReLU's extra tensor and its two passes). unbiased=False: running_var
    averages the biased batch variance (Keras's moving_variance) instead of PyTorch's unbiased one."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, factor, eps, relu=False,
                unbiased=True):
        y, mean, invstd = _C.batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                training, factor, eps, relu, unbiased)
        ctx.save_for_backward(x, weight, mean, invstd, y if relu else None)
        ctx.training = training
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, invstd, y = ctx.saved_tensors
        return _needed(ctx, *_C.batch_norm_backward(g, x, weight, mean, invstd, ctx.training, y), 10)


class LayerNorm(Function):
    """y = (x - mean) * rstd * weight + bias, statistics over the trailing k dims
    (apply(x, weight, bias, k, eps)). GroupNorm: statistics per group of channels, k groups."""

    _forward, _backward = _C.layer_norm_forward, _C.layer_norm_backward

    @classmethod
    def forward(cls, ctx, x, weight, bias, k, eps):
        y, mean, rstd = cls._forward(x, k, weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.k = k
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        return _needed(ctx, *cls._backward(g, x, ctx.k, weight, mean, rstd), 5)


class GroupNorm(LayerNorm):
    _forward, _backward = _C.group_norm_forward, _C.group_norm_backward
