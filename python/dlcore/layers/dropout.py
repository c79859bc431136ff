"""Keras-style dropout and noise layers: Dropout (on nn.Dropout), SpatialDropout1D / 2D
(whole channels), GaussianNoise, GaussianDropout. All are the identity outside training."""
from __future__ import annotations

import math

from ..nn.dropout import Dropout as _NNDropout
from ..nn.dropout import dropout as _dropout
from .._ops._args import real
from ..tensor import ones, randn
from .base import Layer

__all__ = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"]


def _rate(cls, rate):
    rate = real(rate, cls, "rate")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{cls}: rate must be in [0, 1), got {rate}")
    return float(rate)


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs in training (scales the rest by 1/(1-rate));
    wraps nn.Dropout."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported; SpatialDropout1D / 2D drop whole channels")
        self.rate = _rate("Dropout", rate)

    def build(self, input_shape, x=None):
        self.dropout = _NNDropout(p=self.rate)
        self.built = True

    def forward(self, x):
        return self.dropout(x)

    def get_config(self):
        return {"name": self.name, "rate": self.rate}


class SpatialDropout1D(Layer):
    """Drops whole feature channels of a (N, T, C) sequence: one keep / drop draw per sample
    and channel, shared by every step (Keras's layout)."""

    supports_masking = True

    def __init__(self, rate, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.rate = _rate(type(self).__name__, rate)
        self.built = True

    def _mask_shape(self, x):
        if x.ndim != 3:
            raise ValueError(f"SpatialDropout1D: expects a (batch, time, channels) input, got shape "
                             f"{tuple(x.shape)}")
        return (x.shape[0], 1, x.shape[2])

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            return x
        keep = _dropout(ones(*self._mask_shape(x), dtype=x.dtype, device=x.device), self.rate, True)
        return x * keep

    def get_config(self):
        return {"name": self.name, "rate": self.rate}


class SpatialDropout2D(SpatialDropout1D):
    """Drops whole channels of an image batch: (N, H, W, C) with data_format='channels_last'
    (Keras's default), (N, C, H, W) with 'channels_first'."""

    def __init__(self, rate, data_format=None, name=None, **kwargs):
        super().__init__(rate, name, **kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"SpatialDropout2D: data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}")
        self.data_format = data_format

    def _mask_shape(self, x):
        if x.ndim != 4:
            raise ValueError(f"SpatialDropout2D: expects a 4-D image batch, got shape {tuple(x.shape)}")
        if self.data_format == "channels_last":
            return (x.shape[0], 1, 1, x.shape[3])
        return (x.shape[0], x.shape[1], 1, 1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class GaussianNoise(Layer):
    """Adds N(0, stddev) noise in training (a regulariser); drawn from dlcore's generator."""

    supports_masking = True

    def __init__(self, stddev, seed=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.stddev = float(real(stddev, "GaussianNoise", "stddev"))
        if self.stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be >= 0, got {stddev}")
        self.built = True

    def forward(self, x):
        if not self.training or self.stddev == 0.0:
            return x
        return x + randn(*x.shape, dtype=x.dtype, device=x.device) * self.stddev

    def get_config(self):
        return {"name": self.name, "stddev": self.stddev}


class GaussianDropout(Layer):
    """Multiplies the inputs by N(1, rate / (1 - rate)) noise in training."""

    supports_masking = True

    def __init__(self, rate, seed=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.rate = _rate("GaussianDropout", rate)
        self.built = True

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            return x
        std = math.sqrt(self.rate / (1.0 - self.rate))
        return x * (randn(*x.shape, dtype=x.dtype, device=x.device) * std + 1.0)

    def get_config(self):
        return {"name": self.name, "rate": self.rate}
