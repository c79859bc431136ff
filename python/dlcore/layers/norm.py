"""Keras-style BatchNormalization over one axis (Keras's default -1: the channels of
channels-last images, the features of (N, F) data), on nn.BatchNorm1d / 2d."""
from __future__ import annotations

from ..nn.norm import BatchNorm1d, BatchNorm2d
from ..ops._args import integer, real
from ..tensor import Tensor
from .base import Layer, _match_dtype

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Batch norm of each position of ``axis`` (default -1, as Keras: the channels of a
    channels-last image, the features of (N, F) data; axis=1 for channels-first images), Keras
    defaults: momentum=0.99 (the running average keeps 99%; PyTorch's momentum = 1 - momentum),
    epsilon=1e-3. The axis is moved to position 1 as a view (free for the channels-last views the
    image layers return) and the input runs through nn.BatchNorm1d ((N, C) / (N, C, L)) or
    nn.BatchNorm2d ((N, C, H, W)), held as ``bn``. get_weights: [gamma, beta, moving_mean,
    moving_variance]."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name)
        self.axis = integer(axis, "BatchNormalization", "axis")
        momentum = real(momentum, "BatchNormalization", "momentum")
        epsilon = real(epsilon, "BatchNormalization", "epsilon")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1] (the fraction of the "
                             f"running average kept at each step; Keras's default is 0.99), got {momentum}")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be positive, got {epsilon}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def _axis(self, shape):
        nd = len(shape)
        if not 2 <= nd <= 4:
            raise ValueError(f"BatchNormalization '{self.name}': expects 2-D to 4-D input, got shape {tuple(shape)}")
        if not -nd <= self.axis < nd or self.axis % nd == 0:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} is not a feature axis of input "
                             f"shape {tuple(shape)} (the batch axis 0 cannot be normalised over)")
        return self.axis % nd

    def build(self, input_shape, x=None):
        cls = BatchNorm2d if len(input_shape) == 4 else BatchNorm1d
        self.bn = _match_dtype(cls(int(input_shape[self._axis(input_shape)]), eps=self.epsilon,
                                   momentum=1.0 - self.momentum), x)
        self.built = True

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"BatchNormalization '{self.name}': input must be a dlcore Tensor, got "
                            f"{type(x).__name__}")
        ax = self._axis(x.shape)
        if ax == 1:
            return self.bn(x)
        perm = (0, ax) + tuple(d for d in range(1, x.ndim) if d != ax)
        inv = tuple(sorted(range(x.ndim), key=perm.__getitem__))
        return self.bn(x.permute(perm)).permute(inv)

    def _keras_weights(self):
        bn = self.bn
        return [(bn.weight, None, None), (bn.bias, None, None), (bn.running_mean, None, None),
                (bn.running_var, None, None)]

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon}
