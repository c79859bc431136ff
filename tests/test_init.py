"""Initializers: statistics on large tensors match the formulas; same seed, same values (for any
thread count); orthogonal is orthogonal; PyTorch's fan / gain conventions."""
import math

import numpy as np
import pytest
from conftest import requires_torch, threads

import dlcore
from dlcore.nn import init

SHAPE = (512, 256, 3)  # fan_in 768, fan_out 1536, 393k elements


def _t(shape=SHAPE, dtype="float32"):
    return dlcore.empty(*shape, dtype=dtype)


def _stats(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def _u_check(t, bound):
    m, s, lo, hi = _stats(t)
    n = t.numel()
    assert abs(m) < 5 * bound / math.sqrt(3 * n)
    assert s == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert -bound <= lo < -0.99 * bound and 0.99 * bound < hi < bound


def _n_check(t, std, mean=0.0):
    m, s, _, _ = _stats(t)
    assert abs(m - mean) < 5 * std / math.sqrt(t.numel())
    assert s == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_normal_constant(dtype):
    _u_check(init.uniform_(_t(dtype=dtype), -0.3, 0.3), 0.3)
    _n_check(init.normal_(_t(dtype=dtype), 1.5, 0.2), 0.2, 1.5)
    assert np.all(init.zeros_(_t(dtype=dtype)).numpy() == 0)
    assert np.all(init.ones_(_t(dtype=dtype)).numpy() == 1)
    assert np.all(init.constant_(_t(dtype=dtype), 0.25).numpy() == 0.25)


def test_xavier_kaiming_lecun_he_formulas():
    fan_in, fan_out = 256 * 3, 512 * 3
    _u_check(init.xavier_uniform_(_t(), gain=2.0), 2.0 * math.sqrt(6 / (fan_in + fan_out)))
    _u_check(init.glorot_uniform(_t()), math.sqrt(6 / (fan_in + fan_out)))
    _n_check(init.xavier_normal_(_t(), gain=0.5), 0.5 * math.sqrt(2 / (fan_in + fan_out)))
    _u_check(init.kaiming_uniform_(_t(), nonlinearity="relu"), math.sqrt(6 / fan_in))
    _u_check(init.kaiming_uniform_(_t(), a=math.sqrt(5)), 1 / math.sqrt(fan_in))  # Linear's default
    _u_check(init.kaiming_uniform_(_t(), mode="fan_out", nonlinearity="tanh"), 5 / 3 * math.sqrt(3 / fan_out))
    _n_check(init.kaiming_normal_(_t(), mode="fan_out", nonlinearity="relu"), math.sqrt(2 / fan_out))
    _n_check(init.kaiming_normal_(_t(), a=0.2), math.sqrt(2 / (1 + 0.04)) / math.sqrt(fan_in))
    _u_check(init.he_uniform(_t()), math.sqrt(6 / fan_in))
    _u_check(init.lecun_uniform(_t()), math.sqrt(3 / fan_in))
    # Keras' truncated-normal variants: final std is the nominal one, bounded by 2 pre-correction stds
    for f, var in ((init.he_normal, 2 / fan_in), (init.lecun_normal, 1 / fan_in),
                   (init.glorot_normal, 2 / (fan_in + fan_out))):
        t = f(_t())
        _n_check(t, math.sqrt(var))
        assert np.abs(t.numpy()).max() <= 2 * math.sqrt(var) / 0.87962566103423978 * (1 + 1e-6)


def _phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _Phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 0.5, 0.0, 3.0), (0.0, 0.02, -0.04, 0.04),
                                          (0.0, 1.0, 0.5, 4.0)])
def test_trunc_normal_statistics(dtype, mean, std, a, b):
    t = init.trunc_normal_(_t(dtype=dtype), mean, std, a, b)
    x = t.numpy().astype(np.float64)
    al, be = (a - mean) / std, (b - mean) / std
    Z = _Phi(be) - _Phi(al)
    mu = mean + std * (_phi(al) - _phi(be)) / Z
    var = std ** 2 * (1 + (al * _phi(al) - be * _phi(be)) / Z - ((_phi(al) - _phi(be)) / Z) ** 2)
    assert x.min() >= a and x.max() <= b
    assert x.mean() == pytest.approx(mu, abs=5 * math.sqrt(var / x.size))
    assert x.std() == pytest.approx(math.sqrt(var), rel=0.01)
    # the tails reach the bounds (the whole interval is used)
    assert x.min() < a + 0.02 * (b - a) and x.max() > b - 0.02 * (b - a)


def test_erfinv_accuracy_through_trunc_normal():
    # an untruncated-looking interval: trunc_normal_ with wide bounds is a normal whose quantiles
    # must match the normal's (checks erfinv in the tails too)
    t = init.trunc_normal_(_t((1_000_000,), "float64"), 0.0, 1.0, -50.0, 50.0)
    q = np.quantile(t.numpy(), [0.001, 0.025, 0.5, 0.975, 0.999])
    np.testing.assert_allclose(q, [-3.0902, -1.9600, 0.0, 1.9600, 3.0902], atol=0.03)


@pytest.mark.parametrize("shape", [(64, 64), (40, 100), (100, 40), (16, 8, 3, 3)])
def test_orthogonal(shape):
    t = init.orthogonal_(_t(shape, "float64"), gain=1.5)
    m = t.numpy().reshape(shape[0], -1) / 1.5
    r, c = m.shape
    if r <= c:
        np.testing.assert_allclose(m @ m.T, np.eye(r), atol=1e-10)
    else:
        np.testing.assert_allclose(m.T @ m, np.eye(c), atol=1e-10)


def test_sparse_eye_dirac():
    t = init.sparse_(_t((100, 300)), sparsity=0.3, std=0.05)
    a = t.numpy()
    assert np.all((a == 0).sum(axis=0) == 30)
    nz = a[a != 0]
    assert nz.std() == pytest.approx(0.05, rel=0.03)
    e = init.eye_(_t((3, 5))).numpy()
    np.testing.assert_array_equal(e, np.eye(3, 5))
    np.testing.assert_array_equal(init.identity(_t((4, 4)), gain=2.0).numpy(), 2 * np.eye(4))
    d = init.dirac_(_t((6, 4, 3, 3)), groups=2).numpy()
    assert d.sum() == 6 and d[0, 0, 1, 1] == 1 and d[3, 0, 1, 1] == 1 and d[5, 2, 1, 1] == 1


@requires_torch
def test_dirac_and_gain_like_torch():
    import torch
    tt = torch.empty(6, 4, 3, 3)
    torch.nn.init.dirac_(tt, groups=2)
    np.testing.assert_array_equal(init.dirac_(_t((6, 4, 3, 3)), groups=2).numpy(), tt.numpy())
    for nl, p in [("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    w = torch.empty(7, 5, 2, 3)
    assert init._calculate_fan_in_and_fan_out(_t((7, 5, 2, 3))) == torch.nn.init._calculate_fan_in_and_fan_out(w)


@pytest.mark.parametrize("fn", [lambda t: init.uniform_(t), lambda t: init.normal_(t),
                                lambda t: init.trunc_normal_(t), lambda t: init.xavier_uniform_(t),
                                lambda t: init.kaiming_normal_(t), lambda t: init.orthogonal_(t),
                                lambda t: init.sparse_(t, 0.5), lambda t: init.he_normal(t)])
def test_same_seed_same_values_any_threads(fn):
    outs = []
    for nt in (1, 2):
        with threads(nt):
            dlcore.manual_seed(123)
            a = fn(_t((300, 200))).numpy().copy()
            b = fn(_t((300, 200))).numpy().copy()
            outs.append((a, b))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    assert not np.array_equal(outs[0][0], outs[0][1])  # the generator advanced
    g = dlcore.Generator(7)
    c = init.normal_(_t((10,)), generator=g).numpy().copy()
    d = init.normal_(_t((10,)), generator=dlcore.Generator(7)).numpy()
    np.testing.assert_array_equal(c, d)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.xavier_uniform_(_t((5,)))
    with pytest.raises(ValueError, match="fan_in' or 'fan_out"):
        init.kaiming_uniform_(_t((5, 5)), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")
    with pytest.raises(ValueError, match="trunc_normal_: the bounds .* are empty"):
        init.trunc_normal_(_t((5,)), a=1.0, b=-1.0)
    with pytest.raises(ValueError, match="std must be positive"):
        init.trunc_normal_(_t((5,)), std=0.0)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(_t((5,)))
    with pytest.raises(ValueError, match="sparsity"):
        init.sparse_(_t((5, 5)), 1.5)
    with pytest.raises(TypeError, match="float"):
        init.normal_(dlcore.zeros(3, dtype="int64"))
