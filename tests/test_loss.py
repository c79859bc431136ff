"""Loss family: every loss against PyTorch (values and gradients, float32 and float64, all
reductions and options), against float64 central differences, extreme inputs, modules and
bad input (shape mismatches that PyTorch would broadcast raise ValueError)."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
import dlcore.nn as nn
from conftest import requires_torch, rng

try:
    import torch
    TF = torch.nn.functional
except Exception:  # pragma: no cover
    torch = TF = None

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _backward(out, seed=99):
    """Backward of sum(out * r) for a fixed random r (or out itself when 0-d); returns r."""
    o = out.detach().numpy() if hasattr(out, "detach") else out
    r = rng(seed).standard_normal(np.shape(o)).astype(o.dtype) if np.ndim(o) else np.ones((), o.dtype)
    return r


def run_both(ours, theirs, arrays, grad_idx=(0,), dtype=np.float64):
    """Calls ours(*tensors) and theirs(*torch tensors); returns values and gradients of the
    arrays listed in grad_idx (backward of sum(out * r))."""
    dts = [dlcore.tensor(a, requires_grad=(i in grad_idx)) for i, a in enumerate(arrays)]
    tts = [torch.tensor(a, requires_grad=(i in grad_idx)) for i, a in enumerate(arrays)]
    y = ours(*dts)
    ty = theirs(*tts)
    r = _backward(y)
    (y * dlcore.tensor(r)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    return (y.detach().numpy(), ty.detach().numpy(),
            [(dts[i].grad.numpy(), tts[i].grad.numpy()) for i in grad_idx])


def check(ours, theirs, arrays, grad_idx=(0,), dtype=np.float64, gtol=None):
    y, ty, grads = run_both(ours, theirs, arrays, grad_idx, dtype)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ty, **tol(dtype))
    for g, tg in grads:
        np.testing.assert_allclose(g, tg, **(gtol or tol(dtype)))


# ---- pointwise losses ----------------------------------------------------------------------------

POINTWISE = {
    "mse": (lambda r: (lambda x, y: F.mse_loss(x, y, r)), lambda r: (lambda x, y: TF.mse_loss(x, y, reduction=r))),
    "l1": (lambda r: (lambda x, y: F.l1_loss(x, y, r)), lambda r: (lambda x, y: TF.l1_loss(x, y, reduction=r))),
    "huber": (lambda r: (lambda x, y: F.huber_loss(x, y, r, delta=0.7)),
              lambda r: (lambda x, y: TF.huber_loss(x, y, reduction=r, delta=0.7))),
    "smooth_l1": (lambda r: (lambda x, y: F.smooth_l1_loss(x, y, r, beta=0.5)),
                  lambda r: (lambda x, y: TF.smooth_l1_loss(x, y, reduction=r, beta=0.5))),
    "smooth_l1_beta0": (lambda r: (lambda x, y: F.smooth_l1_loss(x, y, r, beta=0.0)),
                        lambda r: (lambda x, y: TF.smooth_l1_loss(x, y, reduction=r, beta=0.0))),
    "hinge_embedding": (lambda r: (lambda x, y: F.hinge_embedding_loss(x, y, 0.8, r)),
                        lambda r: (lambda x, y: TF.hinge_embedding_loss(x, y, 0.8, reduction=r))),
}


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_losses_match_torch(name, reduction, dtype):
    x = rng(1).standard_normal((5, 7)).astype(dtype)
    if name == "hinge_embedding":
        y = np.where(rng(2).random((5, 7)) > 0.5, 1.0, -1.0).astype(dtype)
        grad_idx = (0,)
    else:
        y = rng(2).standard_normal((5, 7)).astype(dtype)
        grad_idx = (0, 1)  # the target's gradient too
    ours, theirs = POINTWISE[name]
    check(ours(reduction), theirs(reduction), [x, y], grad_idx, dtype)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(weighted, reduction, dtype):
    p = rng(3).uniform(0.01, 0.99, (6, 4)).astype(dtype)
    p[0, :2] = [0.0, 1.0]  # log clamped at -100 like PyTorch
    y = rng(4).random((6, 4)).astype(dtype)
    y[0, :2] = [1.0, 0.0]
    w = rng(5).uniform(0.5, 2, (4,)).astype(dtype)
    if weighted:
        ours = lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction)
        theirs = lambda a, b, c: TF.binary_cross_entropy(a, b, c, reduction=reduction)
        y_, ty, grads = run_both(ours, theirs, [p, y, w], (0,), dtype)
    else:
        ours = lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction)
        theirs = lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction)
        y_, ty, grads = run_both(ours, theirs, [p, y], (0,), dtype)
    np.testing.assert_allclose(y_, ty, **tol(dtype))
    # PyTorch clamps the gradient's denominator at 1e-12 too (as a float constant: 4e-9 apart)
    np.testing.assert_allclose(grads[0][0], grads[0][1], rtol=2e-5 if dtype == np.float32 else 1e-8)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(opts, reduction, dtype):
    x = (rng(6).standard_normal((6, 4)) * 3).astype(dtype)
    x[0, :4] = [1e4, -1e4, 0.0, 40.0]
    y = rng(7).random((6, 4)).astype(dtype)
    w = rng(8).uniform(0.5, 2, (6, 1)).astype(dtype)
    pw = rng(9).uniform(0.5, 3, (4,)).astype(dtype)
    kw = {}
    if opts in ("weight", "both"):
        kw["weight"] = w
    if opts in ("pos_weight", "both"):
        kw["pos_weight"] = pw
    ours = lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, reduction=reduction, **{k: dlcore.tensor(v) for k, v in kw.items()})
    theirs = lambda a, b: TF.binary_cross_entropy_with_logits(
        a, b, reduction=reduction, **{k: torch.tensor(v) for k, v in kw.items()})
    y_, ty, grads = run_both(ours, theirs, [x, y], (0,), dtype)
    assert np.all(np.isfinite(y_))
    np.testing.assert_allclose(y_, ty, **tol(dtype))
    np.testing.assert_allclose(grads[0][0], grads[0][1], **tol(dtype))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_keras_hinge_and_squared_hinge(reduction):
    x = rng(10).standard_normal((4, 5))
    y = np.where(rng(11).random((4, 5)) > 0.5, 1.0, -1.0)
    m = np.maximum(1 - y * x, 0)
    for fn, want, dwant in ((F.hinge_loss, m, np.where(m > 0, -y, 0.0)),
                            (F.squared_hinge_loss, m * m, -2 * y * m)):
        t = dlcore.tensor(x, requires_grad=True)
        out = fn(t, dlcore.tensor(y), reduction)
        ref = {"none": want, "sum": want.sum(), "mean": want.mean()}[reduction]
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)
        out.sum().backward()
        scale = 1 / x.size if reduction == "mean" else 1.0
        np.testing.assert_allclose(t.grad.numpy(), dwant * scale, rtol=1e-12)
    # Keras argument order
    np.testing.assert_allclose(F.hinge(dlcore.tensor(y), dlcore.tensor(x)).numpy(), m.mean(), rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.filterwarnings("ignore:reduction.*mean")
def test_kl_div_matches_torch(log_target, reduction, dtype):
    logp = np.log(rng(12).dirichlet(np.ones(6), 5)).astype(dtype)
    q = rng(13).dirichlet(np.ones(6), 5)
    q[0, 0] = 0.0  # 0 * log 0 = 0
    q = (np.log(q + 1e-300) if log_target else q).astype(dtype)
    ours = lambda a, b: F.kl_div(a, b, reduction, log_target)
    theirs = lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target)
    check(ours, theirs, [logp, q], (0,), dtype)


# ---- cross-entropy and NLL ----------------------------------------------------------------------

def _ce_case(kind, dtype, shape=(8, 5)):
    z = (rng(20).standard_normal(shape) * 2).astype(dtype)
    C = shape[1]
    tshape = shape[:1] + shape[2:]
    if kind == "probs":
        p = rng(21).random(shape)
        t = (p / p.sum(1, keepdims=True)).astype(dtype)
    else:
        t = rng(22).integers(0, C, tshape)
        if kind == "ignore":
            t.flat[[1, 4]] = -1
    return z, t


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "ignore", "probs"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_matches_torch(smoothing, weighted, kind, reduction, dtype):
    z, t = _ce_case(kind, dtype)
    w = rng(23).uniform(0.3, 2.0, z.shape[1]).astype(dtype) if weighted else None
    ig = -1 if kind == "ignore" else -100

    def ours(a, b):
        return F.cross_entropy(a, b, None if w is None else dlcore.tensor(w), ignore_index=ig,
                               reduction=reduction, label_smoothing=smoothing)

    def theirs(a, b):
        return TF.cross_entropy(a, b, None if w is None else torch.tensor(w), ignore_index=ig,
                                reduction=reduction, label_smoothing=smoothing)
    check(ours, theirs, [z, t], (0,), dtype)


@requires_torch
@pytest.mark.parametrize("kind", ["indices", "probs"])
def test_cross_entropy_spatial_and_unbatched(kind):
    z, t = _ce_case(kind, np.float64, (3, 4, 5, 2))
    check(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
          lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.1), [z, t])
    check(lambda a, b: F.cross_entropy(a, b, reduction="none"),
          lambda a, b: TF.cross_entropy(a, b, reduction="none"), [z, t])
    z1 = rng(24).standard_normal(6)
    t1 = np.array(2) if kind == "indices" else rng(25).dirichlet(np.ones(6))
    check(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), [z1, t1])


@requires_torch
def test_cross_entropy_huge_logits_float32():
    z = np.array([[1e4, 0.0, -1e4, 1e4 - 2], [-1e4, -1e4 + 1, -1e4, -1e4]], np.float32)
    t = np.array([3, 0])
    for smoothing in (0.0, 0.2):
        y, ty, grads = run_both(lambda a, b: F.cross_entropy(a, b, label_smoothing=smoothing),
                                lambda a, b: TF.cross_entropy(a, b, label_smoothing=smoothing), [z, t],
                                (0,), np.float32)
        assert np.isfinite(y)
        np.testing.assert_allclose(y, ty, rtol=1e-5)
        np.testing.assert_allclose(grads[0][0], grads[0][1], rtol=1e-5, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(weighted, reduction, dtype):
    z, t = _ce_case("ignore", dtype, (7, 4, 3))
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    w = rng(26).uniform(0.3, 2.0, 4).astype(dtype) if weighted else None
    ours = lambda a, b: F.nll_loss(a, b, None if w is None else dlcore.tensor(w), ignore_index=-1,
                                   reduction=reduction)
    theirs = lambda a, b: TF.nll_loss(a, b, None if w is None else torch.tensor(w), ignore_index=-1,
                                      reduction=reduction)
    check(ours, theirs, [logp, t], (0,), dtype)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    z = dlcore.tensor(rng(27).standard_normal((3, 4)))
    out = F.cross_entropy(z, dlcore.tensor([-100, -100, -100]))
    assert np.isnan(out.numpy())


# ---- multi-margin, cosine -------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_matches_torch(weighted, p, reduction, dtype):
    x = rng(30).standard_normal((6, 5)).astype(dtype)
    t = rng(31).integers(0, 5, 6)
    w = rng(32).uniform(0.5, 2, 5).astype(dtype) if weighted else None
    ours = lambda a, b: F.multi_margin_loss(a, b, p, 0.7, None if w is None else dlcore.tensor(w),
                                            reduction=reduction)
    theirs = lambda a, b: TF.multi_margin_loss(a, b, p, 0.7, None if w is None else torch.tensor(w),
                                               reduction=reduction)
    check(ours, theirs, [x, t], (0,), dtype)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_and_similarity_match_torch(reduction, dtype):
    a = rng(33).standard_normal((6, 5)).astype(dtype)
    b = rng(34).standard_normal((6, 5)).astype(dtype)
    y = np.array([1, -1, 1, -1, -1, 1], dtype)
    check(lambda u, v, w: F.cosine_embedding_loss(u, v, w, 0.1, reduction=reduction),
          lambda u, v, w: TF.cosine_embedding_loss(u, v, w, 0.1, reduction=reduction), [a, b, y], (0, 1), dtype)
    check(lambda u, v: F.cosine_similarity(u, v, 1), lambda u, v: TF.cosine_similarity(u, v, 1), [a, b],
          (0, 1), dtype)


# ---- central differences --------------------------------------------------------------------------

def _num_grad(f, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        g.flat[i] = (f(xp) - f(xm)) / (2 * h)
    return g


CD_CASES = {
    "mse": lambda x: F.mse_loss(x, dlcore.tensor(rng(40).standard_normal((3, 4)))),
    "huber": lambda x: F.huber_loss(x, dlcore.tensor(rng(40).standard_normal((3, 4))), delta=0.5),
    "bce_logits_pw": lambda x: F.binary_cross_entropy_with_logits(
        x, dlcore.tensor(rng(41).random((3, 4))), pos_weight=dlcore.tensor(np.array([0.5, 1, 2, 3.0]))),
    "bce": lambda x: F.binary_cross_entropy(F.sigmoid(x), dlcore.tensor(rng(41).random((3, 4)))),
    "ce_smooth_weight": lambda x: F.cross_entropy(x, dlcore.tensor([0, 3, 1]), label_smoothing=0.2,
                                                  weight=dlcore.tensor(np.array([1, 2, 0.5, 1.5]))),
    "ce_probs": lambda x: F.cross_entropy(x, dlcore.tensor(rng(42).dirichlet(np.ones(4), 3))),
    "multi_margin_p2": lambda x: F.multi_margin_loss(x, dlcore.tensor([0, 3, 1]), p=2),
    "kl_div": lambda x: F.kl_div(F.log_softmax(x, 1), dlcore.tensor(rng(43).dirichlet(np.ones(4), 3)),
                                 reduction="batchmean"),
    "cosine_embedding": lambda x: F.cosine_embedding_loss(
        x, dlcore.tensor(rng(44).standard_normal((3, 4))), dlcore.tensor(np.array([1.0, -1.0, -1.0]))),
}


@pytest.mark.parametrize("name", list(CD_CASES))
def test_loss_gradients_central_differences(name):
    fn = CD_CASES[name]
    x = rng(45).standard_normal((3, 4))
    t = dlcore.tensor(x, requires_grad=True)
    fn(t).backward()
    num = _num_grad(lambda v: float(fn(dlcore.tensor(v)).numpy()), x)
    np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-8)


# ---- modules ------------------------------------------------------------------------------------

@requires_torch
def test_loss_modules_match_torch():
    x = rng(50).standard_normal((6, 4))
    y = rng(51).standard_normal((6, 4))
    p = rng(52).uniform(0.05, 0.95, (6, 4))
    yb = rng(53).random((6, 4))
    t = rng(54).integers(0, 4, 6)
    w = rng(55).uniform(0.5, 2, 4)
    cases = [
        (nn.MSELoss(), torch.nn.MSELoss(), x, y), (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), x, y),
        (nn.HuberLoss(delta=0.3), torch.nn.HuberLoss(delta=0.3), x, y),
        (nn.SmoothL1Loss(beta=2.0), torch.nn.SmoothL1Loss(beta=2.0), x, y),
        (nn.BCELoss(weight=dlcore.tensor(w)), torch.nn.BCELoss(weight=torch.tensor(w)), p, yb),
        (nn.BCEWithLogitsLoss(pos_weight=dlcore.tensor(w)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)), x, yb),
        (nn.CrossEntropyLoss(weight=dlcore.tensor(w), label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1), x, t),
        (nn.NLLLoss(), torch.nn.NLLLoss(), x, t), (nn.MultiMarginLoss(), torch.nn.MultiMarginLoss(), x, t),
        (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), x, p),
    ]
    for ours, theirs, a, b in cases:
        np.testing.assert_allclose(ours(dlcore.tensor(a), dlcore.tensor(b)).numpy(),
                                   theirs(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-10,
                                   err_msg=type(ours).__name__)
    assert nn.CrossEntropyLoss().ignore_index == -100 and nn.CrossEntropyLoss().reduction == "mean"
    assert "weight" in dict(nn.CrossEntropyLoss(weight=dlcore.tensor(w)).named_buffers())


# ---- bad input ----------------------------------------------------------------------------------

def test_shape_mismatch_raises_instead_of_broadcasting():
    pred = dlcore.randn(8, 1)
    target = dlcore.randn(8)
    for fn in (F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss, F.binary_cross_entropy_with_logits,
               F.hinge_loss):
        with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\)"):
            fn(pred, target)
    with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\)"):
        nn.MSELoss()(pred, target)
    with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\)"):
        F.binary_cross_entropy(F.sigmoid(pred), dlcore.rand(8))


def test_bad_loss_input():
    z = dlcore.randn(4, 3)
    with pytest.raises(IndexError, match="target 3 at row 1 is out of bounds for 3 classes"):
        F.cross_entropy(z, dlcore.tensor([0, 3, 1, 2]))
    with pytest.raises(ValueError, match=r"target must have shape \(4,\), got \(4, 1\)"):
        F.cross_entropy(z, dlcore.tensor([[0], [1], [1], [2]]))
    with pytest.raises(ValueError, match=r"probability target has shape \(4, 2\)"):
        F.cross_entropy(z, dlcore.rand(4, 2))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) must be \(C,\) = \(3,\)"):
        F.cross_entropy(z, dlcore.tensor([0, 1, 1, 2]), weight=dlcore.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(z, dlcore.tensor([0, 1, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(z, z, reduction="avg")
    with pytest.raises(ValueError, match=r"input values must lie in \[0, 1\]"):
        F.binary_cross_entropy(dlcore.tensor([0.5, 1.5]), dlcore.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="class indices"):
        F.nll_loss(z, dlcore.rand(4))
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        F.multi_margin_loss(z, dlcore.tensor([0, 1, 1, 2]), p=3)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(5,\)"):
        F.binary_cross_entropy_with_logits(z, dlcore.rand(4, 3), pos_weight=dlcore.ones(5))


# ---- CUDA twins against the CPU kernels (skip without a GPU) ----------------------------------------

from conftest import requires_cuda  # noqa: E402


@requires_cuda
def test_cuda_losses_match_cpu():
    z = rng(60).standard_normal((64, 10)).astype(np.float32)
    t = rng(61).integers(0, 10, 64)
    w = rng(62).uniform(0.5, 2, 10).astype(np.float32)
    for kw in ({}, {"weight": w}, {"label_smoothing": 0.1}):
        want_t = dlcore.tensor(z, requires_grad=True)
        args = {k: (dlcore.tensor(v) if k == "weight" else v) for k, v in kw.items()}
        want = F.cross_entropy(want_t, dlcore.tensor(t), **args)
        want.backward()
        got_t = dlcore.tensor(z).to("cuda").requires_grad_()
        cargs = {k: (v.to("cuda") if k == "weight" else v) for k, v in args.items()}
        got = F.cross_entropy(got_t, dlcore.tensor(t).to("cuda"), **cargs)
        got.backward()
        np.testing.assert_allclose(got.detach().to("cpu").numpy(), want.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(got_t.grad.to("cpu").numpy(), want_t.grad.numpy(), rtol=1e-5, atol=1e-7)
    x = rng(63).standard_normal((64, 10)).astype(np.float32)
    y = rng(64).random((64, 10)).astype(np.float32)
    for fn in (F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits, F.smooth_l1_loss):
        np.testing.assert_allclose(fn(dlcore.tensor(x).to("cuda"), dlcore.tensor(y).to("cuda")).to("cpu").numpy(),
                                   fn(dlcore.tensor(x), dlcore.tensor(y)).numpy(), rtol=1e-5)
