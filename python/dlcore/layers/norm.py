"""Keras-style normalization layers: BatchNormalization over one axis (Keras's default -1: the
channels of channels-last images, the features of (N, F) / (N, T, F) data), on nn.BatchNorm1d /
2d; LayerNormalization and GroupNormalization (Keras's weight names gamma / beta), on
nn.functional.layer_norm / group_norm."""
from __future__ import annotations

from .. import initializers
from ..nn.activation import ReLU as _NNReLU
from ..nn.module import Parameter
from ..nn.norm import BatchNorm1d, BatchNorm2d, group_norm, layer_norm
from .._ops._args import integer, real
from ..tensor import Tensor
from .activation import ReLU
from .base import Layer, _match_dtype
from .core import Activation

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization"]


class BatchNormalization(Layer):
    """Batch norm of each position of ``axis`` (default -1, as Keras: the channels of a
    channels-last image, the features of (N, F) data; axis=1 for channels-first images), Keras
    defaults: momentum=0.99 (the running average keeps 99%; PyTorch's momentum = 1 - momentum),
    epsilon=1e-3. The axis is moved to position 1 as a view (free for the channels-last views the
    image layers return) and the input runs through nn.BatchNorm1d ((N, C) / (N, C, L)) or
    nn.BatchNorm2d ((N, C, H, W)), held as ``bn``. get_weights: [gamma, beta, moving_mean,
    moving_variance]; the moving variance averages the batches' biased variances, as Keras's
    (nn.BatchNorm's running_var averages unbiased ones, as PyTorch's)."""

    supports_masking = True

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
        self.bn._unbiased_running_var = False  # Keras's moving_variance: the biased batch variance
        self.built = True

    def forward(self, x):
        return self._run(x, False)

    def _forward_fused(self, x, nxt):
        """This layer and a plain ReLU after it in a Sequential (ReLU() with its defaults,
        Activation('relu') or nn.ReLU) in one call: relu(batch norm) through the fused kernel,
        the same values and gradients as the two layers. None when they do not fuse (not built
        yet, a symbolic input, hooks, another next layer)."""
        plain = ((type(nxt) is ReLU and nxt.max_value is None and nxt.negative_slope == 0.0 and nxt.threshold == 0.0)
                 or (type(nxt) is Activation and nxt.activation == "relu") or type(nxt) is _NNReLU)
        if (not plain or not self.built or not isinstance(x, Tensor) or self._has_forward_hooks()
                or nxt._has_forward_hooks() or self.bn._has_forward_hooks()):
            return None
        return self._run(x, True)

    def _run(self, x, relu):
        if not isinstance(x, Tensor):
            raise TypeError(f"BatchNormalization '{self.name}': input must be a dlcore Tensor, got "
                            f"{type(x).__name__}")
        ax = self._axis(x.shape)
        bn = self.bn
        norm = (lambda t: bn._run(t, True)) if relu else bn
        if ax == 1:
            y = norm(x)
        else:
            perm = (0, ax) + tuple(d for d in range(1, x.ndim) if d != ax)
            inv = tuple(sorted(range(x.ndim), key=perm.__getitem__))
            y = norm(x.permute(perm)).permute(inv)
        return y

    def _keras_weights(self):
        bn = self.bn
        return [(bn.weight, None, None), (bn.bias, None, None), (bn.running_mean, None, None),
                (bn.running_var, None, None)]

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon}



def _norm_axes(cls, axis, ndim):
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = sorted({integer(a, cls, "axis") % ndim if -ndim <= a < ndim else -1 for a in axes})
    if not out or out[0] < 1:
        raise ValueError(f"{cls}: axis {axis} is out of range (or the batch axis) for a {ndim}-D input")
    return out


class LayerNormalization(Layer):
    """Normalises each sample over ``axis`` (default -1, the features; a list of trailing
    axes is allowed), then scales by ``gamma`` and shifts by ``beta`` (Keras's weight names
    and order). Keras 3's default epsilon=1e-3 (PyTorch's LayerNorm has 1e-5). On
    nn.functional.layer_norm."""

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", name=None, **kwargs):
        super().__init__(name, **kwargs)
        if rms_scaling:
            raise ValueError("LayerNormalization: rms_scaling=True is not supported")
        if not real(epsilon, "LayerNormalization", "epsilon") > 0:
            raise ValueError(f"LayerNormalization: epsilon must be positive, got {epsilon}")
        self.axis, self.epsilon = axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer

    def build(self, input_shape, x=None):
        nd = len(input_shape)
        axes = _norm_axes("LayerNormalization", self.axis, nd)
        if axes != list(range(nd - len(axes), nd)):
            raise ValueError(f"LayerNormalization '{self.name}': axis {self.axis} must name the trailing "
                             f"axes of the {nd}-D input (dlcore normalises trailing axes)")
        self._shape = tuple(int(input_shape[a]) for a in axes)
        if self.scale:
            self.gamma = Parameter(initializers.get(self.gamma_initializer)(self._shape))
        if self.center:
            self.beta = Parameter(initializers.get(self.beta_initializer)(self._shape))
        _match_dtype(self, x)
        self.built = True

    def forward(self, x):
        return layer_norm(x, self._shape, self._parameters.get("gamma"), self._parameters.get("beta"),
                          self.epsilon)

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale}


class GroupNormalization(Layer):
    """Group norm: the channels on ``axis`` (default -1: channels-last, Keras's default) split
    into ``groups`` consecutive groups (default 32), each normalised per sample over its
    channels and every other non-batch axis; weights ``gamma``, ``beta`` per channel.
    Keras's epsilon=1e-3. On nn.functional.group_norm (channels moved to axis 1 and back)."""

    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.groups = integer(groups, "GroupNormalization", "groups", 1)
        self.axis = integer(axis, "GroupNormalization", "axis")
        if not real(epsilon, "GroupNormalization", "epsilon") > 0:
            raise ValueError(f"GroupNormalization: epsilon must be positive, got {epsilon}")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer

    def build(self, input_shape, x=None):
        nd = len(input_shape)
        self._axis = _norm_axes("GroupNormalization", self.axis, nd)[0]
        C = int(input_shape[self._axis])
        if C % self.groups:
            raise ValueError(f"GroupNormalization '{self.name}': the {C} channels on axis {self.axis} cannot "
                             f"be split into groups={self.groups} equal groups")
        if self.scale:
            self.gamma = Parameter(initializers.get(self.gamma_initializer)((C,)))
        if self.center:
            self.beta = Parameter(initializers.get(self.beta_initializer)((C,)))
        _match_dtype(self, x)
        self.built = True

    def forward(self, x):
        a, nd = self._axis, x.ndim
        if a != 1:  # channels to axis 1, where group_norm has them
            order = [0, a] + [i for i in range(1, nd) if i != a]
            x = x.permute(*order)
        y = group_norm(x, self.groups, self._parameters.get("gamma"), self._parameters.get("beta"), self.epsilon)
        if a != 1:
            inverse = [order.index(i) for i in range(nd)]
            y = y.permute(*inverse)
        return y

    def get_config(self):
        return {"name": self.name, "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
