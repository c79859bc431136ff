"""Random tensors: manual_seed reproducibility, thread-count independence, Generator state,
and uniform / normal statistics on large samples."""
import numpy as np
import pytest

import dlcore

N = 1 << 20


@pytest.fixture
def restore_threads():
    n = dlcore.get_num_threads()
    yield
    dlcore.set_num_threads(n)


@pytest.mark.parametrize("dtype", [dlcore.float32, dlcore.float64])
def test_manual_seed_reproducible(dtype):
    dlcore.manual_seed(123)
    a, b = dlcore.rand(5, 7, dtype=dtype), dlcore.randn(11, dtype=dtype)
    dlcore.manual_seed(123)
    a2, b2 = dlcore.rand(5, 7, dtype=dtype), dlcore.randn(11, dtype=dtype)
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    c = dlcore.rand(5, 7, dtype=dtype)
    assert not np.array_equal(a.numpy(), c.numpy())  # the stream moves on
    dlcore.manual_seed(124)
    assert not np.array_equal(a.numpy(), dlcore.rand(5, 7, dtype=dtype).numpy())


def test_consecutive_draws_do_not_overlap():
    # Two draws of 3 then 5 differ from the first 8 of one draw only by the block boundary;
    # each value must be fresh (no reuse of a counter block).
    dlcore.manual_seed(0)
    a = np.concatenate([dlcore.rand(3).numpy(), dlcore.rand(5).numpy()])
    assert len(np.unique(a)) == 8
    dlcore.manual_seed(0)
    x = dlcore.randn(1001, dtype=dlcore.float64).numpy()
    y = dlcore.randn(1001, dtype=dlcore.float64).numpy()
    assert len(np.intersect1d(x, y)) == 0


@pytest.mark.parametrize("dtype", [dlcore.float32, dlcore.float64])
def test_identical_for_1_and_2_threads(dtype, restore_threads):
    out = {}
    for n in (1, 2):
        dlcore.set_num_threads(n)
        dlcore.manual_seed(7)
        out[n] = (dlcore.rand(300001, dtype=dtype).numpy().tobytes(),
                  dlcore.randn(123457, dtype=dtype).numpy().tobytes(),
                  dlcore.uniform((999, 77), -3.0, 5.0, dtype=dtype).numpy().tobytes(),
                  dlcore.randint(0, 10, (50000,)).numpy().tobytes())
    assert out[1] == out[2]


def test_generator_objects_and_state():
    g1, g2 = dlcore.Generator(5), dlcore.Generator(5)
    np.testing.assert_array_equal(dlcore.randn(10, generator=g1).numpy(), dlcore.randn(10, generator=g2).numpy())
    st = g1.get_state()
    a = dlcore.rand(6, generator=g1).numpy()
    g1.set_state(st)
    np.testing.assert_array_equal(dlcore.rand(6, generator=g1).numpy(), a)
    # a private generator does not move the default one
    dlcore.manual_seed(1)
    ref = dlcore.rand(4).numpy()
    dlcore.manual_seed(1)
    dlcore.rand(100, generator=dlcore.Generator(9))
    np.testing.assert_array_equal(dlcore.rand(4).numpy(), ref)


@pytest.mark.parametrize("dtype", [dlcore.float32, dlcore.float64])
def test_uniform_statistics(dtype):
    dlcore.manual_seed(0)
    u = dlcore.rand(N, dtype=dtype).numpy().astype(np.float64)
    assert u.dtype == np.float64 and u.min() >= 0.0 and u.max() < 1.0
    se = np.sqrt(1 / 12 / N)
    assert abs(u.mean() - 0.5) < 5 * se
    assert abs(u.std() - np.sqrt(1 / 12)) < 5e-3 * np.sqrt(1 / 12)
    hist, _ = np.histogram(u, bins=16, range=(0, 1))
    assert np.all(np.abs(hist / N * 16 - 1) < 0.02)
    lo, hi = -2.0, 3.0
    v = dlcore.uniform((N,), lo, hi, dtype=dtype).numpy()
    assert v.min() >= lo and v.max() < hi
    assert abs(v.mean() - 0.5) < 5 * (hi - lo) * se
    assert abs(v.std() - (hi - lo) / np.sqrt(12)) < 5e-3 * (hi - lo) / np.sqrt(12)


@pytest.mark.parametrize("dtype", [dlcore.float32, dlcore.float64])
def test_normal_statistics(dtype):
    dlcore.manual_seed(0)
    z = dlcore.randn(N, dtype=dtype).numpy().astype(np.float64)
    assert abs(z.mean()) < 5 / np.sqrt(N)
    assert abs(z.std() - 1) < 5e-3
    assert np.all(np.isfinite(z))
    # tails and symmetry: P(|z| > 2) = 0.0455, third moment 0, fourth 3
    assert abs(np.mean(np.abs(z) > 2) - 0.0455) < 0.002
    assert abs(np.mean(z ** 3)) < 0.02 and abs(np.mean(z ** 4) - 3) < 0.05
    # even and odd lanes (cos and sin halves of Box-Muller) are each standard normal and uncorrelated
    assert abs(z[0::2].std() - 1) < 1e-2 and abs(z[1::2].std() - 1) < 1e-2
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5e-3
    m = dlcore.normal((N,), 3.0, 0.5, dtype=dtype).numpy()
    assert abs(m.mean() - 3.0) < 5 * 0.5 / np.sqrt(N) and abs(m.std() - 0.5) < 5e-3 * 0.5


def test_randint_randperm():
    dlcore.manual_seed(3)
    r = dlcore.randint(2, 7, (100000,))
    assert r.dtype == np.int64
    v = r.numpy()
    assert v.min() == 2 and v.max() == 6
    counts = np.bincount(v - 2)
    assert np.all(np.abs(counts / len(v) - 0.2) < 0.01)
    p = dlcore.randperm(1000).numpy()
    assert sorted(p.tolist()) == list(range(1000)) and not np.array_equal(p, np.arange(1000))
    assert dlcore.randint(5, size=3).shape == (3,)


def test_random_shapes_and_requires_grad():
    assert dlcore.rand(2, 3).shape == (2, 3) and dlcore.rand((2, 3)).shape == (2, 3)
    assert dlcore.randn(()).shape == () and dlcore.rand(0, 4).shape == (0, 4)
    t = dlcore.randn(3, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    assert dlcore.rand(4).dtype == np.float32


def test_bad_random_arguments():
    with pytest.raises(ValueError, match=r"randint: high \(2\) must be greater than low \(5\)"):
        dlcore.randint(5, 2, (3,))
    with pytest.raises(ValueError, match=r"normal: std must be non-negative, got -1.0"):
        dlcore.normal((3,), 0.0, -1.0)
    with pytest.raises(ValueError, match=r"uniform: low \(2.0\) must not exceed high \(1.0\)"):
        dlcore.uniform((3,), 2.0, 1.0)
