"""Keras-style pooling layers over (N, C, H, W): MaxPooling2D, AveragePooling2D (on
nn.MaxPool2d / nn.AvgPool2d), GlobalAveragePooling2D."""
from __future__ import annotations

from ..nn.pool import AvgPool2d, MaxPool2d
from ..ops._args import integer, ntuple
from .base import Layer

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"]


class MaxPooling2D(Layer):
    _module = MaxPool2d

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None):
        super().__init__(name)
        cls = type(self).__name__
        self.pool_size = ntuple(pool_size, 2, cls, "pool_size")
        self.strides = ntuple(strides, 2, cls, "strides") if strides is not None else self.pool_size
        if padding != "valid":
            if isinstance(padding, str):
                raise ValueError(f"{cls}: padding must be 'valid' or an int, got {padding!r}")
            padding = integer(padding, cls, "padding", 0)
        self.padding = padding

    def build(self, input_shape, x=None):
        pad = 0 if self.padding == "valid" else int(self.padding)
        self.pool = self._module(self.pool_size, stride=self.strides, padding=pad)
        self.built = True

    def forward(self, x):
        return self.pool(x)

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class AveragePooling2D(MaxPooling2D):
    _module = AvgPool2d


class GlobalAveragePooling2D(Layer):
    def __init__(self, name=None):
        super().__init__(name)
        self.built = True

    def forward(self, x):
        return x.mean((2, 3))
