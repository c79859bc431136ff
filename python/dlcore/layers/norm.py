"""Keras-style BatchNormalization over axis 1 (channels / features), on nn.BatchNorm1d / 2d."""
from __future__ import annotations

from ..nn.norm import BatchNorm1d, BatchNorm2d
from .base import Layer, _match_dtype

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Batch norm over axis 1 (channels / features), Keras defaults: momentum=0.99 (the running
    average keeps 99%; PyTorch's momentum = 1 - momentum), epsilon=1e-3. Wraps nn.BatchNorm1d for
    (N, C) / (N, C, L) inputs and nn.BatchNorm2d for (N, C, H, W)."""

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1] (the fraction of the "
                             f"running average kept at each step; Keras's default is 0.99), got {momentum}")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be positive, got {epsilon}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, input_shape, x=None):
        cls = BatchNorm2d if len(input_shape) == 4 else BatchNorm1d
        self.bn = _match_dtype(cls(int(input_shape[1]), eps=self.epsilon, momentum=1.0 - self.momentum), x)
        self.built = True

    def forward(self, x):
        return self.bn(x)

    def get_config(self):
        return {"name": self.name, "momentum": self.momentum, "epsilon": self.epsilon}
