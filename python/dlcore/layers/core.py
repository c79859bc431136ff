"""Core Keras-style layers: Dense (on nn.Linear; activation='relu' runs in the GEMM epilogue),
Activation, Flatten, Reshape, Lambda."""
from __future__ import annotations

from ..nn.linear import Linear, linear
from ..nn.module import Module
from ..nn.regularizers import attach as attach_regularizer
from .._ops._args import integer
from ..tensor import Tensor, flatten, reshape
from .base import (Layer, _match_dtype, data_format_arg, from_channels_first, get_activation, get_initializer,
                   in_memory_order, init_keras_layout)

__all__ = ["Dense", "Activation", "Flatten", "Reshape", "Lambda"]


class Dense(Layer):
    """Fully connected layer: activation(x @ W.T + b) on the last axis; in_features is taken
    from the first input. Holds an nn.Linear as ``linear`` (state_dict keys linear.weight/bias).
    With activation='relu' the ReLU is fused into the GEMM's epilogue (one kernel call).
    Keras's initializers by default (kernel glorot_uniform, bias zeros; any Keras initializer
    name or object); kernel_regularizer / bias_regularizer join the training loss."""

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.units = integer(units, "Dense", "units", 1)
        self.activation, self.use_bias = activation, bool(use_bias)
        self._act = get_activation(activation)
        self._fused_relu = isinstance(activation, str) and activation.lower() == "relu"
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._kernel_init = get_initializer(kernel_initializer, "Dense", "kernel_initializer")
        self._bias_init = get_initializer(bias_initializer, "Dense", "bias_initializer")
        self._regularizers = {"weight": kernel_regularizer, "bias": bias_regularizer}

    def build(self, input_shape, x=None):
        dt = getattr(x, "dtype", None)
        self.linear = _match_dtype(Linear(int(input_shape[-1]), self.units, bias=self.use_bias,
                                          dtype=dt if dt is not None and dt.is_floating_point else None), x)
        for (t, to_k, from_k), init in zip(self._keras_weights(), (self._kernel_init, self._bias_init)):
            init_keras_layout(t, init, to_k, from_k)  # Keras's initializers on Keras's (in, out) kernel
        for name, reg in self._regularizers.items():
            if reg is not None and self.linear._parameters.get(name) is not None:
                attach_regularizer(self.linear, name, reg)
        self.built = True

    def forward(self, x):
        if self._fused_relu:
            return linear(x, self.linear.weight, self.linear.bias, relu=True)
        y = self.linear(x)
        return self._act(y) if self._act is not None else y

    def _keras_weights(self):
        t = (lambda w: w.t())  # dlcore (out, in) <-> Keras (in, out)
        return [(self.linear.weight, t, t)] + ([(self.linear.bias, None, None)] if self.use_bias else [])

    def get_config(self):
        if self.activation is not None and not isinstance(self.activation, str):
            raise ValueError(f"Dense '{self.name}': a callable activation cannot be saved as JSON; "
                             f"use an activation name")
        cfg = {"name": self.name, "units": self.units, "activation": self.activation,
               "use_bias": self.use_bias}
        for k in ("kernel_initializer", "bias_initializer"):
            if isinstance(getattr(self, k), str):
                cfg[k] = getattr(self, k)
        return cfg


class Activation(Layer):
    """An activation by Keras name (or a callable). Elementwise activations run in the input's
    memory order, so between channels-last image layers they keep channels-first memory."""

    supports_masking = True

    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation = activation
        self._act = get_activation(activation)
        self._elementwise = isinstance(activation, str) and activation.lower() not in ("softmax", "log_softmax")
        self.built = True

    def forward(self, x):
        if self._act is None:
            return x
        return in_memory_order(self._act, x) if self._elementwise else self._act(x)

    def get_config(self):
        return {"name": self.name, "activation": self.activation}


class Flatten(Layer):
    """(N, ...) -> (N, features). As Keras, the features come in channels-last order (H, W, C)
    whatever the data_format, so the Dense weights after it are the same for both layouts:
    data_format="channels_first" input (N, C, ...) is put channels-last first."""

    def __init__(self, data_format=None, name=None):
        super().__init__(name)
        self.data_format = data_format_arg(data_format, "Flatten")
        self.built = True

    def forward(self, x):
        if isinstance(x, Tensor) and x.ndim < 2:
            if x.ndim == 0:
                raise ValueError(f"Flatten '{self.name}': expects a batch (N, ...), got a 0-d tensor")
            return x.reshape(x.shape[0], 1)  # (N,) -> (N, 1), as Keras
        if self.data_format == "channels_first" and isinstance(x, Tensor) and x.ndim > 2:
            x = from_channels_first(x, "channels_last")
        return flatten(x, 1)

    def get_config(self):
        return {"name": self.name, "data_format": self.data_format}


class Reshape(Layer):
    def __init__(self, target_shape, name=None):
        super().__init__(name)
        self.target_shape = tuple(integer(s, "Reshape", "target_shape", -1)
                                  for s in ((target_shape,) if isinstance(target_shape, int) else target_shape))
        self.built = True

    def forward(self, x):
        return reshape(x, (x.shape[0],) + self.target_shape)

    def get_config(self):
        return {"name": self.name, "target_shape": list(self.target_shape)}


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
