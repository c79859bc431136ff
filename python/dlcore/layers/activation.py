"""Keras-style activation layers (Keras 3's arguments and defaults): ReLU (max_value,
negative_slope, threshold), LeakyReLU (negative_slope=0.3), PReLU (a learnable ``alpha``),
ELU, Softmax (axis, with an optional mask). They compose dlcore's activation ops."""
from __future__ import annotations

from .. import initializers
from ..nn import activation as A
from ..nn.module import Parameter
from .._ops._args import integer, real
from ..tensor import Tensor, clamp, tensor, where
from .base import Layer, _match_dtype

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]


class _Pointwise(Layer):
    supports_masking = True

    def __init__(self, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.built = True


class ReLU(_Pointwise):
    """max_value for x >= max_value, x for threshold <= x < max_value, negative_slope *
    (x - threshold) below threshold (Keras's ReLU); the defaults are the plain ReLU."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if max_value is not None and real(max_value, "ReLU", "max_value") < 0:
            raise ValueError(f"ReLU: max_value must be >= 0, got {max_value}")
        if real(negative_slope, "ReLU", "negative_slope") < 0:
            raise ValueError(f"ReLU: negative_slope must be >= 0, got {negative_slope}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(real(threshold, "ReLU", "threshold"))

    def forward(self, x):
        if self.threshold == 0.0 and self.negative_slope == 0.0:
            y = A.relu(x)
        elif self.threshold == 0.0:
            y = A.leaky_relu(x, self.negative_slope)
        else:
            y = where(x >= self.threshold, x, (x - self.threshold) * self.negative_slope)
        return y if self.max_value is None else clamp(y, max=self.max_value)

    def get_config(self):
        return {"name": self.name, "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(_Pointwise):
    """x for x >= 0, negative_slope * x below (Keras 3's default negative_slope=0.3; the
    older name ``alpha`` is accepted)."""

    def __init__(self, negative_slope=0.3, name=None, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(name, **kwargs)
        self.negative_slope = float(real(negative_slope, "LeakyReLU", "negative_slope"))

    def forward(self, x):
        return A.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {"name": self.name, "negative_slope": self.negative_slope}


class PReLU(Layer):
    """x for x >= 0, alpha * x below, alpha learnable of the input's per-sample shape (size 1
    along ``shared_axes``, Keras's numbering: 1 is the first non-batch axis); Keras's
    alpha_initializer='zeros'."""

    supports_masking = True

    def __init__(self, alpha_initializer="zeros", shared_axes=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.alpha_initializer = alpha_initializer
        if shared_axes is None:
            shared_axes = ()
        elif isinstance(shared_axes, int):
            shared_axes = (shared_axes,)
        self.shared_axes = tuple(integer(a, "PReLU", "shared_axes", 1) for a in shared_axes)

    def build(self, input_shape, x=None):
        shape = list(input_shape[1:])
        for a in self.shared_axes:
            if a > len(shape):
                raise ValueError(f"PReLU '{self.name}': shared axis {a} is out of range for input shape "
                                 f"{tuple(input_shape)}")
            shape[a - 1] = 1
        self.alpha = Parameter(initializers.get(self.alpha_initializer)(tuple(shape)))
        _match_dtype(self, x)
        self.built = True

    def forward(self, x):
        return A.relu(x) - self.alpha * A.relu(-x)

    def get_config(self):
        init = self.alpha_initializer
        return {"name": self.name, "alpha_initializer": init if isinstance(init, str) else type(init).__name__,
                "shared_axes": list(self.shared_axes) or None}


class ELU(_Pointwise):
    """x for x > 0, alpha * (exp(x) - 1) below."""

    def __init__(self, alpha=1.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.alpha = float(real(alpha, "ELU", "alpha"))

    def forward(self, x):
        return A.elu(x, self.alpha)

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}


class Softmax(_Pointwise):
    """Softmax along ``axis`` (default -1). A mask of the input's rank (True: keep) gives the
    masked positions a large negative logit first, so they get ~0 probability, as Keras does;
    a (batch, time) sequence mask handed along a Sequential is not one of those and is ignored."""

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.axis = integer(axis, "Softmax", "axis")

    def forward(self, x, mask=None):
        m = None if mask is None else (mask if isinstance(mask, Tensor) else tensor(mask))
        if m is not None and m.ndim == x.ndim:
            x = x + (1.0 - m.type(x.dtype)) * -1e9
        return A.softmax(x, dim=self.axis)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}
