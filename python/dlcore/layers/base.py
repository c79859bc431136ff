"""The Keras-style Layer base class and activations by Keras name.

A Layer is an nn.Module (so it works in nn.Sequential, with optimizers and state_dict) that
infers its input size on the first call (``Dense(128)`` needs no in_features) and, called on
symbolic tensors from ``dlcore.Input``, records a node of a functional ``dlcore.Model``
(python/dlcore/graph.py). Layout is PyTorch's: images are channels-first (N, C, H, W), so the
Keras feature / channel axis is axis 1.
"""
from __future__ import annotations

import functools
import threading

from ..graph import is_symbolic, symbolic_call
from ..nn import activation as A
from ..nn.module import Module
from ..tensor import Tensor, tensor

__all__ = ["Layer", "get_activation"]

_counters = {}
_build_lock = threading.RLock()


def _auto_name(cls_name):
    base = "".join("_" + c.lower() if c.isupper() else c for c in cls_name).lstrip("_")
    base = base.replace("2_d", "2d")
    n = _counters.get(base, 0)
    _counters[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _match_dtype(module, x):
    """module cast to x's float dtype when x is a float64 tensor (layers build in float32)."""
    if isinstance(x, Tensor) and x.dtype.is_floating_point and x.dtype != "float32":
        module.to(dtype=x.dtype)
    return module


_ACTIVATIONS = {"relu": A.relu, "sigmoid": A.sigmoid, "tanh": A.tanh,
                "softmax": functools.partial(A.softmax, dim=-1),
                "log_softmax": functools.partial(A.log_softmax, dim=-1),
                "gelu": A.gelu, "elu": A.elu, "selu": A.selu, "leaky_relu": A.leaky_relu,
                "softplus": A.softplus, "silu": A.silu, "swish": A.silu, "mish": A.mish,
                "hardswish": A.hardswish, "hardsigmoid": A.hardsigmoid, "relu6": A.relu6,
                "softsign": A.softsign}


def get_activation(name):
    """An activation function by Keras name (None / 'linear' -> None, the identity); a
    callable is returned as is. softmax and log_softmax act on the last axis."""
    if name is None or name == "linear":
        return None
    if callable(name):
        return name
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[key]


def _as_input(a, layer):
    """A layer input as a Tensor (array data converted), a list of them, or a TypeError."""
    if isinstance(a, Tensor):
        return a
    if isinstance(a, (list, tuple)) and a and all(isinstance(b, Tensor) for b in a):
        return a
    if hasattr(a, "__array__") or isinstance(a, (list, tuple)):
        return tensor(a)
    raise TypeError(f"{type(layer).__name__} '{layer.name}': input must be a dlcore Tensor or array data, "
                    f"got {type(a).__name__}")


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
        if is_symbolic(args):
            return symbolic_call(self, args, kwargs)
        if not self.built:
            args = tuple(_as_input(a, self) for a in args)
            with _build_lock:  # two threads calling an unbuilt model build each layer once
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
