"""Keras-style image layers (dlcore.layers conv / pool / reshaping, BatchNormalization's axis,
Flatten's order): values and gradients (input and weights) against PyTorch on the same weights
in float64, in both data formats; Keras-layout weights against NumPy references written from
Keras's definitions; the same model in channels_last and channels_first gives the same result;
output shapes as Keras computes them (compute_output_shape, summary); bad arguments raise clear
errors; F.pad against PyTorch."""
import functools
import inspect
import math
import re

import numpy as np
import pytest
from conftest import requires_torch, rng

import dlcore
import dlcore.nn.functional as F
from dlcore import layers, serialization

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # test-only reference
    torch = None

TOL = dict(rtol=1e-10, atol=1e-10)
FORMATS = ["channels_last", "channels_first"]


def npy(t):
    return np.asarray(t.detach()._data)


def _cf(a):
    """A channels-last array (N, ..., C) as channels-first (N, C, ...)."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _cl(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _tf_same(n, k, s, d=1):
    """TensorFlow's 'same' padding (before, after): ceil(n / s) outputs, the odd pad after."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _check_vs_torch(layer, x_cl, params, torch_fn, data_format, seed=1, tol=TOL):
    """Runs layer on x (given channels-last; fed in data_format) in float64 and torch_fn on the
    channels-first input with copies of params(layer); compares the output, the input gradient
    and every parameter gradient for the same random upstream gradient."""
    x = x_cl if data_format == "channels_last" else _cf(x_cl)
    xd = dlcore.tensor(x, requires_grad=True)
    y = layer(xd)
    ps = params(layer)
    tps = [torch.tensor(npy(p), requires_grad=True) for p in ps]
    xt = torch.tensor(_cf(x_cl), requires_grad=True)
    ref = torch_fn(xt, *tps)
    ref_np = ref.detach().numpy()
    want = _cl(ref_np) if data_format == "channels_last" else ref_np
    assert tuple(y.shape) == want.shape, (tuple(y.shape), want.shape)
    np.testing.assert_allclose(npy(y), want, **tol)
    g = rng(seed).normal(size=want.shape)
    y.backward(dlcore.tensor(g))
    ref.backward(torch.tensor(_cf(g) if data_format == "channels_last" else g))
    gx = xt.grad.numpy()
    np.testing.assert_allclose(npy(xd.grad), _cl(gx) if data_format == "channels_last" else gx, **tol)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(npy(p.grad), tp.grad.numpy(), **tol)
    return y


def _x(shape, seed=0):
    return rng(seed).normal(size=shape)


# ---- Conv2D -------------------------------------------------------------------------------------

CONV2D = [dict(kernel_size=3), dict(kernel_size=3, padding="same"), dict(kernel_size=2, padding="same"),
          dict(kernel_size=3, strides=2, padding="same"), dict(kernel_size=2, strides=2, padding="same"),
          dict(kernel_size=(3, 2), strides=(2, 3), padding="same"), dict(kernel_size=4, strides=3, padding="same"),
          dict(kernel_size=5, strides=2, padding="valid"), dict(kernel_size=3, dilation_rate=2, padding="same"),
          dict(kernel_size=3, groups=2, strides=2, padding="same"), dict(kernel_size=1, strides=2),
          dict(kernel_size=3, padding=1)]


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kw", CONV2D, ids=str)
def test_conv2d_vs_torch(kw, data_format):
    k = (kw["kernel_size"],) * 2 if isinstance(kw["kernel_size"], int) else kw["kernel_size"]
    s = kw.get("strides", 1)
    s = (s, s) if isinstance(s, int) else s
    d = kw.get("dilation_rate", 1)
    pad = kw.get("padding", "valid")
    x = _x((2, 9, 8, 4))

    def ref(xt, w, b):
        if pad == "same":
            (t, bo), (le, r) = (_tf_same(n, kk, ss, d) for n, kk, ss in zip((9, 8), k, s))
            xt = TF.pad(xt, (le, r, t, bo))
        elif isinstance(pad, int):
            xt = TF.pad(xt, (pad,) * 4)
        return torch.conv2d(xt, w, b, s, 0, d, kw.get("groups", 1))

    layer = layers.Conv2D(6, data_format=data_format, **kw)
    y = _check_vs_torch(layer, x, lambda m: [m.conv.weight, m.conv.bias], ref, data_format)
    if pad == "same":  # Keras: ceil(size / stride) positions whatever the kernel
        sp = y.shape[1:3] if data_format == "channels_last" else y.shape[2:]
        assert tuple(sp) == (math.ceil(9 / s[0]), math.ceil(8 / s[1]))


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
def test_conv2d_activation_and_no_bias(data_format):
    layer = layers.Conv2D(5, 3, padding="same", strides=2, activation="relu", use_bias=False, data_format=data_format)
    x = _x((2, 7, 7, 3))

    def ref(xt, w):
        return torch.relu(torch.conv2d(TF.pad(xt, (1, 1, 1, 1)), w, None, 2))

    _check_vs_torch(layer, x, lambda m: [m.conv.weight], ref, data_format)
    assert layer.conv.bias is None and [w.shape for w in layer.get_weights()] == [(3, 3, 3, 5)]


def _windows(x, k, s, axis_start=1):
    """sliding windows of a channels-last array over its spatial axes (NumPy reference)."""
    v = np.lib.stride_tricks.sliding_window_view(x, k, axis=tuple(range(axis_start, axis_start + len(k))))
    sl = (slice(None),) + tuple(slice(None, None, st) for st in s)
    return v[sl]


def test_conv2d_keras_kernel_layout_vs_numpy():
    """get_weights gives Keras's (kh, kw, in, out) kernel: y[n, i, j, o] =
    sum x[n, i*s + a, j*s + b, c] * K[a, b, c, o] + bias[o]; set_weights takes it back."""
    layer = layers.Conv2D(4, (3, 2), strides=(2, 1))
    x = _x((2, 9, 7, 3))
    y = layer(dlcore.tensor(x))
    K, b = rng(3).normal(size=(3, 2, 3, 4)), rng(4).normal(size=4)
    layer.set_weights([K, b])
    y = layer(dlcore.tensor(x))
    win = _windows(x, (3, 2), (2, 1))  # (N, oh, ow, C, 3, 2)
    want = np.einsum("nijcab,abco->nijo", win, K) + b
    np.testing.assert_allclose(npy(y), want, rtol=1e-5, atol=1e-5)
    got = layer.get_weights()
    np.testing.assert_allclose(got[0], K, rtol=1e-6)
    np.testing.assert_allclose(got[1], b, rtol=1e-6)
    assert tuple(layer.conv.weight.shape) == (4, 3, 3, 2)  # the nn module keeps PyTorch's layout


def test_conv2d_same_strided_pads_bottom_right_as_tensorflow():
    """6 wide, kernel 3, stride 2: TensorFlow pads 0 on the left and 1 on the right (not 1 / 0):
    checked with a kernel that reads only its first column."""
    layer = layers.Conv2D(1, (1, 3), strides=(1, 2), padding="same", use_bias=False)
    x = np.arange(6.0).reshape(1, 1, 6, 1)
    layer(dlcore.tensor(x))
    K = np.zeros((1, 3, 1, 1))
    K[0, 0] = 1.0  # output j = x[2j - left pad]
    layer.set_weights([K])
    np.testing.assert_array_equal(npy(layer(dlcore.tensor(x))).ravel(), [0.0, 2.0, 4.0])


# ---- Conv1D -------------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, padding="same"),
                                dict(kernel_size=4, strides=2, padding="same"), dict(kernel_size=3, padding="causal"),
                                dict(kernel_size=2, dilation_rate=3, padding="causal"),
                                dict(kernel_size=3, groups=2, strides=3)], ids=str)
def test_conv1d_vs_torch(kw, data_format):
    k, s, d = kw["kernel_size"], kw.get("strides", 1), kw.get("dilation_rate", 1)
    pad = kw.get("padding", "valid")

    def ref(xt, w, b):
        if pad == "same":
            xt = TF.pad(xt, _tf_same(11, k, s, d))
        elif pad == "causal":
            xt = TF.pad(xt, ((k - 1) * d, 0))
        return torch.conv1d(xt, w, b, s, 0, d, kw.get("groups", 1))

    layer = layers.Conv1D(6, data_format=data_format, **kw)
    _check_vs_torch(layer, _x((3, 11, 4)), lambda m: [m.conv.weight, m.conv.bias], ref, data_format)


def test_conv1d_causal_sees_only_the_past_and_keras_layout():
    layer = layers.Conv1D(2, 3, padding="causal")
    x = _x((1, 8, 3))
    layer(dlcore.tensor(x))
    K, b = rng(5).normal(size=(3, 3, 2)), np.zeros(2)
    layer.set_weights([K, b])
    y = npy(layer(dlcore.tensor(x)))
    xp = np.concatenate([np.zeros((1, 2, 3)), x], axis=1)
    want = np.stack([np.einsum("kc,kco->o", xp[0, t:t + 3], K) for t in range(8)])[None]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    x2 = x.copy()
    x2[0, 5:] += 1.0  # changing the future leaves the first 5 outputs alone
    np.testing.assert_array_equal(npy(layer(dlcore.tensor(x2)))[0, :5], y[0, :5])


# ---- Conv2DTranspose ----------------------------------------------------------------------------

def _keras_deconv_len(n, k, s, pad, op, d=1):
    """Keras's deconvolution output length."""
    k = (k - 1) * d + 1
    if op is None:
        return n * s + max(k - s, 0) if pad == "valid" else n * s
    return (n - 1) * s + k - 2 * (k // 2 if pad == "same" else 0) + op


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, strides=2),
                                dict(kernel_size=3, strides=2, padding="same"),
                                dict(kernel_size=4, strides=2, padding="same"),
                                dict(kernel_size=2, strides=3), dict(kernel_size=1, strides=2, padding="same"),
                                dict(kernel_size=(3, 4), strides=(2, 3), padding="same"),
                                dict(kernel_size=3, strides=2, padding="same", output_padding=1),
                                dict(kernel_size=3, strides=2, padding="valid", output_padding=1),
                                dict(kernel_size=3, dilation_rate=2, padding="same")], ids=str)
def test_conv2d_transpose_vs_torch(kw, data_format):
    """Reference: PyTorch's full transposed convolution, then the window TensorFlow keeps for
    Keras's output size (zeros past the full output's end)."""
    k = kw["kernel_size"]
    k = (k, k) if isinstance(k, int) else k
    s = kw.get("strides", 1)
    s = (s, s) if isinstance(s, int) else s
    d = kw.get("dilation_rate", 1)
    pad, op = kw.get("padding", "valid"), kw.get("output_padding")
    hw = (5, 4)
    out = [_keras_deconv_len(n, kk, ss, pad, op, d) for n, kk, ss in zip(hw, k, s)]

    def ref(xt, w, b):
        full = torch.conv_transpose2d(xt, w, None, s, 0, 0, 1, d)
        for i in range(2):
            span = (hw[i] - 1) * s[i] + (k[i] - 1) * d + 1
            before = max(span - out[i], 0) // 2 if pad == "same" else 0
            if full.shape[2 + i] < before + out[i]:
                extra = [0, 0, 0, 0]
                extra[3 - 2 * i] = before + out[i] - full.shape[2 + i]
                full = TF.pad(full, extra)
            full = full.narrow(2 + i, before, out[i])
        return full + b.reshape(1, -1, 1, 1)

    layer = layers.Conv2DTranspose(3, data_format=data_format, **kw)
    _check_vs_torch(layer, _x((2, 5, 4, 4)), lambda m: [m.conv.weight, m.conv.bias], ref, data_format)


def test_conv2d_transpose_keras_layout_vs_numpy():
    """Kernel (kh, kw, filters, in): y[n, i*s + a, j*s + b, o] += x[n, i, j, c] * K[a, b, o, c]."""
    layer = layers.Conv2DTranspose(2, 3, strides=2)
    x = _x((1, 3, 4, 5))
    layer(dlcore.tensor(x))
    K, b = rng(6).normal(size=(3, 3, 2, 5)), rng(7).normal(size=2)
    layer.set_weights([K, b])
    want = np.zeros((1, 7, 9, 2)) + b
    for i in range(3):
        for j in range(4):
            want[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum("c,aboc->abo", x[0, i, j], K)
    np.testing.assert_allclose(npy(layer(dlcore.tensor(x))), want, rtol=1e-5, atol=1e-5)


# ---- DepthwiseConv2D / SeparableConv2D ----------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, depth_multiplier=2, padding="same"),
                                dict(kernel_size=2, strides=2, padding="same", depth_multiplier=3),
                                dict(kernel_size=3, dilation_rate=2)], ids=str)
def test_depthwise_conv2d_vs_torch(kw, data_format):
    k, s, d = kw["kernel_size"], kw.get("strides", 1), kw.get("dilation_rate", 1)

    def ref(xt, w, b):
        if kw.get("padding") == "same":
            (t, bo), (le, r) = _tf_same(7, k, s, d), _tf_same(8, k, s, d)
            xt = TF.pad(xt, (le, r, t, bo))
        return torch.conv2d(xt, w, b, s, 0, d, 4)

    layer = layers.DepthwiseConv2D(data_format=data_format, **kw)
    _check_vs_torch(layer, _x((2, 7, 8, 4)), lambda m: [m.conv.weight, m.conv.bias], ref, data_format)


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, depth_multiplier=2, padding="same", strides=2),
                                dict(kernel_size=3, use_bias=False, activation="tanh")], ids=str)
def test_separable_conv2d_vs_torch(kw, data_format):
    s = kw.get("strides", 1)

    def ref(xt, wd, wp, b=None):
        if kw.get("padding") == "same":
            xt = TF.pad(xt, _tf_same(8, 3, s) + _tf_same(7, 3, s))
        y = torch.conv2d(torch.conv2d(xt, wd, None, s, 0, 1, 3), wp, b)
        return torch.tanh(y) if kw.get("activation") == "tanh" else y

    layer = layers.SeparableConv2D(5, data_format=data_format, **kw)
    params = (lambda m: [m.depthwise.weight, m.pointwise.weight] +
              ([m.pointwise.bias] if kw.get("use_bias", True) else []))
    _check_vs_torch(layer, _x((2, 7, 8, 3)), params, ref, data_format)


def test_depthwise_and_separable_keras_layouts_vs_numpy():
    """depthwise kernel (kh, kw, in, m): output channel c * m + mi = sum x[.., c] * K[a, b, c, mi];
    pointwise kernel (1, 1, in * m, filters)."""
    x = _x((2, 6, 5, 3))
    dw = layers.DepthwiseConv2D(2, depth_multiplier=2)
    dw(dlcore.tensor(x))
    K, b = rng(8).normal(size=(2, 2, 3, 2)), rng(9).normal(size=6)
    dw.set_weights([K, b])
    win = _windows(x, (2, 2), (1, 1))  # (N, oh, ow, C, 2, 2)
    want = np.einsum("nijcab,abcm->nijcm", win, K).reshape(2, 5, 4, 6) + b
    np.testing.assert_allclose(npy(dw(dlcore.tensor(x))), want, rtol=1e-5, atol=1e-5)
    sep = layers.SeparableConv2D(4, 2, depth_multiplier=2)
    sep(dlcore.tensor(x))
    P, pb = rng(10).normal(size=(1, 1, 6, 4)), rng(11).normal(size=4)
    sep.set_weights([K, P, pb])
    want2 = np.einsum("nijc,co->nijo", want - b, P[0, 0]) + pb
    np.testing.assert_allclose(npy(sep(dlcore.tensor(x))), want2, rtol=1e-5, atol=1e-5)
    assert [w.shape for w in sep.get_weights()] == [(2, 2, 3, 2), (1, 1, 6, 4), (4,)]


def test_default_initializers_are_keras():
    """glorot_uniform kernels (Keras's fans, also for the depthwise kernel) and zero biases."""
    cases = [(layers.Conv2D(16, 3), (2, 8, 8, 8), [3 * 3 * 8, 3 * 3 * 16]),
             (layers.Conv1D(16, 5), (2, 9, 8), [5 * 8, 5 * 16]),
             (layers.Conv2DTranspose(16, 3), (2, 4, 4, 8), [3 * 3 * 16, 3 * 3 * 8]),
             (layers.DepthwiseConv2D(3, depth_multiplier=4), (2, 8, 8, 32), [3 * 3 * 32, 3 * 3 * 4])]
    for layer, shape, (fan_in, fan_out) in cases:
        layer(dlcore.zeros(*shape))
        kernel, bias = layer.get_weights()
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit, type(layer).__name__
        assert np.std(kernel) == pytest.approx(limit / math.sqrt(3), rel=0.15), type(layer).__name__
        assert not bias.any()
    he = layers.Conv2D(8, 3, kernel_initializer="he_uniform", bias_initializer="ones")
    he(dlcore.zeros(1, 5, 5, 4))
    k, b = he.get_weights()
    assert np.abs(k).max() <= math.sqrt(6.0 / 36) and (b == 1).all()


def test_every_keras_initializer_reaches_the_conv_layers():
    """The conv layers take dlcore.initializers' whole table (names and objects), drawn in
    Keras's kernel layout: an orthogonal Conv2D kernel (kh, kw, in, out) has orthonormal
    columns as a (kh * kw * in, out) matrix, as Keras makes it."""
    conv = layers.Conv2D(8, 3, kernel_initializer="orthogonal", bias_initializer=dlcore.initializers.Constant(0.5))
    conv(dlcore.zeros(1, 5, 5, 4))
    k, b = conv.get_weights()
    m = k.reshape(3 * 3 * 4, 8)
    np.testing.assert_allclose(m.T @ m, np.eye(8), atol=1e-5)
    assert (b == 0.5).all()
    dw = layers.DepthwiseConv2D(3, depthwise_initializer="truncated_normal")
    dw(dlcore.zeros(1, 5, 5, 4))
    k = dw.get_weights()[0]
    assert 0 < np.abs(k).max() <= 0.1 + 1e-6  # RandomNormal's stddev 0.05, cut at two stddevs


# ---- pooling ------------------------------------------------------------------------------------

def _pool_ref(x_cl, k, s, pad, kind):
    """Keras's pooling from its definition (NumPy, channels-last): windows at i * s - before,
    clipped to the input; max of what is inside, mean of what is inside."""
    spatial = x_cl.shape[1:-1]
    before = [(_tf_same(n, kk, ss)[0] if pad == "same" else 0) for n, kk, ss in zip(spatial, k, s)]
    outs = [(-(-n // ss) if pad == "same" else (n - kk) // ss + 1) for n, kk, ss in zip(spatial, k, s)]
    y = np.zeros((x_cl.shape[0],) + tuple(outs) + (x_cl.shape[-1],))
    for idx in np.ndindex(*outs):
        sl = tuple(slice(max(i * ss - b, 0), min(i * ss - b + kk, n))
                   for i, ss, b, kk, n in zip(idx, s, before, k, spatial))
        win = x_cl[(slice(None),) + sl + (slice(None),)]
        axes = tuple(range(1, 1 + len(k)))
        y[(slice(None),) + idx + (slice(None),)] = win.max(axis=axes) if kind == "max" else win.mean(axis=axes)
    return y


def _torch_pool(k, s, pad, kind, spatial):
    """The same pooling in PyTorch: explicit TF padding (-inf for max; for mean, the sum of the
    zero-padded windows over the count of real inputs)."""
    def fn(xt):
        nd = len(k)
        p = []
        for n, kk, ss in reversed(list(zip(spatial, k, s))):
            p += list(_tf_same(n, kk, ss) if pad == "same" else (0, 0))
        pool = TF.max_pool2d if nd == 2 else TF.max_pool1d
        if kind == "max":
            return pool(TF.pad(xt, p, value=-math.inf), k, s)
        apool = TF.avg_pool2d if nd == 2 else TF.avg_pool1d
        ones = torch.ones((1, 1) + tuple(spatial), dtype=xt.dtype)
        return apool(TF.pad(xt, p), k, s) / apool(TF.pad(ones, p), k, s)
    return fn


POOLS = [((2, 2), None, "valid"), ((3, 3), (2, 2), "valid"), ((2, 2), None, "same"), ((3, 3), (2, 2), "same"),
         ((3, 2), (1, 2), "same"), ((3, 3), (3, 3), "same"), ((4, 4), (1, 1), "same"), ((2, 3), (3, 1), "same")]


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,s,pad", POOLS, ids=str)
def test_pooling2d_vs_numpy_and_torch(k, s, pad, kind, data_format):
    x = _x((2, 7, 8, 3))
    cls = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    layer = cls(k, s, padding=pad, data_format=data_format)
    y = _check_vs_torch(layer, x, lambda m: [], lambda xt: _torch_pool(k, s or k, pad, kind, (7, 8))(xt), data_format)
    want = _pool_ref(x, k, s or k, pad, kind)
    np.testing.assert_allclose(npy(y) if data_format == "channels_last" else _cl(npy(y)), want, **TOL)


@requires_torch
def test_pooling2d_int_padding_is_pytorchs():
    x = _x((2, 6, 6, 3))
    for cls, fn in ((layers.MaxPooling2D, TF.max_pool2d), (layers.AveragePooling2D, TF.avg_pool2d)):
        y = cls(3, 2, padding=1, data_format="channels_first")(dlcore.tensor(_cf(x)))
        np.testing.assert_allclose(npy(y), fn(torch.tensor(_cf(x)), 3, 2, 1).numpy(), **TOL)


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,s,pad", [(2, None, "valid"), (3, 2, "valid"), (2, None, "same"), (3, 2, "same"),
                                     (4, 1, "same"), (3, 3, "same")], ids=str)
def test_pooling1d_vs_numpy_and_torch(k, s, pad, kind, data_format):
    x = _x((2, 10, 3))
    cls = layers.MaxPooling1D if kind == "max" else layers.AveragePooling1D
    layer = cls(k, s, padding=pad, data_format=data_format)
    y = _check_vs_torch(layer, x, lambda m: [], _torch_pool((k,), (s or k,), pad, kind, (10,)), data_format)
    want = _pool_ref(x, (k,), (s or k,), pad, kind)
    np.testing.assert_allclose(npy(y) if data_format == "channels_last" else _cl(npy(y)), want, **TOL)


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("cls,rank,kind", [(layers.GlobalAveragePooling2D, 2, "mean"),
                                           (layers.GlobalMaxPooling2D, 2, "max"),
                                           (layers.GlobalAveragePooling1D, 1, "mean"),
                                           (layers.GlobalMaxPooling1D, 1, "max")], ids=str)
def test_global_pooling_vs_torch(cls, rank, kind, keepdims, data_format):
    x = _x((3, 5, 6, 4)[:rank + 1] + (4,))
    dims = tuple(range(2, 2 + rank))

    def ref(xt):
        y = xt.mean(dims, keepdim=True) if kind == "mean" else xt.amax(dims, keepdim=True)
        if data_format == "channels_last" and keepdims:
            return y  # (N, C, 1, ..) -> compared as (N, 1, .., C)
        return y if keepdims else y.flatten(1).reshape(y.shape[0], y.shape[1], *([1] * rank))

    layer = cls(data_format=data_format, keepdims=keepdims)
    xd = dlcore.tensor(x if data_format == "channels_last" else _cf(x), requires_grad=True)
    y = layer(xd)
    xt = torch.tensor(_cf(x), requires_grad=True)
    r = ref(xt)
    if keepdims:
        want = _cl(r.detach().numpy()) if data_format == "channels_last" else r.detach().numpy()
    else:
        want = r.detach().numpy().reshape(3, 4)
    np.testing.assert_allclose(npy(y), want, **TOL)
    g = rng(2).normal(size=want.shape)
    y.backward(dlcore.tensor(g))
    r.backward(torch.tensor((_cf(g) if data_format == "channels_last" else g) if keepdims else g.reshape(r.shape)))
    gx = xt.grad.numpy()
    np.testing.assert_allclose(npy(xd.grad), _cl(gx) if data_format == "channels_last" else gx, **TOL)


# ---- reshaping: UpSampling2D, ZeroPadding2D, Cropping2D ----------------------------------------

@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("size,interp", [((2, 2), "nearest"), ((3, 1), "nearest"), ((2, 2), "bilinear"),
                                         ((3, 2), "bilinear"), ((1, 4), "bilinear")], ids=str)
def test_upsampling2d_vs_torch(size, interp, data_format):
    layer = layers.UpSampling2D(size, data_format=data_format, interpolation=interp)
    x = _x((2, 4, 5, 3))

    def ref(xt):
        return TF.interpolate(xt, scale_factor=size, mode=interp,
                              **({} if interp == "nearest" else dict(align_corners=False)))

    y = _check_vs_torch(layer, x, lambda m: [], ref, data_format)
    if interp == "nearest":
        want = np.repeat(np.repeat(x, size[0], axis=1), size[1], axis=2)
        np.testing.assert_array_equal(npy(y) if data_format == "channels_last" else _cl(npy(y)), want)


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding", [1, (2, 0), ((1, 2), (3, 0))], ids=str)
def test_zero_padding2d_vs_numpy_and_torch(padding, data_format):
    (t, b), (le, r) = ((padding, padding), (padding, padding)) if isinstance(padding, int) else \
        (padding if isinstance(padding[0], tuple) else ((padding[0],) * 2, (padding[1],) * 2))
    layer = layers.ZeroPadding2D(padding, data_format=data_format)
    x = _x((2, 4, 5, 3))
    y = _check_vs_torch(layer, x, lambda m: [], lambda xt: TF.pad(xt, (le, r, t, b)), data_format)
    want = np.pad(x, ((0, 0), (t, b), (le, r), (0, 0)))
    np.testing.assert_array_equal(npy(y) if data_format == "channels_last" else _cl(npy(y)), want)


@requires_torch
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("cropping", [1, (2, 0), ((1, 2), (0, 3))], ids=str)
def test_cropping2d_vs_numpy_and_torch(cropping, data_format):
    (t, b), (le, r) = ((cropping, cropping), (cropping, cropping)) if isinstance(cropping, int) else \
        (cropping if isinstance(cropping[0], tuple) else ((cropping[0],) * 2, (cropping[1],) * 2))
    layer = layers.Cropping2D(cropping, data_format=data_format)
    x = _x((2, 6, 7, 3))
    y = _check_vs_torch(layer, x, lambda m: [], lambda xt: xt[:, :, t:6 - b, le:7 - r], data_format)
    np.testing.assert_array_equal(npy(y) if data_format == "channels_last" else _cl(npy(y)),
                                  x[:, t:6 - b, le:7 - r])


# ---- BatchNormalization axis, Flatten order ----------------------------------------------------

@requires_torch
@pytest.mark.parametrize("shape,axis", [((6, 5), -1), ((4, 7, 5), -1), ((3, 4, 5, 6), -1), ((3, 6, 4, 5), 1),
                                        ((4, 5, 7), 1), ((3, 4, 6, 5), 2)], ids=str)
def test_batch_normalization_axis_vs_torch(shape, axis):
    x = _x(shape)
    layer = layers.BatchNormalization(axis=axis)
    xd = dlcore.tensor(x, requires_grad=True)
    y = layer(xd)  # training mode: batch statistics
    ax = axis % len(shape)
    perm = (0, ax) + tuple(d for d in range(1, len(shape)) if d != ax)
    xt = torch.tensor(x, requires_grad=True)
    rm, rv = torch.zeros(shape[ax], dtype=torch.float64), torch.ones(shape[ax], dtype=torch.float64)
    w = torch.tensor(npy(layer.bn.weight), requires_grad=True)
    bb = torch.tensor(npy(layer.bn.bias), requires_grad=True)
    inv = tuple(int(i) for i in np.argsort(perm))
    ref = TF.batch_norm(xt.permute(perm), rm, rv, w, bb, True, 0.01, 1e-3).permute(inv)
    np.testing.assert_allclose(npy(y), ref.detach().numpy(), **TOL)
    g = rng(1).normal(size=shape)
    y.backward(dlcore.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(npy(xd.grad), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(npy(layer.bn.weight.grad), w.grad.numpy(), **TOL)
    np.testing.assert_allclose(npy(layer.bn.running_mean), rm.numpy(), **TOL)
    np.testing.assert_allclose(npy(layer.bn.running_var), rv.numpy(), **TOL)
    assert [a.shape for a in layer.get_weights()] == [(shape[ax],)] * 4


def test_flatten_orders_features_channels_last_whatever_the_format():
    x = _x((2, 3, 4, 5))  # channels-last (N, H, W, C)
    np.testing.assert_array_equal(npy(layers.Flatten()(dlcore.tensor(x))), x.reshape(2, -1))
    np.testing.assert_array_equal(npy(layers.Flatten(data_format="channels_first")(dlcore.tensor(_cf(x)))),
                                  x.reshape(2, -1))
    np.testing.assert_array_equal(npy(layers.Flatten(data_format="channels_first")(dlcore.tensor(x[:, 0]))),
                                  x[:, 0].transpose(0, 2, 1).reshape(2, -1))  # (N, C, L): (L, C) order
    assert npy(layers.Flatten()(dlcore.tensor(x[:, :, 0, 0]))).shape == (2, 3)


# ---- the same model in both formats, and against PyTorch ----------------------------------------

def _cnn(fmt):
    ax = -1 if fmt == "channels_last" else 1
    return dlcore.Sequential([
        layers.Conv2D(8, 3, padding="same", activation="relu", data_format=fmt),
        layers.BatchNormalization(axis=ax),
        layers.MaxPooling2D(2, data_format=fmt),
        layers.Conv2D(6, 3, strides=2, padding="same", data_format=fmt), layers.Activation("elu"),
        layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, data_format=fmt),
        layers.SeparableConv2D(5, 2, padding="same", data_format=fmt),
        layers.Conv2DTranspose(4, 3, strides=2, padding="same", data_format=fmt),
        layers.AveragePooling2D(3, strides=2, padding="same", data_format=fmt),
        layers.ZeroPadding2D(1, data_format=fmt), layers.Cropping2D(((1, 0), (0, 1)), data_format=fmt),
        layers.UpSampling2D(data_format=fmt, interpolation="bilinear"),
        layers.Flatten(data_format=fmt), layers.Dense(5)])


def test_same_model_same_result_in_both_formats():
    """Weights copied with get_weights / set_weights (Keras layouts do not depend on the data
    format): the channels-first model gives the channels-last model's outputs and gradients,
    in training mode (batch statistics) and in inference."""
    x = _x((4, 11, 10, 3))
    cl, cf = _cnn("channels_last"), _cnn("channels_first")
    xl = dlcore.tensor(x, requires_grad=True)
    xf = dlcore.tensor(_cf(x), requires_grad=True)
    cl(xl), cf(xf)  # build
    for a, b in zip(cl.children(), cf.children()):
        b.set_weights(a.get_weights())
    xl.grad = xf.grad = None
    yl, yf = cl(xl), cf(xf)
    np.testing.assert_allclose(npy(yl), npy(yf), rtol=1e-5, atol=1e-6)
    g = dlcore.tensor(rng(3).normal(size=tuple(yl.shape)).astype(np.float32))
    yl.backward(g)
    yf.backward(g)
    np.testing.assert_allclose(npy(xl.grad), _cl(npy(xf.grad)), rtol=1e-4, atol=1e-6)
    for (n, p), (_, q) in zip(cl.named_parameters(), cf.named_parameters()):
        np.testing.assert_allclose(npy(p.grad), npy(q.grad), rtol=1e-4, atol=1e-5, err_msg=n)
    cl.eval(), cf.eval()
    np.testing.assert_allclose(npy(cl(xl)), npy(cf(xf)), rtol=1e-5, atol=1e-6)


@requires_torch
def test_channels_last_cnn_vs_torch_with_permutes():
    """Conv2D('same', stride 2) - BatchNormalization - MaxPooling2D - Flatten - Dense on
    (N, H, W, C) against the PyTorch model on the permuted input, flattening in (H, W, C)
    order as Keras does; float64, training mode."""
    x = _x((4, 12, 11, 3))
    m = dlcore.Sequential([layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
                           layers.BatchNormalization(), layers.MaxPooling2D(2, padding="same"),
                           layers.Flatten(), layers.Dense(5)])
    xd = dlcore.tensor(x, requires_grad=True)
    y = m(xd)
    c, bn, d = m[0].conv, m[1].bn, m[4].linear
    tw = {k: torch.tensor(npy(v), requires_grad=True) for k, v in
          (("cw", c.weight), ("cb", c.bias), ("g", bn.weight), ("b", bn.bias), ("dw", d.weight), ("db", d.bias))}
    xt = torch.tensor(x, requires_grad=True)
    pads = _tf_same(11, 3, 2) + _tf_same(12, 3, 2)  # (left, right, top, bottom): (1, 1, 0, 1)
    h = torch.relu(torch.conv2d(TF.pad(xt.permute(0, 3, 1, 2), pads), tw["cw"], tw["cb"], 2))
    h = TF.batch_norm(h, None, None, tw["g"], tw["b"], True, 0.01, 1e-3)
    h = TF.max_pool2d(h, 2, ceil_mode=True)  # 6x6 -> 3x3 ('same' pads nothing here)
    ref = TF.linear(h.permute(0, 2, 3, 1).flatten(1), tw["dw"], tw["db"])
    np.testing.assert_allclose(npy(y), ref.detach().numpy(), **TOL)
    g = rng(4).normal(size=tuple(ref.shape))
    y.backward(dlcore.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(npy(xd.grad), xt.grad.numpy(), **TOL)
    for p, k in ((c.weight, "cw"), (bn.weight, "g"), (d.weight, "dw")):
        np.testing.assert_allclose(npy(p.grad), tw[k].grad.numpy(), **TOL)
    # Keras's Dense kernel is (in, out)
    assert m[4].get_weights()[0].shape == (3 * 3 * 8, 5)


def test_channels_last_run_moves_no_data_between_layers():
    """A channels-last image layer's output is a permuted view of channels-first memory, so the
    next image layer's channels-first view is that memory itself (no copy); BatchNormalization
    and elementwise Activation layers keep that layout."""
    y = dlcore.randn(2, 8, 8, 3)
    for layer in (layers.Conv2D(4, 3, padding="same"), layers.BatchNormalization(), layers.Activation("relu"),
                  layers.MaxPooling2D(), layers.Conv2D(4, 3, strides=2, padding="same"), layers.Activation("tanh"),
                  layers.ZeroPadding2D(), layers.UpSampling2D(), layers.DepthwiseConv2D(3)):
        y = layer(y)
        assert not y.is_contiguous() and y.permute(0, 3, 1, 2).is_contiguous(), type(layer).__name__
    x = dlcore.randn(2, 3, 4, 5).permute(0, 2, 3, 1)
    np.testing.assert_array_equal(npy(layers.Activation("relu")(x)), np.maximum(npy(x), 0))
    z = dlcore.randn(2, 6, 4, 5).permute(0, 2, 3, 1)
    cat = layers.Concatenate()([x, z])  # the channels of two channels-last image layers' outputs
    assert cat.permute(0, 3, 1, 2).is_contiguous()
    np.testing.assert_array_equal(npy(cat), np.concatenate([npy(x), npy(z)], axis=-1))
    np.testing.assert_array_equal(npy(layers.Concatenate(axis=1)([x, x])), np.concatenate([npy(x), npy(x)], 1))
    np.testing.assert_allclose(npy(layers.Activation("softmax")(x)), npy(F.softmax(x.contiguous(), -1)),
                               rtol=1e-6)


def test_channels_last_cnn_trains():
    """A small channels-last CNN learns a separable task (loss falls)."""
    r = rng(0)
    x = r.normal(size=(64, 8, 8, 1)).astype(np.float32)
    x[:32] += 0.5  # class 1: brighter images
    yv = (np.arange(64) < 32).astype(np.int64)
    m = dlcore.Sequential([layers.Conv2D(8, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                           layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
                           layers.GlobalAveragePooling2D(), layers.Dense(2)])
    m.compile(optimizer=functools.partial(dlcore.optim.Adam, lr=1e-2), loss="sparse_categorical_crossentropy")
    h = m.fit(x, yv, epochs=15, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]


# ---- output shapes as Keras computes them --------------------------------------------------------

SHAPES = [  # (layer, input shape, Keras's output shape)
    (lambda: layers.Conv2D(32, 3), (None, 28, 28, 1), (None, 26, 26, 32)),
    (lambda: layers.Conv2D(32, 3, strides=2, padding="same"), (None, 28, 28, 1), (None, 14, 14, 32)),
    (lambda: layers.Conv2D(8, 3, strides=2, padding="same"), (None, 7, 7, 1), (None, 4, 4, 8)),
    (lambda: layers.Conv2D(8, 3, strides=2), (None, 28, 28, 1), (None, 13, 13, 8)),
    (lambda: layers.Conv2D(8, 3, data_format="channels_first"), (None, 3, 28, 28), (None, 8, 26, 26)),
    (lambda: layers.Conv1D(8, 5, strides=2, padding="same"), (None, 25, 4), (None, 13, 8)),
    (lambda: layers.Conv1D(8, 5, padding="causal", dilation_rate=2), (None, 25, 4), (None, 25, 8)),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, padding="same"), (None, 7, 7, 8), (None, 14, 14, 4)),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2), (None, 7, 7, 8), (None, 15, 15, 4)),
    (lambda: layers.Conv2DTranspose(4, 2, strides=2), (None, 7, 7, 8), (None, 14, 14, 4)),
    (lambda: layers.Conv2DTranspose(4, 1, strides=2), (None, 7, 7, 8), (None, 14, 14, 4)),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1), (None, 7, 7, 8),
     (None, 14, 14, 4)),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, output_padding=1), (None, 7, 7, 8), (None, 16, 16, 4)),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=3), (None, 9, 9, 4), (None, 7, 7, 12)),
    (lambda: layers.SeparableConv2D(6, 3, strides=2, padding="same"), (None, 9, 9, 4), (None, 5, 5, 6)),
    (lambda: layers.MaxPooling2D(), (None, 7, 7, 3), (None, 3, 3, 3)),
    (lambda: layers.MaxPooling2D(padding="same"), (None, 7, 7, 3), (None, 4, 4, 3)),
    (lambda: layers.AveragePooling2D(3, 2, padding="same"), (None, 8, 8, 3), (None, 4, 4, 3)),
    (lambda: layers.MaxPooling1D(3, padding="same"), (None, 10, 3), (None, 4, 3)),
    (lambda: layers.AveragePooling1D(), (None, 9, 3), (None, 4, 3)),
    (lambda: layers.GlobalMaxPooling2D(), (None, 5, 6, 3), (None, 3)),
    (lambda: layers.GlobalAveragePooling2D(keepdims=True), (None, 5, 6, 3), (None, 1, 1, 3)),
    (lambda: layers.GlobalAveragePooling1D(data_format="channels_first"), (None, 3, 7), (None, 3)),
    (lambda: layers.GlobalMaxPooling1D(keepdims=True), (None, 7, 3), (None, 1, 3)),
    (lambda: layers.UpSampling2D((2, 3)), (None, 4, 5, 3), (None, 8, 15, 3)),
    (lambda: layers.ZeroPadding2D(((1, 2), (3, 4))), (None, 4, 5, 3), (None, 7, 12, 3)),
    (lambda: layers.Cropping2D(((1, 2), (0, 1))), (None, 6, 5, 3), (None, 3, 4, 3)),
    (lambda: layers.Flatten(), (None, 7, 7, 64), (None, 3136)),
    (lambda: layers.BatchNormalization(), (None, 5, 5, 3), (None, 5, 5, 3)),
]


@pytest.mark.parametrize("make,shape,want", SHAPES, ids=[str(s[2]) for s in SHAPES])
def test_output_shapes_as_keras(make, shape, want):
    layer = make()
    dlcore.manual_seed(5)
    assert layer.compute_output_shape(shape) == want
    after = npy(dlcore.rand(4))
    dlcore.manual_seed(5)
    np.testing.assert_array_equal(after, npy(dlcore.rand(4)))  # no draw from dlcore's generator
    assert not layer.get_weights()  # the layer itself is not built
    assert layer.compute_output_shape((3,) + shape[1:]) == (3,) + want[1:]
    # and the summary of a model built on that input shows it
    m = dlcore.Sequential([make()], input_shape=shape[1:])
    lines = []
    m.summary(print_fn=lines.append)
    assert any(str(want) in line for line in lines), lines


def test_summary_of_channels_last_cnn():
    m = dlcore.Sequential([layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                           layers.Conv2D(64, 3, strides=2, padding="same"), layers.Flatten(), layers.Dense(10)],
                          input_shape=(28, 28, 1))
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for s in ("(None, 28, 28, 32)", "(None, 14, 14, 32)", "(None, 7, 7, 64)", "(None, 3136)", "(None, 10)"):
        assert s in text, text
    assert f"{320 + 18496 + 31370:,}" in text


# ---- saving, weights errors, bad arguments -----------------------------------------------------

def test_model_with_image_layers_saves_and_loads(tmp_path):
    m = _cnn("channels_last")
    m.build((11, 10, 3))
    x = dlcore.tensor(_x((2, 11, 10, 3)).astype(np.float32))
    m.eval()
    y = npy(m(x))
    m.save(tmp_path / "m.safetensors")
    m2 = dlcore.load_model(tmp_path / "m.safetensors")
    m2.eval()
    np.testing.assert_array_equal(npy(m2(x)), y)
    cfg = m2[-2].get_config()
    assert cfg["data_format"] == "channels_last"


def test_model_files_from_before_the_keras_layout_load_channels_first():
    """Architectures saved when the image layers were channels-first have no data_format / axis in
    their configs: they rebuild channels-first, as they were trained."""
    spec = {"class": "Sequential", "layers": [
        ["0", {"class": "layers.Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3],
                                                     "strides": [1, 1], "padding": "same", "activation": None,
                                                     "use_bias": True}}],
        ["1", {"class": "layers.BatchNormalization", "config": {"name": "b", "momentum": 0.99, "epsilon": 1e-3}}],
        ["2", {"class": "layers.MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "strides": [2, 2],
                                                           "padding": "valid"}}],
        ["3", {"class": "layers.GlobalAveragePooling2D", "config": {"name": "g"}}]]}
    m = serialization.module_from_spec(spec)
    assert [m[0].data_format, m[1].axis, m[2].data_format, m[3].data_format] == ["channels_first", 1,
                                                                                   "channels_first", "channels_first"]
    assert m(dlcore.randn(2, 3, 8, 8)).shape == (2, 4)


def test_functional_model_on_channels_last_input():
    inp = dlcore.Input((12, 12, 3))
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = layers.SeparableConv2D(8, 3, padding="same")(inp)
    h = layers.Concatenate()([a, b])
    h = layers.MaxPooling2D(padding="same")(h)
    h = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(h)
    out = layers.Dense(2)(layers.GlobalMaxPooling2D()(h))
    m = dlcore.Model(inp, out)
    assert h.shape == (None, 12, 12, 4) and out.shape == (None, 2)
    x = rng(0).normal(size=(16, 12, 12, 3)).astype(np.float32)
    m.compile(optimizer="adam", loss="mse")
    h = m.fit(x, np.zeros((16, 2), np.float32), epochs=3, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_set_weights_checks_count_and_shapes():
    layer = layers.Conv2D(4, 3)
    assert layer.get_weights() == []
    layer(dlcore.zeros(1, 5, 5, 2))
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d.*': set_weights got 1 arrays for 2 weights"):
        layer.set_weights([np.zeros((3, 3, 2, 4))])
    with pytest.raises(ValueError, match=r"weight 0 has shape \(4, 2, 3, 3\), expected \(3, 3, 2, 4\)"):
        layer.set_weights([np.zeros((4, 2, 3, 3)), np.zeros(4)])


def test_model_weights_in_keras_layouts():
    """model.get_weights lists each layer's Keras-layout weights in order (nn modules as their
    state_dict holds them); set_weights takes the same list back."""
    m = dlcore.Sequential([layers.Conv2D(4, 3), layers.BatchNormalization(), layers.Flatten(), layers.Dense(3),
                           dlcore.nn.Linear(3, 2)], input_shape=(5, 5, 2))
    ws = m.get_weights()
    assert [w.shape for w in ws] == [(3, 3, 2, 4), (4,), (4,), (4,), (4,), (4,), (36, 3), (3,), (2, 3), (2,)]
    new = [rng(i).normal(size=w.shape).astype(np.float32) for i, w in enumerate(ws)]
    new[5] = np.abs(new[5])  # a variance
    m.set_weights(new)
    for a, b in zip(m.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(npy(m[0].conv.weight), new[0].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(npy(m[3].linear.weight), new[6].T)
    with pytest.raises(ValueError, match=r"Sequential: set_weights got 9 arrays for 10 weights"):
        m.set_weights(new[:9])


BAD = [
    (lambda: layers.Conv2D(4, 3, data_format="NHWC"), ValueError, r"Conv2D: data_format must be 'channels_last'"),
    (lambda: layers.Conv2D(4, 3, padding="full"), ValueError, r"Conv2D: padding must be one of"),
    (lambda: layers.Conv2D(4, 0), ValueError, r"Conv2D: kernel_size must be positive"),
    (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), ValueError, r"Conv2D: strides > 1 .* dilation_rate"),
    (lambda: layers.Conv2D(5, 3, groups=2), ValueError, r"Conv2D: filters \(5\) must be divisible by groups"),
    (lambda: layers.Conv2D(4, 3, kernel_initializer="magic"), ValueError, r"Conv2D: unknown kernel_initializer"),
    (lambda: layers.Conv2D(4, 3, activation="nope"), ValueError, r"unknown activation"),
    (lambda: layers.Conv1D(4, 3, padding="full"), ValueError, r"Conv1D: padding must be one of .*causal"),
    (lambda: layers.Conv2D(4, 3, padding="causal"), ValueError, r"Conv2D: padding must be one of"),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, output_padding=2), ValueError,
     r"Conv2DTranspose: output_padding \(2, 2\) must be .* smaller than strides"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), ValueError, r"DepthwiseConv2D: depth_multiplier"),
    (lambda: layers.SeparableConv2D(0, 3), ValueError, r"SeparableConv2D: filters"),
    (lambda: layers.MaxPooling2D(padding="full"), ValueError, r"MaxPooling2D: padding must be 'valid' or 'same'"),
    (lambda: layers.AveragePooling1D(0), ValueError, r"AveragePooling1D: pool_size must be positive"),
    (lambda: layers.GlobalMaxPooling1D(data_format="NLC"), ValueError, r"GlobalMaxPooling1D: data_format"),
    (lambda: layers.UpSampling2D(interpolation="bicubic"), ValueError, r"UpSampling2D: interpolation"),
    (lambda: layers.UpSampling2D(0), ValueError, r"UpSampling2D: size must be positive"),
    (lambda: layers.ZeroPadding2D(-1), ValueError, r"ZeroPadding2D: padding must be non-negative"),
    (lambda: layers.Cropping2D((1, 2, 3)), (ValueError, TypeError), r"Cropping2D"),
    (lambda: layers.Flatten(data_format="nchw"), ValueError, r"Flatten: data_format"),
    (lambda: layers.Conv2D(2.5, 3), TypeError, r"Conv2D.*filters"),
]


@pytest.mark.parametrize("make,exc,match", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_arguments_raise_clear_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


CALLS = [
    (lambda: layers.Conv2D(4, 3)(dlcore.zeros(2, 8, 8)), r"Conv2D 'conv2d.*': expects 4-D input \(N, H, W, C\) "
                                                          r"\(channels_last\), got shape \(2, 8, 8\)"),
    (lambda: layers.Conv1D(4, 3)(dlcore.zeros(2, 8, 8, 1)), r"Conv1D .*expects 3-D input \(N, L, C\)"),
    (lambda: layers.Conv2D(4, 3, groups=2)(dlcore.zeros(2, 8, 8, 3)), r"3 channels are not divisible by groups=2"),
    (lambda: layers.Conv2D(4, 5)(dlcore.zeros(1, 3, 3, 1)), r"conv2d|kernel|larger"),
    (lambda: layers.MaxPooling2D()(dlcore.zeros(2, 8, 8)), r"MaxPooling2D .*expects 4-D input \(N, H, W, C\)"),
    (lambda: layers.GlobalAveragePooling1D()(dlcore.zeros(2, 8, 8, 1)), r"GlobalAveragePooling1D .*3-D input"),
    (lambda: layers.Cropping2D(3)(dlcore.zeros(1, 6, 8, 1)), r"Cropping2D .*leaves nothing of an 6x8 image"),
    (lambda: layers.UpSampling2D()(dlcore.zeros(2, 3)), r"UpSampling2D .*expects 4-D input"),
    (lambda: layers.BatchNormalization(axis=0)(dlcore.zeros(2, 3)), r"BatchNormalization .*axis 0"),
    (lambda: layers.Conv2D(4, 3).compute_output_shape((None, None, None, 3)), r"needs every dim"),
]


@pytest.mark.parametrize("call,match", CALLS, ids=[c[1][:40] for c in CALLS])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


IMAGE_LAYERS = [(layers.Conv2D, (4, 3)), (layers.Conv1D, (4, 3)), (layers.Conv2DTranspose, (4, 3)),
                (layers.DepthwiseConv2D, (3,)), (layers.SeparableConv2D, (4, 3)), (layers.MaxPooling2D, ()),
                (layers.AveragePooling2D, ()), (layers.MaxPooling1D, ()), (layers.AveragePooling1D, ()),
                (layers.GlobalAveragePooling2D, ()), (layers.GlobalMaxPooling2D, ()),
                (layers.GlobalAveragePooling1D, ()), (layers.GlobalMaxPooling1D, ()), (layers.UpSampling2D, ()),
                (layers.ZeroPadding2D, ()), (layers.Cropping2D, ()), (layers.BatchNormalization, ()),
                (layers.Flatten, ())]
WRONG = [None, "a", [1, 2], (1,), (1, 2, 3), {}, object(), 1.5, -1, 0, True]
INTERNALS = r"incompatible function arguments|Unable to cast|_C\.|pybind|std::|has no len|unsupported operand|" \
            r"not subscriptable|object is not iterable|has no attribute"


@pytest.mark.parametrize("cls,args", IMAGE_LAYERS, ids=[c.__name__ for c, _ in IMAGE_LAYERS])
def test_every_argument_and_input_refused_clearly(cls, args):
    """Every constructor argument given a wrong value, and every wrong input, raises a ValueError /
    TypeError naming the layer (or is accepted): never an internal error."""
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name not in ("self", "name")]
    for i, p in enumerate(params):
        for v in WRONG:
            call = list(args) + [q.default for q in params[len(args):]]
            call[i] = v
            try:
                layer = cls(*call)
                layer(dlcore.randn(2, 6, 6, 3) if "1D" not in cls.__name__ else dlcore.randn(2, 6, 3))
            except (ValueError, TypeError) as e:
                assert not re.search(INTERNALS, str(e)), f"{cls.__name__}({p.name}={v!r}): {e}"
                assert cls.__name__ in str(e) or "activation" in str(e) or p.name in str(e), \
                    f"{cls.__name__}({p.name}={v!r}): the error names neither the layer nor the argument: {e}"
    for x in (None, "a", 1.5, dlcore.ones(2, 3, dtype="int64"), dlcore.randn(2), dlcore.randn(2, 3, 4, 5, 6)):
        try:
            cls(*args)(x)
        except (ValueError, TypeError) as e:
            assert not re.search(INTERNALS, str(e)), f"{cls.__name__}({x!r}): {e}"


def test_built_conv_refuses_other_channel_counts():
    layer = layers.Conv2D(4, 3)
    layer(dlcore.zeros(1, 5, 5, 2))
    with pytest.raises(ValueError, match=r"Conv2D '.*': was built for 2 input channels \(channels_last\), got "
                                         r"input of shape \(1, 5, 5, 3\)"):
        layer(dlcore.zeros(1, 5, 5, 3))


# ---- F.pad ------------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("pads", [(1, 2), (1, 2, 0, 3), (-1, 2, 1, -2), (0, 0, 0, 0, 1, 1), (2, 1, 1, 0, 0, 1, 1, 0)],
                         ids=str)
def test_pad_vs_torch(pads):
    x = _x((2, 3, 4, 5))
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ref = F.pad(xd, pads, value=1.5), TF.pad(xt, pads, value=1.5)
    np.testing.assert_array_equal(npy(y), ref.detach().numpy())
    g = rng(1).normal(size=tuple(ref.shape))
    y.backward(dlcore.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(npy(xd.grad), xt.grad.numpy())


def test_pad_bad_arguments():
    x = dlcore.zeros(2, 3)
    with pytest.raises(ValueError, match=r"pad: only mode='constant'"):
        F.pad(x, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: pad must have an even length"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: pad must have an even length of at most 2 \* 2"):
        F.pad(x, (1,) * 6)
    with pytest.raises(ValueError, match=r"crops dim 1 of shape \(2, 3\) below size 0"):
        F.pad(x, (-2, -2))
    with pytest.raises(TypeError, match=r"pad: pad"):
        F.pad(x, 2)
