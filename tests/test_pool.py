"""Pooling: values, indices and gradients against PyTorch (float32 / float64) over kernels,
strides, paddings, dilations and ceil_mode; float64 central differences for the averages; modules
(incl. Keras-named global pooling); bad arguments raise clear errors."""
import numpy as np
import pytest
from conftest import cuda_array, host_array, requires_cuda, requires_torch, rng

import dlcore
import dlcore.nn.functional as F
import dlcore.nn as nn

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _both(dl_fn, th_fn, x, dtype, distinct=False):
    import torch
    x = x.astype(dtype)
    if distinct:  # a permutation: no ties, so the argmax (and its gradient) is unique
        x = rng(9).permutation(x.size).reshape(x.shape).astype(dtype) / x.size
    xd = dlcore.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = dl_fn(xd), th_fn(xt)
    assert tuple(y.shape) == tuple(yt.shape)
    gy = rng(1).standard_normal(yt.shape).astype(dtype)
    y.backward(dlcore.tensor(gy))
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), **TOL[dtype])


# (shape, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 3, 7, 9), 3, 2, 1, 1, False),
    ((2, 3, 7, 9), 3, 2, 1, 1, True),
    ((1, 2, 10, 11), (3, 2), (2, 3), (1, 1), (2, 1), True),
    ((2, 2, 9, 9), 3, 1, 1, 2, False),
    ((3, 4, 5, 5), 5, 1, 2, 1, False),
    ((2, 2, 6, 6), 2, 2, 1, 1, True),
]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_torch(case, dtype):
    import torch
    shape, k, s, p, d, c = case
    _both(lambda x: F.max_pool2d(x, k, s, p, d, c), lambda x: torch.nn.functional.max_pool2d(x, k, s, p, d, c),
          rng(0).standard_normal(shape), dtype, distinct=True)


@requires_torch
def test_max_pool2d_indices_match_torch_and_ties_route_gradient_to_one_element():
    import torch
    x = rng(2).integers(0, 3, (2, 3, 8, 7)).astype(np.float32)  # many ties
    y, idx = F.max_pool2d(dlcore.tensor(x), 3, 2, 1, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    xd = dlcore.tensor(x, requires_grad=True)
    F.max_pool2d(xd, 2).sum().backward()
    assert xd.grad.numpy().sum() == 2 * 3 * 4 * 3  # one unit of gradient per (4 x 3) window, ties included


@requires_torch
def test_max_pool2d_propagates_nan_like_torch():
    import torch
    x = rng(3).standard_normal((1, 1, 4, 4)).astype(np.float32)
    x[0, 0, 1, 2] = np.nan
    y = F.max_pool2d(dlcore.tensor(x), 2).numpy()
    yt = torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(yt))
    assert np.isnan(y[0, 0, 0, 1])


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_2x2_vector_rows_every_isa(every_isa, dtype):
    # the per-ISA 2x2 stride-2 row loop (ops/pool_loops.h): rows of 1 to 40 outputs reach the
    # native, half and quarter vectors and the scalar tail; ties and NaN (first NaN wins, else the
    # first maximum in (kh, kw) order) must give PyTorch's values and indices
    import torch
    for w in (2, 3, 7, 14, 16, 17, 28, 33, 64, 81):
        x = rng(w).integers(0, 3, (2, 3, 6, w)).astype(dtype)
        x[0, 0, 1, ::5] = np.nan
        x[1, 2, 4, 1::7] = np.nan
        y, idx = F.max_pool2d(dlcore.tensor(x), 2, return_indices=True)
        yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), yt.numpy())
        np.testing.assert_array_equal(idx.numpy(), it.numpy())


# (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [
    ((2, 3, 8, 8), 2, None, 0, False, True, None),
    ((2, 3, 7, 9), 3, 2, 1, False, True, None),
    ((2, 3, 7, 9), 3, 2, 1, False, False, None),
    ((2, 3, 7, 9), 3, 2, 1, True, True, None),
    ((2, 3, 7, 9), 3, 2, 1, True, False, None),
    ((1, 2, 10, 11), (3, 2), (2, 3), (1, 1), True, False, None),
    ((2, 2, 6, 6), 3, 1, 1, False, True, 5),
]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_torch(case, dtype):
    import torch
    shape, k, s, p, c, cip, div = case
    _both(lambda x: F.avg_pool2d(x, k, s, p, c, cip, div),
          lambda x: torch.nn.functional.avg_pool2d(x, k, s, p, c, cip, div), rng(0).standard_normal(shape), dtype)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (3, 4)), ((2, 3, 8, 8), 1), ((1, 2, 5, 6), (5, 6)),
                                       ((2, 2, 10, 7), (4, None)), ((1, 2, 3, 3), (5, 4))])
def test_adaptive_pools_match_torch(shape, out, dtype):
    import torch
    x = rng(0).standard_normal(shape)
    _both(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: torch.nn.functional.adaptive_avg_pool2d(t, out), x, dtype)
    _both(lambda t: F.adaptive_max_pool2d(t, out), lambda t: torch.nn.functional.adaptive_max_pool2d(t, out), x, dtype,
          distinct=True)
    _, idx = F.adaptive_max_pool2d(dlcore.tensor(x), out, return_indices=True)
    _, it = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), it.numpy())


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool1d_matches_torch(dtype):
    import torch
    x = rng(0).standard_normal((2, 3, 17))
    tf = torch.nn.functional
    _both(lambda t: F.max_pool1d(t, 3, 2, 1), lambda t: tf.max_pool1d(t, 3, 2, 1), x, dtype, distinct=True)
    _both(lambda t: F.max_pool1d(t, 4, 3, 1, 2, True), lambda t: tf.max_pool1d(t, 4, 3, 1, 2, True), x, dtype,
          distinct=True)
    _both(lambda t: F.avg_pool1d(t, 3, 2, 1), lambda t: tf.avg_pool1d(t, 3, 2, 1), x, dtype)
    _both(lambda t: F.avg_pool1d(t, 4, 3, 2, True, False), lambda t: tf.avg_pool1d(t, 4, 3, 2, True, False), x, dtype)
    _, idx = F.max_pool1d(dlcore.tensor(x), 3, 2, 1, return_indices=True)
    _, it = tf.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), it.numpy())


def _numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f(a)
        a[i] = old - eps
        fm = f(a)
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("fn", [
    lambda x: F.avg_pool2d(x, 3, 2, 1, True, False),
    lambda x: F.avg_pool2d(x, 2, 1, 1),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.adaptive_max_pool2d(x, (2, 2)),
])
def test_gradients_central_differences(fn):
    a = rng(5).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6).astype(np.float64) / 10  # spaced: no max kinks
    probe = rng(6).standard_normal(tuple(fn(dlcore.tensor(a)).shape))
    loss = lambda arr: float((fn(dlcore.tensor(arr)) * dlcore.tensor(probe)).sum().item())  # noqa: E731
    x = dlcore.tensor(a.copy(), requires_grad=True)
    (fn(x) * dlcore.tensor(probe)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _numeric_grad(loss, a), rtol=1e-6, atol=1e-8)


def test_modules_and_global_pooling():
    x = dlcore.tensor(rng(7).standard_normal((2, 3, 6, 5)))
    xn = x.numpy()
    np.testing.assert_allclose(nn.GlobalAveragePooling2D()(x).numpy(), xn.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_array_equal(nn.GlobalMaxPooling2D()(x).numpy(), xn.max(axis=(2, 3)))
    assert tuple(nn.GlobalAveragePooling2D(keepdims=True)(x).shape) == (2, 3, 1, 1)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(x).numpy()[..., 0, 0], xn.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_array_equal(nn.AdaptiveMaxPool2d((1, 1))(x).numpy()[..., 0, 0], xn.max(axis=(2, 3)))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).numpy(), xn[:, :, :6, :4].reshape(2, 3, 3, 2, 2, 2).max(axis=(3, 5)))
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).numpy(), xn[:, :, :6, :4].reshape(2, 3, 3, 2, 2, 2).mean(axis=(3, 5)),
                               rtol=1e-12)
    x1 = dlcore.tensor(rng(8).standard_normal((2, 3, 8)))
    np.testing.assert_array_equal(nn.MaxPool1d(2)(x1).numpy(), x1.numpy().reshape(2, 3, 4, 2).max(axis=3))
    np.testing.assert_allclose(nn.AvgPool1d(4)(x1).numpy(), x1.numpy().reshape(2, 3, 2, 4).mean(axis=3), rtol=1e-12)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert idx.dtype == dlcore.int64 and tuple(idx.shape) == (2, 3, 3, 2)
    # unbatched (C, H, W) input
    np.testing.assert_array_equal(F.max_pool2d(x[0], 2).numpy(), nn.MaxPool2d(2)(x).numpy()[0])


@pytest.mark.parametrize("call,msg", [
    (lambda: F.max_pool2d(dlcore.randn(1, 1, 4, 4), 5), "larger than the input"),
    (lambda: F.max_pool2d(dlcore.randn(1, 1, 4, 4), 3, dilation=2), "larger than the input"),
    (lambda: F.max_pool2d(dlcore.randn(1, 1, 8, 8), 2, padding=2), "at most half the kernel size"),
    (lambda: F.avg_pool2d(dlcore.randn(1, 1, 8, 8), 2, stride=0), "stride must be positive"),
    (lambda: F.avg_pool2d(dlcore.randn(1, 1, 8, 8), 2, divisor_override=0), "divisor_override"),
    (lambda: F.max_pool2d(dlcore.randn(4, 4), 2), "expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape (4, 4)"),
    (lambda: F.max_pool1d(dlcore.randn(1, 1, 1, 4), 2), "got shape (1, 1, 1, 4)"),
    (lambda: F.adaptive_avg_pool2d(dlcore.randn(1, 1, 4, 4), 0), "output_size must be positive"),
    (lambda: F.adaptive_max_pool2d(dlcore.randn(1, 1, 4, 4), (1, 2, 3)), "output_size must be"),
    (lambda: F.avg_pool1d(dlcore.randn(1, 2, 3), 4), "larger than the input"),
])
def test_bad_arguments_raise_value_errors(call, msg):
    with pytest.raises(ValueError) as e:
        call()
    assert msg in str(e.value)


# ---- CUDA kernels against the CPU kernels (skip without a GPU) --------------------------------

@requires_cuda
@pytest.mark.cuda
def test_cuda_pool_kernels_match_cpu():
    C_ = dlcore._C
    dev, host = cuda_array, host_array
    x = rng(12).standard_normal((2, 3, 9, 11)).astype(np.float32)
    for k, s, p, d, c in [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 2), (2, 3), (1, 1), (2, 1), True)]:
        y, i = C_.max_pool2d(x, k, s, p, d, c)
        yd, idd = C_.max_pool2d(dev(x), k, s, p, d, c)
        np.testing.assert_array_equal(host(yd), y)
        np.testing.assert_array_equal(host(idd), i)
        gy = rng(13).standard_normal(y.shape).astype(np.float32)
        np.testing.assert_allclose(host(C_.max_pool2d_backward(dev(gy), dev(i), (9, 11))),
                                   C_.max_pool2d_backward(gy, i, (9, 11)), rtol=1e-6, atol=1e-6)
        for cip in (True, False):
            ya = C_.avg_pool2d(x, k, s, (p[0] if 2 * p[0] <= k[0] else 0, 0), c, cip, 0)
            np.testing.assert_allclose(host(C_.avg_pool2d(dev(x), k, s, (p[0] if 2 * p[0] <= k[0] else 0, 0), c, cip, 0)),
                                       ya, rtol=1e-5, atol=1e-6)
            gya = rng(14).standard_normal(ya.shape).astype(np.float32)
            args = ((9, 11), k, s, (p[0] if 2 * p[0] <= k[0] else 0, 0), c, cip, 0)
            np.testing.assert_allclose(host(C_.avg_pool2d_backward(dev(gya), *args)),
                                       C_.avg_pool2d_backward(gya, *args), rtol=1e-5, atol=1e-6)
    for out in [(1, 1), (4, 3), (9, 11)]:
        np.testing.assert_allclose(host(C_.adaptive_avg_pool2d(dev(x), out)), C_.adaptive_avg_pool2d(x, out), rtol=1e-5)
        gy = rng(15).standard_normal((2, 3) + out).astype(np.float32)
        np.testing.assert_allclose(host(C_.adaptive_avg_pool2d_backward(dev(gy), (9, 11))),
                                   C_.adaptive_avg_pool2d_backward(gy, (9, 11)), rtol=1e-5, atol=1e-6)
        ym, im = C_.adaptive_max_pool2d(x, out)
        ymd, imd = C_.adaptive_max_pool2d(dev(x), out)
        np.testing.assert_array_equal(host(ymd), ym)
        np.testing.assert_array_equal(host(imd), im)


@requires_torch
@pytest.mark.parametrize("shape,k,s,p,d", [((1, 2, 2, 2), 3, 2, 0, 1), ((1, 1, 3, 5), (3, 4), 2, 0, 1),
                                           ((1, 1, 4, 4), 2, 3, 1, 2), ((2, 1, 5, 3), (2, 3), 2, 1, 1)])
def test_max_pool2d_ceil_mode_windows_hanging_over_the_edge(shape, k, s, p, d):
    import torch
    _both(lambda x: F.max_pool2d(x, k, s, p, d, True), lambda x: torch.nn.functional.max_pool2d(x, k, s, p, d, True),
          rng(0).standard_normal(shape), np.float64, distinct=True)
