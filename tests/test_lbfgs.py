"""dlcore.optim.LBFGS against torch.optim.LBFGS: the same problem from the same weights (float64)
gives the same loss sequence and iterates, with and without the strong-Wolfe line search; and it
minimises Rosenbrock's function."""
import numpy as np
import pytest
import torch

import dlcore
import dlcore.nn.functional as F


def _problem(kind, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 5))
    if kind == "lsq":
        y = x @ rng.standard_normal((5, 3)) + 0.1 * rng.standard_normal((40, 3))
    else:
        y = (x @ rng.standard_normal(5) + 0.3 * rng.standard_normal(40) > 0).astype(np.float64)[:, None]
    w = 0.1 * rng.standard_normal((5, y.shape[1]))
    b = np.zeros(y.shape[1])
    return x, y, w, b


def _run(lib, kind, steps, **opts):
    x, y, w0, b0 = _problem(kind)
    if lib == "torch":
        X, Y = torch.tensor(x), torch.tensor(y)
        w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], **opts)
        mse, bce = torch.nn.functional.mse_loss, torch.nn.functional.binary_cross_entropy_with_logits
    else:
        X, Y = dlcore.tensor(x), dlcore.tensor(y)
        w, b = dlcore.tensor(w0, requires_grad=True), dlcore.tensor(b0, requires_grad=True)
        opt = dlcore.optim.LBFGS((p for p in [w, b]), **opts)  # a generator, read once
        mse, bce = F.mse_loss, F.binary_cross_entropy_with_logits
    losses = []

    def closure():
        opt.zero_grad()
        z = X @ w + b
        loss = mse(z, Y) + 1e-3 * (w * w).sum() if kind == "lsq" else bce(z, Y) + 1e-2 * (w * w).sum()
        loss.backward()
        losses.append(loss.item())
        return loss
    for _ in range(steps):
        opt.step(closure)
    return np.array(losses), w.detach().numpy().copy(), b.detach().numpy().copy()


@pytest.mark.parametrize("kind", ["lsq", "logistic"])
@pytest.mark.parametrize("opts", [dict(), dict(line_search_fn="strong_wolfe"),
                                  dict(lr=0.5, max_iter=5, history_size=3),
                                  dict(line_search_fn="strong_wolfe", max_iter=4, history_size=2)])
def test_same_iterates_as_torch(kind, opts):
    lt, wt, bt = _run("torch", kind, 3, **opts)
    ld, wd, bd = _run("dlcore", kind, 3, **opts)
    assert len(ld) == len(lt) and len(lt) > 5
    np.testing.assert_allclose(ld, lt, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(wd, wt, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(bd, bt, rtol=1e-7, atol=1e-10)


def test_returns_first_loss_and_counts_like_torch():
    x, y, w0, b0 = _problem("lsq")
    out = {}
    for lib, mod in (("torch", torch), ("dlcore", dlcore)):
        w = mod.tensor(w0, requires_grad=True)
        opt = (torch.optim.LBFGS if lib == "torch" else dlcore.optim.LBFGS)([w], max_iter=7)
        X, Y = mod.tensor(x), mod.tensor(y)

        def closure():
            opt.zero_grad()
            loss = ((X @ w - Y) ** 2).mean()
            loss.backward()
            return loss
        first = opt.step(closure)
        st = opt.state[w] if lib == "torch" else opt.state[id(w)]
        out[lib] = (float(first), st["func_evals"], st["n_iter"])
    assert out["dlcore"][1:] == out["torch"][1:]
    assert out["dlcore"][0] == pytest.approx(out["torch"][0], rel=1e-12)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_rosenbrock(line_search):
    xy = dlcore.tensor([-1.5, 2.0], dtype=dlcore.float64, requires_grad=True)
    opt = dlcore.optim.LBFGS([xy], lr=1 if line_search else 0.1, max_iter=200, history_size=10,
                             line_search_fn=line_search, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        a, b = xy[0], xy[1]
        loss = (1 - a) ** 2 + 100 * (b - a * a) ** 2
        loss.backward()
        return loss
    for _ in range(5 if line_search else 30):
        opt.step(closure)
    np.testing.assert_allclose(xy.detach().numpy(), [1.0, 1.0], atol=1e-5)


def test_bad_arguments():
    w = dlcore.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="line_search_fn"):
        dlcore.optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="one parameter group"):
        dlcore.optim.LBFGS([{"params": [w]}, {"params": [dlcore.zeros(2, requires_grad=True)]}])
    with pytest.raises(TypeError, match="closure"):
        dlcore.optim.LBFGS([w]).step(None)
