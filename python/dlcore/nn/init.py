"""Parameter initializers (in place, seeded through dlcore.manual_seed / a dlcore.Generator).

PyTorch names and formulas (torch.nn.init), fan_in/fan_out from the PyTorch weight layout
(out_features, in_features, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel).

    zeros_, ones_, constant_(val), uniform_(a, b), normal_(mean, std),
    trunc_normal_(mean, std, a, b)            normal truncated to [a, b] (inverse CDF, C++)
    xavier_uniform_(gain)  U(-g sqrt(6/(fan_in+fan_out)), +...)
    xavier_normal_(gain)   N(0, g sqrt(2/(fan_in+fan_out)))
    kaiming_uniform_(a, mode, nonlinearity)   U(-g sqrt(3/fan), +...), g = calculate_gain
    kaiming_normal_(a, mode, nonlinearity)    N(0, g / sqrt(fan))
    orthogonal_(gain)      QR of a normal matrix, signs fixed by diag(R) (NumPy's QR: init only)
    sparse_(sparsity, std) each column: ceil(sparsity*rows) zeros, the rest N(0, std)
    eye_                   identity (2-D), dirac_(groups) identity convolution (3-5-D)

Keras names (Keras formulas; "normal" variants are TRUNCATED normals, as in Keras, with the
std corrected so the final std is the nominal one):
    glorot_uniform = xavier_uniform_, glorot_normal: trunc N, std sqrt(2/(fan_in+fan_out))
    he_uniform: U(+-sqrt(6/fan_in)),          he_normal: trunc N, std sqrt(2/fan_in)
    lecun_uniform: U(+-sqrt(3/fan_in)),       lecun_normal: trunc N, std sqrt(1/fan_in)
    identity = eye_ (with a gain)

Every random initializer takes `generator=` (default: dlcore's default generator), so the same
seed gives the same values for any thread count.
"""
import math

from .. import _C
from ..dtype import float64
from .._ops._args import require_float
from ..tensor import current_generator

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "zeros_", "ones_",
           "constant_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
           "lecun_normal", "orthogonal_", "sparse_", "eye_", "identity", "dirac_", "zeros", "ones",
           "constant", "uniform", "normal", "truncated_normal", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse", "eye"]

# Keras' correction: the std of a standard normal truncated to [-2, 2].
_TRUNC_STD = 0.87962566103423978


def _fans(t):
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {tuple(t.shape)}")
    receptive = 1
    for s in t.shape[2:]:
        receptive *= s
    return t.shape[1] * receptive, t.shape[0] * receptive


def _calculate_fan_in_and_fan_out(t):
    return _fans(t)


def _fan(t, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got '{mode}'")
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"cannot initialize a tensor with a zero fan (shape {tuple(t.shape)})")
    return fan


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity '{nonlinearity}'")


def _gen(generator):
    return generator or current_generator()


def _fill(t, dist, a, b, generator=None, op="init"):
    require_float(t.dtype, op)
    a, b = float(a), float(b)
    if dist == _C.RandomDist.uniform and not a <= b:
        raise ValueError(f"{op}: the range [{a}, {b}) is empty: a must not exceed b")
    if dist == _C.RandomDist.normal and not b >= 0:
        raise ValueError(f"{op}: std must be non-negative, got {b}")
    g = _gen(generator)
    _C.random_fill(dist, t._data, float(a), float(b), g.seed, g.take(t.dtype, t.numel()))
    return t


def uniform_(t, a=0.0, b=1.0, generator=None):
    return _fill(t, _C.RandomDist.uniform, a, b, generator, "uniform_")


def normal_(t, mean=0.0, std=1.0, generator=None):
    return _fill(t, _C.RandomDist.normal, mean, std, generator, "normal_")


def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std) truncated to [a, b] (absolute bounds, as torch)."""
    require_float(t.dtype, "trunc_normal_")
    if not std >= 0:
        raise ValueError(f"trunc_normal_: std must be non-negative, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: the bounds [a, b] = [{a}, {b}] are empty: a must be less than b")
    g = _gen(generator)
    _C.trunc_normal_fill(t._data, float(mean), float(std), float(a), float(b), g.seed, g.take(t.dtype, t.numel()))
    return t


def zeros_(t):
    return t.fill_(0.0)


def ones_(t):
    return t.fill_(1.0)


def constant_(t, val):
    return t.fill_(val)


def xavier_uniform_(t, gain=1.0, generator=None):
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t, gain=1.0, generator=None):
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode)), generator)


def _keras_trunc(t, var, generator):
    std = math.sqrt(var) / _TRUNC_STD
    return trunc_normal_(t, 0.0, std, -2.0 * std, 2.0 * std, generator)


glorot_uniform = xavier_uniform_


def glorot_normal(t, generator=None):
    fan_in, fan_out = _fans(t)
    return _keras_trunc(t, 2.0 / (fan_in + fan_out), generator)


def he_uniform(t, mode="fan_in", generator=None):
    return kaiming_uniform_(t, 0.0, mode, "relu", generator)


def he_normal(t, mode="fan_in", generator=None):
    return _keras_trunc(t, 2.0 / _fan(t, mode), generator)


def lecun_uniform(t, generator=None):
    bound = math.sqrt(3.0 / _fan(t, "fan_in"))
    return uniform_(t, -bound, bound, generator)


def lecun_normal(t, generator=None):
    return _keras_trunc(t, 1.0 / _fan(t, "fan_in"), generator)


def orthogonal_(t, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a N(0, 1) matrix; tensors with
    more than 2 dims are flattened to (shape[0], rest). The factorisation (Householder, in
    float64 on the CPU) runs once at initialisation, never in the training loop."""
    require_float(t.dtype, "orthogonal_")
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(t.shape)}")
    if t.numel() == 0:
        return t
    rows = t.shape[0]
    cols = t.numel() // rows
    a = _C.empty((rows, cols), float64)
    g = _gen(generator)
    _C.random_fill(_C.RandomDist.normal, a, 0.0, 1.0, g.seed, g.take(a.dtype, a.size))
    if rows < cols:
        a = a.T.contiguous()
    _C.orthogonalize(a)  # Q, with R's diagonal made positive: uniform over orthogonal matrices
    if rows < cols:
        a = a.T
    t._data.copy_(_C.unary(_C.Unary.mul_scalar, a, float(gain), 0.0).reshape(t.shape))
    return t


def sparse_(t, sparsity, std=0.01, generator=None):
    """2-D only: values N(0, std), then in every column ceil(sparsity * rows) random rows zeroed."""
    require_float(t.dtype, "sparse_")
    if t.ndim != 2:
        raise ValueError(f"sparse_: only 2-D tensors are supported, got shape {tuple(t.shape)}")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity}")
    if not std >= 0:
        raise ValueError(f"sparse_: std must be non-negative, got {std}")
    rows, cols = t.shape
    zeros = int(math.ceil(sparsity * rows))
    normal_(t, 0.0, std, generator)
    if zeros:
        keys = _C.empty((rows, cols), float64)
        g = _gen(generator)
        _C.random_fill(_C.RandomDist.uniform, keys, 0.0, 1.0, g.seed, g.take(keys.dtype, keys.size))
        order = _C.argsort(keys.T)[:, :zeros]  # a random permutation of the rows, per column
        cols_idx = _C.arange(0, cols, 1, "int64").reshape(cols, 1)
        _C.index_put_(t._data, [0, 1], [order.T.to(t._data.device), cols_idx.T.to(t._data.device)], _C.zeros((), t.dtype), False)
    return t


def eye_(t):
    """2-D identity (ones on the main diagonal, zeros elsewhere)."""
    if t.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(t.shape)}")
    t.fill_(0.0)
    n = min(t.shape)
    if n:
        t._data.as_strided((n,), (t.stride(0) + t.stride(1),)).fill_(1.0)  # the diagonal, a view
    return t


def identity(t, gain=1.0):
    """Keras' Identity initializer: gain * eye."""
    eye_(t)
    if gain != 1.0:
        _C.unary(_C.Unary.mul_scalar, t._data, float(gain), 0.0, out=t._data)
    return t


def dirac_(t, groups=1):
    """Identity convolution: weight (out, in, *k) with a 1 at the kernel centre of channel i -> i
    (per group), so conv(x) == x where out >= in."""
    if t.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4 or 5 dims are supported, got shape {tuple(t.shape)}")
    if t.shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({t.shape[0]}) must be divisible by groups ({groups})")
    out_per = t.shape[0] // groups
    n = min(out_per, t.shape[1])
    t.fill_(0.0)
    centre = tuple(s // 2 for s in t.shape[2:])
    for gi in range(groups):
        for d in range(n):
            t._data[(gi * out_per + d, d) + centre] = 1
    return t


# Keras-style aliases without the trailing underscore.
zeros, ones, constant = zeros_, ones_, constant_
uniform, normal, truncated_normal = uniform_, normal_, trunc_normal_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
orthogonal, sparse, eye = orthogonal_, sparse_, eye_
