"""Gradient clipping against torch.nn.utils: the same total norm, the same clipped grads."""
import math

import numpy as np
import pytest
from conftest import requires_torch, threads

import dlcore
from dlcore.nn import utils as U

SHAPES = [(31, 17), (1000,), (3, 4, 5), (1,)]


def _grads(dtype, seed=0, scale=1.0):
    r = np.random.default_rng(seed)
    return [(r.standard_normal(s) * scale).astype(dtype) for s in SHAPES]


def _ours(gs):
    ps = []
    for g in gs:
        p = dlcore.tensor(np.zeros(g.shape, g.dtype), requires_grad=True)
        p.grad = dlcore.tensor(g.copy())
        ps.append(p)
    return ps


def _theirs(gs):
    import torch
    ps = []
    for g in gs:
        p = torch.zeros(g.shape, dtype=torch.float64 if g.dtype == np.float64 else torch.float32, requires_grad=True)
        p.grad = torch.tensor(g.copy())
        ps.append(p)
    return ps


@requires_torch
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, rtol, norm_type, max_norm):
    import torch
    gs = _grads(dtype)
    ours, ref = _ours(gs), _theirs(gs)
    n1 = U.clip_grad_norm_(ours, max_norm, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    assert float(n1) == pytest.approx(float(n2), rel=rtol)
    for p, q in zip(ours, ref):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=max(rtol, 1e-6), atol=1e-7)
    if max_norm < float(n2):  # clipped: the new norm is max_norm
        assert float(U.get_total_norm([p.grad for p in ours], norm_type)) == pytest.approx(max_norm, rel=1e-4)


@requires_torch
def test_clip_grad_value_matches_torch():
    import torch
    gs = _grads(np.float64, scale=3.0)
    ours, ref = _ours(gs), _theirs(gs)
    U.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(ref, 1.5)
    for p, q in zip(ours, ref):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert max(np.abs(p.grad.numpy()).max() for p in ours) == 1.5


def test_norm_is_deterministic_across_threads():
    r = np.random.default_rng(5)
    gs = [r.standard_normal(1_000_003).astype(np.float32), r.standard_normal(70_000).astype(np.float32)]
    vals = []
    for nt in (1, 2, 3):
        with threads(nt):
            vals.append(dlcore._C.multi_norm_power(gs, 2.0))
    assert vals[0] == vals[1] == vals[2]
    exact = float(np.sum([np.sum(g.astype(np.float64) ** 2) for g in gs]))
    assert vals[0] == pytest.approx(exact, rel=1e-12)


def test_nonfinite():
    gs = _grads(np.float64)
    gs[1][3] = np.nan
    ps = _ours(gs)
    with pytest.raises(RuntimeError, match="non-finite"):
        U.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert math.isnan(float(U.clip_grad_norm_(ps, 1.0)))
    gs = _grads(np.float64)
    gs[0][0, 0] = np.inf
    assert math.isinf(float(U.clip_grad_norm_(_ours(gs), 1.0, norm_type=math.inf)))
    gs[2][0, 0, 0] = np.nan
    assert math.isnan(float(U.clip_grad_norm_(_ours(gs), 1.0, norm_type=math.inf)))


def test_no_grads_and_bad_input():
    p = dlcore.tensor(np.ones(3), requires_grad=True)
    assert float(U.clip_grad_norm_([p], 1.0)) == 0.0
    assert float(U.clip_grad_norm_(p, 1.0)) == 0.0
    p.grad = dlcore.tensor(np.full(3, 4.0))
    with pytest.raises(ValueError, match="norm_type must be positive"):
        U.clip_grad_norm_([p], 1.0, norm_type=-1)
    with pytest.raises(ValueError, match="non-negative"):
        U.clip_grad_value_([p], -1.0)
    # a single tensor works like a list, and the norm is returned before clipping
    assert float(U.clip_grad_norm_(p, 1.0)) == pytest.approx(math.sqrt(48))
    np.testing.assert_allclose(np.linalg.norm(p.grad.numpy()), 1.0, rtol=1e-6)
