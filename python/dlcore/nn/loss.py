"""Loss modules (PyTorch names, arguments and defaults; Keras-style aliases). Each wraps the
function of the same name in nn/functional_loss.py; class weights are registered as buffers."""
from . import functional_loss as FL
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        FL._check_reduction(type(self).__name__, reduction, ("batchmean",) if isinstance(self, KLDivLoss) else ())
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
        return FL.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return FL.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return FL.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return FL.smooth_l1_loss(input, target, self.reduction, self.beta)


class BCELoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return FL.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        if pos_weight is not None:
            self.register_buffer("pos_weight", pos_weight)

    @property
    def pos_weight(self):
        return self._buffers.get("pos_weight")

    def forward(self, input, target):
        return FL.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                   self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return FL.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return FL.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                           reduction=self.reduction)


class HingeLoss(_Loss):
    """Keras 'hinge': mean(max(1 - y * pred, 0)), y in {-1, 1}. Called as (input, target)."""

    def forward(self, input, target):
        return FL.hinge_loss(input, target, self.reduction)


class SquaredHingeLoss(_Loss):
    def forward(self, input, target):
        return FL.squared_hinge_loss(input, target, self.reduction)


class HingeEmbeddingLoss(_Loss):
    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return FL.hinge_embedding_loss(input, target, self.margin, self.reduction)


class MultiMarginLoss(_WeightedLoss):
    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return FL.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                    reduction=self.reduction)


class KLDivLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return FL.kl_div(input, target, self.reduction, self.log_target)


class CosineEmbeddingLoss(_Loss):
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return FL.cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return FL.cosine_similarity(x1, x2, self.dim, self.eps)


# Keras-style aliases
MeanSquaredError = MSELoss
MeanAbsoluteError = MAELoss = L1Loss
Huber = HuberLoss
BinaryCrossentropy = BCELoss
KLDivergence = KLDivLoss

__all__ = ['MSELoss', 'L1Loss', 'HuberLoss', 'SmoothL1Loss', 'BCELoss', 'BCEWithLogitsLoss', 'CrossEntropyLoss', 'NLLLoss', 'HingeLoss', 'SquaredHingeLoss', 'HingeEmbeddingLoss', 'MultiMarginLoss', 'KLDivLoss', 'CosineEmbeddingLoss', 'CosineSimilarity', 'MeanSquaredError', 'MeanAbsoluteError', 'Huber', 'BinaryCrossentropy', 'KLDivergence', 'MAELoss']
