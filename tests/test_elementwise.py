"""Elementwise ops against NumPy, float32 and float64: broadcasting arithmetic, unary math,
clip / where / maximum / minimum, comparisons, scalars and dtype promotion, NaN handling."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlcore
from conftest import rng

FLOATS = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-6, atol=1e-6), np.float64: dict(rtol=1e-14, atol=1e-14)}
MATH_TOL = {np.float32: dict(rtol=2e-6, atol=1e-6), np.float64: dict(rtol=1e-13, atol=1e-14)}

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((1,), (5, 2)),
    ((), (2, 3)), ((4, 1, 5), (1, 6, 1)), ((2, 1, 3, 1), (5, 1, 4)), ((0, 3), (1, 3)),
]


def check(t, ref, dtype=None, **tol):
    assert isinstance(t, dlcore.Tensor)
    got = t.numpy()
    assert got.shape == np.shape(ref), (got.shape, np.shape(ref))
    if dtype is not None:
        assert got.dtype == dtype
    np.testing.assert_allclose(got, ref, **tol)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_broadcast(op, sa, sb, dtype):
    r = rng(1)
    a = r.standard_normal(sa).astype(dtype)
    b = (r.uniform(0.5, 2.0, sb) * r.choice([-1, 1], sb)).astype(dtype)
    ta, tb = dlcore.tensor(a), dlcore.tensor(b)
    f = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
         "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    check(f(ta, tb), f(a, b), dtype, **TOL[dtype])
    check(getattr(dlcore, op)(ta, tb), f(a, b), dtype, **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS[:6])
def test_pow_broadcast(sa, sb, dtype):
    r = rng(2)
    a = r.uniform(0.2, 3.0, sa).astype(dtype)
    b = r.uniform(-2.0, 2.0, sb).astype(dtype)
    check(dlcore.tensor(a) ** dlcore.tensor(b), a ** b, dtype, **MATH_TOL[dtype])
    check(dlcore.pow(dlcore.tensor(a), dlcore.tensor(b)), a ** b, dtype, **MATH_TOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_scalar_operands(dtype):
    a = rng(3).uniform(0.5, 2, (3, 4)).astype(dtype)
    t = dlcore.tensor(a)
    for got, ref in [(t + 2, a + 2), (2 + t, 2 + a), (t - 1.5, a - 1.5), (1.5 - t, 1.5 - a),
                     (t * 3, a * 3), (3 * t, 3 * a), (t / 4, a / 4), (4 / t, 4 / a),
                     (t ** 2, a ** 2), (t ** 0.5, a ** 0.5), (2 ** t, 2 ** a), (-t, -a),
                     (t ** 0, a ** 0), (t * 0, a * 0)]:
        check(got, ref.astype(dtype), dtype, **MATH_TOL[dtype])


def test_int_arithmetic_and_promotion():
    i = dlcore.tensor([1, 2, 3])
    assert i.dtype == np.int64
    check(i + i, np.array([2, 4, 6]), np.int64)
    check(i * 2, np.array([2, 4, 6]), np.int64)
    check(i - 5, np.array([-4, -3, -2]), np.int64)
    # true division of ints gives the default float, like PyTorch
    check(i / 2, np.array([0.5, 1.0, 1.5], np.float32), np.float32)
    check(i + 0.5, np.array([1.5, 2.5, 3.5], np.float32), np.float32)
    f64 = dlcore.tensor(np.array([1.0, 2.0, 3.0]))
    assert f64.dtype == np.float64
    check(i + f64, np.array([2.0, 4.0, 6.0]), np.float64)
    f32 = dlcore.tensor([1.0, 2.0, 3.0])
    check(f32 + f64, np.array([2.0, 4.0, 6.0]), np.float64)
    check(-i, np.array([-1, -2, -3]), np.int64)
    check(abs(dlcore.tensor([-2, 3])), np.array([2, 3]), np.int64)


@given(st.data())
@settings(max_examples=40, deadline=None, derandomize=True)
def test_broadcast_property(data):
    """Random broadcast-compatible shapes: dlcore's result equals NumPy's, bit for bit."""
    nd = data.draw(st.integers(0, 4))
    base = data.draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))

    def variant():
        k = data.draw(st.integers(0, nd))
        dims = base[nd - k:]
        return tuple(d if data.draw(st.booleans()) else 1 for d in dims)

    sa, sb = variant(), variant()
    dtype = data.draw(st.sampled_from(FLOATS))
    r = np.random.default_rng(data.draw(st.integers(0, 1000)))
    a = r.standard_normal(sa).astype(dtype)
    b = r.standard_normal(sb).astype(dtype)
    ta, tb = dlcore.tensor(a), dlcore.tensor(b)
    np.testing.assert_array_equal((ta + tb).numpy(), a + b)
    np.testing.assert_array_equal((ta * tb).numpy(), a * b)
    np.testing.assert_array_equal((ta - tb).numpy(), a - b)
    np.testing.assert_array_equal(dlcore.maximum(ta, tb).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal((ta < tb).numpy(), a < b)


UNARY = [
    ("exp", np.exp, (-3, 3)), ("log", np.log, (0.1, 5)), ("sqrt", np.sqrt, (0, 5)),
    ("abs", np.abs, (-3, 3)), ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), (-8, 8)),
    ("tanh", np.tanh, (-3, 3)), ("relu", lambda x: np.maximum(x, 0), (-3, 3)),
    ("sin", np.sin, (-3, 3)), ("cos", np.cos, (-3, 3)), ("log1p", np.log1p, (-0.5, 3)),
    ("expm1", np.expm1, (-2, 2)), ("neg", np.negative, (-3, 3)), ("sign", np.sign, (-3, 3)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name,ref,rng_", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, ref, rng_, dtype):
    x = rng(4).uniform(*rng_, (5, 7)).astype(dtype)
    want = ref(x.astype(np.float64)).astype(dtype)
    check(getattr(dlcore, name)(dlcore.tensor(x)), want, dtype, **MATH_TOL[dtype])
    # non-contiguous input (transposed view) gives the same values
    xt = dlcore.tensor(x).T
    check(getattr(dlcore, name)(xt), want.T, dtype, **MATH_TOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_unary_methods(dtype):
    x = rng(5).uniform(0.1, 4, (4, 3)).astype(dtype)
    t = dlcore.tensor(x)
    for name, ref in [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("abs", np.abs),
                      ("tanh", np.tanh), ("relu", lambda v: np.maximum(v, 0))]:
        check(getattr(t, name)(), ref(x), dtype, **MATH_TOL[dtype])


def test_unary_large_and_strided():
    # big enough to run on several threads; every element must be written
    x = rng(6).standard_normal((300, 257)).astype(np.float32)
    check(dlcore.exp(dlcore.tensor(x)), np.exp(x), np.float32, rtol=2e-6)
    t = dlcore.tensor(x)[::3, 1::2]
    check(dlcore.tanh(t), np.tanh(x[::3, 1::2]), np.float32, rtol=2e-6, atol=1e-7)


def test_sigmoid_is_stable():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    got = dlcore.sigmoid(dlcore.tensor(x)).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, [0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_clip(dtype):
    x = rng(7).uniform(-3, 3, (6, 5)).astype(dtype)
    t = dlcore.tensor(x)
    check(dlcore.clip(t, -1, 2), np.clip(x, -1, 2), dtype)
    check(dlcore.clip(t, min=0.5), np.clip(x, 0.5, None), dtype)
    check(dlcore.clip(t, max=0.5), np.clip(x, None, 0.5), dtype)
    check(t.clamp(-0.25, 0.25), np.clip(x, -0.25, 0.25), dtype)
    n = dlcore.clip(dlcore.tensor(np.array([np.nan, 5, -5], dtype)), -1, 1).numpy()
    assert np.isnan(n[0]) and n[1] == 1 and n[2] == -1


def test_clip_int_tensor_with_one_bound():
    # an unbounded side must not convert +-inf to int64 (undefined behaviour in C++)
    t = dlcore.tensor([1, 5, -3])
    check(dlcore.clip(t, min=0), np.array([1, 5, 0]), np.int64)
    check(dlcore.clip(t, max=2), np.array([1, 2, -3]), np.int64)
    check(dlcore.clip(t, -1, 4), np.array([1, 4, -1]), np.int64)


@pytest.mark.parametrize("dtype", FLOATS)
def test_where(dtype):
    r = rng(8)
    c = r.random((4, 1, 5)) > 0.5
    a = r.standard_normal((3, 5)).astype(dtype)
    b = r.standard_normal((4, 3, 1)).astype(dtype)
    check(dlcore.where(dlcore.tensor(c), dlcore.tensor(a), dlcore.tensor(b)), np.where(c, a, b), dtype)
    check(dlcore.where(dlcore.tensor(c), dlcore.tensor(a), 0.0), np.where(c, a, dtype(0)), dtype)
    check(dlcore.where(dlcore.tensor(c), 1.0, dlcore.tensor(b)), np.where(c, dtype(1), b), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS[:7])
def test_maximum_minimum(sa, sb, dtype):
    r = rng(9)
    a = r.standard_normal(sa).astype(dtype)
    b = r.standard_normal(sb).astype(dtype)
    check(dlcore.maximum(dlcore.tensor(a), dlcore.tensor(b)), np.maximum(a, b), dtype)
    check(dlcore.minimum(dlcore.tensor(a), dlcore.tensor(b)), np.minimum(a, b), dtype)
    check(dlcore.maximum(dlcore.tensor(a), 0.0), np.maximum(a, dtype(0)), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_propagation(dtype):
    a = np.array([np.nan, 1.0, 2.0, np.nan], dtype)
    b = np.array([0.0, np.nan, 1.0, np.nan], dtype)
    ta, tb = dlcore.tensor(a), dlcore.tensor(b)
    np.testing.assert_array_equal(dlcore.maximum(ta, tb).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal(dlcore.minimum(ta, tb).numpy(), np.minimum(a, b))
    np.testing.assert_array_equal((ta + tb).numpy(), a + b)
    np.testing.assert_array_equal(dlcore.isnan(ta).numpy(), np.isnan(a))
    np.testing.assert_array_equal(dlcore.relu(ta).numpy(), [np.nan, 1, 2, np.nan])
    inf = dlcore.tensor(np.array([np.inf, -np.inf, np.nan, 1.0], dtype))
    np.testing.assert_array_equal(dlcore.isinf(inf).numpy(), [True, True, False, False])


@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons(op, dtype):
    r = rng(10)
    a = r.integers(-2, 3, (4, 5)).astype(dtype)
    b = r.integers(-2, 3, (5,)).astype(dtype)
    f = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
         "eq": np.equal, "ne": np.not_equal}[op]
    pyop = {"lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__",
            "eq": "__eq__", "ne": "__ne__"}[op]
    got = getattr(dlcore.tensor(a), pyop)(dlcore.tensor(b))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got.numpy(), f(a, b))
    got_s = getattr(dlcore.tensor(a), pyop)(1)
    np.testing.assert_array_equal(got_s.numpy(), f(a, dtype(1)))


def test_comparisons_with_nan():
    a = np.array([np.nan, 1.0, np.nan])
    b = np.array([np.nan, np.nan, 0.0])
    ta, tb = dlcore.tensor(a), dlcore.tensor(b)
    for pyop, f in [("__lt__", np.less), ("__eq__", np.equal), ("__ne__", np.not_equal),
                    ("__ge__", np.greater_equal)]:
        np.testing.assert_array_equal(getattr(ta, pyop)(tb).numpy(), f(a, b))


def test_logical_ops():
    a = dlcore.tensor([True, False, True, False])
    b = dlcore.tensor([True, True, False, False])
    np.testing.assert_array_equal((a & b).numpy(), [True, False, False, False])
    np.testing.assert_array_equal((a | b).numpy(), [True, True, True, False])
    np.testing.assert_array_equal((~a).numpy(), [False, True, False, True])


@pytest.mark.parametrize("dtype", FLOATS)
def test_rounding(dtype):
    x = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.5, 3.7], dtype)
    t = dlcore.tensor(x)
    np.testing.assert_array_equal(dlcore._C.unary(dlcore._C.Unary.round, x), np.round(x))
    np.testing.assert_array_equal(dlcore._C.unary(dlcore._C.Unary.floor, x), np.floor(x))
    np.testing.assert_array_equal(dlcore._C.unary(dlcore._C.Unary.ceil, x), np.ceil(x))
    assert t.dtype == dtype


def test_in_place_ops_through_out():
    a = np.ones((3, 4), np.float32)
    b = np.arange(4, dtype=np.float32)
    dlcore._C.binary(dlcore._C.Binary.add, a, b, out=a)
    np.testing.assert_array_equal(a, 1 + np.broadcast_to(b, (3, 4)))


def test_int_and_bool_with_python_scalars_like_pytorch():
    i = dlcore.arange(4)
    check(i ** 2, np.arange(4) ** 2, np.int64)
    check(i ** 0, np.ones(4, np.int64), np.int64)
    check(i ** 0.5, np.sqrt(np.arange(4)).astype(np.float32), np.float32, rtol=1e-6)
    check(2 ** i, 2 ** np.arange(4), np.int64)
    b = dlcore.tensor([True, False])
    check(b + 5, np.array([6, 5]), np.int64)
    check(b * 2.5, np.array([2.5, 0.0], np.float32), np.float32)


def test_large_broadcast_and_where_across_thread_chunks():
    # > 2 * 16384 output elements: split over both threads, chunks start mid-row
    r = rng(11)
    a = r.standard_normal((181, 1, 389)).astype(np.float32)
    b = r.standard_normal((7, 1)).astype(np.float32)
    base = r.standard_normal((389, 7 * 2)).astype(np.float32)
    c = base.T[::2]  # (7, 389) non-contiguous
    ta, tb, tc = dlcore.tensor(a), dlcore.tensor(b), dlcore.from_numpy(c)
    np.testing.assert_array_equal((ta * tb + tc).numpy(), a * b + c)
    np.testing.assert_array_equal(dlcore.where(ta > 0, ta, tc).numpy(), np.where(a > 0, a, c))
    np.testing.assert_array_equal(dlcore.maximum(ta, tc).numpy(), np.maximum(a, c))
