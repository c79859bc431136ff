"""conv1d / conv2d / conv_transpose2d: values and every gradient against PyTorch (same inputs and
weights) over a grid of shapes, strides, paddings, dilations and groups in float32 and float64;
float64 central differences as a second check; bad arguments raise clear errors."""
import math

import numpy as np
import pytest
from conftest import cuda_array, host_array, requires_cuda, requires_torch, rng, threads

import dlcore
import dlcore.nn.functional as F
import dlcore.nn as nn

TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _run_both(dl_fn, th_fn, arrays, dtype, seed=0):
    """Runs dl_fn and th_fn on the same arrays, backpropagates the same random grad_output, and
    returns [(dlcore, torch)] for the output and every input gradient."""
    import torch
    dl_in = [dlcore.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    th_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    y = dl_fn(*dl_in)
    ty = th_fn(*th_in)
    assert tuple(y.shape) == tuple(ty.shape)
    gy = rng(seed + 1).standard_normal(ty.shape).astype(dtype)
    y.backward(dlcore.tensor(gy))
    ty.backward(torch.tensor(gy))
    pairs = [(y.detach().numpy(), ty.detach().numpy())]
    pairs += [(a.grad.numpy(), t.grad.numpy()) for a, t in zip(dl_in, th_in)]
    return pairs


def _assert_pairs(pairs, dtype):
    for i, (a, b) in enumerate(pairs):
        scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
        np.testing.assert_allclose(a, b, rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"] * scale,
                                   err_msg=f"output {i} (0 = forward, then input grads)")


# (N, C, H, W, K, (kH, kW), stride, padding, dilation, groups)
CONV2D_CASES = [
    (2, 3, 8, 8, 4, (3, 3), 1, 0, 1, 1),
    (2, 3, 8, 7, 5, (3, 3), 1, 1, 1, 1),
    (3, 4, 9, 9, 6, (3, 2), 2, (1, 0), 1, 1),
    (2, 4, 10, 9, 6, (3, 3), (2, 1), 2, (2, 1), 2),
    (2, 8, 6, 6, 8, (1, 1), 1, 0, 1, 1),          # pointwise, no im2col
    (2, 8, 7, 7, 4, (1, 1), 2, 0, 1, 2),          # 1x1 strided grouped
    (2, 6, 9, 9, 6, (3, 3), 1, 1, 1, 6),          # depthwise
    (2, 4, 9, 8, 8, (3, 3), 2, 1, 1, 4),          # depthwise, multiplier 2, stride 2
    (1, 1, 12, 11, 5, (5, 3), 1, 2, 1, 1),        # one input channel (direct path)
    (2, 6, 11, 11, 6, (3, 3), 3, 1, 2, 3),
    (3, 2, 5, 5, 3, (5, 5), 1, 0, 1, 1),          # kernel == input
    (2, 4, 7, 7, 4, (3, 3), 1, "same", 2, 1),
    (2, 4, 6, 7, 4, (4, 2), 1, "same", 1, 2),     # even kernel: asymmetric 'same'
    (2, 3, 6, 6, 2, (3, 3), 1, "valid", 1, 1),
    (1, 64, 40, 40, 2, (3, 3), 1, 1, 1, 1),       # several column tiles per image (last one partial)
    (13, 16, 7, 7, 16, (3, 3), 1, 1, 1, 1),       # Winograd, 12 small images per chunk (12 + 1)
    (3, 16, 14, 13, 16, (3, 3), 1, 1, 1, 1),      # Winograd rows of 7 tiles: 16-byte transform vectors
    (11, 1, 9, 8, 5, (3, 3), 1, 1, 1, 1),         # C_in = 1: weight gradient over 8 image chunks
    (3, 1, 9, 8, 4, (3, 2), 2, 1, 1, 1),          # C_in = 1, stride 2, fewer images than chunks
    (2, 64, 41, 37, 4, (3, 3), 2, (1, 0), (1, 2), 2),  # tiles with stride, dilation, groups
]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV2D_CASES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_conv2d_matches_torch(case, dtype, bias):
    import torch
    N, C, H, W, K, (kh, kw), s, p, d, g = case
    r = rng(1)
    arrays = [r.standard_normal((N, C, H, W)), r.standard_normal((K, C // g, kh, kw))]
    if bias:
        arrays.append(r.standard_normal(K))
    pairs = _run_both(lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, s, p, d, g),
                      lambda x, w, *b: torch.nn.functional.conv2d(x, w, b[0] if b else None, s, p, d, g),
                      arrays, dtype)
    _assert_pairs(pairs, dtype)


# (N, C, L, K, k, stride, padding, dilation, groups)
CONV1D_CASES = [(2, 3, 10, 4, 3, 1, 1, 1, 1), (3, 4, 17, 6, 5, 2, 2, 2, 2), (2, 4, 9, 4, 3, 1, "same", 1, 4),
                (1, 2, 8, 3, 4, 3, 0, 1, 1)]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV1D_CASES)
def test_conv1d_matches_torch(case, dtype):
    import torch
    N, C, L, K, k, s, p, d, g = case
    r = rng(2)
    arrays = [r.standard_normal((N, C, L)), r.standard_normal((K, C // g, k)), r.standard_normal(K)]
    pairs = _run_both(lambda x, w, b: F.conv1d(x, w, b, s, p, d, g),
                      lambda x, w, b: torch.nn.functional.conv1d(x, w, b, s, p, d, g), arrays, dtype)
    _assert_pairs(pairs, dtype)


# (N, C_in, H, W, C_out, (kH, kW), stride, padding, output_padding, dilation, groups)
CONVT_CASES = [
    (2, 4, 5, 5, 3, (3, 3), 1, 0, 0, 1, 1),
    (2, 6, 4, 3, 4, (4, 4), 2, 1, 0, 1, 1),       # the GAN upsampling block
    (2, 4, 5, 4, 6, (3, 3), 2, 1, 1, 1, 2),
    (1, 3, 4, 5, 2, (3, 2), (3, 2), (1, 0), (2, 1), (1, 2), 1),
    (2, 4, 4, 4, 4, (3, 3), 2, 0, 0, 2, 4),       # depthwise transposed, dilated
    (2, 8, 3, 3, 4, (1, 1), 1, 0, 0, 1, 1),
    (24, 4, 7, 7, 6, (4, 4), 2, 1, 0, 1, 2),      # backward's shared unfold over two image batches
    (4, 8, 3, 3, 40, (4, 4), 2, 1, 0, 1, 1),      # 640 unfold rows: forward folds back in two row chunks
]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_matches_torch(case, dtype):
    import torch
    N, C, H, W, K, (kh, kw), s, p, op, d, g = case
    r = rng(3)
    arrays = [r.standard_normal((N, C, H, W)), r.standard_normal((C, K // g, kh, kw)), r.standard_normal(K)]
    pairs = _run_both(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d),
                      lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, s, p, op, g, d), arrays, dtype)
    _assert_pairs(pairs, dtype)


# ---- float64 central differences ------------------------------------------------------------

def _numeric_grad(f, arrays, i, eps=1e-6):
    a = arrays[i]
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = a[idx]
        a[idx] = old + eps
        fp = f(arrays)
        a[idx] = old - eps
        fm = f(arrays)
        a[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("which", ["conv2d", "conv_transpose2d", "conv1d", "depthwise"])
def test_gradients_central_differences(which):
    r = rng(4)
    if which == "conv2d":
        shapes = [(2, 4, 5, 6), (4, 2, 3, 2), (4,)]
        fn = lambda x, w, b: F.conv2d(x, w, b, (2, 1), 1, (1, 2), 2)  # noqa: E731
    elif which == "conv_transpose2d":
        shapes = [(1, 4, 3, 3), (4, 1, 3, 3), (2,)]
        fn = lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2)  # noqa: E731
    elif which == "conv1d":
        shapes = [(2, 2, 7), (3, 2, 3), (3,)]
        fn = lambda x, w, b: F.conv1d(x, w, b, 2, 1, 1, 1)  # noqa: E731
    else:
        shapes = [(1, 3, 5, 5), (6, 1, 3, 3), (6,)]
        fn = lambda x, w, b: F.conv2d(x, w, b, 2, 1, 1, 3)  # noqa: E731
    arrays = [r.standard_normal(s) for s in shapes]
    probe = r.standard_normal(fn(*[dlcore.tensor(a) for a in arrays]).shape)

    def loss(arrs):
        return float((fn(*[dlcore.tensor(a) for a in arrs]) * dlcore.tensor(probe)).sum().item())

    ts = [dlcore.tensor(a, requires_grad=True) for a in arrays]
    (fn(*ts) * dlcore.tensor(probe)).sum().backward()
    for i, t in enumerate(ts):
        num = _numeric_grad(loss, arrays, i)
        np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-7 * max(1, np.abs(num).max()))


# ---- determinism: the same bits for any thread count -----------------------------------------

def _assert_same_bits_for_any_thread_count(x, w, b, *args):
    """conv2d(x, w, b, *args) and the gradients of sum(y * y) w.r.t. x, w (and b): the same bits
    with 1, 2 and 3 threads."""
    params = [t for t in (x, w, b) if t is not None]
    outs = []
    for n in (1, 2, 3):
        with threads(n):
            for t in params:
                t.grad = None
            y = F.conv2d(x, w, b, *args)
            (y * y).sum().backward()
            outs.append([t.numpy().copy() for t in [y.detach()] + [t.grad for t in params]])
    for o in outs[1:]:
        for a, ref in zip(o, outs[0]):
            assert np.array_equal(a, ref)


def test_results_do_not_depend_on_thread_count():
    r = rng(5)
    x = dlcore.tensor(r.standard_normal((5, 6, 12, 12)).astype(np.float32), requires_grad=True)
    w = dlcore.tensor(r.standard_normal((8, 3, 3, 3)).astype(np.float32), requires_grad=True)
    _assert_same_bits_for_any_thread_count(x, w, None, 1, 1, 1, 2)
    # Winograd forward and backward-data with several 7x7 images per chunk (12 + 1)
    x = dlcore.tensor(r.standard_normal((13, 16, 7, 7)).astype(np.float32), requires_grad=True)
    w = dlcore.tensor(r.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)
    _assert_same_bits_for_any_thread_count(x, w, None, 1, 1, 1, 1)
    # C_in = 1 (a first layer): weight gradient over fixed image chunks
    x = dlcore.tensor(r.standard_normal((11, 1, 10, 10)).astype(np.float32), requires_grad=True)
    w = dlcore.tensor(r.standard_normal((8, 1, 3, 3)).astype(np.float32), requires_grad=True)
    b = dlcore.tensor(r.standard_normal(8).astype(np.float32), requires_grad=True)
    _assert_same_bits_for_any_thread_count(x, w, b, 1, 1, 1, 1)


# Weight gradient image by image (backward_weight_images): shifted input planes for stride-1
# convs whose output rows are as wide as the input (any kH, kW, asymmetric top / bottom and
# left / right padding), im2col per image otherwise (few channels, strided). N < 8 and N > 8
# cover the fixed image chunks. (N, C, H, W, K, (kH, kW), stride, (top, bottom, left, right))
WEIGHT_IMAGE_CASES = [
    (11, 32, 14, 14, 16, (3, 3), 1, (1, 1, 1, 1)),   # the CNN's conv2 (shifted planes)
    (3, 12, 9, 7, 5, (3, 3), 1, (2, 0, 0, 2)),        # shifts 0, 1, 2 only; 2 zero rows on top
    (9, 8, 6, 10, 4, (5, 5), 1, (1, 3, 2, 2)),        # shifts -2..2
    (5, 24, 5, 6, 3, (1, 3), 1, (0, 0, 1, 1)),        # kH = 1
    (4, 9, 7, 8, 7, (2, 3), 1, (0, 1, 2, 0)),         # shifts -2..0, even kernel height
    (10, 4, 8, 8, 6, (3, 3), 1, (1, 1, 1, 1)),        # 4 channels: im2col per image
    (10, 16, 9, 9, 6, (3, 3), 2, (1, 1, 1, 1)),       # strided: im2col per image
    (2, 1, 180, 180, 4, (3, 3), 1, (1, 1, 1, 1)),     # C = 1 beyond the kept per-thread scratch
    (9, 16, 5, 5, 256, (3, 3), 1, (1, 1, 1, 1)),      # partials beyond the kept scratch
]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", WEIGHT_IMAGE_CASES)
def test_weight_gradient_image_by_image_matches_torch_and_threads(case, dtype):
    import torch
    N, C, H, W, K, (kh, kw), s, pad = case
    r = rng(21)
    x = r.standard_normal((N, C, H, W)).astype(dtype)
    xp = torch.nn.functional.pad(torch.tensor(x, dtype=torch.float64), (pad[2], pad[3], pad[0], pad[1]))
    wt = torch.zeros((K, C, kh, kw), dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(xp, wt, stride=s)
    gy = r.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(torch.tensor(gy, dtype=torch.float64))
    ref = wt.grad.numpy()
    outs = []
    for n in (1, 2, 3):
        with threads(n):
            outs.append(np.asarray(dlcore._C.conv2d_backward_weight(x, gy, (kh, kw), (s, s), pad, (1, 1), 1)))
    scale = np.abs(ref).max()
    np.testing.assert_allclose(outs[0], ref, rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"] * scale)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


# ---- modules ---------------------------------------------------------------------------------

@requires_torch
def test_conv2d_module_matches_torch_with_copied_weights():
    import torch
    m = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True, dtype=dlcore.float64)
    tm = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.detach().numpy()))
        tm.bias.copy_(torch.tensor(m.bias.detach().numpy()))
    x = rng(6).standard_normal((2, 3, 9, 9))
    np.testing.assert_allclose(m(dlcore.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]


@pytest.mark.parametrize("cls,args,wshape,fan_in", [
    (nn.Conv2d, (4, 6, 3), (6, 4, 3, 3), 36),
    (nn.Conv2d, (4, 6, (3, 1), 1, 0, 1, 2), (6, 2, 3, 1), 6),
    (nn.Conv1d, (3, 5, 4), (5, 3, 4), 12),
    (nn.ConvTranspose2d, (4, 6, 4, 2, 1), (4, 6, 4, 4), 96),
])
def test_module_weight_shapes_and_default_init_bounds(cls, args, wshape, fan_in):
    m = cls(*args)
    assert tuple(m.weight.shape) == wshape
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    assert np.abs(b).max() <= bound
    assert m.bias.shape == (wshape[1] * (args[6] if len(args) > 6 else 1) if cls is nn.ConvTranspose2d else wshape[0],)


@requires_torch
def test_modules_forward_shapes_like_torch():
    import torch
    x = rng(7).standard_normal((2, 4, 7, 7)).astype(np.float32)
    for ours, theirs in [(nn.Conv2d(4, 6, 3, padding="same"), torch.nn.Conv2d(4, 6, 3, padding="same")),
                         (nn.ConvTranspose2d(4, 3, 4, 2, 1), torch.nn.ConvTranspose2d(4, 3, 4, 2, 1)),
                         (nn.Conv2d(4, 4, 3, groups=4, bias=False), torch.nn.Conv2d(4, 4, 3, groups=4, bias=False))]:
        assert tuple(ours(dlcore.tensor(x)).shape) == tuple(theirs(torch.tensor(x)).shape)
    x1 = rng(7).standard_normal((2, 4, 9)).astype(np.float32)
    assert tuple(nn.Conv1d(4, 2, 3, stride=2)(dlcore.tensor(x1)).shape) == (2, 2, 4)


def test_unbatched_input_is_accepted():
    x = dlcore.randn(3, 6, 6)
    w = dlcore.randn(2, 3, 3, 3)
    y = F.conv2d(x, w, padding=1)
    y4 = F.conv2d(x.unsqueeze(0), w, padding=1)
    assert tuple(y.shape) == (2, 6, 6)
    np.testing.assert_array_equal(y.numpy(), y4.numpy()[0])


# ---- bad arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.conv2d(dlcore.randn(1, 3, 4, 4), dlcore.randn(2, 3, 5, 5)), ValueError, "larger than the padded input"),
    (lambda: F.conv2d(dlcore.randn(1, 3, 4, 4), dlcore.randn(2, 3, 3, 3), dilation=2), ValueError, "larger than the padded input"),
    (lambda: F.conv2d(dlcore.randn(1, 3, 8, 8), dlcore.randn(2, 1, 3, 3), groups=2), ValueError, "not divisible by groups=2"),
    (lambda: F.conv2d(dlcore.randn(1, 4, 8, 8), dlcore.randn(3, 2, 3, 3), groups=2), ValueError, "out_channels (3"),
    (lambda: F.conv2d(dlcore.randn(1, 4, 8, 8), dlcore.randn(2, 3, 3, 3)), ValueError, "expects 3 input channels"),
    (lambda: F.conv2d(dlcore.randn(8, 8), dlcore.randn(2, 1, 3, 3)), ValueError, "expected a 3-D (C, H, W) or 4-D"),
    (lambda: F.conv2d(dlcore.randn(1, 1, 1, 8, 8), dlcore.randn(2, 1, 3, 3)), ValueError, "got shape (1, 1, 1, 8, 8)"),
    (lambda: F.conv2d(dlcore.randn(1, 1, 8, 8), dlcore.randn(2, 1, 3)), ValueError, "weight must be 4-D"),
    (lambda: F.conv2d(dlcore.randn(1, 2, 8, 8), dlcore.randn(2, 2, 3, 3), stride=2, padding="same"), ValueError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(2, 2, 3, stride=2, padding="same"), ValueError, "padding='same' is not supported"),
    (lambda: F.conv2d(dlcore.randn(1, 2, 8, 8), dlcore.randn(2, 2, 3, 3), padding="full"), ValueError, "'valid' or 'same'"),
    (lambda: F.conv2d(dlcore.randn(1, 2, 8, 8), dlcore.randn(2, 2, 3, 3), stride=0), ValueError, "stride must be positive"),
    (lambda: F.conv2d(dlcore.randn(1, 2, 8, 8), dlcore.randn(2, 2, 3, 3), padding=-1), ValueError, "non-negative"),
    (lambda: F.conv2d(dlcore.randn(1, 2, 8, 8), dlcore.randn(2, 2, 3, 3), dlcore.randn(3)), ValueError, "'bias' has shape (3,)"),
    (lambda: F.conv2d(dlcore.randn(1, 2, 8, 8), dlcore.randn(2, 2, 3, 3, dtype=dlcore.float64)), TypeError, "dtype"),
    (lambda: F.conv1d(dlcore.randn(1, 2, 2), dlcore.randn(2, 2, 3)), ValueError, "larger than the padded input"),
    (lambda: F.conv_transpose2d(dlcore.randn(1, 2, 4, 4), dlcore.randn(2, 2, 3, 3), stride=2, output_padding=2),
     ValueError, "output_padding"),
    (lambda: F.conv_transpose2d(dlcore.randn(1, 3, 4, 4), dlcore.randn(2, 2, 3, 3)), ValueError, "has 3 channels"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "divisible by groups"),
])
def test_bad_arguments_raise_clear_errors(call, exc, msg):
    with pytest.raises(exc) as e:
        call()
    assert msg in str(e.value)


# ---- CUDA kernels against the CPU kernels (skip without a GPU) --------------------------------

@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("case", CONV2D_CASES[:11])
def test_cuda_conv_kernels_match_cpu(case):
    C_ = dlcore._C
    N, C, H, W, K, (kh, kw), s, p, d, g = case
    s, p, d = [(v, v) if isinstance(v, int) else v for v in (s, p, d)]
    pad = (p[0], p[0], p[1], p[1])
    r = rng(11)
    x = r.standard_normal((N, C, H, W)).astype(np.float32)
    w = r.standard_normal((K, C // g, kh, kw)).astype(np.float32)
    b = r.standard_normal(K).astype(np.float32)
    y = C_.conv2d(x, w, b, s, pad, d, g)
    gy = r.standard_normal(y.shape).astype(np.float32)
    dev, host = cuda_array, host_array
    checks = [
        (host(C_.conv2d(dev(x), dev(w), dev(b), s, pad, d, g)), y),
        (host(C_.conv2d_backward_data(dev(gy), dev(w), (H, W), s, pad, d, g)),
         C_.conv2d_backward_data(gy, w, (H, W), s, pad, d, g)),
        (host(C_.conv2d_backward_weight(dev(x), dev(gy), (kh, kw), s, pad, d, g)),
         C_.conv2d_backward_weight(x, gy, (kh, kw), s, pad, d, g)),
        (host(C_.conv_backward_bias(dev(gy))), C_.conv_backward_bias(gy)),
    ]
    for got, ref in checks:
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * max(1, np.abs(ref).max()))


@pytest.mark.parametrize("groups", [1, 3])
def test_empty_batch_gives_empty_output_and_zero_weight_grads(groups):
    x = dlcore.zeros(0, 3, 5, 5, requires_grad=True)
    w = dlcore.randn(6, 3 // groups, 3, 3, requires_grad=True)
    b = dlcore.randn(6, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1, groups=groups)
    y.sum().backward()
    assert tuple(y.shape) == (0, 6, 5, 5) and tuple(x.grad.shape) == (0, 3, 5, 5)
    assert not w.grad.numpy().any() and not b.grad.numpy().any()


@requires_torch
def test_non_contiguous_input_and_weight():
    import torch
    xn = rng(10).standard_normal((2, 6, 7, 3))
    wn = rng(11).standard_normal((3, 3, 3, 4))
    y = F.conv2d(dlcore.tensor(xn).permute(0, 3, 1, 2), dlcore.tensor(wn).permute(3, 2, 0, 1))
    yt = torch.nn.functional.conv2d(torch.tensor(xn).permute(0, 3, 1, 2), torch.tensor(wn).permute(3, 2, 0, 1))
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-12, atol=1e-12)
