"""Activation family: every activation's fused forward and backward kernels against PyTorch
(float32 and float64), against float64 central differences, at extreme inputs (+-1e4, 0, NaN),
softmax / log_softmax over every axis, PReLU, maxout, modules, bad input, determinism."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
import dlcore.nn as nn
from conftest import isa, requires_torch, rng, threads

try:
    import torch
    TF = torch.nn.functional
except Exception:  # pragma: no cover
    torch = TF = None

# name -> (dlcore function, torch function, kinks to keep central differences away from)
CASES = {
    "sigmoid": (F.sigmoid, lambda t: torch.sigmoid(t), ()),
    "tanh": (F.tanh, lambda t: torch.tanh(t), ()),
    "relu": (F.relu, lambda t: TF.relu(t), (0,)),
    "relu6": (F.relu6, lambda t: TF.relu6(t), (0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda t: TF.leaky_relu(t, 0.1), (0,)),
    "elu": (lambda x: F.elu(x, 0.7), lambda t: TF.elu(t, 0.7), (0,)),
    "selu": (F.selu, lambda t: TF.selu(t), (0,)),
    "celu": (lambda x: F.celu(x, 1.5), lambda t: TF.celu(t, 1.5), (0,)),
    "gelu": (F.gelu, lambda t: TF.gelu(t), ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh"), ()),
    "silu": (F.silu, lambda t: TF.silu(t), ()),
    "swish_beta": (lambda x: F.swish(x, 1.7), lambda t: t * torch.sigmoid(1.7 * t), ()),
    "mish": (F.mish, lambda t: TF.mish(t), ()),
    "softplus": (F.softplus, lambda t: TF.softplus(t), ()),
    "softplus_beta": (lambda x: F.softplus(x, 2.0, 5.0), lambda t: TF.softplus(t, 2.0, 5.0), (2.5,)),
    "softsign": (F.softsign, lambda t: TF.softsign(t), ()),
    "hardsigmoid": (F.hardsigmoid, lambda t: TF.hardsigmoid(t), (-3, 3)),
    "hardswish": (F.hardswish, lambda t: TF.hardswish(t), (-3, 3)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda t: TF.hardtanh(t, -0.5, 2.0), (-0.5, 2.0)),
    "logsigmoid": (F.logsigmoid, lambda t: TF.logsigmoid(t), ()),
}
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
GTOL = {np.float32: dict(rtol=2e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _inputs(dtype, n=3000, seed=0):
    x = rng(seed).standard_normal(n) * 4
    x[:8] = [0.0, -0.0, 1e-7, -1e-7, 30.0, -30.0, 90.0, -90.0]
    return x.astype(dtype)


def _run(fn, x, g):
    t = dlcore.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(dlcore.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


def _run_torch(fn, x, g):
    t = torch.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_activation_matches_torch(name, dtype):
    ours, theirs, _ = CASES[name]
    x = _inputs(dtype)
    g = rng(1).standard_normal(x.shape).astype(dtype)
    y, gx = _run(ours, x, g)
    ty, tg = _run_torch(theirs, x, g)
    assert y.dtype == dtype and gx.dtype == dtype
    np.testing.assert_allclose(y, ty, **TOL[dtype])
    gt = dict(GTOL[dtype])
    if name == "hardsigmoid" and dtype == np.float64:
        gt["rtol"] = 1e-7  # PyTorch's double kernel multiplies by the float constant 1/6
    np.testing.assert_allclose(gx, tg, **gt)


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_activation_extremes_like_torch(name):
    ours, theirs, _ = CASES[name]
    for dtype in (np.float32, np.float64):
        x = np.array([1e4, -1e4, 0.0, np.nan, np.inf, -np.inf, 500.0, -500.0], dtype)
        g = np.ones_like(x)
        y, gx = _run(ours, x, g)
        ty, tg = _run_torch(theirs, x, g)
        if name.startswith("gelu"):
            # gelu(+inf) = +inf * Phi(+inf) = +inf. PyTorch's float32 AVX-512 kernel returns NaN
            # there, so +inf is checked against the mathematical value, not against PyTorch.
            # (gelu(-inf): the limit is 0, but -inf * Phi(-inf) = -inf * 0 is NaN in IEEE
            # arithmetic; both libraries return NaN, compared below.)
            assert y[4] == np.inf, f"gelu(+inf) must be +inf, got {y[4]}"
            ty[4] = np.inf
        np.testing.assert_allclose(y, ty, rtol=1e-6, atol=1e-30, equal_nan=True)
        assert np.isnan(y[3]), "NaN must propagate through the forward"
        # +-1e4 and 0 (PyTorch's composite softsign loses ~1e-4 relative at 1e4 in float32)
        np.testing.assert_allclose(gx[:3], tg[:3], rtol=1e-3, atol=1e-30)
        assert np.all(np.isfinite(gx[[0, 1, 2, 6, 7]]))


def _central_diff(fn, x, h=1e-6):
    base = x.copy()
    grads = np.empty_like(base)
    for i in range(base.size):
        xp, xm = base.copy(), base.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        grads.flat[i] = (fn(xp) - fn(xm)) / (2 * h)
    return grads


@pytest.mark.parametrize("name", list(CASES))
def test_activation_gradient_central_differences(name):
    ours, _, kinks = CASES[name]
    x = rng(3).uniform(-5, 5, 40)
    for k in kinks:  # keep away from points where the derivative jumps
        x = np.where(np.abs(x - k) < 1e-2, x + 0.05, x)
    w = rng(4).standard_normal(40)

    def f(v):
        return float((ours(dlcore.tensor(v)).numpy() * w).sum())

    t = dlcore.tensor(x, requires_grad=True)
    (ours(t) * dlcore.tensor(w)).sum().backward()
    num = _central_diff(f, x)
    np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_isa_gives_the_same_values(every_isa, dtype):
    x = _inputs(dtype, 1000)
    for op in dlcore._C.Act.__members__.values():
        y = dlcore._C.act_forward(op, x, 1.0, 20.0 if op == dlcore._C.Act.softplus else 1.5)
        with isa("generic"):
            ref = dlcore._C.act_forward(op, x, 1.0, 20.0 if op == dlcore._C.Act.softplus else 1.5)
        tol = 1e-6 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(y, ref, rtol=tol, atol=tol, err_msg=str(op))


def test_strided_input_and_tensor_methods():
    x = rng(5).standard_normal((6, 8))
    t = dlcore.tensor(x)
    np.testing.assert_allclose(F.gelu(t.mT).numpy(), F.gelu(dlcore.tensor(x.T.copy())).numpy())
    np.testing.assert_array_equal(t.relu().numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(dlcore.sigmoid(t).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(t.tanh().numpy(), np.tanh(x), rtol=1e-12)


# ---- softmax -----------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_softmax_any_axis_matches_torch(dim, log, dtype):
    x = (rng(6).standard_normal((4, 5, 7)) * 3).astype(dtype)
    g = rng(7).standard_normal(x.shape).astype(dtype)
    fn = F.log_softmax if log else F.softmax
    tfn = TF.log_softmax if log else TF.softmax
    y, gx = _run(lambda t: fn(t, dim), x, g)
    ty, tg = _run_torch(lambda t: tfn(t, dim), x, g)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(y, ty, **tol)
    np.testing.assert_allclose(gx, tg, **tol)


@requires_torch
@pytest.mark.parametrize("log", [False, True])
def test_softmax_stable_for_huge_inputs(log):
    x = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4 + 2, -1e4, -1e4], [5, 5, 5, 5]], np.float32)
    fn, tfn = (F.log_softmax, TF.log_softmax) if log else (F.softmax, TF.softmax)
    y = fn(dlcore.tensor(x), 1).numpy()
    assert np.all(~np.isnan(y))
    np.testing.assert_allclose(y, tfn(torch.tensor(x), 1).numpy(), rtol=1e-6, atol=1e-6)
    xn = x.copy()
    xn[0, 1] = np.nan
    yn = fn(dlcore.tensor(xn), 1).numpy()
    assert np.all(np.isnan(yn[0])) and not np.any(np.isnan(yn[1:]))


@pytest.mark.parametrize("log", [False, True])
def test_softmax_central_differences(log):
    x = rng(8).standard_normal((3, 6))
    w = rng(9).standard_normal((3, 6))
    fn = F.log_softmax if log else F.softmax
    t = dlcore.tensor(x, requires_grad=True)
    (fn(t, 1) * dlcore.tensor(w)).sum().backward()
    num = _central_diff(lambda v: float((fn(dlcore.tensor(v), 1).numpy() * w).sum()), x)
    np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_softmax_thread_count_independent():
    x = rng(10).standard_normal((257, 1000)).astype(np.float32)
    with threads(1):
        a = F.softmax(dlcore.tensor(x), 1).numpy()
    with threads(2):
        b = F.softmax(dlcore.tensor(x), 1).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-5)


@requires_torch
def test_softmax_default_dim_like_torch():
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)]:
        x = rng(11).standard_normal(shape)
        with pytest.warns(UserWarning):
            ref = TF.softmax(torch.tensor(x), dim=None).numpy()
        np.testing.assert_allclose(nn.Softmax()(dlcore.tensor(x)).numpy(), ref, rtol=1e-12)


# ---- PReLU and maxout ----------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,nparam", [((6, 4), 4), ((3, 4, 5, 2), 4), ((3, 4, 5), 1), ((7,), 1)])
def test_prelu_matches_torch(shape, nparam, dtype):
    x = rng(12).standard_normal(shape).astype(dtype)
    w = rng(13).uniform(0.05, 0.5, nparam).astype(dtype)
    g = rng(14).standard_normal(shape).astype(dtype)
    m = nn.PReLU(nparam, dtype=dtype)
    m.weight._data[...] = w
    t = dlcore.tensor(x, requires_grad=True)
    m(t).backward(dlcore.tensor(g))
    tm = torch.nn.PReLU(nparam).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w))
    tt = torch.tensor(x, requires_grad=True)
    ty = tm(tt)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(m(dlcore.tensor(x)).detach().numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), **tol)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), **tol)


def test_prelu_defaults_and_bad_channels():
    m = nn.PReLU()
    assert m.weight.shape == (1,) and m.weight[0].item() == 0.25
    m3 = nn.PReLU(3)
    with pytest.raises(ValueError, match=r"3 parameters.*\(2, 5\)"):
        m3(dlcore.randn(2, 5))


def test_maxout_forward_backward():
    x = rng(15).standard_normal((4, 6, 3))
    t = dlcore.tensor(x, requires_grad=True)
    y = F.maxout(t, 3)
    ref = x.reshape(4, 2, 3, 3).max(axis=2)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    g = rng(16).standard_normal(ref.shape)
    y.backward(dlcore.tensor(g))
    arg = x.reshape(4, 2, 3, 3).argmax(axis=2)
    want = np.zeros((4, 2, 3, 3))
    np.put_along_axis(want, arg[:, :, None, :], g[:, :, None, :], axis=2)
    np.testing.assert_array_equal(t.grad.numpy(), want.reshape(4, 6, 3))
    # last-axis maxout through the module, float32
    m = nn.Maxout(2, dim=-1)
    x2 = rng(17).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_array_equal(m(dlcore.tensor(x2)).numpy(), x2.reshape(5, 4, 2).max(-1))
    with pytest.raises(ValueError, match="not divisible by pieces=4"):
        F.maxout(dlcore.tensor(x), 4)


# ---- modules ---------------------------------------------------------------------------------------

@requires_torch
def test_modules_match_torch_defaults():
    x = rng(18).standard_normal((4, 5)) * 3
    pairs = [(nn.ReLU(), torch.nn.ReLU()), (nn.ReLU6(), torch.nn.ReLU6()),
             (nn.LeakyReLU(), torch.nn.LeakyReLU()), (nn.ELU(), torch.nn.ELU()),
             (nn.SELU(), torch.nn.SELU()), (nn.CELU(), torch.nn.CELU()), (nn.GELU(), torch.nn.GELU()),
             (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()),
             (nn.Swish(), torch.nn.SiLU()), (nn.Mish(), torch.nn.Mish()),
             (nn.Softplus(), torch.nn.Softplus()), (nn.Softsign(), torch.nn.Softsign()),
             (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
             (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.LogSigmoid(), torch.nn.LogSigmoid()),
             (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
             (nn.Softmax(1), torch.nn.Softmax(1)), (nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(dlcore.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=type(ours).__name__)


def test_learnable_swish_beta_gets_gradient():
    m = nn.Swish(beta=1.5, learnable=True)
    x = dlcore.tensor(rng(19).standard_normal(10).astype(np.float32))
    m(x).sum().backward()
    xs = x.numpy().astype(np.float64)
    s = 1 / (1 + np.exp(-1.5 * xs))
    np.testing.assert_allclose(m.beta.grad.numpy(), [(xs * xs * s * (1 - s)).sum()], rtol=1e-4)


# ---- bad input -------------------------------------------------------------------------------------

def test_bad_input():
    with pytest.raises(TypeError, match="float32 or float64"):
        F.relu(dlcore.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh(dlcore.randn(3), 2.0, 1.0)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(dlcore.randn(3), approximate="fast")
    with pytest.raises(IndexError, match=r"softmax: dim 3 is out of range.*\(2, 3\)"):
        F.softmax(dlcore.randn(2, 3), 3)
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(0)
    with pytest.raises(ValueError, match="beta"):
        F.softplus(dlcore.randn(3), beta=0)
    with pytest.raises(ValueError, match=r"saved.*\(4,\).*\(3,\)"):
        dlcore._C.act_backward(dlcore._C.Act.tanh, np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="float32 or float64"):
        dlcore._C.act_forward(dlcore._C.Act.relu, np.ones(3, np.int64))


# ---- CUDA twins against the CPU kernels (skip without a GPU) ----------------------------------------

from conftest import requires_cuda  # noqa: E402


@requires_cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_activations_match_cpu(dtype):
    x = _inputs(dtype, 5000)
    g = rng(1).standard_normal(x.shape).astype(dtype)
    for name, (fn, _, _) in CASES.items():
        y, gx = _run(fn, x, g)
        t = dlcore.tensor(x).to("cuda").requires_grad_()
        yc = fn(t)
        yc.backward(dlcore.tensor(g).to("cuda"))
        np.testing.assert_allclose(yc.detach().to("cpu").numpy(), y, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(t.grad.to("cpu").numpy(), gx, rtol=1e-5, atol=1e-5, err_msg=name)
    z = rng(2).standard_normal((7, 300, 3)).astype(dtype)
    for dim in (1, 2):
        for fn in (F.softmax, F.log_softmax):
            want = fn(dlcore.tensor(z), dim).numpy()
            got = fn(dlcore.tensor(z).to("cuda"), dim).to("cpu").numpy()
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
