"""Norm family: the functions batch_norm, layer_norm, group_norm, instance_norm, rms_norm
(PyTorch's torch.nn.functional signatures and semantics) and the modules BatchNorm1d /
BatchNorm2d / BatchNorm3d, LayerNorm, GroupNorm, InstanceNorm1d / InstanceNorm2d, RMSNorm
(PyTorch names and state_dict keys). The math is one fused kernel per call (_ops/norm.py);
instance norm runs on the group-norm kernel (one group per channel) or, with running
statistics, on the batch-norm kernel over (1, N * C, *); RMS norm is composed from ops with
gradients (square, mean, sqrt, division)."""
from __future__ import annotations

import numbers
import warnings

from .. import _C
from ..autograd import no_grad
from ..dtype import get_default_dtype, int64
from .._ops import _args
from .._ops import norm as _ops
from ..tensor import Tensor, _float_tensor, _tensor_arg, ones, zeros
from .activation import ReLU
from .module import Module, Parameter

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "RMSNorm"]


def _raw(t):
    return None if t is None else (t._data if isinstance(t, Tensor) else t)


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


def _check_eps(op, eps, batch_stats):
    """eps must be a number >= 0, and > 0 where the batch's own variance divides (a constant
    channel would give 0 / 0 = NaN)."""
    if type(eps) is float and eps > 0:
        return
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{op}: eps must be a non-negative number, got {eps!r}")
    if batch_stats and eps == 0:
        raise ValueError(f"{op}: eps must be positive when normalising by the batch's own "
                         f"statistics (a constant channel would divide 0 by 0), got {eps!r}")


# ---- functions ---------------------------------------------------------------------------------

def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization over (N, C, *) (PyTorch's F.batch_norm). In training mode the
    batch's mean and biased variance normalise the input and, when given, running_mean /
    running_var are updated in place with factor `momentum` (running_var with the unbiased
    variance). Otherwise the running statistics normalise."""
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, relu=False,
                unbiased=True):
    """batch_norm, and with relu=True relu(batch_norm(...)) in one fused kernel each way (the
    BatchNorm + ReLU pairs of a Sequential: _BatchNorm._forward_fused); unbiased=False keeps the
    biased batch variance in running_var (Keras's moving_variance rule)."""
    op = "batch_norm"
    _float_tensor(input, op)
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
    _check_eps(op, eps, training)
    factor = 0.0 if momentum is None else float(momentum)
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"{op}: momentum must be in [0, 1] or None, got {momentum}")
    return _ops.BatchNorm.apply(input, weight, bias, _raw(running_mean), _raw(running_var),
                                bool(training), factor, float(eps), bool(relu), bool(unbiased))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalization over the trailing dims `normalized_shape` (PyTorch's F.layer_norm)."""
    op = "layer_norm"
    _float_tensor(input, op)
    ns = _args.shape_tuple(normalized_shape, op, "normalized_shape")
    if len(ns) == 0 or tuple(input.shape[input.ndim - len(ns):]) != ns or input.ndim < len(ns):
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {ns}")
    _check_param(op, "weight", weight, input, ns)
    _check_param(op, "bias", bias, input, ns)
    _check_eps(op, eps, True)
    return _ops.LayerNorm.apply(input, weight, bias, len(ns), float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalization of (N, C, *) with C split into num_groups groups (PyTorch's
    F.group_norm); weight / bias are per channel."""
    op = "group_norm"
    _float_tensor(input, op)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *) with at least 2 dims, got "
                         f"shape {tuple(input.shape)}")
    C = input.shape[1]
    num_groups = _args.integer(num_groups, op, "num_groups", 1)
    if C % num_groups:
        raise ValueError(f"{op}: the number of channels {C} (dim 1 of input shape "
                         f"{tuple(input.shape)}) is not divisible by num_groups {num_groups}")
    _check_param(op, "weight", weight, input, (C,))
    _check_param(op, "bias", bias, input, (C,))
    _check_eps(op, eps, True)
    return _ops.GroupNorm.apply(input, weight, bias, num_groups, float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalization of (N, C, *): each channel of each sample normalised by its own
    mean and biased variance over the spatial dims (PyTorch's F.instance_norm); weight / bias
    per channel. With use_input_stats and running statistics given, those are updated in place
    with factor `momentum` by the average over the samples of each instance's mean and unbiased
    variance; with use_input_stats=False the running statistics normalise."""
    op = "instance_norm"
    _float_tensor(input, op)
    if input.ndim < 3:
        raise ValueError(f"{op}: expected input of shape (N, C, *) with at least one spatial dim, got "
                         f"shape {tuple(input.shape)}")
    N, C = input.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_param(op, name, t, input, (C,))
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    if not use_input_stats:
        if running_mean is None:
            raise ValueError(f"{op}: running_mean and running_var must be given when use_input_stats=False")
        return batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    if input.numel() // max(N * C, 1) <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element per channel when using the input's "
                         f"statistics, got input of shape {tuple(input.shape)}")
    if running_mean is None:
        return group_norm(input, C, weight, bias, eps)
    # the batch-norm kernel over (1, N * C, *): each instance is a channel there, and each holds a
    # copy of its channel's running statistics, averaged back over the samples afterwards
    rm, rv = running_mean.repeat(N), running_var.repeat(N)
    y = batch_norm(input.reshape(1, N * C, *input.shape[2:]), rm, rv,
                   None if weight is None else weight.repeat(N), None if bias is None else bias.repeat(N),
                   True, momentum, eps)
    with no_grad():
        running_mean.copy_(rm.reshape(N, C).mean(0))
        running_var.copy_(rv.reshape(N, C).mean(0))
    return y.reshape(input.shape)


_FLOAT_EPS = {"float32": 2.0 ** -23, "float64": 2.0 ** -52}  # torch.finfo(dtype).eps


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalization over the trailing dims `normalized_shape` (PyTorch's
    F.rms_norm): x / sqrt(mean(x^2) + eps) * weight, eps=None meaning the machine epsilon of
    the input's dtype."""
    op = "rms_norm"
    _float_tensor(input, op)
    ns = _args.shape_tuple(normalized_shape, op, "normalized_shape")
    if len(ns) == 0 or input.ndim < len(ns) or tuple(input.shape[input.ndim - len(ns):]) != ns:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {ns}")
    _check_param(op, "weight", weight, input, ns)
    eps = _FLOAT_EPS[str(input.dtype)] if eps is None else eps
    _check_eps(op, eps, False)
    dims = tuple(range(input.ndim - len(ns), input.ndim))
    y = input / ((input * input).mean(dims, keepdim=True) + float(eps)).sqrt()
    return y if weight is None else y * weight


# ---- modules -----------------------------------------------------------------------------------

class _NormBase(Module):
    """Parameters and buffers of the batch and instance norms: weight (ones) and bias (zeros)
    when affine; buffers running_mean (zeros), running_var (ones) and num_batches_tracked
    (int64 scalar) under PyTorch's names, so a torch state_dict loads unchanged; with
    track_running_stats=False they are None."""

    _ndims = ()  # accepted input ranks
    _expect = ""
    # running_var averages the unbiased batch variance (PyTorch); Keras's BatchNormalization,
    # which runs on this module, sets False for its moving_variance (the biased variance)
    _unbiased_running_var = True

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None):
        super().__init__()
        num_features = _args.integer(num_features, type(self).__name__, "num_features", 1)
        if momentum is not None and not 0.0 <= _args.real(momentum, type(self).__name__, "momentum") <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}")
        _check_eps(type(self).__name__, eps, False)
        self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dt = dtype or get_default_dtype()
        if self.affine:
            self.weight = Parameter(ones(num_features, dtype=dt))
            self.bias = Parameter(zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt))
            self.register_buffer("running_var", ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _check_rank(self, x):
        """The module's name (for errors), after checking that x is a Tensor of an accepted
        rank (_ndims)."""
        name = type(self).__name__
        _tensor_arg(x, name)
        if x.ndim not in self._ndims:
            raise ValueError(f"{name}: expected {self._expect} input, got {x.ndim}D input of "
                             f"shape {tuple(x.shape)}")
        return name

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.fill_(1.0)
            self.bias.zero_()

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Shared body of BatchNorm1d/2d/3d: batch statistics in training (and in eval mode too
    with track_running_stats=False), the running statistics otherwise."""

    def _check_input_dim(self, x):
        name = self._check_rank(x)
        if x.shape[1] != self.num_features:
            hint = ""
            if x.ndim >= 3 and x.shape[-1] == self.num_features:
                hint = ("; the input looks channels-last, but dlcore (like PyTorch) is channels-first "
                        "(N, C, ...): permute the channels to dim 1")
            raise ValueError(f"{name}: input of shape {tuple(x.shape)} has {x.shape[1]} channels "
                             f"(dim 1) but num_features is {self.num_features}{hint}")

    def forward(self, x):
        return self._run(x, False)

    def _forward_fused(self, x, nxt):
        """This module and the next one of a Sequential in one call when the next is a plain
        ReLU: relu(bn(x)) in one fused kernel each way, the same values and gradients as the two
        modules (to float rounding: the same per-element arithmetic). None when they do not fuse:
        another next module, forward hooks on either, or a subclass with its own normalisation
        (SyncBatchNorm)."""
        if (type(nxt) is not ReLU or type(self)._normalize is not _BatchNorm._normalize
                or self._has_forward_hooks() or nxt._has_forward_hooks()):
            return None
        return self._run(x, True)

    def _run(self, x, relu):
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked._data
            _C.unary(_C.Unary.mul_scalar, nbt, 1.0, 1.0, out=nbt)  # += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / nbt.item()
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        rm, rv = (self.running_mean, self.running_var) if track else (None, None)
        if relu:
            return _batch_norm(x, rm, rv, self.weight, self.bias, use_batch, factor, self.eps, True,
                               self._unbiased_running_var)
        return self._normalize(x, rm, rv, use_batch, factor)

    def _normalize(self, x, running_mean, running_var, use_batch, factor):
        """batch_norm with this module's weight, bias and eps (dlcore.distributed.SyncBatchNorm
        takes the statistics of all processes here)."""
        return _batch_norm(x, running_mean, running_var, self.weight, self.bias, use_batch, factor, self.eps,
                           unbiased=self._unbiased_running_var)


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) (statistics per channel over N and L)."""

    _ndims = (2, 3)
    _expect = "2D (N, C) or 3D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) (statistics per channel over N, H and W)."""

    _ndims = (4,)
    _expect = "4D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W)."""

    _ndims = (5,)
    _expect = "5D (N, C, D, H, W)"


class _InstanceNorm(_NormBase):
    """Shared body of InstanceNorm1d/2d: BatchNorm's parameters and buffers (PyTorch's names),
    with PyTorch's defaults affine=False, track_running_stats=False; the running statistics,
    when tracked, normalise in eval mode."""

    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x):
        name = self._check_rank(x)
        unbatched = x.ndim == self._ndims[0]
        c = x.shape[x.ndim - self._spatial - 1]
        if c != self.num_features:
            msg = (f"{name}: input of shape {tuple(x.shape)} has {c} channels but num_features is "
                   f"{self.num_features}")
            if self.affine or self.track_running_stats:
                raise ValueError(msg)
            warnings.warn(msg + " (ignored: no affine parameters or running statistics)", stacklevel=2)
        y = instance_norm(x.unsqueeze(0) if unbatched else x, self.running_mean, self.running_var,
                          self.weight, self.bias, self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance norm over (N, C, L) or unbatched (C, L): each channel of each sample normalised
    over L (torch.nn.InstanceNorm1d)."""

    _ndims = (2, 3)
    _expect = "2D (C, L) or 3D (N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over (N, C, H, W) or unbatched (C, H, W): each channel of each sample
    normalised over H and W (torch.nn.InstanceNorm2d)."""

    _ndims = (3, 4)
    _expect = "3D (C, H, W) or 4D (N, C, H, W)"
    _spatial = 2


class LayerNorm(Module):
    """Normalises over the trailing dims `normalized_shape`; elementwise weight (ones) and
    bias (zeros) of that shape when elementwise_affine (bias=False drops the bias)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        ns = _args.shape_tuple(normalized_shape, "LayerNorm", "normalized_shape")
        if not ns or any(s <= 0 for s in ns):
            raise ValueError(f"LayerNorm: normalized_shape must be non-empty with positive sizes, got {ns}")
        _check_eps("LayerNorm", eps, True)
        self.normalized_shape, self.eps = ns, float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = dtype or get_default_dtype()
        if self.elementwise_affine:
            self.weight = Parameter(ones(*ns, dtype=dt))
            if bias:
                self.bias = Parameter(zeros(*ns, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group norm of (N, C, *): C = num_channels split into num_groups groups, per-channel
    weight (ones) and bias (zeros) when affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        num_groups = _args.integer(num_groups, "GroupNorm", "num_groups", 1)
        num_channels = _args.integer(num_channels, "GroupNorm", "num_channels", 1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        _check_eps("GroupNorm", eps, True)
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = float(eps), bool(affine)
        dt = dtype or get_default_dtype()
        if self.affine:
            self.weight = Parameter(ones(num_channels, dtype=dt))
            self.bias = Parameter(zeros(num_channels, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"GroupNorm: input must be a dlcore Tensor, got {type(x).__name__}")
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input of shape (N, {self.num_channels}, *), "
                             f"got shape {tuple(x.shape)}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class RMSNorm(Module):
    """Root-mean-square norm over the trailing dims `normalized_shape` (torch.nn.RMSNorm):
    elementwise weight (ones) when elementwise_affine; eps=None is the input dtype's machine
    epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, dtype=None):
        super().__init__()
        ns = _args.shape_tuple(normalized_shape, "RMSNorm", "normalized_shape")
        if not ns or any(s <= 0 for s in ns):
            raise ValueError(f"RMSNorm: normalized_shape must be non-empty with positive sizes, got {ns}")
        if eps is not None:
            _check_eps("RMSNorm", eps, False)
        self.normalized_shape, self.eps = ns, None if eps is None else float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(ones(*ns, dtype=dtype or get_default_dtype()))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.elementwise_affine:
            self.weight.fill_(1.0)

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
