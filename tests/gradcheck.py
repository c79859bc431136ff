"""Gradients against float64 central differences.

    from gradcheck import gradcheck
    err = gradcheck(lambda a, b: (a * b).sum(), [a_np, b_np])

`fn` takes dlcore Tensors and returns a Tensor of any shape. The output is contracted with a
fixed random weight w (so every output element matters) and the analytic gradient of
sum(fn(*xs) * w), from dlcore's backward, is compared with central differences of the same
scalar computed in float64. The tolerance is scaled by the gradient's size:
|analytic - numeric| <= atol + rtol * max(1, max|numeric|). Returns the largest error seen
(relative to that scale) and raises AssertionError naming the input and the worst element.
"""
import numpy as np

import dlcore


def _scalar(fn, arrays, w):
    out = fn(*[dlcore.tensor(a) for a in arrays])
    return float(np.sum(out.detach().numpy().astype(np.float64) * w))


def numeric_grads(fn, arrays, w, eps=1e-6, wrt=None):
    grads = []
    for i, a in enumerate(arrays):
        if wrt is not None and i not in wrt:
            grads.append(None)
            continue
        g = np.zeros_like(a, dtype=np.float64)
        flat = a.reshape(-1)  # arrays are contiguous copies: a view
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = _scalar(fn, arrays, w)
            flat[j] = old - eps
            fm = _scalar(fn, arrays, w)
            flat[j] = old
            g.reshape(-1)[j] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def gradcheck(fn, inputs, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0, wrt=None):
    """Checks dlcore's gradients of fn at `inputs` (arrays; promoted to float64 copies).
    wrt: indices of the inputs to check (default all). Returns the max scaled error."""
    arrays = [np.array(a, dtype=np.float64, copy=True) for a in inputs]
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    ts = [dlcore.tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
    out = fn(*ts)
    assert out.dtype == np.float64, f"gradcheck: fn returned {out.dtype}, expected float64"
    w = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    out.backward(dlcore.tensor(w))
    num = numeric_grads(fn, arrays, w, eps, wrt)
    worst = 0.0
    for i in wrt:
        t = ts[i]
        ana = np.zeros(arrays[i].shape) if t.grad is None else t.grad.numpy().astype(np.float64)
        assert ana.shape == arrays[i].shape, f"gradcheck: grad of input {i} has shape {ana.shape}, expected {arrays[i].shape}"
        scale = max(1.0, float(np.max(np.abs(num[i]))) if num[i].size else 1.0)
        err = np.abs(ana - num[i])
        rel = float(np.max(err)) / scale if err.size else 0.0
        worst = max(worst, rel)
        if err.size and not np.all(err <= atol + rtol * scale):
            j = np.unravel_index(int(np.argmax(err)), err.shape)
            raise AssertionError(f"gradcheck: input {i} element {j}: analytic {ana[j]!r} vs numeric "
                                 f"{num[i][j]!r} (max error {float(np.max(err)):.3g}, scale {scale:.3g})")
    return worst
