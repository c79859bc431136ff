"""dlcore.losses: Keras 3's losses (``keras.losses``), called Keras's way: loss(y_true, y_pred).

Functions return one loss per sample (the last axis reduced, as Keras's do):
binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy,
mean_squared_error (mse), mean_absolute_error (mae), huber, kl_divergence. Classes
(BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError,
MeanAbsoluteError, Huber, KLDivergence) reduce to a scalar: Keras's 'sum_over_batch_size' (the
mean of the per-sample losses times sample_weight), or 'sum' / 'none'. Probabilities are
clipped to [1e-7, 1 - 1e-7] as Keras does; from_logits=True takes logits (computed stably).
They compose dlcore ops, so they have gradients; ``model.compile(loss=losses.X())`` takes them.
"""
from __future__ import annotations

from .nn.activation import log_softmax
from .nn.loss import binary_cross_entropy_with_logits, cross_entropy
from .tensor import Tensor, clip, log, tensor, where

__all__ = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "mean_squared_error", "mean_absolute_error", "mse", "mae", "huber", "kl_divergence",
           "Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "Huber", "KLDivergence", "get"]

_EPS = 1e-7


def _pair(y_true, y_pred):
    p = y_pred if isinstance(y_pred, Tensor) else tensor(y_pred)
    t = y_true if isinstance(y_true, Tensor) else tensor(y_true)
    return t, p


def _float_like(t, p, name):
    if tuple(t.shape) != tuple(p.shape):
        if t.numel() != p.numel():
            raise ValueError(f"losses.{name}: y_true has shape {tuple(t.shape)} but y_pred has shape "
                             f"{tuple(p.shape)}")
        t = t.reshape(p.shape)
    return t.type(p.dtype) if t.dtype != p.dtype else t


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, averaged over ``axis`` (the last)."""
    t, p = _pair(y_true, y_pred)
    t = _float_like(t, p, "binary_crossentropy")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per = binary_cross_entropy_with_logits(p, t, reduction="none")
    else:
        pc = clip(p, _EPS, 1.0 - _EPS)
        per = -(t * log(pc) + (1.0 - t) * log(1.0 - pc))
    return per.mean(axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample cross-entropy of one-hot / probability labels along ``axis``."""
    t, p = _pair(y_true, y_pred)
    t = _float_like(t, p, "categorical_crossentropy")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / p.shape[axis]
    if from_logits:
        return -(t * log_softmax(p, dim=axis)).sum(axis)
    p = p / p.sum(axis, keepdim=True)
    return -(t * log(clip(p, _EPS, 1.0 - _EPS))).sum(axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Per-sample cross-entropy of integer class labels against (..., C) scores."""
    t, p = _pair(y_true, y_pred)
    t = t.long() if t.dtype.is_floating_point else t
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t.reshape(tuple(t.shape[:-1]))
    C = p.shape[-1]
    flat_p, flat_t = p.reshape(-1, C), t.reshape(-1)
    if flat_p.shape[0] != flat_t.shape[0]:
        raise ValueError(f"losses.sparse_categorical_crossentropy: {flat_t.shape[0]} labels for "
                         f"{flat_p.shape[0]} rows of scores (y_pred shape {tuple(p.shape)})")
    if from_logits:
        per = cross_entropy(flat_p, flat_t, reduction="none")
    else:
        probs = clip(flat_p / flat_p.sum(-1, keepdim=True), _EPS, 1.0 - _EPS)
        per = -log(probs).gather(1, flat_t.reshape(-1, 1)).reshape(-1)
    return per.reshape(tuple(p.shape[:-1]))


def mean_squared_error(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    return ((p - _float_like(t, p, "mean_squared_error")) ** 2).mean(-1)


def mean_absolute_error(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    return (p - _float_like(t, p, "mean_absolute_error")).abs().mean(-1)


mse, mae = mean_squared_error, mean_absolute_error


def huber(y_true, y_pred, delta=1.0):
    """0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond; averaged over the last axis."""
    t, p = _pair(y_true, y_pred)
    e = (p - _float_like(t, p, "huber")).abs()
    return where(e <= delta, 0.5 * e * e, delta * (e - 0.5 * delta)).mean(-1)


def kl_divergence(y_true, y_pred):
    """sum y_true log(y_true / y_pred) over the last axis (both clipped to [1e-7, 1])."""
    t, p = _pair(y_true, y_pred)
    t = clip(_float_like(t, p, "kl_divergence"), _EPS, 1.0)
    return (t * log(t / clip(p, _EPS, 1.0))).sum(-1)


class Loss:
    """Base class: loss(y_true, y_pred, sample_weight=None) -> the reduced loss."""

    _fn = None

    def __init__(self, reduction="sum_over_batch_size", name=None, **options):
        if reduction not in ("sum_over_batch_size", "sum", "none", "mean"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'sum_over_batch_size', 'sum' or "
                             f"'none', got {reduction!r}")
        self.reduction, self.name, self.options = reduction, name, options

    def call(self, y_true, y_pred):
        """The per-sample losses."""
        return type(self)._fn(y_true, y_pred, **self.options)

    def __call__(self, y_true, y_pred, sample_weight=None):
        per = self.call(y_true, y_pred)
        if sample_weight is not None:
            w = sample_weight if isinstance(sample_weight, Tensor) else tensor(sample_weight)
            per = per * w.type(per.dtype).reshape(tuple(w.shape) + (1,) * (per.ndim - w.ndim))
        if self.reduction == "none":
            return per
        return per.sum() if self.reduction == "sum" else per.mean()


class BinaryCrossentropy(Loss):
    """BinaryCrossentropy(from_logits=False, label_smoothing=0.0)."""

    _fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "binary_crossentropy", from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


class CategoricalCrossentropy(Loss):
    """CategoricalCrossentropy(from_logits=False, label_smoothing=0.0): one-hot labels."""

    _fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "categorical_crossentropy", from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


class SparseCategoricalCrossentropy(Loss):
    """SparseCategoricalCrossentropy(from_logits=False): integer labels."""

    _fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "sparse_categorical_crossentropy", from_logits=bool(from_logits))


class MeanSquaredError(Loss):
    """MeanSquaredError(): the mean over the last axis of (y_pred - y_true)^2."""

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "mean_squared_error")


class MeanAbsoluteError(Loss):
    """MeanAbsoluteError(): the mean over the last axis of |y_pred - y_true|."""

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "mean_absolute_error")


class Huber(Loss):
    """Huber(delta=1.0)."""

    _fn = staticmethod(huber)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "huber_loss", delta=float(delta))


class KLDivergence(Loss):
    """KLDivergence(): sum over the last axis of y_true log(y_true / y_pred)."""

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "kl_divergence")


_NAMES = {"binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
          "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "mse": mse, "mae": mae,
          "mean_squared_error": mse, "mean_absolute_error": mae, "huber": huber, "kl_divergence": kl_divergence}


def get(identifier):
    """A loss function by Keras name, or the loss object / callable itself."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]
    raise ValueError(f"losses.get: unknown loss {identifier!r}; known: {sorted(_NAMES)}")
