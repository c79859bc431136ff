"""Keras-style merge layers taking a list of tensors (Add()([a, b]) or Add()(a, b)): Add,
Subtract, Multiply, Average, Maximum, Minimum, Concatenate(axis=-1); and Residual(module),
y = x + module(x). Inputs of a merge must have the same shape (Concatenate: the same shape
except along axis); a mismatch raises ValueError naming the shapes instead of broadcasting."""
from __future__ import annotations

from ..tensor import Tensor, cat, maximum, minimum
from .module import Module


def _inputs(name, args, min_n):
    xs = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    if len(xs) < min_n:
        raise ValueError(f"{name}: expects a list of at least {min_n} tensors, got {len(xs)}")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input {i} is a {type(x).__name__}, not a Tensor")
    return xs


def _same_shapes(name, xs):
    ref = tuple(xs[0].shape)
    for i, x in enumerate(xs[1:], 1):
        if tuple(x.shape) != ref:
            raise ValueError(f"{name}: input {i} has shape {tuple(x.shape)} but input 0 has "
                             f"shape {ref}; merge inputs must have the same shape")


class _Merge(Module):
    _min = 2

    def forward(self, *args):
        xs = _inputs(type(self).__name__, args, self._min)
        _same_shapes(type(self).__name__, xs)
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


class Average(_Merge):
    """Elementwise mean of the inputs."""

    _min = 1

    def _merge(self, xs):
        return Add()._merge(xs) * (1.0 / len(xs))


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


class Concatenate(Module):
    """Concatenation along `axis` (Keras default -1, the channels-last feature axis)."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = int(axis)

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
        return cat(xs, ax)

    def extra_repr(self):
        return f"axis={self.axis}"


class Residual(Module):
    """y = x + module(x) (a residual / skip connection); the shapes must agree."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        y = self.module(x)
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(f"Residual: the wrapped module maps shape {tuple(x.shape)} to "
                             f"{tuple(y.shape)}; a residual needs the same shape")
        return x + y
