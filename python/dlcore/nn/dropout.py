"""Dropout modules (PyTorch semantics): Dropout, Dropout1d/2d/3d (whole channels),
AlphaDropout and FeatureAlphaDropout (SELU networks). Identity in eval mode; in training the
mask comes from dlcore's counter-based generator (dlcore.manual_seed), so it is the same for
any thread count."""
from __future__ import annotations

import numbers

from .. import norm_ops as _F
from .module import Module


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p}")
        self.p, self.inplace = float(p), bool(inplace)

    def forward(self, x):
        return type(self)._fn(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability p, scales the rest by 1 / (1 - p) (inverted dropout)."""

    _fn = staticmethod(_F.dropout)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) / (C, L)."""

    _fn = staticmethod(_F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) / (C, H, W)."""

    _fn = staticmethod(_F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) / (C, D, H, W)."""

    _fn = staticmethod(_F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's zero mean / unit variance (dropped values become the SELU
    saturation value, then an affine correction)."""

    _fn = staticmethod(_F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout of whole channels of (N, C, *)."""

    _fn = staticmethod(_F.feature_alpha_dropout)
