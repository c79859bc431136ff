"""Normalization and dropout as differentiable ops (forward and backward side by side, each a
call of one fused ``dlcore._C`` kernel) and their functional forms, exported through
``dlcore.functional``: batch_norm, layer_norm, group_norm, dropout, alpha_dropout,
feature_alpha_dropout, dropout1d / dropout2d / dropout3d. Signatures and semantics are
PyTorch's (torch.nn.functional)."""
from __future__ import annotations

import numbers

from . import _C
from .autograd import Function
from .tensor import Tensor, default_generator

__all__ = ["batch_norm", "layer_norm", "group_norm", "dropout", "alpha_dropout",
           "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"]


def _raw(t):
    return None if t is None else (t._data if isinstance(t, Tensor) else t)


def _check_input(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a dlcore Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be float32 or float64, got {x.dtype}")


def _check_param(op, name, t, x, shape):
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: '{name}' must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{op}: '{name}' has shape {tuple(t.shape)} but input of shape "
                         f"{tuple(x.shape)} needs {tuple(shape)}")
    if t.dtype != x.dtype:
        raise TypeError(f"{op}: '{name}' has dtype {t.dtype} but input has dtype {x.dtype}")


# ---- batch norm -------------------------------------------------------------------------------

class BatchNormFn(Function):
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


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization over (N, C, *) (PyTorch's F.batch_norm). In training mode the
    batch's mean and biased variance normalise the input and, when given, running_mean /
    running_var are updated in place with factor `momentum` (running_var with the unbiased
    variance). Otherwise the running statistics normalise."""
    op = "batch_norm"
    _check_input(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *) with at least 2 dims, got "
                         f"shape {tuple(input.shape)}")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_param(op, name, t, input, (C,))
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must be given when training=False")
    if training:
        n = input.numel() // max(C, 1)
        if n <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got "
                             f"input of shape {tuple(input.shape)}")
    factor = 0.0 if momentum is None else float(momentum)
    return BatchNormFn.apply(input, weight, bias, _raw(running_mean), _raw(running_var),
                             bool(training), factor, float(eps))


# ---- layer norm -------------------------------------------------------------------------------

class LayerNormFn(Function):
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


def _shape_tuple(s):
    return (int(s),) if isinstance(s, numbers.Integral) else tuple(int(v) for v in s)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalization over the trailing dims `normalized_shape` (PyTorch's F.layer_norm)."""
    op = "layer_norm"
    _check_input(op, input)
    ns = _shape_tuple(normalized_shape)
    if len(ns) == 0 or tuple(input.shape[input.ndim - len(ns):]) != ns or input.ndim < len(ns):
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {ns}")
    _check_param(op, "weight", weight, input, ns)
    _check_param(op, "bias", bias, input, ns)
    return LayerNormFn.apply(input, weight, bias, len(ns), float(eps))


# ---- group norm -------------------------------------------------------------------------------

class GroupNormFn(Function):
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


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalization of (N, C, *) with C split into num_groups groups (PyTorch's
    F.group_norm); weight / bias are per channel."""
    op = "group_norm"
    _check_input(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *) with at least 2 dims, got "
                         f"shape {tuple(input.shape)}")
    C = input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise ValueError(f"{op}: the number of channels {C} (dim 1 of input shape "
                         f"{tuple(input.shape)}) is not divisible by num_groups {num_groups}")
    _check_param(op, "weight", weight, input, (C,))
    _check_param(op, "bias", bias, input, (C,))
    return GroupNormFn.apply(input, weight, bias, int(num_groups), float(eps))


# ---- dropout ----------------------------------------------------------------------------------

class DropoutFn(Function):
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


def _dropout(op, input, p, training, kind, inner_from, generator=None):
    _check_input(op, input)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0 or input.numel() == 0:
        return input
    inner = 1
    if inner_from is not None:
        for s in input.shape[inner_from:]:
            inner *= int(s)
    g = generator or default_generator
    n_mask = input.numel() // inner
    counter = g.counter
    g.counter += _C.dropout_blocks(n_mask)
    return DropoutFn.apply(input, kind, float(p), g.seed, counter, inner)


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p); the
    identity when not training. Seeded by dlcore.manual_seed (thread-count independent).
    `inplace` is accepted for PyTorch compatibility and returns a new tensor."""
    return _dropout("dropout", input, p, training, _C.DropoutKind.standard, None, generator)


def alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Alpha dropout for SELU networks: keeps zero mean / unit variance (PyTorch's
    F.alpha_dropout; note its default training=False)."""
    return _dropout("alpha_dropout", input, p, training, _C.DropoutKind.alpha, None, generator)


def _feature(op, input, p, training, kind, batched_ndim, generator):
    _check_input(op, input)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise ValueError(f"{op}: expected an unbatched {batched_ndim - 1}D or batched "
                         f"{batched_ndim}D input, got shape {tuple(input.shape)}")
    channel_dim = 1 if input.ndim == batched_ndim else 0
    return _dropout(op, input, p, training, kind, channel_dim + 1, generator)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes whole channels of (N, C, L) or (C, L) with probability p."""
    return _feature("dropout1d", input, p, training, _C.DropoutKind.standard, 3, generator)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) with probability p."""
    return _feature("dropout2d", input, p, training, _C.DropoutKind.standard, 4, generator)


def dropout3d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p."""
    return _feature("dropout3d", input, p, training, _C.DropoutKind.standard, 5, generator)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Alpha dropout of whole channels of (N, C, *)."""
    _check_input("feature_alpha_dropout", input)
    if input.ndim < 2:
        raise ValueError(f"feature_alpha_dropout: expected input of shape (N, C, *), got "
                         f"shape {tuple(input.shape)}")
    return _dropout("feature_alpha_dropout", input, p, training, _C.DropoutKind.alpha, 2, generator)
