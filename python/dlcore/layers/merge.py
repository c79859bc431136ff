"""Keras-style merge layers, the one set in dlcore: Add, Subtract, Multiply, Average, Maximum,
Minimum take a list of tensors (Add()([a, b]) or Add()(a, b)) of the same shape; Concatenate
joins them along ``axis`` (default -1 as Keras: the features, or the channels of channels-last
images). A shape mismatch raises ValueError naming the shapes instead of broadcasting."""
from __future__ import annotations

from .._ops._args import integer
from ..tensor import Tensor, cat, maximum, minimum
from .base import Layer, _inverse, memory_order

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]


def _inputs(name, args, min_n):
    xs = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    if len(xs) < min_n:
        raise ValueError(f"{name}: expects a list of at least {min_n} tensors, got {len(xs)}")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input {i} is a {type(x).__name__}, not a Tensor")
    return xs


class _Merge(Layer):
    _min = 2

    def __init__(self, name=None):
        super().__init__(name)
        self.built = True

    def forward(self, *args):
        name = type(self).__name__
        xs = _inputs(name, args, self._min)
        ref = tuple(xs[0].shape)
        for i, x in enumerate(xs[1:], 1):
            if tuple(x.shape) != ref:
                raise ValueError(f"{name}: input {i} has shape {tuple(x.shape)} but input 0 has "
                                 f"shape {ref}; merge inputs must have the same shape")
        return self._merge(xs)


class Add(_Merge):
    """Elementwise sum of the inputs."""

    _min = 1

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    def _merge(self, xs):
        if len(xs) != 2:
            raise ValueError(f"Subtract: expects exactly 2 inputs, got {len(xs)}")
        return xs[0] - xs[1]


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    _min = 1

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(Add):
    """Elementwise mean of the inputs."""

    def _merge(self, xs):
        return super()._merge(xs) * (1.0 / len(xs))


class Maximum(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = maximum(out, x)
        return out


class Minimum(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = minimum(out, x)
        return out


class Concatenate(Layer):
    """Concatenation along `axis` (default -1, as Keras: features / channels-last channels); the
    inputs must match in every other dim. Inputs that are the same permuted view of contiguous
    memory (channels-last image layers' outputs) are joined in that memory order, so the result
    keeps their layout."""

    def __init__(self, axis=-1, name=None):
        super().__init__(name)
        self.axis = integer(axis, "Concatenate", "axis")
        self.built = True

    def forward(self, *args):
        xs = _inputs("Concatenate", args, 1)
        nd = xs[0].ndim
        if not -nd <= self.axis < nd:
            raise ValueError(f"Concatenate: axis {self.axis} is out of range for inputs of shape "
                             f"{tuple(xs[0].shape)}")
        ax = self.axis % nd
        ref = tuple(xs[0].shape)
        for i, x in enumerate(xs[1:], 1):
            s = tuple(x.shape)
            if len(s) != nd or any(a != b for j, (a, b) in enumerate(zip(s, ref)) if j != ax):
                raise ValueError(f"Concatenate: input {i} has shape {s} but input 0 has shape "
                                 f"{ref}; they must match except along axis {self.axis}")
        perm = memory_order(xs[0])
        if perm is not None and all(memory_order(x) == perm for x in xs[1:]):
            return cat([x.permute(perm) for x in xs], perm.index(ax)).permute(_inverse(perm))
        return cat(xs, ax)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}
