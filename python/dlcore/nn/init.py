"""Parameter initializers (in place, seeded through dlcore.manual_seed), PyTorch names."""
import math

from .. import _C
from ..tensor import default_generator


def _fans(t):
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {tuple(t.shape)}")
    receptive = 1
    for s in t.shape[2:]:
        receptive *= s
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "conv_transpose2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity '{nonlinearity}'")


def _fill(t, dist, a, b, generator=None):
    g = generator or default_generator
    _C.random_fill(dist, t._data, float(a), float(b), g.seed, g.take(t.dtype, t.numel()))
    return t


def uniform_(t, a=0.0, b=1.0, generator=None):
    return _fill(t, _C.RandomDist.uniform, a, b, generator)


def normal_(t, mean=0.0, std=1.0, generator=None):
    return _fill(t, _C.RandomDist.normal, mean, std, generator)


def zeros_(t):
    return t.fill_(0.0)


def ones_(t):
    return t.fill_(1.0)


def constant_(t, val):
    return t.fill_(val)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(t, -bound, bound, generator)
