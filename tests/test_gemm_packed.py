"""Pre-packed B GEMM (ops/gemm.h: pack_b / gemm_packed_b, used by the RNN step GEMMs): one
packed B reused for several (A, C) pairs gives BITWISE the same C as dlcore's gemm on the same
inputs, for every ISA path, both dtypes, all transposes, odd sizes, K larger than the kernels'
KC (several K blocks), beta != 0, 1 and 2 threads, and row counts where gemm does not pack B
(nothing is packed then and the in-place paths run)."""
import numpy as np
import pytest

import dlcore._C as C
from conftest import isa, threads

ISAS = C.supported_isas()
RNG = np.random.default_rng(4321)


def rand(shape, dtype):
    return RNG.standard_normal(shape).astype(dtype)


def stored(rows, cols, trans, dtype):
    """Stored operand whose op() is (rows, cols)."""
    return rand((cols, rows) if trans else (rows, cols), dtype)


def op(x, trans):
    return x.T if trans else x


def run_pair(ms, k, n, dtype, ta, tb, alpha=1.0, beta=0.0, pack_m=-1):
    """Packs b once and runs every M in ms with it; returns (packed, results, gemm results)."""
    b = stored(k, n, tb, dtype)
    As = [stored(m, k, ta, dtype) for m in ms]
    c0 = [rand((m, n), dtype) for m in ms]
    got = [c.copy() for c in c0]
    packed = C.gemm_packed_b(As, b, got, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb, pack_m=pack_m)
    want = [c.copy() for c in c0]
    for a, w in zip(As, want):
        C.gemm(a, b, w, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb)
    return packed, got, want, As, b, c0


def kc_of(dtype):
    return C.gemm_blocking("float32" if dtype == np.float32 else "float64")["kc"]


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_bitwise_equal_to_gemm(isa_name, dtype, ta, tb):
    with isa(isa_name):
        kc = kc_of(dtype)
        k = 2 * kc + 37  # three K blocks, the last one ragged
        for nt in (1, 2):
            with threads(nt):
                packed, got, want, As, b, c0 = run_pair([33, 47, 70], k, 101, dtype, ta, tb, alpha=0.75, beta=0.5)
                assert packed
                for g, w in zip(got, want):
                    assert np.array_equal(g, w)
                # and the values are the product (not just equally wrong)
                for a, g, c in zip(As, got, c0):
                    ref = 0.75 * (op(a, ta).astype(np.float64) @ op(b, tb).astype(np.float64)) + 0.5 * c
                    rtol = 1e-4 if dtype == np.float32 else 1e-11
                    np.testing.assert_allclose(g, ref, rtol=rtol, atol=rtol * np.sqrt(k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rnn_step_shapes_and_thread_invariance(dtype):
    # the LSTM step (32 x 256 x 1024 through W_hh^T) and its backward (32 x 1024 x 256)
    for ta, tb, k, n in ((False, True, 256, 1024), (False, False, 1024, 256)):
        b = stored(k, n, tb, dtype)
        a = [stored(32, k, ta, dtype) for _ in range(2)]
        want = [np.empty((32, n), dtype) for _ in a]
        for x, w in zip(a, want):
            C.gemm(x, b, w, trans_a=ta, trans_b=tb)
        for nt in (1, 2):
            with threads(nt):
                got = [np.full((32, n), np.nan, dtype) for _ in a]  # beta 0 never reads C
                assert C.gemm_packed_b(a, b, got, trans_a=ta, trans_b=tb)
                assert all(np.array_equal(g, w) for g, w in zip(got, want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_where_gemm_does_not_pack(dtype):
    # M == 1 (GEMV), few row tiles (B read in place), N == 1: nothing packed, same results
    for ms, n in (([1], 64), ([3], 50), ([5, 2], 129), ([40], 1)):
        for tb in (False, True):
            packed, got, want, *_ = run_pair(ms, 77, n, dtype, False, tb, beta=1.0)
            assert all(np.array_equal(g, w) for g, w in zip(got, want))
    packed, *_ = run_pair([1], 77, 64, dtype, False, False)
    assert not packed
    packed, *_ = run_pair([2], 77, 64, dtype, False, False)
    assert not packed


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_for_large_m_used_with_other_m(dtype):
    # packed for 60 rows, then used with 1, 2, 13 and 61 rows: each identical to gemm
    for tb in (False, True):
        packed, got, want, *_ = run_pair([1, 2, 13, 61], 300, 45, dtype, False, tb, beta=0.25, pack_m=60)
        assert packed
        assert all(np.array_equal(g, w) for g, w in zip(got, want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_kc_many_blocks(dtype):
    name = "float32" if dtype == np.float32 else "float64"
    old = C.gemm_blocking(name)
    try:
        C.gemm_blocking(name, kc=40)
        packed, got, want, *_ = run_pair([29, 31], 203, 97, dtype, True, True, beta=1.0)
        assert packed
        assert all(np.array_equal(g, w) for g, w in zip(got, want))
    finally:
        C.gemm_blocking(name, kc=old["kc"])
    assert C.gemm_blocking(name)["kc"] == old["kc"]


def test_empty_and_zero_k():
    b = rand((0, 5), np.float32)
    c = [np.full((7, 5), np.nan, np.float32)]
    packed = C.gemm_packed_b([rand((7, 0), np.float32)], b, c)
    assert not packed
    assert np.array_equal(c[0], np.zeros((7, 5), np.float32))


def test_bad_input():
    b = rand((10, 6), np.float32)
    with pytest.raises(ValueError, match="gemm_packed_b: a .* do not match"):
        C.gemm_packed_b([rand((4, 9), np.float32)], b, [rand((4, 6), np.float32)])
    with pytest.raises(ValueError, match="same \\(non-zero\\) length"):
        C.gemm_packed_b([rand((4, 10), np.float32)], b, [])
    with pytest.raises(TypeError, match="b's dtype"):
        C.gemm_packed_b([rand((4, 10), np.float64)], b, [rand((4, 6), np.float32)])
