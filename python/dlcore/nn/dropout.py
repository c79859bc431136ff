"""Dropout family: the functions dropout, alpha_dropout, feature_alpha_dropout,
dropout1d / 2d / 3d (PyTorch's torch.nn.functional signatures and semantics) and the modules
Dropout, Dropout1d/2d/3d (whole channels), AlphaDropout and FeatureAlphaDropout (SELU
networks). Identity when not training; in training the mask comes from dlcore's counter-based
generator (dlcore.manual_seed), so it is the same for any thread count (_ops/dropout.py)."""
from __future__ import annotations

import numbers
import warnings

from .. import _C
from .._ops import dropout as _ops
from ..tensor import Generator, Tensor, _float_tensor, current_generator
from .module import Module

__all__ = ["dropout", "alpha_dropout", "dropout1d", "dropout2d", "dropout3d",
           "feature_alpha_dropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
           "AlphaDropout", "FeatureAlphaDropout"]


# ---- functions ---------------------------------------------------------------------------------

def _dropout(op, input, p, training, kind, inner_from, generator=None, inplace=False):
    _float_tensor(input, op)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0 or input.numel() == 0:
        return input
    inner = 1
    if inner_from is not None:
        for s in input.shape[inner_from:]:
            inner *= int(s)
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a dlcore.Generator or None, got {type(generator).__name__}")
    g = generator or current_generator()
    counter = g.take_batch(_C.dropout_blocks, input.numel() // inner)  # a rank's part of the global batch's mask
    out = _ops.Dropout.apply(input, kind, float(p), g.seed, counter, inner)
    return input._inplace(f"{op}(inplace=True)", out) if inplace else out


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p); the
    identity when not training. Seeded by dlcore.manual_seed (thread-count independent).
    inplace=True writes the result into input and returns input (recorded in the graph like
    every in-place op)."""
    return _dropout("dropout", input, p, training, _C.DropoutKind.standard, None, generator, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Alpha dropout for SELU networks: keeps zero mean / unit variance (PyTorch's
    F.alpha_dropout; note its default training=False)."""
    return _dropout("alpha_dropout", input, p, training, _C.DropoutKind.alpha, None, generator, inplace)


def _feature(op, input, p, training, kind, batched_ndim, generator, inplace=False):
    _float_tensor(input, op)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise ValueError(f"{op}: expected an unbatched {batched_ndim - 1}D or batched "
                         f"{batched_ndim}D input, got shape {tuple(input.shape)}")
    channel_dim = 1 if input.ndim == batched_ndim else 0
    return _dropout(op, input, p, training, kind, channel_dim + 1, generator, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes whole channels of (N, C, L) or (C, L) with probability p."""
    return _feature("dropout1d", input, p, training, _C.DropoutKind.standard, 3, generator, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) with probability p.

    Other inputs of at least 2 dims are taken as (N, C, ...) with a deprecation warning, as
    PyTorch does: a 2-D (N, C) input (a Dropout2d after a Linear or an LSTM's last step, as in
    PyTorch's mnist_rnn example) then loses single elements, like dropout."""
    if isinstance(input, Tensor) and input.ndim not in (3, 4) and input.ndim >= 2:
        warnings.warn(f"dropout2d: a {input.ndim}-D input is taken as (N, C, ...) and whole (n, c) slices are "
                      f"dropped; dropout2d is meant for (N, C, H, W) or (C, H, W) inputs, and PyTorch will "
                      f"refuse others in a future release (use dropout for elementwise dropout)", stacklevel=2)
        return _dropout("dropout2d", input, p, training, _C.DropoutKind.standard, 2, generator, inplace)
    return _feature("dropout2d", input, p, training, _C.DropoutKind.standard, 4, generator, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p."""
    return _feature("dropout3d", input, p, training, _C.DropoutKind.standard, 5, generator, inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Alpha dropout of whole channels of (N, C, *)."""
    _float_tensor(input, "feature_alpha_dropout")
    if input.ndim < 2:
        raise ValueError(f"feature_alpha_dropout: expected input of shape (N, C, *), got "
                         f"shape {tuple(input.shape)}")
    return _dropout("feature_alpha_dropout", input, p, training, _C.DropoutKind.alpha, 2, generator, inplace)


# ---- modules -----------------------------------------------------------------------------------

class _DropoutNd(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False, generator=None):
        """generator: the dlcore.Generator its masks come from (default: the current
        generator, see dlcore.use_generator / manual_seed)."""
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p}")
        self.p, self.inplace, self.generator = float(p), bool(inplace), generator

    def forward(self, x):
        return type(self)._fn(x, self.p, self.training, self.inplace, generator=self.generator)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability p, scales the rest by 1 / (1 - p) (inverted dropout)."""

    _fn = staticmethod(dropout)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) / (C, L)."""

    _fn = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) / (C, H, W)."""

    _fn = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) / (C, D, H, W)."""

    _fn = staticmethod(dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's zero mean / unit variance (dropped values become the SELU
    saturation value, then an affine correction)."""

    _fn = staticmethod(alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout of whole channels of (N, C, *)."""

    _fn = staticmethod(feature_alpha_dropout)
