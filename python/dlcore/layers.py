"""dlcore.layers: Keras-style layers over dlcore.nn modules.

Each layer is an nn.Module (so it works in nn.Sequential, with optimizers and state_dict) that
infers its input size on the first call (``Dense(128)`` needs no in_features) and can be called
on symbolic tensors from ``dlcore.Input`` to build a functional ``dlcore.Model``.

Layers that wrap another op family's module (Conv2D -> nn.Conv2d, BatchNormalization ->
nn.BatchNorm1d/2d, Dropout -> nn.Dropout, MaxPooling2D -> nn.MaxPool2d, ...) look that module up
by name in dlcore.nn when they are built, so this file imports without them.

Layout is PyTorch's: images are channels-first (N, C, H, W).
"""
from __future__ import annotations

from .nn import functional as F
from . import nn
from .nn.module import Module
from .tensor import Tensor, cat, reshape

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Conv2D",
           "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "BatchNormalization",
           "Add", "Subtract", "Multiply", "Concatenate", "Lambda", "get_activation"]

_counters = {}


def _auto_name(cls_name):
    base = "".join("_" + c.lower() if c.isupper() else c for c in cls_name).lstrip("_")
    base = base.replace("2_d", "2d")
    n = _counters.get(base, 0)
    _counters[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _nn(name, needed_by):
    """dlcore.nn.<name>, looked up when a layer is built (other op families provide them)."""
    cls = getattr(nn, name, None)
    if cls is None:
        raise NotImplementedError(f"{needed_by} needs dlcore.nn.{name}, which this build of dlcore "
                                  f"does not provide yet")
    return cls


def _fn(name):
    f = getattr(F, name, None)
    if f is None:
        f = getattr(nn.functional, name, None)
    if f is None:
        raise NotImplementedError(f"activation '{name}' needs dlcore.functional.{name}, which this "
                                  f"build of dlcore does not provide yet")
    return f


_ACTIVATIONS = {"relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "elu", "selu",
                "leaky_relu", "softplus", "silu", "swish", "mish", "hardswish", "hardsigmoid",
                "relu6", "softsign"}


def get_activation(name):
    """An activation function by Keras name (None / 'linear' -> identity). softmax and
    log_softmax act on the last axis."""
    if name is None or name == "linear":
        return None
    if callable(name):
        return name
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}")
    if key == "swish":
        key = "silu"
    if key in ("softmax", "log_softmax"):
        return lambda x, _k=key: _fn(_k)(x, dim=-1)
    return lambda x, _k=key: _fn(_k)(x)


def _is_symbolic(args):
    from .models import KerasTensor
    for a in args:
        if isinstance(a, KerasTensor):
            return True
        if isinstance(a, (list, tuple)) and any(isinstance(b, KerasTensor) for b in a):
            return True
    return False


def _match_dtype(module, x):
    if isinstance(x, Tensor) and x.dtype.kind == "f" and x.dtype != "float32":
        module.to(dtype=x.dtype)
    return module


class Layer(Module):
    """Base class: ``build(input_shape)`` runs once, on the first call, with the input's shape
    (batch dimension included); calling on a symbolic tensor records a graph node instead."""

    def __init__(self, name=None):
        super().__init__()
        self.name = name or _auto_name(type(self).__name__)
        self.built = False

    def build(self, input_shape, x=None):
        self.built = True

    def __call__(self, *args, **kwargs):
        if _is_symbolic(args):
            from .models import _symbolic_call
            return _symbolic_call(self, args, kwargs)
        if not self.built:
            first = args[0]
            shape = [tuple(t.shape) for t in first] if isinstance(first, (list, tuple)) else tuple(first.shape)
            self.build(shape, first)
            self.built = True
        return self.forward(*args, **kwargs)

    def get_config(self):
        return {"name": self.name}

    def extra_repr(self):
        cfg = {k: v for k, v in self.get_config().items() if k != "name"}
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())


class Dense(Layer):
    """Fully connected layer: activation(x @ W.T + b) on the last axis; in_features is taken
    from the first input. Holds an nn.Linear as ``linear`` (state_dict keys linear.weight/bias)."""

    def __init__(self, units, activation=None, use_bias=True, name=None):
        super().__init__(name)
        if int(units) <= 0:
            raise ValueError(f"Dense: units must be positive, got {units}")
        self.units, self.activation, self.use_bias = int(units), activation, bool(use_bias)
        self._act = get_activation(activation)

    def build(self, input_shape, x=None):
        self.linear = _match_dtype(nn.Linear(int(input_shape[-1]), self.units, bias=self.use_bias,
                                             dtype=getattr(x, "dtype", None)), x)
        self.built = True

    def forward(self, x):
        y = self.linear(x)
        return self._act(y) if self._act is not None else y

    def get_config(self):
        if self.activation is not None and not isinstance(self.activation, str):
            raise ValueError(f"Dense '{self.name}': a callable activation cannot be saved as JSON; "
                             f"use an activation name")
        return {"name": self.name, "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias}


class Activation(Layer):
    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation = activation
        self._act = get_activation(activation)
        self.built = True

    def forward(self, x):
        return self._act(x) if self._act is not None else x

    def get_config(self):
        return {"name": self.name, "activation": self.activation}


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs in training (scales the rest by 1/(1-rate));
    wraps nn.Dropout."""

    def __init__(self, rate, name=None):
        super().__init__(name)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def build(self, input_shape, x=None):
        self.dropout = _nn("Dropout", "layers.Dropout")(p=self.rate)
        self.built = True

    def forward(self, x):
        return self.dropout(x)

    def get_config(self):
        return {"name": self.name, "rate": self.rate}


class Flatten(Layer):
    def __init__(self, name=None):
        super().__init__(name)
        self.built = True

    def forward(self, x):
        return x.flatten(1)


class Reshape(Layer):
    def __init__(self, target_shape, name=None):
        super().__init__(name)
        self.target_shape = tuple(int(s) for s in target_shape)
        self.built = True

    def forward(self, x):
        return reshape(x, (x.shape[0],) + self.target_shape)

    def get_config(self):
        return {"name": self.name, "target_shape": list(self.target_shape)}


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, float)) else tuple(int(a) for a in v)


class Conv2D(Layer):
    """2-D convolution over (N, C, H, W); in_channels from the first input. padding 'valid' or
    'same' (odd kernels, stride 1) or an int. Wraps nn.Conv2d as ``conv``."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, name=None):
        super().__init__(name)
        self.filters, self.kernel_size, self.strides = int(filters), _pair(kernel_size), _pair(strides)
        self.padding, self.activation, self.use_bias = padding, activation, bool(use_bias)
        self._act = get_activation(activation)

    def _torch_padding(self):
        p = self.padding
        if isinstance(p, str):
            if p == "valid":
                return 0
            if p == "same":
                if any(k % 2 == 0 for k in self.kernel_size) or self.strides != (1, 1):
                    raise ValueError(f"Conv2D '{self.name}': padding='same' needs odd kernel sizes "
                                     f"and stride 1, got {self.kernel_size} / {self.strides}")
                return tuple(k // 2 for k in self.kernel_size)
            raise ValueError(f"Conv2D: padding must be 'valid', 'same' or an int, got {p!r}")
        return _pair(p)

    def build(self, input_shape, x=None):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D '{self.name}': expects (N, C, H, W) input, got shape {input_shape}")
        self.conv = _match_dtype(_nn("Conv2d", "layers.Conv2D")(
            int(input_shape[1]), self.filters, self.kernel_size, stride=self.strides,
            padding=self._torch_padding(), bias=self.use_bias), x)
        self.built = True

    def forward(self, x):
        y = self.conv(x)
        return self._act(y) if self._act is not None else y

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "padding": self.padding if isinstance(self.padding, str) else list(_pair(self.padding)),
                "activation": self.activation, "use_bias": self.use_bias}


class MaxPooling2D(Layer):
    _module = "MaxPool2d"

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None):
        super().__init__(name)
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides) if strides is not None else self.pool_size
        if padding not in ("valid",) and not isinstance(padding, int):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or an int, got {padding!r}")
        self.padding = padding

    def build(self, input_shape, x=None):
        pad = 0 if self.padding == "valid" else int(self.padding)
        self.pool = _nn(self._module, f"layers.{type(self).__name__}")(self.pool_size, stride=self.strides,
                                                                       padding=pad)
        self.built = True

    def forward(self, x):
        return self.pool(x)

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class AveragePooling2D(MaxPooling2D):
    _module = "AvgPool2d"


class GlobalAveragePooling2D(Layer):
    def __init__(self, name=None):
        super().__init__(name)
        self.built = True

    def forward(self, x):
        return x.mean((2, 3))


class BatchNormalization(Layer):
    """Batch norm over axis 1 (channels / features), Keras defaults: momentum=0.99 (the running
    average keeps 99%; PyTorch's momentum = 1 - momentum), epsilon=1e-3. Wraps nn.BatchNorm1d for
    (N, C) / (N, C, L) inputs and nn.BatchNorm2d for (N, C, H, W)."""

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name)
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, input_shape, x=None):
        kind = "BatchNorm2d" if len(input_shape) == 4 else "BatchNorm1d"
        self.bn = _match_dtype(_nn(kind, "layers.BatchNormalization")(
            int(input_shape[1]), eps=self.epsilon, momentum=1.0 - self.momentum), x)
        self.built = True

    def forward(self, x):
        return self.bn(x)

    def get_config(self):
        return {"name": self.name, "momentum": self.momentum, "epsilon": self.epsilon}


class _Merge(Layer):
    def __init__(self, name=None):
        super().__init__(name)
        self.built = True

    def forward(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{type(self).__name__}: expects a list of at least two tensors")
        return self._merge(list(inputs))


class Add(_Merge):
    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Subtract(_Merge):
    def _merge(self, xs):
        if len(xs) != 2:
            raise ValueError("Subtract: expects exactly two tensors")
        return xs[0] - xs[1]


class Multiply(_Merge):
    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y


class Concatenate(_Merge):
    def __init__(self, axis=1, name=None):
        super().__init__(name)
        self.axis = int(axis)

    def _merge(self, xs):
        return cat(xs, dim=self.axis)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Lambda(Layer):
    """Wraps a function or any nn.Module so it can be used in a functional graph. A wrapped
    module is registered (its parameters train); plain functions cannot be saved as JSON."""

    def __init__(self, function, name=None):
        super().__init__(name)
        if isinstance(function, Module):
            self.module = function
        else:
            self.function = function
        self.built = True

    def forward(self, *args):
        fn = self._modules.get("module") or self.__dict__["function"]
        return fn(*args)

    def get_config(self):
        raise ValueError(f"Lambda layer '{self.name}' holds Python code and cannot be saved as "
                         f"JSON; save its weights with dlcore.save(model.state_dict(), path)")

