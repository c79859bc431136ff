"""Learning-rate schedules: the same lr sequence (and cycled momentum / beta1) as
torch.optim.lr_scheduler over 300 steps (with two parameter groups of different lr), chained and
sequential warmups included, and state_dict round trips."""
import math

import numpy as np
import pytest
from conftest import requires_torch

import dlcore
from dlcore import optim
from dlcore.optim import lr_scheduler as S

N = 300


def _opt_pair(kind="SGD"):
    import torch
    a = [dlcore.tensor(np.ones(2), requires_grad=True), dlcore.tensor(np.ones(2), requires_grad=True)]
    b = [torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)]
    if kind == "SGD":
        o1 = optim.SGD([{"params": [a[0]]}, {"params": [a[1]], "lr": 0.3}], lr=0.1, momentum=0.9)
        o2 = torch.optim.SGD([{"params": [b[0]]}, {"params": [b[1]], "lr": 0.3}], lr=0.1, momentum=0.9)
    else:
        o1 = optim.Adam([{"params": [a[0]]}, {"params": [a[1]], "lr": 0.3}], lr=0.1)
        o2 = torch.optim.Adam([{"params": [b[0]]}, {"params": [b[1]], "lr": 0.3}], lr=0.1)
    return o1, o2


def _lin(o, mod):
    return mod.LinearLR(o, start_factor=0.1, total_iters=20)


def _mk(name):
    """name -> function(optimizer, module) building the scheduler with that module's classes."""
    return {
        "StepLR": lambda o, m: m.StepLR(o, step_size=30, gamma=0.5),
        "MultiStepLR": lambda o, m: m.MultiStepLR(o, milestones=[10, 50, 50, 200], gamma=0.3),
        "ExponentialLR": lambda o, m: m.ExponentialLR(o, gamma=0.99),
        "CosineAnnealingLR": lambda o, m: m.CosineAnnealingLR(o, T_max=70, eta_min=1e-3),
        "CosineAnnealingWarmRestarts": lambda o, m: m.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=1e-4),
        "CosineAnnealingWarmRestarts1": lambda o, m: m.CosineAnnealingWarmRestarts(o, T_0=25),
        "LinearLR": lambda o, m: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=120),
        "ConstantLR": lambda o, m: m.ConstantLR(o, factor=0.5, total_iters=40),
        "PolynomialLR": lambda o, m: m.PolynomialLR(o, total_iters=250, power=2.0),
        "LambdaLR": lambda o, m: m.LambdaLR(o, lambda e: 1.0 / (1 + 0.05 * e)),
        "LambdaLR-list": lambda o, m: m.LambdaLR(o, [lambda e: 0.97 ** e, lambda e: 1.0 / (1 + e)]),
        "MultiplicativeLR": lambda o, m: m.MultiplicativeLR(o, lambda e: 0.995),
        "OneCycleLR": lambda o, m: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=N + 1),
        "OneCycleLR-3phase-linear": lambda o, m: m.OneCycleLR(o, max_lr=0.5, total_steps=N + 1, pct_start=0.2,
                                                             anneal_strategy="linear", three_phase=True),
        "CyclicLR": lambda o, m: m.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.5], step_size_up=20,
                                            step_size_down=35),
        "CyclicLR-triangular2": lambda o, m: m.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=25,
                                                        mode="triangular2", base_momentum=0.7, max_momentum=0.95),
        "CyclicLR-exp_range-Adam": lambda o, m: m.CyclicLR(o, base_lr=0.001, max_lr=[0.1, 0.3], step_size_up=15,
                                                           mode="exp_range", gamma=0.995),
        "CyclicLR-scale_fn": lambda o, m: m.CyclicLR(o, base_lr=0.05, max_lr=0.15, step_size_up=10,
                                                     scale_fn=lambda x: 1.0 / (1 + 0.01 * x), scale_mode="iterations",
                                                     cycle_momentum=False),
        "Sequential-warmup-cosine": lambda o, m: m.SequentialLR(
            o, [_lin(o, m), m.CosineAnnealingLR(o, T_max=N - 20)], milestones=[20]),
        "Sequential-warmup-step-exp": lambda o, m: m.SequentialLR(
            o, [_lin(o, m), m.StepLR(o, 40, 0.5), m.ExponentialLR(o, 0.98)], milestones=[20, 150]),
        "Chained-warmup-cosine": lambda o, m: m.ChainedScheduler(
            [_lin(o, m), m.CosineAnnealingLR(o, T_max=N)]),
        "Chained-warmup-multistep": lambda o, m: m.ChainedScheduler(
            [_lin(o, m), m.MultiStepLR(o, [100, 200], 0.1)]),
    }[name]


NAMES = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
         "CosineAnnealingWarmRestarts1", "LinearLR", "ConstantLR", "PolynomialLR", "LambdaLR", "LambdaLR-list",
         "MultiplicativeLR", "OneCycleLR", "OneCycleLR-3phase-linear", "CyclicLR", "CyclicLR-triangular2",
         "CyclicLR-exp_range-Adam", "CyclicLR-scale_fn", "Sequential-warmup-cosine",
         "Sequential-warmup-step-exp", "Chained-warmup-cosine", "Chained-warmup-multistep"]


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_lr_sequence_matches_torch(name):
    import torch
    import warnings
    o1, o2 = _opt_pair("Adam" if name.startswith("OneCycle") or name.endswith("Adam") else "SGD")
    s1 = _mk(name)(o1, S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s2 = _mk(name)(o2, torch.optim.lr_scheduler)
    seq1, seq2 = [s1.get_last_lr()], [s2.get_last_lr()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(N):
            o2.step()
            s1.step()
            s2.step()
            seq1.append(s1.get_last_lr())
            seq2.append(s2.get_last_lr())
            assert [g["lr"] for g in o1.param_groups] == pytest.approx([g["lr"] for g in o2.param_groups], rel=1e-12)
            for g1, g2 in zip(o1.param_groups, o2.param_groups):  # cycled momentum / beta1 too
                key = "betas" if "betas" in g2 else "momentum"
                assert np.ravel(g1[key])[0] == pytest.approx(np.ravel(g2[key])[0], rel=1e-12)
    np.testing.assert_allclose(np.array(seq1, float), np.array(seq2, float), rtol=1e-12, atol=0)
    assert len({round(x[0], 12) for x in seq1}) > 1  # the schedule really changes the lr


@requires_torch
@pytest.mark.parametrize("mode,threshold_mode,cooldown", [("min", "rel", 0), ("max", "abs", 3), ("min", "abs", 2)])
def test_reduce_on_plateau_matches_torch(mode, threshold_mode, cooldown):
    import torch
    o1, o2 = _opt_pair()
    kw = dict(mode=mode, factor=0.5, patience=4, threshold=1e-2, threshold_mode=threshold_mode,
              cooldown=cooldown, min_lr=[1e-4, 1e-3])
    s1, s2 = S.ReduceLROnPlateau(o1, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(o2, **kw)
    r = np.random.default_rng(0)
    metric = 10.0
    for t in range(N):
        metric = metric * (0.98 if t % 17 < 6 else 1.0) + 0.01 * r.standard_normal()
        m = metric if mode == "min" else -metric
        s1.step(m)
        s2.step(m)
        assert s1.get_last_lr() == pytest.approx(s2.get_last_lr(), rel=1e-15)
    assert s1.get_last_lr()[0] < 0.1


@requires_torch
def test_step_with_epoch_uses_closed_form_like_torch():
    import torch
    import warnings
    o1, o2 = _opt_pair()
    s1 = S.StepLR(o1, 7, 0.5)
    s2 = torch.optim.lr_scheduler.StepLR(o2, 7, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in (3, 15, 8, 22):
            s1.step(e)
            s2.step(e)
            assert s1.get_last_lr() == pytest.approx(s2.get_last_lr(), rel=1e-15)


@pytest.mark.parametrize("name", ["CosineAnnealingLR", "OneCycleLR", "Sequential-warmup-cosine",
                                  "Chained-warmup-cosine", "CosineAnnealingWarmRestarts", "CyclicLR-triangular2",
                                  "CyclicLR-exp_range-Adam"])
def test_state_dict_round_trip(name):
    def make():
        ps = [dlcore.tensor(np.ones(2), requires_grad=True), dlcore.tensor(np.ones(2), requires_grad=True)]
        o = optim.Adam([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.3}], lr=0.1)
        return o, _mk(name)(o, S)

    o_full, s_full = make()
    for _ in range(100):
        s_full.step()
    o_a, s_a = make()
    for _ in range(50):
        s_a.step()
    osd, ssd = o_a.state_dict(), s_a.state_dict()
    assert "optimizer" not in ssd
    o_b, s_b = make()
    o_b.load_state_dict(osd)
    s_b.load_state_dict(ssd)
    for _ in range(50):
        s_b.step()
    assert s_b.get_last_lr() == pytest.approx(s_full.get_last_lr(), rel=1e-14)
    assert [g["lr"] for g in o_b.param_groups] == pytest.approx(s_full.get_last_lr(), rel=1e-14)


def test_warmup_convenience():
    p = dlcore.tensor(np.ones(2), requires_grad=True)
    o = optim.SGD([p], lr=1.0)
    s = S.warmup(o, 10, S.CosineAnnealingLR(o, T_max=90), start_factor=0.1)
    lrs = [s.get_last_lr()[0]]
    for _ in range(100):
        s.step()
        lrs.append(s.get_last_lr()[0])
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[10] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))
    assert lrs[100] == pytest.approx(0.0, abs=1e-12)
    o2 = optim.SGD([dlcore.tensor(np.ones(2), requires_grad=True)], lr=2.0)
    w = S.LinearWarmup(o2, 4)
    for _ in range(6):
        w.step()
    assert w.get_last_lr() == [pytest.approx(2.0)]


def test_bad_input():
    p = dlcore.tensor(np.ones(2), requires_grad=True)
    o = optim.SGD([p], lr=1.0)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), 3)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(o, start_factor=0.0)
    with pytest.raises(ValueError, match="T_0"):
        S.CosineAnnealingWarmRestarts(o, T_0=0)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(o, max_lr=1.0)
    with pytest.raises(ValueError, match="mode is invalid"):
        S.CyclicLR(o, 0.1, 1.0, mode="sawtooth")
    with pytest.raises(ValueError, match="step_size_up and step_size_down must be positive"):
        S.CyclicLR(o, 0.1, 1.0, step_size_up=0)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        S.CyclicLR(optim.Adagrad([p], lr=0.1), 0.1, 1.0)
    with pytest.raises(ValueError, match="base_lr must have one value per parameter group"):
        S.CyclicLR(o, [0.1, 0.2], 1.0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(o, factor=2.0)
    with pytest.raises(ValueError, match="milestone"):
        S.SequentialLR(o, [S.StepLR(o, 3), S.StepLR(o, 4)], milestones=[])
    s = S.OneCycleLR(o, max_lr=1.0, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()
    assert math.isfinite(o.param_groups[0]["lr"])
