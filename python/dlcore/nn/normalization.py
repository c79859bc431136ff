"""Normalization modules (PyTorch semantics, names and state_dict keys): BatchNorm1d /
BatchNorm2d / BatchNorm3d, LayerNorm, GroupNorm. The math is one fused kernel per call
(dlcore.norm_ops -> _C.batch_norm_forward / ...).

The dropout (nn/dropout.py) and merge (nn/merge.py) layers are re-exported at the bottom so
that dlcore.nn imports this family with one line."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import norm_ops as _F
from ..dtype import get_default_dtype, int64
from ..tensor import Tensor, ones, zeros
from .module import Module, Parameter


class _BatchNorm(Module):
    """Shared body of BatchNorm1d/2d/3d. Buffers running_mean (zeros), running_var (ones)
    and num_batches_tracked (int64 scalar) are registered under PyTorch's names, so a torch
    BatchNorm state_dict loads unchanged; with track_running_stats=False they are None and
    batch statistics are used in eval mode too."""

    _ndims = ()  # accepted input ranks
    _expect = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None):
        super().__init__()
        if not isinstance(num_features, numbers.Integral) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}")
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
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.zeros((), int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

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

    def _check_input_dim(self, x):
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a dlcore Tensor, got {type(x).__name__}")
        if x.ndim not in self._ndims:
            raise ValueError(f"{name}: expected {self._expect} input, got {x.ndim}D input of "
                             f"shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: input of shape {tuple(x.shape)} has {x.shape[1]} channels "
                             f"(dim 1) but num_features is {self.num_features}")

    def forward(self, x):
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked._data
            _C.binary(_C.Binary.add, nbt, np.ones((), int64), out=nbt)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(nbt)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return _F.batch_norm(x, self.running_mean if track else None,
                             self.running_var if track else None, self.weight, self.bias,
                             use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


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


class LayerNorm(Module):
    """Normalises over the trailing dims `normalized_shape`; elementwise weight (ones) and
    bias (zeros) of that shape when elementwise_affine (bias=False drops the bias)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        ns = _F._shape_tuple(normalized_shape)
        if not ns or any(s <= 0 for s in ns):
            raise ValueError(f"LayerNorm: normalized_shape must be non-empty with positive sizes, got {ns}")
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
        return _F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group norm of (N, C, *): C = num_channels split into num_groups groups, per-channel
    weight (ones) and bias (zeros) when affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
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
        return _F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"



# Re-exports: one import line in dlcore/nn/__init__.py brings in the whole family.
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout  # noqa: E402,F401
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Residual, Subtract  # noqa: E402,F401
