"""Reductions against NumPy: sum, mean, max, min, argmax, argmin, var, std over any axes
(negative, several, all), keepdim, non-contiguous inputs, NaN, empty axes, and bitwise
determinism for 1 vs 2 threads."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlcore
from conftest import rng

FLOATS = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}

AXES = [None, 0, 1, 2, -1, -2, (0, 2), (-1, 0), (0, 1, 2), (1,), ()]


def _np_axes(dim):
    return tuple(dim) if isinstance(dim, (tuple, list)) else dim


def inputs(dtype):
    x = rng(11).standard_normal((4, 5, 6)).astype(dtype)
    big = rng(12).standard_normal((6, 5, 8)).astype(dtype)
    return {
        "contig": x,
        "transposed": np.transpose(big, (2, 0, 1))[:4, :5, :6],
        "strided": big[::2, 1:, ::-1][:, :, 1:7][:, :, :6][:3, :4, :],
    }


def check(t, ref, dtype, exact=False):
    got = t.numpy()
    assert got.shape == np.shape(ref), (got.shape, np.shape(ref))
    assert got.dtype == np.asarray(ref).dtype or got.dtype == dtype
    if exact:
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["contig", "transposed", "strided"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", AXES, ids=str)
def test_sum_mean(dim, keepdim, layout, dtype):
    x = inputs(dtype)[layout]
    t = dlcore.from_numpy(x)
    ax = _np_axes(dim) if dim != () else None  # PyTorch: dim=() reduces every dim (NumPy: none)
    check(t.sum(dim, keepdim=keepdim), x.astype(np.float64).sum(axis=ax, keepdims=keepdim).astype(dtype), dtype)
    check(dlcore.mean(t, dim, keepdim=keepdim), x.astype(np.float64).mean(axis=ax, keepdims=keepdim).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["contig", "transposed", "strided"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (1, 2), (0, 1, 2)], ids=str)
def test_max_min(dim, keepdim, layout, dtype):
    x = inputs(dtype)[layout]
    t = dlcore.from_numpy(x)
    ax = _np_axes(dim)
    check(dlcore.amax(t, dim, keepdim=keepdim), x.max(axis=ax, keepdims=keepdim), dtype, exact=True)
    check(dlcore.amin(t, dim, keepdim=keepdim), x.min(axis=ax, keepdims=keepdim), dtype, exact=True)
    if isinstance(dim, int):
        v, i = t.max(dim, keepdim=keepdim)
        check(v, x.max(axis=ax, keepdims=keepdim), dtype, exact=True)
        np.testing.assert_array_equal(i.numpy(), np.argmax(x, axis=dim, keepdims=keepdim))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["contig", "transposed", "strided"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_argmax_argmin(dim, keepdim, layout, dtype):
    x = inputs(dtype)[layout]
    t = dlcore.from_numpy(x)
    am = t.argmax(dim, keepdim=keepdim)
    assert am.dtype == np.int64
    np.testing.assert_array_equal(am.numpy(), np.argmax(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(dlcore.argmin(t, dim, keepdim=keepdim).numpy(),
                                  np.argmin(x, axis=dim, keepdims=keepdim))


@pytest.mark.parametrize("dtype", FLOATS)
def test_argmax_flat_and_ties(dtype):
    x = inputs(dtype)["transposed"]
    assert dlcore.from_numpy(x).argmax().item() == np.argmax(x)
    assert dlcore.argmin(dlcore.from_numpy(x)).item() == np.argmin(x)
    ties = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], dtype)
    np.testing.assert_array_equal(dlcore.tensor(ties).argmax(1).numpy(), [1, 0])  # first, like NumPy
    np.testing.assert_array_equal(dlcore.tensor(ties).argmin(1).numpy(), [3, 0])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["contig", "transposed", "strided"])
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (1, 2)], ids=str)
def test_var_std(dim, correction, layout, dtype):
    x = inputs(dtype)[layout]
    t = dlcore.from_numpy(x)
    ax = _np_axes(dim)
    ref = x.astype(np.float64).var(axis=ax, ddof=correction)
    check(t.var(dim, correction=correction), ref.astype(dtype), dtype)
    check(t.std(dim, correction=correction), np.sqrt(ref).astype(dtype), dtype)
    check(dlcore.var(t, dim, keepdim=True, correction=correction),
          x.astype(np.float64).var(axis=ax, ddof=correction, keepdims=True).astype(dtype), dtype)


def test_int_and_bool_sums():
    i = np.arange(24).reshape(2, 3, 4)
    t = dlcore.tensor(i)
    check(t.sum(), np.array(i.sum()), np.int64, exact=True)
    check(t.sum((0, 2)), i.sum((0, 2)), np.int64, exact=True)
    check(t.max(1).values, i.max(1), np.int64, exact=True)
    b = dlcore.tensor(i % 3 == 0)
    assert b.sum().item() == 8 and b.sum().dtype == np.int64


def test_zero_dim_and_empty():
    s = dlcore.tensor(3.5)
    assert s.sum().item() == 3.5 and s.mean().item() == 3.5 and s.max().item() == 3.5
    e = dlcore.zeros(0, 3)
    np.testing.assert_array_equal(e.sum(0).numpy(), np.zeros(3))
    assert e.sum().item() == 0
    assert e.sum(1).shape == (0,)
    assert np.isnan(e.mean().item())
    with pytest.raises(ValueError, match=r"max: cannot reduce over an empty axis .*\(0, 3\)"):
        e.max(0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_in_reductions(dtype):
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0], [np.nan, -1.0, 9.0]], dtype)
    t = dlcore.tensor(x)
    for dim in [None, 0, 1]:
        np.testing.assert_array_equal(dlcore.amax(t, dim).numpy(), np.max(x, axis=dim))
        np.testing.assert_array_equal(dlcore.amin(t, dim).numpy(), np.min(x, axis=dim))
        np.testing.assert_array_equal(t.sum(dim).numpy(), np.sum(x, axis=dim))
    np.testing.assert_array_equal(t.argmax(1).numpy(), np.argmax(x, axis=1))
    np.testing.assert_array_equal(t.argmax(0).numpy(), np.argmax(x, axis=0))
    np.testing.assert_array_equal(t.argmin(1).numpy(), np.argmin(x, axis=1))
    assert t.argmax().item() == np.argmax(x)
    # NaN first in the reduced run, and only NaNs
    y = np.array([[np.nan, 2.0], [np.nan, np.nan]], dtype)
    np.testing.assert_array_equal(dlcore.tensor(y).max(1).values.numpy(), np.max(y, 1))
    np.testing.assert_array_equal(dlcore.tensor(y).argmax(1).numpy(), np.argmax(y, 1))


def test_float32_sum_accuracy():
    # accumulation is in double: a float32 sum of 4M values stays accurate
    x = np.full(1 << 22, 0.1, np.float32)
    got = dlcore.from_numpy(x).sum().item()
    assert abs(got - x.astype(np.float64).sum()) <= 1e-6 * x.size * 0.1


@pytest.fixture
def restore_threads():
    n = dlcore.get_num_threads()
    yield
    dlcore.set_num_threads(n)


@pytest.mark.parametrize("dtype", FLOATS)
def test_reductions_bitwise_identical_for_1_and_2_threads(dtype, restore_threads):
    x = rng(13).standard_normal((512, 1031)).astype(dtype)
    xt = x.T  # non-contiguous: (1031, 512)
    cases = [(x, None), (x, 0), (x, 1), (x, (0, 1)), (xt, 0), (xt, 1), (x[::2, ::3], 1)]
    ops = [lambda t, d: t.sum(d), lambda t, d: t.mean(d), lambda t, d: t.var(d),
           lambda t, d: dlcore.amax(t, d), lambda t, d: t.argmax(d if d is not None and not isinstance(d, tuple) else None)]
    results = {}
    for n in (1, 2):
        dlcore.set_num_threads(n)
        assert dlcore.get_num_threads() == n
        results[n] = [op(dlcore.from_numpy(a), d).numpy().copy() for a, d in cases for op in ops]
    for r1, r2 in zip(results[1], results[2]):
        assert r1.tobytes() == r2.tobytes()
    # and the values are right
    np.testing.assert_allclose(results[2][0], x.astype(np.float64).sum(), rtol=1e-5)


def test_duplicate_axes_rejected():
    with pytest.raises(ValueError, match=r"sum: axis .* appears twice .*\(2, 3\)"):
        dlcore.ones(2, 3).sum((1, -1))


@given(st.data())
@settings(max_examples=60, deadline=None, derandomize=True)
def test_reduce_property_random_views(data):
    """Random shapes, random strided / reversed / broadcast views, random axes: equal NumPy."""
    nd = data.draw(st.integers(1, 4))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=nd, max_size=nd)))
    base = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(
        tuple(s * 2 for s in shape))
    sl = tuple(slice(None, None, data.draw(st.sampled_from([1, 2, -1, -2])))
               for _ in range(nd))
    v = base[sl]
    v = v[tuple(slice(0, s) for s in shape)]
    if data.draw(st.booleans()):
        v = np.transpose(v, data.draw(st.permutations(range(nd))))
    if data.draw(st.booleans()):  # a broadcast (0-stride) view
        v = np.broadcast_to(v[:1], (3,) + v.shape[1:])
    axes = data.draw(st.lists(st.integers(-v.ndim, v.ndim - 1), unique_by=lambda a: a % v.ndim, max_size=v.ndim))
    keep = data.draw(st.booleans())
    t = dlcore.from_numpy(v)
    ax = tuple(axes)
    np.testing.assert_allclose(t.sum(ax if axes else None, keepdim=keep).numpy(),
                               v.sum(axis=ax if axes else None, keepdims=keep), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(dlcore.amax(t, ax if axes else None, keepdim=keep).numpy(),
                                  v.max(axis=ax if axes else None, keepdims=keep))
    np.testing.assert_allclose(t.var(ax if axes else None, keepdim=keep, correction=0).numpy(),
                               v.var(axis=ax if axes else None, keepdims=keep), rtol=1e-10, atol=1e-12)
    d = axes[0] if axes else -1
    np.testing.assert_array_equal(t.argmin(d, keepdim=keep).numpy(), np.argmin(v, axis=d, keepdims=keep))
    # and the elementwise kernels on the same view
    np.testing.assert_allclose(dlcore.exp(t).numpy(), np.exp(v), rtol=1e-14)
    np.testing.assert_array_equal((t * 2.0).numpy(), v * 2.0)
