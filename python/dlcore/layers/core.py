"""Core Keras-style layers: Dense (on nn.Linear; activation='relu' runs in the GEMM epilogue),
Activation, Flatten, Reshape, Lambda."""
from __future__ import annotations

from ..nn.linear import Linear, linear
from ..nn.module import Module
from ..ops._args import integer
from ..tensor import flatten, reshape
from .base import Layer, _match_dtype, get_activation

__all__ = ["Dense", "Activation", "Flatten", "Reshape", "Lambda"]


class Dense(Layer):
    """Fully connected layer: activation(x @ W.T + b) on the last axis; in_features is taken
    from the first input. Holds an nn.Linear as ``linear`` (state_dict keys linear.weight/bias).
    With activation='relu' the ReLU is fused into the GEMM's epilogue (one kernel call)."""

    def __init__(self, units, activation=None, use_bias=True, name=None):
        super().__init__(name)
        self.units = integer(units, "Dense", "units", 1)
        self.activation, self.use_bias = activation, bool(use_bias)
        self._act = get_activation(activation)
        self._fused_relu = isinstance(activation, str) and activation.lower() == "relu"

    def build(self, input_shape, x=None):
        self.linear = _match_dtype(Linear(int(input_shape[-1]), self.units, bias=self.use_bias,
                                          dtype=getattr(x, "dtype", None)), x)
        self.built = True

    def forward(self, x):
        if self._fused_relu:
            return linear(x, self.linear.weight, self.linear.bias, relu=True)
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
