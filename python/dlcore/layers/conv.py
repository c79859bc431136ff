"""Keras-style Conv2D over (N, C, H, W), on nn.Conv2d (in_channels from the first input)."""
from __future__ import annotations

from ..nn.conv import Conv2d
from ..ops._args import integer, ntuple
from .base import Layer, _match_dtype, get_activation

__all__ = ["Conv2D"]


class Conv2D(Layer):
    """2-D convolution over (N, C, H, W); in_channels from the first input. padding 'valid',
    'same' (stride 1; an even kernel pads the extra row / column at the bottom / right, as
    Keras and PyTorch do), an int or a pair. Wraps nn.Conv2d as ``conv``."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, name=None):
        super().__init__(name)
        self.filters = integer(filters, "Conv2D", "filters", 1)
        self.kernel_size = ntuple(kernel_size, 2, "Conv2D", "kernel_size")
        self.strides = ntuple(strides, 2, "Conv2D", "strides")
        self.padding = padding if isinstance(padding, str) else ntuple(padding, 2, "Conv2D", "padding")
        self.activation, self.use_bias = activation, bool(use_bias)
        self._act = get_activation(activation)

    def build(self, input_shape, x=None):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D '{self.name}': expects (N, C, H, W) input, got shape {input_shape}")
        self.conv = _match_dtype(Conv2d(int(input_shape[1]), self.filters, self.kernel_size, stride=self.strides,
                                        padding=self.padding, bias=self.use_bias), x)
        self.built = True

    def forward(self, x):
        y = self.conv(x)
        return self._act(y) if self._act is not None else y

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "activation": self.activation, "use_bias": self.use_bias}
