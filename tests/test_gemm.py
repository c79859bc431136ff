"""GEMM family (csrc/ops/gemm.*, csrc/kernels/gemm_*): values against NumPy in float64 on
seeded inputs, every ISA path this CPU supports, all transposes via non-contiguous views,
alpha/beta, beta=0 with NaN in C, odd/prime sizes, empty dims, bitwise determinism across
thread counts, batched broadcasting, the fused linear, and error messages."""
import numpy as np
import pytest

import dlcore._C as C
from conftest import isa, threads

ISAS = C.supported_isas()
RNG = np.random.default_rng(1234)


def rand(shape, dtype):
    return RNG.standard_normal(shape).astype(dtype)


def tol(dtype, k):
    # float32: rtol ~1e-4 scaled by sqrt(K), relative to the size of the terms summed
    return (2e-5 * max(1.0, np.sqrt(k))) if dtype == np.float32 else 1e-12 * max(1.0, np.sqrt(k))


def check(got, a, b, dtype, alpha=1.0, beta=0.0, c0=None):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = alpha * (a64 @ b64)
    if beta != 0.0:
        ref = ref + beta * c0.astype(np.float64)
    k = a.shape[-1]
    # error bound per element: |alpha| * sum_k |a||b| + |beta c|
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        scale = scale + abs(beta) * np.abs(c0.astype(np.float64))
    scale = np.maximum(scale, 1e-30)
    assert got.dtype == dtype
    assert got.shape == ref.shape
    err = np.abs(got.astype(np.float64) - ref) / scale
    assert np.all(np.isfinite(got))
    assert err.max(initial=0.0) <= tol(dtype, k), f"max scaled error {err.max()} (K={k})"


def views(a, transposed):
    """The same values as a, stored transposed (so a non-contiguous view is passed)."""
    return np.ascontiguousarray(a.T).T if transposed else a


SIZES = [(1, 1, 1), (2, 3, 2), (7, 17, 31), (17, 7, 33), (31, 33, 127), (129, 255, 127),
         (33, 1000, 17), (131, 97, 257), (1, 257, 129), (129, 257, 1), (6, 256, 16), (12, 513, 48)]


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_matmul_transposes_views(isa_name, dtype, ta, tb):
    with isa(isa_name):
        for M, K, N in SIZES:
            a, b = rand((M, K), dtype), rand((K, N), dtype)
            check(C.matmul(views(a, ta), views(b, tb)), a, b, dtype)


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_alpha_beta_all_transposes(isa_name, dtype):
    with isa(isa_name):
        for M, K, N in [(7, 13, 29), (64, 300, 70), (1, 40, 50), (50, 40, 1), (97, 5, 101)]:
            for ta in (False, True):
                for tb in (False, True):
                    a, b = rand((M, K), dtype), rand((K, N), dtype)
                    sa = np.ascontiguousarray(a.T) if ta else a
                    sb = np.ascontiguousarray(b.T) if tb else b
                    c0 = rand((M, N), dtype)
                    for alpha, beta in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (1.5, -1.0)]:
                        c = c0.copy()
                        C.gemm(sa, sb, c, alpha, beta, ta, tb)
                        check(c, a, b, dtype, alpha, beta, c0)


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_beta_zero_ignores_nan(isa_name, dtype):
    with isa(isa_name):
        for M, K, N in [(1, 64, 100), (100, 64, 1), (37, 300, 53), (6, 16, 16), (200, 50, 300)]:
            a, b = rand((M, K), dtype), rand((K, N), dtype)
            c = np.full((M, N), np.nan, dtype)
            C.gemm(a, b, c, 1.0, 0.0)
            check(c, a, b, dtype)
            out = np.full((M, N), np.nan, dtype)
            C.matmul(a, b, out=out)
            check(out, a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_and_strided(dtype):
    # sizes around the cache blocks, leading dims larger than the width, sliced views
    big_a, big_b = rand((1100, 700), dtype), rand((700, 1200), dtype)
    for isa_name in ISAS:
        with isa(isa_name):
            a = big_a[3:1003:1, 5:600]          # lda > K, offset start
            b = big_b[5:600, 7:1120:3]          # column stride 3: no unit stride in columns
            check(C.matmul(a, b), a, b, dtype)
            at = big_a[::2, ::3]                # both strides non-unit
            bt = big_b[::3, ::2][: at.shape[1]]
            check(C.matmul(at, bt), at, bt, dtype)


def test_odd_sizes_float32_fast_path():
    for M, K, N in [(255, 129, 1000), (1000, 31, 7), (127, 1000, 129), (2, 2, 2)]:
        a, b = rand((M, K), np.float32), rand((K, N), np.float32)
        check(C.matmul(a, b), a, b, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_dims(dtype):
    for M, K, N in [(0, 5, 3), (4, 5, 0), (0, 0, 0)]:
        r = C.matmul(np.zeros((M, K), dtype), np.zeros((K, N), dtype))
        assert r.shape == (M, N)
    # K == 0: product is empty, result is beta * C (and beta = 0 writes zeros, even over NaN)
    a, b = np.zeros((3, 0), dtype), np.zeros((0, 4), dtype)
    np.testing.assert_array_equal(C.matmul(a, b), np.zeros((3, 4), dtype))
    c = np.full((3, 4), 2.0, dtype)
    C.gemm(a, b, c, 1.0, 0.5)
    np.testing.assert_array_equal(c, np.full((3, 4), 1.0, dtype))
    c = np.full((3, 4), np.nan, dtype)
    C.gemm(a, b, c, 1.0, 0.0)
    np.testing.assert_array_equal(c, np.zeros((3, 4), dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_deterministic_across_threads(dtype):
    cases = [(1, 1024, 1000), (1000, 1024, 1), (300, 400, 500), (517, 129, 1031), (64, 1500, 512),
             (3136 // 4, 576, 64)]
    for isa_name in ISAS:
        with isa(isa_name):
            for M, K, N in cases:
                a, b = rand((M, K), dtype), rand((K, N), dtype)
                for ta, tb in [(False, False), (True, True), (False, True)]:
                    av, bv = views(a, ta), views(b, tb)
                    with threads(1):
                        r1 = C.matmul(av, bv)
                    with threads(2):
                        r2 = C.matmul(av, bv)
                    with threads(3):
                        r3 = C.matmul(av, bv)
                    assert np.array_equal(r1, r2) and np.array_equal(r1, r3), (isa_name, M, K, N, ta, tb)
            x, w, bias = rand((257, 300), dtype), rand((130, 300), dtype), rand(130, dtype)
            with threads(1):
                l1 = C.linear(x, w, bias, "relu")
            with threads(2):
                l2 = C.linear(x, w, bias, "relu")
            assert np.array_equal(l1, l2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_a_matches_packed_a_bitwise(dtype):
    # A row-major is read in place by narrow rectangles (direct A); the same A stored
    # column-major must be packed. Same FMA sequence per element: identical bits, including
    # bottom / right edge tiles, beta != 0 and the fused bias + relu epilogue.
    for M, K, N in [(7, 5, 3), (13, 17, 33), (131, 784, 250), (3137, 57, 64), (31, 400, 17)]:
        a, b, c = rand((M, K), dtype), rand((K, N), dtype), rand((M, N), dtype)
        a_f = np.asfortranarray(a)
        assert a.strides[1] == a.itemsize and a_f.strides[1] != a_f.itemsize
        for nt in (1, 2):
            with threads(nt):
                c1, c2 = c.copy(), c.copy()
                C.gemm(a, b, c1, alpha=0.5, beta=1.5)
                C.gemm(a_f, b, c2, alpha=0.5, beta=1.5)
                assert np.array_equal(c1, c2), (M, K, N, nt)
                w, bias = rand((N, K), dtype), rand(N, dtype)
                assert np.array_equal(C.linear(a, w, bias, "relu"), C.linear(a_f, w, bias, "relu"))
        ref = 0.5 * (a.astype(np.float64) @ b) + 1.5 * c
        np.testing.assert_allclose(c1, ref, rtol=1e-4 if dtype == np.float32 else 1e-11,
                                   atol=1e-3 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_bits_do_not_depend_on_width(dtype):
    # A column of C is computed by a full tile, a half-width right-edge tile or a temp edge tile
    # depending on N; each does the same FMA sequence per element, so C[:, :n] of the narrow
    # product equals the first n columns of a wide one bit for bit (packed and direct A,
    # beta != 0, 1 and 2 threads, every ISA).
    for isa_name in ISAS:
        with isa(isa_name):
            for M, K in [(5, 37), (100, 300), (13, 600)]:
                a, b, c = rand((M, K), dtype), rand((K, 80), dtype), rand((M, 80), dtype)
                for a_ in (a, np.asfortranarray(a)):
                    for nt in (1, 2):
                        with threads(nt):
                            wide = c.copy()
                            C.gemm(a_, b, wide, alpha=0.5, beta=1.5)
                            for n in (2, 7, 8, 10, 16, 18, 31, 33, 50):  # n = 1 is the GEMV path
                                narrow = np.ascontiguousarray(c[:, :n])
                                C.gemm(a_, np.ascontiguousarray(b[:, :n]), narrow, alpha=0.5, beta=1.5)
                                assert np.array_equal(narrow, wide[:, :n]), (isa_name, M, K, n, nt)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_broadcasting(dtype):
    cases = [((5, 7, 9), (5, 9, 4)), ((3, 1, 7, 9), (4, 9, 6)), ((2, 3, 33, 17), (1, 17, 65)),
             ((64, 8, 16), (16, 8)), ((6, 40, 50), (6, 50, 1)), ((6, 1, 50), (50, 30))]
    for sa, sb in cases:
        a, b = rand(sa, dtype), rand(sb, dtype)
        if len(sb) == 2:
            b2 = b
        else:
            b2 = b
        got = C.matmul(a, b2)
        ref = np.matmul(a.astype(np.float64), b2.astype(np.float64))
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-4 if dtype == np.float32 else 1e-11,
                                   atol=1e-4 if dtype == np.float32 else 1e-11)
    # transposed batch views and determinism of the batch-parallel path
    a = rand((16, 20, 30), dtype).transpose(0, 2, 1)    # (16, 30, 20), non-contiguous
    b = rand((20, 16, 12), dtype).transpose(1, 0, 2)    # (16, 20, 12)
    with threads(1):
        r1 = C.matmul(a, b)
    with threads(2):
        r2 = C.matmul(a, b)
    assert np.array_equal(r1, r2)
    np.testing.assert_allclose(r1, np.matmul(a.astype(np.float64), b.astype(np.float64)),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_fused(isa_name, dtype):
    with isa(isa_name):
        for xs, out_f in [((1, 1024), 1000), ((128, 784), 256), ((4, 5, 33), 17), ((7,), 3),
                          ((2, 3, 4, 64), 129), ((300, 1), 5)]:
            x, w, bias = rand(xs, dtype), rand((out_f, xs[-1]), dtype), rand(out_f, dtype)
            x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64)
            k = xs[-1]
            rt = 1e-4 * np.sqrt(k) if dtype == np.float32 else 1e-11
            for act in ("none", "relu"):
                for bb in (bias, None):
                    ref = x64 @ w64.T + (b64 if bb is not None else 0)
                    if act == "relu":
                        ref = np.maximum(ref, 0)
                    got = C.linear(x, w, bb, act)
                    assert got.shape == ref.shape and got.dtype == dtype
                    np.testing.assert_allclose(got, ref, rtol=rt, atol=rt)
        # non-contiguous x (leading dims that do not collapse) and a strided bias
        x = rand((6, 10, 40), dtype)[:, ::2, :]
        w = rand((40, 30), dtype).T            # (30, 40) transposed storage
        bias = rand(60, dtype)[::2]
        ref = np.maximum(x.astype(np.float64) @ w.astype(np.float64).T + bias, 0)
        np.testing.assert_allclose(C.linear(x, w, bias, "relu"), ref, rtol=1e-4, atol=1e-4)


def test_linear_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    x, w, b = rand((33, 70), np.float32), rand((45, 70), np.float32), rand(45, np.float32)
    ref = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(C.linear(x, w, b), ref, rtol=1e-5, atol=1e-4)


def test_errors_are_python_exceptions():
    f = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="not aligned"):
        C.matmul(f, np.zeros((5, 2), np.float32))
    with pytest.raises(TypeError, match="dtypes differ"):
        C.matmul(f, np.zeros((4, 2), np.float64))
    with pytest.raises(TypeError):
        C.matmul(np.zeros((3, 4), np.int64), np.zeros((4, 2), np.int64))
    with pytest.raises(TypeError, match="must be an array"):
        C.matmul([[1.0]], f)
    with pytest.raises(ValueError, match="output must be contiguous"):
        C.matmul(f, np.zeros((4, 2), np.float32), out=np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="inner dimensions"):
        C.gemm(f, np.zeros((5, 2), np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="c has shape"):
        C.gemm(f, np.zeros((4, 2), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="read-only"):
        c = np.zeros((3, 2), np.float32)
        c.setflags(write=False)
        C.gemm(f, np.zeros((4, 2), np.float32), c)
    with pytest.raises(ValueError, match="features"):
        C.linear(f, np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="bias"):
        C.linear(f, np.zeros((5, 4), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="activation"):
        C.linear(f, np.zeros((5, 4), np.float32), None, "gelu")
    with pytest.raises(ValueError, match="weight"):
        C.linear(f, np.zeros((4,), np.float32))


def test_fma_peak_probe_and_blocking():
    if "avx2" in ISAS:
        assert C.fma_peak_gflops(1) > 1.0
    bl = C.gemm_blocking("float32")
    assert bl["mc"] % bl["mr"] == 0 and bl["nc"] % bl["nr"] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_fortran_ordered_c(dtype):
    a, b = rand((37, 20), dtype), rand((20, 45), dtype)
    c0 = rand((37, 45), dtype)
    c = np.asfortranarray(c0)
    C.gemm(a, b, c, 2.0, 0.5)
    check(c, a, b, dtype, 2.0, 0.5, c0)
    c = np.asfortranarray(np.full((37, 45), np.nan, dtype))
    C.gemm(np.ascontiguousarray(a.T), b, c, 1.0, 0.0, True, False)
    check(c, a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (7,)])
def test_functional_linear_forward_and_gradients(dtype, bias, shape):
    # F.linear (the path of nn.Linear) runs one fused GEMM; its gradients against float64
    # central differences and its values against NumPy.
    import dlcore
    import dlcore.nn.functional as F
    from gradcheck import gradcheck
    r = np.random.default_rng(5)
    x = r.standard_normal(shape).astype(dtype)
    w = r.standard_normal((4, 7)).astype(dtype)
    b = r.standard_normal(4).astype(dtype) if bias else None
    got = F.linear(dlcore.tensor(x), dlcore.tensor(w), dlcore.tensor(b) if bias else None).numpy()
    ref = x @ w.T + (b if bias else 0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    ins = [x.astype(np.float64), w.astype(np.float64)] + ([b.astype(np.float64)] if bias else [])
    gradcheck(lambda *t: F.linear(*t), ins)
