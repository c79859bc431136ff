"""Keras-style Dropout, on nn.Dropout."""
from __future__ import annotations

from ..nn.dropout import Dropout as _NNDropout
from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs in training (scales the rest by 1/(1-rate));
    wraps nn.Dropout."""

    def __init__(self, rate, name=None):
        super().__init__(name)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def build(self, input_shape, x=None):
        self.dropout = _NNDropout(p=self.rate)
        self.built = True

    def forward(self, x):
        return self.dropout(x)

    def get_config(self):
        return {"name": self.name, "rate": self.rate}
