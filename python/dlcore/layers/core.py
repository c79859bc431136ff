"""Core Keras-style layers: Dense (on nn.Linear; activation='relu' runs in the GEMM epilogue),
Activation, Flatten, Reshape, Lambda."""
from __future__ import annotations

from .. import initializers
from ..autograd import no_grad
from ..nn.linear import Linear, linear
from ..nn.module import Module
from ..nn.regularizers import attach as attach_regularizer
from ..ops._args import integer
from ..tensor import flatten, reshape
from .base import Layer, _match_dtype, get_activation

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
        initializers.get(kernel_initializer), initializers.get(bias_initializer)  # a bad name fails here
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._regularizers = {"weight": kernel_regularizer, "bias": bias_regularizer}

    def build(self, input_shape, x=None):
        dt = getattr(x, "dtype", None)
        self.linear = _match_dtype(Linear(int(input_shape[-1]), self.units, bias=self.use_bias,
                                          dtype=dt if dt is not None and dt.is_floating_point else None), x)
        w = self.linear.weight
        with no_grad():  # Keras's initializers on Keras's (in, out) kernel
            w.copy_(initializers.get(self.kernel_initializer)((w.shape[1], w.shape[0]), dtype=w.dtype).T)
            if self.use_bias:
                self.linear.bias.copy_(initializers.get(self.bias_initializer)((self.units,), dtype=w.dtype))
        for name, reg in self._regularizers.items():
            if reg is not None and self.linear._parameters.get(name) is not None:
                attach_regularizer(self.linear, name, reg)
        self.built = True

    def forward(self, x):
        if self._fused_relu:
            return linear(x, self.linear.weight, self.linear.bias, relu=True)
        y = self.linear(x)
        return self._act(y) if self._act is not None else y

    def _to_keras(self, key, a):  # Keras's kernel is (in, out): nn.Linear's weight transposed
        return a.T if key.endswith("weight") else a

    _from_keras = _to_keras

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
    supports_masking = True

    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation = activation
        self._act = get_activation(activation)
        self.built = True

    def forward(self, x):
        return self._act(x) if self._act is not None else x

    def get_config(self):
        return {"name": self.name, "activation": self.activation}


class Flatten(Layer):
    def __init__(self, name=None):
        super().__init__(name)
        self.built = True

    def forward(self, x):
        return flatten(x, 1)


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
