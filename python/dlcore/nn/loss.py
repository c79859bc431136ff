"""Loss family: the functions (PyTorch's torch.nn.functional names, arguments and defaults;
Keras names as aliases) and the modules (PyTorch names; Keras-style aliases; class weights are
registered as buffers). Pointwise losses are one C++ kernel for the terms (reduced by the
reduce kernel) and one for the gradient; cross_entropy is one fused kernel (log_softmax + NLL)
forward and one backward (softmax - smoothed target); the Functions are in _ops/loss.py. Shapes
that PyTorch would broadcast with a warning (an (N, 1) prediction against an (N,) target) raise
ValueError.
"""
from __future__ import annotations


from .. import _C
from ..dtype import bool_, int64
from .._ops import _args
from .._ops import loss as _ops
from ..tensor import Tensor, _float, _t, norm, tensor, where
from .module import Module

__all__ = ["mse_loss", "l1_loss", "mae_loss", "huber_loss", "smooth_l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge_loss",
           "squared_hinge_loss", "hinge", "squared_hinge", "hinge_embedding_loss", "kl_div",
           "cross_entropy", "nll_loss", "multi_margin_loss", "cosine_similarity",
           "cosine_embedding_loss", "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "HingeLoss", "SquaredHingeLoss",
           "HingeEmbeddingLoss", "MultiMarginLoss", "KLDivLoss", "CosineEmbeddingLoss",
           "CosineSimilarity", "MeanSquaredError", "MeanAbsoluteError", "MAELoss", "Huber",
           "BinaryCrossentropy", "KLDivergence"]

L = _C.LossOp

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(name, reduction, extra=()):
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS + tuple(extra)}, got {reduction!r}")


def _check_same_shape(name, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input has shape {tuple(input.shape)} but target has shape "
                         f"{tuple(target.shape)}; they must match exactly (dlcore does not broadcast "
                         "them: an (N, 1) prediction against an (N,) target is almost always a bug; "
                         "reshape one of them)")


def _as_tensor(v, like, name, arg):
    if v is None:
        return None
    if not isinstance(v, Tensor):
        v = tensor(v, dtype=like.dtype, device=like.device)
    if v.dtype != like.dtype:
        if not v.dtype.is_floating_point:
            raise TypeError(f"{name}: {arg} must be a float tensor, got {v.dtype}")
        v = v.to(dtype=like.dtype)
    return v


def _pointwise(name, op, input, target, reduction, p0=0.0, weight=None, pos_weight=None):
    _check_reduction(name, reduction)
    x = _float(input, name)
    y = _t(target)
    _check_same_shape(name, x, y)
    if y.dtype != x.dtype:
        y = y.to(dtype=x.dtype)
    w = _as_tensor(weight, x, name, "weight")
    pw = _as_tensor(pos_weight, x, name, "pos_weight")
    for arg, v in (("weight", w), ("pos_weight", pw)):
        if v is None:
            continue
        try:
            ok = _args.broadcast_shape(v.shape, x.shape, name) == tuple(x.shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{name}: {arg} of shape {tuple(v.shape)} does not broadcast to the "
                             f"input's shape {tuple(x.shape)}")
    return _ops.PointwiseLoss.apply(x, y, w, pw, op, float(p0), reduction)


def mse_loss(input, target, reduction="mean"):
    return _pointwise("mse_loss", L.mse, input, target, reduction)


def l1_loss(input, target, reduction="mean"):
    return _pointwise("l1_loss", L.l1, input, target, reduction)


mae_loss = l1_loss


def huber_loss(input, target, reduction="mean", delta=1.0):
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise("huber_loss", L.huber, input, target, reduction, delta)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise("smooth_l1_loss", L.smooth_l1, input, target, reduction, beta)


def _check_unit_range(name, arg, t):
    """ValueError unless every value of t lies in [0, 1] (NaN passes through to the result)."""
    if t.dtype != bool_:
        hint = (" (for logits use binary_cross_entropy_with_logits)" if arg == "input" else
                " (labels of -1/1? map them to 0/1)")
        _args.check_range(t.detach()._data, 0, 1, lambda lo, hi: ValueError(
            f"{name}: {arg} values must lie in [0, 1], got values from {lo} to {hi}{hint}"))


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """On probabilities; each log is clamped at -100 like PyTorch. Input and target values
    must lie in [0, 1]."""
    x, y = _float(input, "binary_cross_entropy"), _t(target)
    _check_same_shape("binary_cross_entropy", x, y)
    _check_unit_range("binary_cross_entropy", "input", x)
    _check_unit_range("binary_cross_entropy", "target", y)
    return _pointwise("binary_cross_entropy", L.bce, input, target, reduction, weight=weight)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Stable for any logit: (1 - y) x + (1 + (pw - 1) y) softplus(-x), times weight. Targets
    are not range-checked, as in PyTorch (noisy labels such as 1.05 are used by GANs)."""
    y = _t(target)
    _check_same_shape("binary_cross_entropy_with_logits", _float(input, "binary_cross_entropy_with_logits"), y)
    return _pointwise("binary_cross_entropy_with_logits", L.bce_logits, input, target, reduction,
                      weight=weight, pos_weight=pos_weight)


def hinge_loss(input, target, reduction="mean"):
    """Keras 'hinge': mean(max(1 - y * pred, 0)) with y in {-1, 1}."""
    return _pointwise("hinge_loss", L.hinge, input, target, reduction)


def squared_hinge_loss(input, target, reduction="mean"):
    """Keras 'squared_hinge': mean(max(1 - y * pred, 0) ** 2) with y in {-1, 1}."""
    return _pointwise("squared_hinge_loss", L.squared_hinge, input, target, reduction)


def hinge(y_true, y_pred):
    """Keras argument order: hinge(y_true, y_pred), mean over everything."""
    return hinge_loss(y_pred, y_true)


def squared_hinge(y_true, y_pred):
    return squared_hinge_loss(y_pred, y_true)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    return _pointwise("hinge_embedding_loss", L.hinge_embedding, input, target, reduction, margin)


def kl_div(input, target, reduction="mean", log_target=False):
    """input: log-probabilities; target: probabilities (log-probabilities if log_target).
    reduction 'batchmean' divides the sum by the batch size (the true KL divergence)."""
    _check_reduction("kl_div", reduction, ("batchmean",))
    op = L.kl_div_log_target if log_target else L.kl_div
    if reduction != "batchmean":
        return _pointwise("kl_div", op, input, target, reduction)
    x = _float(input, "kl_div")
    total = _pointwise("kl_div", op, x, target, "sum")
    return total / (x.shape[0] if x.ndim else 1)


# ---- row losses over class scores -------------------------------------------------------------

def _class_rows(name, x, target, probs):
    """(N, C, d...) scores -> (N*d..., C) rows; target -> (N*d...,) indices or (N*d..., C) probs."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have at least 1 dimension (classes), got a 0-d tensor")
    shape = tuple(x.shape)
    tshape = tuple(target.shape)
    if probs:
        if tshape != shape:
            hint = ""
            if x.ndim >= 2 and tshape == shape[:1] + shape[2:]:
                hint = (f"; a float target of shape {tshape} looks like class indices: pass them as "
                        f"int64 (target.long() / y.astype('int64'))")
            raise ValueError(f"{name}: class-probability target has shape {tshape} but input has shape "
                             f"{shape}; they must match{hint}")
    else:
        want = shape[:1] + shape[2:] if x.ndim >= 2 else ()
        if tshape != want:
            hint = ""
            if x.ndim > 2 and tshape == shape[:1]:
                hint = (f"; one label per sample needs (N, C) scores, but the scores have shape {shape}: "
                        f"did a Dense / Linear layer get un-flattened images (it acts on the last "
                        f"axis)? Put a Flatten layer before it")
            raise ValueError(f"{name}: input has shape {shape} so class-index target must have shape "
                             f"{want}, got {tshape}{hint}")
    if x.ndim == 1:
        return x.reshape(1, shape[0]), (target.reshape(1, shape[0]) if probs else target.reshape(1)), ()
    if x.ndim == 2:  # already (rows, classes): no reshape node in the graph
        return x, target, tshape if not probs else shape[:1]
    C = shape[1]
    if x.ndim > 2:
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        x = x.permute(*perm)
        if probs:
            target = target.permute(*perm)
    x2 = x.reshape(-1, C)
    t2 = target.reshape(-1, C) if probs else target.reshape(-1)
    return x2, t2, tshape if not probs else shape[:1] + shape[2:]


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy from logits over dim 1 (class indices or class probabilities as target)."""
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _float(input, "cross_entropy")
    t = _t(target)
    probs = t.dtype.is_floating_point
    if not probs and t.dtype != int64:
        raise TypeError(f"cross_entropy: target must be int64 class indices or float probabilities, got {t.dtype}")
    if probs and t.dtype != x.dtype:
        t = t.to(dtype=x.dtype)
    w = _as_tensor(weight, x, "cross_entropy", "weight")
    z, t2, out_shape = _class_rows("cross_entropy", x, t, probs)
    return _ops.CrossEntropy.apply(z, t2, w, _args.integer(ignore_index, "cross_entropy", "ignore_index"),
                                   float(label_smoothing), reduction, out_shape)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities (dim 1 = classes) at class-index targets."""
    _check_reduction("nll_loss", reduction)
    x = _float(input, "nll_loss")
    t = _t(target)
    if t.dtype != int64:
        raise TypeError(f"nll_loss: target must hold int64 class indices, got {t.dtype}")
    w = _as_tensor(weight, x, "nll_loss", "weight")
    z, t2, out_shape = _class_rows("nll_loss", x, t, False)
    return _ops.NllLoss.apply(z, t2, w, _args.integer(ignore_index, "nll_loss", "ignore_index"), reduction, out_shape)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    _check_reduction("multi_margin_loss", reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got {p}")
    x = _float(input, "multi_margin_loss")
    t = _t(target)
    if x.ndim == 1:
        x, t = x.reshape(1, -1), t.reshape(1)
        squeeze = True
    else:
        squeeze = False
        if x.ndim != 2:
            raise ValueError(f"multi_margin_loss: input must be (N, C) or (C,), got shape {tuple(x.shape)}")
        if tuple(t.shape) != (x.shape[0],):
            raise ValueError(f"multi_margin_loss: input has shape {tuple(x.shape)} so target must have "
                             f"shape ({x.shape[0]},), got {tuple(t.shape)}")
    w = _as_tensor(weight, x, "multi_margin_loss", "weight")
    out = _ops.MultiMarginLoss.apply(x, t, w, int(p), float(margin), reduction)
    return out.reshape(()) if squeeze and reduction == "none" else out


# ---- cosine ------------------------------------------------------------------------------------

def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along dim (PyTorch's formula, and its
    gradient: finite at a zero vector, where the norm's gradient is taken as 0)."""
    a, b = _float(x1, "cosine_similarity"), _float(x2, "cosine_similarity")
    shape = _args.broadcast_shape(a.shape, b.shape, "cosine_similarity")
    d = _args.dim(dim, len(shape), "cosine_similarity", shape)
    a, b = a.expand(*shape), b.expand(*shape)
    an = a / norm(a, 2, d, keepdim=True).clip(min=eps)
    bn = b / norm(b, 2, d, keepdim=True).clip(min=eps)
    return (an * bn).sum(d)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """y = 1: 1 - cos(x1, x2); y = -1: max(0, cos(x1, x2) - margin)  (cos over the last dim)."""
    _check_reduction("cosine_embedding_loss", reduction)
    a, b = _float(input1, "cosine_embedding_loss"), _float(input2, "cosine_embedding_loss")
    y = _t(target)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"cosine_embedding_loss: input1 has shape {tuple(a.shape)} but input2 has "
                         f"shape {tuple(b.shape)}")
    if a.ndim not in (1, 2) or tuple(y.shape) != tuple(a.shape[:-1]):
        raise ValueError(f"cosine_embedding_loss: inputs of shape {tuple(a.shape)} need a target of "
                         f"shape {tuple(a.shape[:-1])}, got {tuple(y.shape)}")
    eps = 1e-12  # PyTorch's EPSILON
    prod = (a * b).sum(-1)
    cos = prod / (((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps)).sqrt()
    zero = cos * 0.0
    pos = 1.0 - cos
    neg = (cos - margin).clip(min=0.0)
    yd = y.to(dtype=cos.dtype) if y.dtype != cos.dtype else y
    loss = where(yd == 1.0, pos, zero) + where(yd == -1.0, neg, zero)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


# ---- modules -----------------------------------------------------------------------------------

class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        _check_reduction(type(self).__name__, reduction, ("batchmean",) if isinstance(self, KLDivLoss) else ())
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        if weight is not None:
            self.register_buffer("weight", weight)

    @property
    def weight(self):
        return self._buffers.get("weight")


class MSELoss(_Loss):
    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class BCELoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        if pos_weight is not None:
            self.register_buffer("pos_weight", pos_weight)

    @property
    def pos_weight(self):
        return self._buffers.get("pos_weight")

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                   self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                           reduction=self.reduction)


class HingeLoss(_Loss):
    """Keras 'hinge': mean(max(1 - y * pred, 0)), y in {-1, 1}. Called as (input, target)."""

    def forward(self, input, target):
        return hinge_loss(input, target, self.reduction)


class SquaredHingeLoss(_Loss):
    def forward(self, input, target):
        return squared_hinge_loss(input, target, self.reduction)


class HingeEmbeddingLoss(_Loss):
    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_embedding_loss(input, target, self.margin, self.reduction)


class MultiMarginLoss(_WeightedLoss):
    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                    reduction=self.reduction)


class KLDivLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return kl_div(input, target, self.reduction, self.log_target)


class CosineEmbeddingLoss(_Loss):
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


# Keras-style aliases
MeanSquaredError = MSELoss
MeanAbsoluteError = MAELoss = L1Loss
Huber = HuberLoss
BinaryCrossentropy = BCELoss
KLDivergence = KLDivLoss
