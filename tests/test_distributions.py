"""dlcore.distributions against torch.distributions: log_prob / entropy values and their
gradients (float64), batch and sample shapes, sample statistics, reproducible seeded
sampling, rsample's gradient, and argument validation."""
import numpy as np
import pytest
import torch

import dlcore
import dlcore.distributions as D

TD = torch.distributions


def _both(a):
    """The same float64 leaf in dlcore and torch."""
    return dlcore.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(fd, ft, leaves):
    """values of fd (dlcore) == ft (torch), then the gradients of sum(fd * w) at the leaves."""
    np.testing.assert_allclose(fd.detach().numpy(), ft.detach().numpy(), rtol=1e-12, atol=1e-14)
    w = np.random.default_rng(1).standard_normal(tuple(ft.shape))
    (fd * dlcore.tensor(w)).sum().backward(retain_graph=True)
    (ft * torch.tensor(w)).sum().backward(retain_graph=True)
    for ld, lt in leaves:
        np.testing.assert_allclose(ld.grad.numpy(), lt.grad.numpy(), rtol=1e-10, atol=1e-13)
        ld.grad = None
        lt.grad = None


rng = np.random.default_rng(0)


@pytest.mark.parametrize("use_logits", [True, False])
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_categorical_matches_torch(use_logits, batch):
    raw = rng.standard_normal(batch + (4,)) * 2 if use_logits else rng.uniform(0.05, 1.0, batch + (4,))
    pd, pt = _both(raw)
    kw = "logits" if use_logits else "probs"
    dd, dt = D.Categorical(**{kw: pd}), TD.Categorical(**{kw: pt})
    assert dd.batch_shape == tuple(dt.batch_shape) and dd.event_shape == ()
    value = rng.integers(0, 4, (5,) + batch)
    _check(dd.log_prob(dlcore.tensor(value)), dt.log_prob(torch.tensor(value)), [(pd, pt)])
    _check(dd.entropy(), dt.entropy(), [(pd, pt)])
    _check(dd.probs, dt.probs, [(pd, pt)])
    _check(dd.logits, dt.logits, [(pd, pt)])
    assert dd.sample().shape == tuple(dt.sample().shape) and dd.sample((7, 2)).shape == (7, 2) + batch
    assert dd.sample().dtype == dlcore.int64


def test_categorical_zero_probability():
    p = np.array([0.0, 0.3, 0.7])
    dd, dt = D.Categorical(probs=dlcore.tensor(p)), TD.Categorical(probs=torch.tensor(p))
    np.testing.assert_allclose(dd.entropy().numpy(), dt.entropy().numpy(), rtol=1e-14)
    np.testing.assert_allclose(dd.log_prob(dlcore.tensor([1, 2])).numpy(), dt.log_prob(torch.tensor([1, 2])).numpy())
    assert dd.log_prob(dlcore.tensor(0)).item() == dt.log_prob(torch.tensor(0)).item()  # log(eps)
    assert not (dd.sample((2000,)) == 0).any().item()


def test_categorical_sample_frequencies():
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    dlcore.manual_seed(3)
    s = D.Categorical(probs=dlcore.tensor(p)).sample((20000,)).numpy()
    for b in range(2):
        freq = np.bincount(s[:, b], minlength=3) / len(s)
        np.testing.assert_allclose(freq, p[b], atol=4 * np.sqrt(0.25 / len(s)))


@pytest.mark.parametrize("use_logits", [True, False])
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_bernoulli_matches_torch(use_logits, batch):
    raw = rng.standard_normal(batch) * 3 if use_logits else rng.uniform(0.05, 0.95, batch)
    pd, pt = _both(raw)
    kw = "logits" if use_logits else "probs"
    dd, dt = D.Bernoulli(**{kw: pd}), TD.Bernoulli(**{kw: pt})
    assert dd.batch_shape == tuple(dt.batch_shape)
    value = rng.integers(0, 2, (3,) + batch).astype(np.float64)
    _check(dd.log_prob(dlcore.tensor(value)), dt.log_prob(torch.tensor(value)), [(pd, pt)])
    _check(dd.entropy(), dt.entropy(), [(pd, pt)])
    _check(dd.mean, dt.mean, [(pd, pt)])
    _check(dd.variance, dt.variance, [(pd, pt)])
    assert dd.sample((5,)).shape == (5,) + batch and dd.sample().dtype == dlcore.float64


def test_bernoulli_sample_mean():
    p = np.array([0.1, 0.5, 0.9])
    dlcore.manual_seed(4)
    s = D.Bernoulli(probs=dlcore.tensor(p)).sample((20000,)).numpy()
    np.testing.assert_allclose(s.mean(0), p, atol=4 * np.sqrt(0.25 / 20000))
    assert set(np.unique(s)) == {0.0, 1.0}


@pytest.mark.parametrize("shapes", [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), ())])
def test_normal_matches_torch(shapes):
    (ld, lt), (sd, st) = _both(rng.standard_normal(shapes[0])), _both(rng.uniform(0.5, 2.0, shapes[1]))
    dd, dt = D.Normal(ld, sd), TD.Normal(lt, st)
    assert dd.batch_shape == tuple(dt.batch_shape)
    value = rng.standard_normal((4,) + tuple(dt.batch_shape))
    _check(dd.log_prob(dlcore.tensor(value)), dt.log_prob(torch.tensor(value)), [(ld, lt), (sd, st)])
    _check(dd.entropy(), dt.entropy(), [(sd, st)])
    _check(dd.variance, dt.variance, [(sd, st)])
    assert dd.sample((6,)).shape == (6,) + dd.batch_shape and not dd.sample().requires_grad


def test_normal_rsample_is_reparameterised():
    """rsample = loc + scale * eps: its gradients are 1 for loc and eps for scale, the same eps
    the sample used; sample() draws the same values from the same seed but has no graph."""
    loc = dlcore.tensor([0.5, -1.0], dtype=dlcore.float64, requires_grad=True)
    scale = dlcore.tensor([2.0, 0.5], dtype=dlcore.float64, requires_grad=True)
    dist = D.Normal(loc, scale)
    dlcore.manual_seed(7)
    x = dist.rsample((3,))
    dlcore.manual_seed(7)
    eps = dlcore.randn(3, 2, dtype=dlcore.float64).numpy()
    np.testing.assert_allclose(x.detach().numpy(), loc.detach().numpy() + eps * scale.detach().numpy(), rtol=1e-14)
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0), rtol=1e-12)
    dlcore.manual_seed(7)
    np.testing.assert_array_equal(dist.sample((3,)).numpy(), x.detach().numpy())
    # the pathwise gradient of E[x^2] = loc^2 + scale^2 estimates (2 loc, 2 scale)
    loc.grad = scale.grad = None
    (dist.rsample((40000,)) ** 2).mean(0).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), 2 * loc.detach().numpy(), atol=0.08)
    np.testing.assert_allclose(scale.grad.numpy(), 2 * scale.detach().numpy(), atol=0.08)


def test_normal_sample_statistics():
    dlcore.manual_seed(5)
    s = D.Normal(dlcore.tensor([1.0, -2.0]), dlcore.tensor([0.5, 3.0])).sample((20000,)).numpy()
    assert np.all(np.abs(s.mean(0) - [1.0, -2.0]) / [0.5, 3.0] * np.sqrt(len(s)) < 4)  # 4 standard errors
    np.testing.assert_allclose(s.std(0), [0.5, 3.0], rtol=0.03)


@pytest.mark.parametrize("make", [lambda: D.Categorical(logits=dlcore.randn(3, 5)),
                                  lambda: D.Bernoulli(probs=dlcore.rand(4)),
                                  lambda: D.Normal(dlcore.zeros(2), 1.0)])
def test_seeded_sampling_is_reproducible(make):
    dist = make()
    dlcore.manual_seed(11)
    a = dist.sample((50,)).numpy()
    dlcore.manual_seed(11)
    b = dist.sample((50,)).numpy()
    with dlcore.use_generator(12):
        c = dist.sample((50,)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_reinforce_gradient_matches_torch():
    """The policy-gradient loss -(log_prob(actions) * returns).mean() of a REINFORCE script."""
    logits = rng.standard_normal((6, 3))
    actions, returns = rng.integers(0, 3, 6), rng.standard_normal(6)
    ld, lt = _both(logits)
    loss_d = -(D.Categorical(logits=ld).log_prob(dlcore.tensor(actions)) * dlcore.tensor(returns)).mean()
    loss_t = -(TD.Categorical(logits=lt).log_prob(torch.tensor(actions)) * torch.tensor(returns)).mean()
    loss_d.backward(), loss_t.backward()
    assert loss_d.item() == pytest.approx(loss_t.item(), rel=1e-13)
    np.testing.assert_allclose(ld.grad.numpy(), lt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("make", [lambda x: D.Categorical(probs=dlcore.softmax(x, -1)),
                                  lambda x: D.Bernoulli(logits=x)])
def test_log_prob_after_sample_keeps_its_graph(make):
    """sample() builds the parameter the distribution was not given (logits from probs, probs
    from logits) and caches it; built under sample's no_grad, log_prob would then be cut off
    from the graph (REINFORCE's `m.log_prob(m.sample())` had no gradient; so had entropy)."""
    x = dlcore.tensor(rng.random((2, 3)), requires_grad=True)
    dist = make(x)
    lp, ent = dist.log_prob(dist.sample()), dist.entropy()
    assert lp.requires_grad and ent.requires_grad
    (lp.sum() + ent.sum()).backward()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()


def test_validation():
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        D.Categorical()
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        D.Bernoulli(probs=dlcore.rand(2), logits=dlcore.rand(2))
    with pytest.raises(ValueError, match="Bernoulli: probs must lie in"):
        D.Bernoulli(probs=dlcore.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="Normal: scale must be positive"):
        D.Normal(0.0, dlcore.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"category indices in \[0, 3\)"):
        D.Categorical(logits=dlcore.zeros(3)).log_prob(dlcore.tensor([3]))
    with pytest.raises(ValueError, match="Bernoulli: value must be 0 or 1"):
        D.Bernoulli(probs=dlcore.tensor([0.5])).log_prob(dlcore.tensor([0.5]))
    with pytest.raises(ValueError, match=r"shape \(4,\) does not broadcast with the batch shape \(3,\)"):
        D.Normal(dlcore.zeros(3), 1.0).log_prob(dlcore.zeros(4))
    with pytest.raises(TypeError, match="Normal: scale must be"):
        D.Normal(0.0, "1")
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Categorical(logits=dlcore.zeros(3)).rsample()
    D.Bernoulli(probs=dlcore.tensor([1.5]), validate_args=False)  # off when asked


def test_independent_matches_torch():
    (ld, lt), (sd, st) = _both(rng.standard_normal((2, 3))), _both(rng.uniform(0.5, 2.0, (2, 3)))
    dd, dt = D.Independent(D.Normal(ld, sd), 1), TD.Independent(TD.Normal(lt, st), 1)
    assert dd.batch_shape == tuple(dt.batch_shape) == (2,) and dd.event_shape == tuple(dt.event_shape) == (3,)
    value = rng.standard_normal((4, 2, 3))
    _check(dd.log_prob(dlcore.tensor(value)), dt.log_prob(torch.tensor(value)), [(ld, lt), (sd, st)])
    _check(dd.entropy(), dt.entropy(), [(sd, st)])
    assert dd.rsample((5,)).shape == (5, 2, 3) and dd.has_rsample
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims \\(3\\) exceeds"):
        D.Independent(D.Normal(ld, sd), 3)


@pytest.mark.parametrize("kind", ["normal", "categorical", "bernoulli", "independent"])
def test_kl_divergence_matches_torch(kind):
    if kind in ("normal", "independent"):
        a, b = _both(rng.standard_normal((2, 3))), _both(rng.uniform(0.5, 2.0, (2, 3)))
        c, d = _both(rng.standard_normal(3)), _both(rng.uniform(0.5, 2.0, 3))
        leaves = [a, b, c, d]
        mk = {"normal": lambda D_, x, y: D_.Normal(x, y),
              "independent": lambda D_, x, y: D_.Independent(D_.Normal(x, y.expand(2, 3)), 1)}[kind]
        pd, qd = mk(D, a[0], b[0]), mk(D, c[0], d[0])
        pt, qt = mk(TD, a[1], b[1]), mk(TD, c[1], d[1])
    elif kind == "categorical":
        a, c = _both(rng.standard_normal((3, 4))), _both(rng.standard_normal(4))
        leaves = [a, c]
        pd, qd, pt, qt = D.Categorical(logits=a[0]), D.Categorical(logits=c[0]), \
            TD.Categorical(logits=a[1]), TD.Categorical(logits=c[1])
    else:
        a, c = _both(rng.uniform(0.1, 0.9, (3,))), _both(rng.standard_normal(3))
        leaves = [a, c]
        pd, qd, pt, qt = D.Bernoulli(probs=a[0]), D.Bernoulli(logits=c[0]), \
            TD.Bernoulli(probs=a[1]), TD.Bernoulli(logits=c[1])
    _check(D.kl_divergence(pd, qd), TD.kl_divergence(pt, qt), leaves)


def test_kl_divergence_edges_as_torch():
    p, q = np.array([0.0, 0.5, 0.5]), np.array([0.2, 0.0, 0.8])
    kd = D.kl_divergence(D.Categorical(probs=dlcore.tensor(q)), D.Categorical(probs=dlcore.tensor(p)))
    kt = TD.kl_divergence(TD.Categorical(probs=torch.tensor(q)), TD.Categorical(probs=torch.tensor(p)))
    assert kd.item() == kt.item() == float("inf")
    kd = D.kl_divergence(D.Categorical(probs=dlcore.tensor(p)), D.Categorical(probs=dlcore.tensor(q + 0.1)))
    kt = TD.kl_divergence(TD.Categorical(probs=torch.tensor(p)), TD.Categorical(probs=torch.tensor(q + 0.1)))
    assert kd.item() == pytest.approx(kt.item(), rel=1e-12)
    with pytest.raises(NotImplementedError, match="no closed form for Normal and Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=dlcore.tensor(0.5)))
