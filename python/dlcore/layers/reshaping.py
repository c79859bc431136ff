"""Keras-style image reshaping layers: UpSampling2D (nn.functional.interpolate by an integer
scale_factor: nearest, a broadcast view copied once; bilinear, two gathers and a lerp per axis
with half-pixel centres, TensorFlow's resize), ZeroPadding2D (the
pad op), Cropping2D (a view). Channels-last input by default (N, H, W, C), or
data_format="channels_first" (N, C, H, W); the work is done channels-first, as the conv layers
do, so runs of image layers move no data between them."""
from __future__ import annotations

from .._ops._args import ntuple
from ..nn.reshaping import interpolate
from ..tensor import pad
from .base import Layer, data_format_arg, from_channels_first, image_input

__all__ = ["UpSampling2D", "ZeroPadding2D", "Cropping2D"]


def _pairs(value, cls, arg):
    """int -> ((v, v), (v, v)); (a, b) -> ((a, a), (b, b)); ((t, b), (l, r)) as given."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (tuple, list)) for v in value):
        out = tuple(ntuple(v, 2, cls, arg) for v in value)
    else:
        h, w = ntuple(value, 2, cls, arg)
        out = ((h, h), (w, w))
    if any(e < 0 for p in out for e in p):
        raise ValueError(f"{cls}: {arg} must be non-negative, got {value!r}")
    return out


class UpSampling2D(Layer):
    """Repeats rows and columns: (N, H, W, C) -> (N, H * size[0], W * size[1], C) (channels_last,
    the default) or the channels-first equivalent. interpolation 'nearest' (each pixel repeated)
    or 'bilinear' (TensorFlow's resize with half-pixel centres, edges clamped)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", name=None):
        super().__init__(name)
        self.size = ntuple(size, 2, "UpSampling2D", "size")
        if any(s < 1 for s in self.size):
            raise ValueError(f"UpSampling2D: size must be positive, got {self.size}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation
        self.data_format = data_format_arg(data_format, "UpSampling2D")
        self.built = True

    def forward(self, x):
        x = image_input(self, x, 2, need_float=False)
        y = interpolate(x, scale_factor=self.size, mode=self.interpolation,
                        align_corners=None if self.interpolation == "nearest" else False)
        return from_channels_first(y, self.data_format)

    def get_config(self):
        return {"name": self.name, "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros. padding: an int (all four sides), a pair
    (symmetric rows, symmetric columns) or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, name=None):
        super().__init__(name)
        self.padding = _pairs(padding, "ZeroPadding2D", "padding")
        self.data_format = data_format_arg(data_format, "ZeroPadding2D")
        self.built = True

    def forward(self, x):
        (t, b), (l, r) = self.padding
        return from_channels_first(pad(image_input(self, x, 2, need_float=False), (l, r, t, b)), self.data_format)

    def get_config(self):
        return {"name": self.name, "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class Cropping2D(Layer):
    """Removes rows and columns at the edges (a view, no copy). cropping: an int (all four sides),
    a pair (symmetric rows, symmetric columns) or ((top, bottom), (left, right))."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, name=None):
        super().__init__(name)
        self.cropping = _pairs(cropping, "Cropping2D", "cropping")
        self.data_format = data_format_arg(data_format, "Cropping2D")
        self.built = True

    def forward(self, x):
        x = image_input(self, x, 2, need_float=False)
        (t, b), (l, r) = self.cropping
        h, w = x.shape[2:]
        if t + b >= h or l + r >= w:
            raise ValueError(f"Cropping2D '{self.name}': cropping {self.cropping} leaves nothing of an "
                             f"{h}x{w} image (input shape {tuple(from_channels_first(x, self.data_format).shape)})")
        return from_channels_first(x[:, :, t:h - b, l:w - r], self.data_format)

    def get_config(self):
        return {"name": self.name, "cropping": [list(p) for p in self.cropping], "data_format": self.data_format}
