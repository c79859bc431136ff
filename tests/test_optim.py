"""Optimizers against torch.optim: 100 steps on the same parameters and the same gradient
sequence; float64 parameters agree within 1e-6 relative. Plus state_dict round trips,
float32, thread-count independence and bad input."""
import numpy as np
import pytest
from conftest import requires_torch, threads

import dlcore
from dlcore import optim

SHAPES = [(5, 3), (7,), (2, 3, 4), (3, 67)]  # the last one runs the vector loop bodies
STEPS = 100


def _params(dtype=np.float64, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(step, dtype=np.float64, seed=1):
    r = np.random.default_rng(seed * 100003 + step)
    return [r.standard_normal(s).astype(dtype) for s in SHAPES]


def _torch_cls(name):
    import torch
    return getattr(torch.optim, name)


@pytest.fixture
def torch64():
    import torch
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps NAdam's mu_product in the default dtype
    yield torch
    torch.set_default_dtype(prev)


def _groups(ps, groups):
    """groups: None (one group) or a list of (indices, options)."""
    if groups is None:
        return ps
    return [{"params": [ps[i] for i in idx], **opts} for idx, opts in groups]


def _run_dlcore(name, kw, groups=None, steps=STEPS, dtype=np.float64, start=0, opt_state=None, init=None):
    ps = [dlcore.tensor(a.copy(), requires_grad=True) for a in (init if init is not None else _params(dtype))]
    opt = getattr(optim, name)(_groups(ps, groups), **kw)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    for t in range(start, start + steps):
        for p, g in zip(ps, _grads(t, dtype)):
            p.grad = dlcore.tensor(g)
        opt.step()
    return [p.detach().numpy().copy() for p in ps], opt


def _run_torch(torch, name, kw, groups=None, steps=STEPS, dtype=np.float64):
    ps = [torch.tensor(a.copy(), requires_grad=True) for a in _params(dtype)]
    opt = _torch_cls(name)(_groups(ps, groups), **kw)
    for t in range(steps):
        for p, g in zip(ps, _grads(t, dtype)):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy().copy() for p in ps]


CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, weight_decay=1e-2, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=1e-3, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=1e-2, weight_decay=1e-2, initial_accumulator_value=0.1, eps=1e-8)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, momentum=0.9, centered=True, weight_decay=1e-2)),
    ("RMSprop", dict(lr=1e-3, centered=True)),
    ("RMSprop", dict(lr=1e-3, momentum=0.5, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=1e-2)),
    ("Adam", dict()),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-2, maximize=True)),
    ("Adam", dict(lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=1e-2, betas=(0.7, 0.9), weight_decay=1e-2)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=1e-2, momentum_decay=1e-2, weight_decay=1e-2)),
    ("NAdam", dict(lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True)),
]


@requires_torch
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_float64(torch64, every_isa, name, kw):
    ours, _ = _run_dlcore(name, kw)
    ref = _run_torch(torch64, name, kw)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-10)
    # the parameters really moved (the test could fail)
    assert not np.allclose(ours[0], _params()[0])


GROUP_CASES = [
    ("SGD", dict(lr=0.01, momentum=0.9), [([0, 2], {}), ([1], dict(lr=0.1, nesterov=True))]),
    ("Adam", dict(lr=1e-3), [([0], {}), ([1, 2], dict(lr=1e-2, amsgrad=True, weight_decay=0.1))]),
    ("RMSprop", dict(lr=1e-3), [([2], dict(centered=True)), ([0, 1], dict(lr=1e-2, momentum=0.9))]),
    ("AdamW", dict(lr=1e-3), [([1], dict(weight_decay=0.0)), ([0, 2], dict(lr=3e-3))]),
]


@requires_torch
@pytest.mark.parametrize("name,kw,groups", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_match_torch(torch64, every_isa, name, kw, groups):
    ours, opt = _run_dlcore(name, kw, groups)
    ref = _run_torch(torch64, name, kw, groups)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-10)
    assert opt.param_groups[1]["lr"] == groups[1][1].get("lr", kw["lr"])


def _lion_reference(ps, steps, lr, betas, wd):
    ps = [p.copy() for p in ps]
    ms = [np.zeros_like(p) for p in ps]
    for t in range(steps):
        for i, g in enumerate(_grads(t)):
            c = betas[0] * ms[i] + (1 - betas[0]) * g
            ps[i] = ps[i] * (1 - lr * wd) - lr * np.sign(c)
            ms[i] = betas[1] * ms[i] + (1 - betas[1]) * g
    return ps


@pytest.mark.parametrize("kw", [dict(lr=1e-3), dict(lr=1e-3, betas=(0.8, 0.95), weight_decay=0.1)])
def test_lion_matches_numpy_reference(kw):
    ours, _ = _run_dlcore("Lion", kw)
    ref = _lion_reference(_params(), STEPS, kw["lr"], kw.get("betas", (0.9, 0.99)), kw.get("weight_decay", 0.0))
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


ROUND_TRIP = [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)), ("Adam", dict(lr=1e-2, amsgrad=True)),
              ("NAdam", dict(lr=1e-2)), ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
              ("Adagrad", dict(lr=0.1)), ("Adadelta", dict()), ("Adamax", dict()), ("Lion", dict(lr=1e-3)),
              ("AdamW", dict())]


@pytest.mark.parametrize("name,kw", ROUND_TRIP, ids=[c[0] for c in ROUND_TRIP])
def test_state_dict_round_trip_continues_identically(name, kw):
    full, _ = _run_dlcore(name, kw, steps=40)
    half, opt = _run_dlcore(name, kw, steps=20)
    sd = opt.state_dict()
    # the saved state is a copy: stepping the old optimizer must not change it
    saved = {k: {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in s.items()} for k, s in sd["state"].items()}
    resumed, opt2 = _run_dlcore(name, kw, steps=20, start=20, opt_state=sd, init=half)
    for a, b in zip(resumed, full):
        np.testing.assert_array_equal(a, b)
    for k, s in saved.items():
        for n, v in s.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(sd["state"][k][n], v)
    assert set(opt2.state_dict()["state"][0]) == set(sd["state"][0])


@requires_torch
def test_state_dict_keys_like_torch(torch64):
    ps = [dlcore.tensor(a, requires_grad=True) for a in _params()]
    opt = optim.Adam(ps, amsgrad=True)
    for p, g in zip(ps, _grads(0)):
        p.grad = dlcore.tensor(g)
    opt.step()
    tp = [torch64.tensor(a, requires_grad=True) for a in _params()]
    topt = torch64.optim.Adam(tp, amsgrad=True)
    for p, g in zip(tp, _grads(0)):
        p.grad = torch64.tensor(g)
    topt.step()
    ours, ref = opt.state_dict(), topt.state_dict()
    assert set(ours["state"]) == set(ref["state"])
    assert set(ours["state"][0]) == set(ref["state"][0])
    assert ours["param_groups"][0]["params"] == ref["param_groups"][0]["params"]
    # a torch state dict (tensors) loads into dlcore and continues like torch
    sd = {"state": {k: {n: (v.numpy() if hasattr(v, "numpy") else v) for n, v in s.items()}
                    for k, s in ref["state"].items()},
          "param_groups": [{k: v for k, v in g.items()} for g in ref["param_groups"]]}
    opt.load_state_dict(sd)
    assert opt.state[id(ps[0])]["step"] == 1.0


@requires_torch
@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=1e-2)), ("SGD", dict(lr=0.05, momentum=0.9)),
                                     ("RMSprop", dict(lr=1e-3, centered=True))])
def test_float32_close_to_torch(every_isa, name, kw):
    import torch
    ours, _ = _run_dlcore(name, kw, steps=30, dtype=np.float32)
    ref = _run_torch(torch, name, kw, steps=30, dtype=np.float32)
    for a, b in zip(ours, ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# the state buffers that decay toward zero; Adagrad's sum only grows and amsgrad's maximum keeps
# its largest value, so neither can decay into the subnormal range
_DECAYING = ("exp_avg", "exp_avg_sq", "exp_inf", "square_avg", "grad_avg", "momentum_buffer", "acc_delta")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keras", [False, True])
@pytest.mark.parametrize("name,kw", CASES + [("Lion", dict(lr=1e-3))],
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES + [("Lion", 0)])])
def test_decaying_state_is_flushed_below_the_normal_range(every_isa, name, kw, keras, dtype):
    """A state element whose gradient stays zero decays geometrically; once it falls below the
    smallest normal number it is stored as 0 (subnormal operands make every later update take a
    microcode assist). The parameters are unaffected at that scale."""
    sub = float(np.finfo(dtype).smallest_normal) / 8
    kw = {**kw, "weight_decay": 0.0}  # coupled decay would make the gradient nonzero
    ps = [dlcore.tensor(a, requires_grad=True) for a in _params(dtype)]
    opt = getattr(optim, name)([{"params": ps, "keras": keras}], **kw)
    for p in ps:
        p.grad = dlcore.zeros_like(p)
    opt.step()
    sd = opt.state_dict()
    names = [k for k in sd["state"][0] if k in _DECAYING]
    if not names:
        pytest.skip("no decaying state with these options")
    for st in sd["state"].values():
        for k in names:
            st[k] = dlcore.full(st[k].shape, sub, dtype=st[k].dtype)
    opt.load_state_dict(sd)
    before = [p.detach().numpy().copy() for p in ps]
    opt.step()  # zero gradients again: each decaying element becomes factor * sub, subnormal unless flushed
    for st in opt.state_dict()["state"].values():
        for k in names:
            a = np.abs(st[k].numpy())
            assert a.dtype == dtype and not np.any((a > 0) & (a < np.finfo(dtype).smallest_normal)), (k, a.ravel()[:4])
    if name != "Lion":  # (Lion steps by lr sign(c) whatever the size of c)
        for a, b in zip(ps, before):
            np.testing.assert_allclose(a.detach().numpy(), b, rtol=0, atol=1e-6)


def test_large_tensors_thread_count_independent():
    r = np.random.default_rng(3)
    p0 = [r.standard_normal(300_001).astype(np.float32), r.standard_normal((513, 129)).astype(np.float32)]
    gs = [r.standard_normal(p.shape).astype(np.float32) for p in p0]
    out = []
    for nt in (1, 2, 3):
        with threads(nt):
            ps = [dlcore.tensor(p.copy(), requires_grad=True) for p in p0]
            opt = optim.Adam(ps, lr=1e-2, weight_decay=1e-2)
            for _ in range(3):
                for p, g in zip(ps, gs):
                    p.grad = dlcore.tensor(g)
                opt.step()
            out.append([p.detach().numpy().copy() for p in ps])
    for o in out[1:]:
        for a, b in zip(o, out[0]):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(out[0][0], p0[0])


def test_skips_params_without_grad_and_zero_grad():
    a = dlcore.tensor(np.ones(3), requires_grad=True)
    b = dlcore.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = dlcore.tensor(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(a.detach().numpy(), 0.5)
    np.testing.assert_array_equal(b.detach().numpy(), 1.0)
    opt.zero_grad()
    assert a.grad is None
    a.grad = dlcore.tensor(np.ones(3))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), 0.0)


def test_closure_and_training_reduces_loss():
    dlcore.manual_seed(0)
    w = dlcore.tensor(np.array([3.0, -2.0]), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    first = float(opt.step(closure))
    for _ in range(100):
        last = float(opt.step(closure))
    assert last < first * 0.05


def test_bad_input():
    p = dlcore.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    opt = optim.Adam([p])
    p.grad = dlcore.tensor(np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        opt.step()


def test_kernel_bad_input_messages():
    C = dlcore._C
    p = np.ones(4)
    with pytest.raises(ValueError, match="unknown optimizer kind 'adamm'"):
        C.optim_step("adamm", {}, [p], [p.copy()], [], [1.0])
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(3,\) but params\[0\] has shape \(4,\)"):
        C.optim_step("sgd", {"lr": 0.1}, [p], [np.ones(3)], [], [1.0])
    with pytest.raises(ValueError, match=r"adam: state2\[0\] is missing"):
        C.optim_step("adam", {"lr": 0.1, "amsgrad": True}, [p], [p.copy()], [[np.zeros(4)], [np.zeros(4)]], [1.0])
    with pytest.raises(TypeError, match="one call takes one dtype"):
        C.optim_step("sgd", {"lr": 0.1}, [p, np.ones(2, np.float32)], [p.copy(), np.ones(2, np.float32)], [],
                     [1.0, 1.0])
    with pytest.raises(ValueError, match="must be contiguous"):
        C.optim_step("sgd", {"lr": 0.1}, [np.ones((4, 4))[:, 0]], [np.ones(4)], [], [1.0])
    with pytest.raises(ValueError, match="unknown option 'betas'"):
        C.optim_step("adam", {"betas": 0.9}, [p], [p.copy()], [], [1.0])
    with pytest.raises(TypeError, match="float32 or float64"):
        C.optim_step("sgd", {"lr": 0.1}, [np.ones(4, np.int64)], [np.ones(4, np.int64)], [], [1.0])


@pytest.mark.cuda
@pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-2)),
                                     ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                     ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5)),
                                     ("NAdam", dict(lr=1e-2)), ("Lion", dict(lr=1e-3)), ("Adagrad", dict()),
                                     ("Adadelta", dict()), ("Adamax", dict())])
def test_cuda_matches_cpu(name, kw):
    ref, _ = _run_dlcore(name, kw, steps=10)
    ps = [dlcore.tensor(a.copy()).to("cuda").requires_grad_() for a in _params()]
    opt = getattr(optim, name)(ps, **kw)
    for t in range(10):
        for p, g in zip(ps, _grads(t)):
            p.grad = dlcore.tensor(g).to("cuda")
        opt.step()
    for p, r in zip(ps, ref):
        np.testing.assert_allclose(p.detach().cpu().numpy(), r, rtol=1e-10, atol=1e-12)
