"""PyTorch-style code runs on dlcore unchanged: functions taking ``parameters`` accept a
generator (read once), device / accelerator queries, dtype aliases, *_like creators and the
axis / keepdims aliases - each checked against PyTorch."""
import numpy as np
import pytest
import torch

import dlcore
import dlcore.nn as nn


def _pair(seed=0):
    """The same small model in both libraries, with gradients from the same loss."""
    rng = np.random.default_rng(seed)
    w1, b1, w2 = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 4))
    x = rng.standard_normal((5, 3))
    dm = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False)).double()
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2, bias=False)).double()
    for m, mod in ((dm, dlcore), (tm, torch)):
        with (dlcore.no_grad() if mod is dlcore else torch.no_grad()):
            m[0].weight.copy_(mod.tensor(w1)), m[0].bias.copy_(mod.tensor(b1)), m[2].weight.copy_(mod.tensor(w2))
        (100 * m(mod.tensor(x)) ** 2).sum().backward()
    return dm, tm


def _grads(m):
    return [p.grad.detach().numpy().copy() for p in m.parameters()]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_with_a_generator_clips(norm_type):
    dm, tm = _pair()
    nd = nn.utils.clip_grad_norm_(dm.parameters(), 1.0, norm_type=norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0, norm_type=norm_type)
    assert float(nd) == pytest.approx(float(nt), rel=1e-12) and float(nt) > 10
    for gd, gt in zip(_grads(dm), _grads(tm)):
        np.testing.assert_allclose(gd, gt, rtol=1e-12)
    total = np.linalg.norm(np.concatenate([g.ravel() for g in _grads(dm)]), ord=norm_type)
    assert total == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_value_with_a_generator_clips():
    dm, tm = _pair()
    nn.utils.clip_grad_value_(dm.parameters(), 0.5)
    torch.nn.utils.clip_grad_value_(tm.parameters(), 0.5)
    for gd, gt in zip(_grads(dm), _grads(tm)):
        np.testing.assert_array_equal(gd, gt)
    assert max(np.abs(g).max() for g in _grads(dm)) == 0.5


def test_get_total_norm_and_clip_grads_with_norm_with_generators():
    dm, tm = _pair()
    nd = nn.utils.get_total_norm(p.grad for p in dm.parameters())
    nt = torch.nn.utils.get_total_norm([p.grad for p in tm.parameters()])
    assert float(nd) == pytest.approx(float(nt), rel=1e-12)
    nn.utils.clip_grads_with_norm_(dm.parameters(), 2.0, nd)
    torch.nn.utils.clip_grads_with_norm_(tm.parameters(), 2.0, nt)
    for gd, gt in zip(_grads(dm), _grads(tm)):
        np.testing.assert_allclose(gd, gt, rtol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
                                  "Lion", "LBFGS"])
def test_optimizers_take_a_generator(name):
    dm, tm = _pair()
    opt = getattr(dlcore.optim, name)(dm.parameters(), lr=0.01)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in dm.parameters()]
    if name != "LBFGS":
        before = [p.detach().numpy().copy() for p in dm.parameters()]
        opt.step()
        assert all(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, dm.parameters()))
    # a generator of parameter groups too
    opt = getattr(dlcore.optim, name)(({"params": [p]} for p in [dm[0].weight]), lr=0.01)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"][0] is dm[0].weight
