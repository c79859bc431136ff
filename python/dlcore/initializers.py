"""dlcore.initializers: Keras 3's initializers (``keras.initializers``), on dlcore.nn.init.

An initializer object is called with a shape (Keras's layout: a kernel is (fan_in, fan_out),
a convolution kernel (*kernel_size, in, out)) and returns a new tensor; ``get`` takes a Keras
name ('glorot_uniform', 'orthogonal', 'zeros', ...), an initializer object or a callable.
The values are drawn from dlcore's generator (dlcore.manual_seed / set_random_seed); a
``seed`` argument gives the initializer its own dlcore.Generator.
"""
from __future__ import annotations

import math

from .dtype import get_default_dtype
from .nn import init as _init
from .tensor import Generator, empty

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
           "TruncatedNormal", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
           "LecunUniform", "LecunNormal", "Orthogonal", "Identity", "get"]

# Keras's correction: the std of a standard normal truncated to [-2, 2]
_TRUNC_STD = 0.87962566103423978


def _fans(shape):
    """Keras's fans: a (in, out) kernel, or (*receptive field, in, out)."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = 1
    for s in shape[:-2]:
        receptive *= s
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype=None)`` -> a new tensor."""

    def __init__(self, seed=None):
        self.seed = seed

    def _gen(self):
        return None if self.seed is None else Generator(self.seed)

    def __call__(self, shape, dtype=None):
        t = empty(*tuple(int(s) for s in shape), dtype=dtype or get_default_dtype())
        self._fill(t, tuple(t.shape))
        return t

    def _fill(self, t, shape):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class Zeros(Initializer):
    def _fill(self, t, shape):
        _init.zeros_(t)


class Ones(Initializer):
    def _fill(self, t, shape):
        _init.ones_(t)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = float(value)

    def _fill(self, t, shape):
        _init.constant_(t, self.value)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras's defaults (-0.05, 0.05), also Embedding's 'uniform'."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def _fill(self, t, shape):
        _init.uniform_(t, self.minval, self.maxval, self._gen())


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def _fill(self, t, shape):
        _init.normal_(t, self.mean, self.stddev, self._gen())


class TruncatedNormal(RandomNormal):
    """N(mean, stddev) truncated to two stddevs."""

    def _fill(self, t, shape):
        _init.trunc_normal_(t, self.mean, self.stddev, self.mean - 2 * self.stddev,
                            self.mean + 2 * self.stddev, self._gen())


class _VarianceScaling(Initializer):
    """Keras's VarianceScaling: variance scale / fan, uniform or truncated normal."""

    _scale, _mode, _uniform = 1.0, "fan_in", True

    def _fill(self, t, shape):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self._mode]
        var = self._scale / max(1.0, fan)
        if self._uniform:
            lim = math.sqrt(3.0 * var)
            _init.uniform_(t, -lim, lim, self._gen())
        else:
            std = math.sqrt(var) / _TRUNC_STD
            _init.trunc_normal_(t, 0.0, std, -2.0 * std, 2.0 * std, self._gen())


class GlorotUniform(_VarianceScaling):
    """U(+-sqrt(6 / (fan_in + fan_out))): Keras's default kernel initializer."""
    _mode = "fan_avg"


class GlorotNormal(_VarianceScaling):
    _mode, _uniform = "fan_avg", False


class HeUniform(_VarianceScaling):
    _scale = 2.0


class HeNormal(_VarianceScaling):
    _scale, _uniform = 2.0, False


class LecunUniform(_VarianceScaling):
    pass


class LecunNormal(_VarianceScaling):
    _uniform = False


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times gain: Keras's default recurrent_kernel initializer."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def _fill(self, t, shape):
        if len(shape) <= 2:
            _init.orthogonal_(t, self.gain, self._gen())
            return
        # Keras's rule for a conv kernel (*kernel_size, in, out): orthogonal as a (rest, out) matrix
        m = empty(math.prod(shape[:-1]), shape[-1], dtype=t.dtype)
        _init.orthogonal_(m, self.gain, self._gen())
        t.copy_(m.reshape(*shape))


class Identity(Initializer):
    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = float(gain)

    def _fill(self, t, shape):
        _init.identity(t, self.gain)


_NAMES = {"zeros": Zeros, "ones": Ones, "constant": Constant, "uniform": RandomUniform,
          "random_uniform": RandomUniform, "normal": RandomNormal, "random_normal": RandomNormal,
          "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform,
          "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
          "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
          "identity": Identity}


def get(identifier):
    """An initializer from a Keras name (any case, CamelCase too), an Initializer or a
    callable(shape, dtype=None)."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, str)):
        return identifier
    if isinstance(identifier, str):
        key = "".join("_" + c.lower() if c.isupper() else c for c in identifier).lstrip("_")
        cls = _NAMES.get(key) or _NAMES.get(identifier.lower())
        if cls is not None:
            return cls()
    raise ValueError(f"initializers.get: unknown initializer {identifier!r}; known: {sorted(_NAMES)}")
