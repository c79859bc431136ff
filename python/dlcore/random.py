"""dlcore.random: Keras 3's ``keras.random`` namespace over dlcore's generators.

``seed`` argument, as Keras: None draws from the current generator (seeded by
``dlcore.manual_seed`` / ``keras.utils.set_random_seed``); an int gives the same draws on every
call with that int; a ``SeedGenerator`` advances its own generator at every draw, so a layer
holding one (``self.seed_generator = keras.random.SeedGenerator(1337)``) draws new noise each
call, reproducibly."""
from __future__ import annotations

import numbers

from ._ops import _args
from .dtype import canonical, get_default_dtype
from .nn.init import trunc_normal_
from .tensor import Generator, Tensor, current_generator, empty, manual_seed
from .tensor import normal as _normal
from .tensor import randint as _randint
from .tensor import randperm as _randperm
from .tensor import uniform as _uniform

__all__ = ["SeedGenerator", "normal", "uniform", "randint", "truncated_normal", "dropout", "shuffle", "manual_seed"]


class SeedGenerator:
    """A generator of its own for random draws (``keras.random.SeedGenerator(seed)``); seed
    None takes one from the current generator."""

    def __init__(self, seed=None, **kwargs):
        if seed is None:
            seed = int(_randint(0, 2 ** 31, ()).item())
        self.generator = Generator(seed)


def _generator(seed, op):
    if seed is None:
        return current_generator()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return Generator(int(seed))
    raise TypeError(f"{op}: seed must be None, an int or a SeedGenerator, got {type(seed).__name__}")


def _shape(shape):
    return (shape,) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from N(mean, stddev^2), of ``shape`` (dtype: the default float dtype unless given)."""
    return _normal(_shape(shape), mean, stddev, dtype=dtype, generator=_generator(seed, "normal"))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws from U[minval, maxval), of ``shape``."""
    return _uniform(_shape(shape), minval, maxval, dtype=dtype, generator=_generator(seed, "uniform"))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers from [minval, maxval), of ``shape`` (int64, dlcore's integer type)."""
    return _randint(minval, maxval, _shape(shape), generator=_generator(seed, "randint"))


def shuffle(x, axis=0, seed=None):
    """x with its entries along ``axis`` in a random order."""
    perm = _randperm(x.shape[axis], generator=_generator(seed, "shuffle"))
    return x.index_select(axis, perm)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from N(mean, stddev^2) kept within two standard deviations of the mean, as Keras's."""
    out = empty(*_shape(shape), dtype=canonical(dtype) or get_default_dtype())
    return trunc_normal_(out, mean, stddev, mean - 2 * stddev, mean + 2 * stddev,
                         generator=_generator(seed, "truncated_normal"))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs with each element zeroed with probability ``rate`` and the rest scaled by
    1 / (1 - rate) (gradients flow through the kept ones); ``noise_shape`` (broadcast to the
    inputs' shape) shares one draw along its size-1 axes."""
    x = inputs if isinstance(inputs, Tensor) else Tensor(inputs)
    rate = _args.real(rate, "dropout", "rate")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    shape = tuple(x.shape) if noise_shape is None else tuple(
        x.shape[i] if s is None else int(s) for i, s in enumerate(noise_shape))
    _args.broadcast_shape(x.shape, shape, "dropout")
    u = _uniform(shape, 0.0, 1.0, dtype=x.dtype if x.dtype.is_floating_point else None,
                 generator=_generator(seed, "dropout"))
    return x * ((u >= rate).type(u.dtype) * (1.0 / (1.0 - rate)))
