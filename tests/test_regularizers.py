"""Regularizers (penalty values and gradients) and constraints (MaxNorm, NonNeg)."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn import regularizers as R


def _model():
    dlcore.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5, dtype="float64"), nn.Linear(5, 3, dtype="float64"))


def test_penalty_values_and_gradients():
    m = _model()
    R.attach(m[0], "weight", R.L2(0.1))
    R.attach(m[1], "weight", R.L1L2(l1=0.01, l2=0.02))
    R.attach(m[1], "bias", R.L1(0.5))
    w0, w1, b1 = (m[0].weight.detach().numpy(), m[1].weight.detach().numpy(), m[1].bias.detach().numpy())
    loss = R.regularization_loss(m)
    expect = 0.1 * (w0 ** 2).sum() + 0.01 * np.abs(w1).sum() + 0.02 * (w1 ** 2).sum() + 0.5 * np.abs(b1).sum()
    assert float(loss) == pytest.approx(expect, rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(m[0].weight.grad.numpy(), 0.2 * w0, rtol=1e-12)
    np.testing.assert_allclose(m[1].weight.grad.numpy(), 0.01 * np.sign(w1) + 0.04 * w1, rtol=1e-12)
    np.testing.assert_allclose(m[1].bias.grad.numpy(), 0.5 * np.sign(b1), rtol=1e-12)
    assert m[0].bias.grad is None


def test_nothing_attached_and_replace():
    m = _model()
    assert float(R.regularization_loss(m)) == 0.0
    R.attach(m[0], "weight", R.L2(1.0))
    R.attach(m[0], "weight", R.L2(2.0))  # replaces
    w = m[0].weight.detach().numpy()
    assert float(R.regularization_loss(m)) == pytest.approx(2.0 * (w ** 2).sum())
    R.detach(m[0], "weight")
    assert float(R.regularization_loss(m)) == 0.0


def test_maxnorm_and_nonneg_after_step():
    m = _model()
    with dlcore.no_grad():
        m[0].weight.copy_(m[0].weight.detach() * 10.0)
    R.constrain(m[0], "weight", R.MaxNorm(1.0))
    R.constrain(m[1], "weight", R.NonNeg())
    opt = dlcore.optim.SGD(m.parameters(), lr=0.1)
    x = dlcore.tensor(np.random.default_rng(0).standard_normal((4, 6)))
    m(x).sum().backward()
    opt.step()
    before = m[0].weight.detach().numpy().copy()
    R.apply_constraints(m)
    w0 = m[0].weight.detach().numpy()
    norms = np.linalg.norm(w0, axis=1)
    assert np.all(norms <= 1.0 + 1e-9) and np.all(norms > 0.999)
    # direction kept
    np.testing.assert_allclose(w0, before / np.linalg.norm(before, axis=1, keepdims=True), rtol=1e-6)
    assert m[1].weight.detach().numpy().min() >= 0
    # rows already inside the ball are untouched
    small = dlcore.tensor(np.array([[0.1, 0.2], [3.0, 4.0]]))
    out = R.MaxNorm(2.0)(small).numpy()
    np.testing.assert_allclose(out[0], [0.1, 0.2], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out[1]), 2.0, rtol=1e-6)


def test_bad_input():
    m = _model()
    with pytest.raises(ValueError, match="no tensor parameter 'kernel'"):
        R.attach(m[0], "kernel", R.L2())
    with pytest.raises(ValueError, match="non-negative"):
        R.L1(-1.0)
    with pytest.raises(TypeError, match="callable"):
        R.attach(m[0], "weight", 0.1)
    with pytest.raises(ValueError, match="max_value must be positive"):
        R.MaxNorm(0)
