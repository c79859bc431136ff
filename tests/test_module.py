"""The foundation's consumers: nn.Module / Parameter / containers and optim.SGD (values
against PyTorch for the same weights and data)."""
import numpy as np
import pytest

import dlcore
import dlcore.nn as nn
from conftest import requires_torch, rng


def test_linear_gradient_and_sgd_step_by_hand():
    lin = nn.Linear(3, 2)
    w0 = lin.weight.detach().numpy().copy()
    b0 = lin.bias.detach().numpy().copy()
    x = dlcore.tensor(rng(40).standard_normal((4, 3)).astype(np.float32))
    opt = dlcore.optim.SGD(lin.parameters(), lr=0.1)
    loss = (lin(x) ** 2).mean()
    loss.backward()
    gw = lin.weight.grad.numpy().copy()
    y = x.numpy() @ w0.T + b0
    np.testing.assert_allclose(gw, 2 * (y.T @ x.numpy()) / y.size, rtol=1e-5, atol=1e-6)
    opt.step()
    np.testing.assert_allclose(lin.weight.detach().numpy(), w0 - 0.1 * gw, rtol=1e-6)
    opt.zero_grad()
    assert lin.weight.grad is None


@requires_torch
@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
                                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
                                dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)], ids=str)
def test_sgd_matches_torch(kw):
    import torch

    r = rng(41)
    w0 = r.standard_normal((3, 4)).astype(np.float32)
    x = r.standard_normal((5, 4)).astype(np.float32)
    p = nn.Parameter(dlcore.tensor(w0))
    tp = torch.nn.Parameter(torch.tensor(w0))
    opt, topt = dlcore.optim.SGD([p], **kw), torch.optim.SGD([tp], **kw)
    for _ in range(4):
        opt.zero_grad()
        topt.zero_grad()
        dlcore.tanh(dlcore.tensor(x) @ p.T).sum().backward()
        torch.tanh(torch.tensor(x) @ tp.T).sum().backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0]
    if kw.get("momentum"):
        np.testing.assert_allclose(sd["state"][0]["momentum_buffer"],
                                   topt.state_dict()["state"][0]["momentum_buffer"].numpy(), rtol=1e-5, atol=1e-6)


def test_module_registration_state_dict_and_to():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert np.shares_memory(m.state_dict()["0.weight"].numpy(), m[0].weight.detach().numpy())
    p0 = m[0].weight
    m.double()
    assert m[0].weight is p0 and p0.dtype == np.float64 and p0.requires_grad
    m2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    res = m2.load_state_dict(m.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    np.testing.assert_array_equal(m2[2].bias.detach().numpy(), m[2].bias.detach().numpy())
    with pytest.raises(KeyError, match=r"missing keys \['0.bias'"):
        m2.load_state_dict({"0.weight": dlcore.ones(4, 3)})
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(3, 3\) in the state dict but \(4, 3\)"):
        m2.load_state_dict({"0.weight": dlcore.ones(3, 3)}, strict=False)
    m.eval()
    assert not m[0].training
    assert "Linear(in_features=3, out_features=4" in repr(m)


def test_parameter_defaults():
    p = nn.Parameter()
    assert p.shape == (0,) and p.requires_grad and p.dtype == np.float32
    q = nn.Parameter(dlcore.ones(2), requires_grad=False)
    assert not q.requires_grad
    with pytest.raises(RuntimeError, match="int64"):
        nn.Parameter(dlcore.arange(3))


def _hook_scenario(lib):
    """Forward hooks as feature-extraction and input-rewriting code uses them, run on `lib`
    (dlcore or torch): returns the trace of calls and the outputs."""
    nn_ = lib.nn
    lib.manual_seed(0)
    m = nn_.Sequential(nn_.Linear(3, 4), nn_.ReLU(), nn_.Linear(4, 2)).double()
    w = np.random.default_rng(0)
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(w.standard_normal(tuple(p.shape))))
    x = lib.tensor(w.standard_normal((5, 3)))
    trace, feats = [], {}
    h1 = m[1].register_forward_hook(lambda mod, args, out: feats.__setitem__("relu", out.detach().numpy().copy()))
    h2 = m[0].register_forward_pre_hook(lambda mod, args: trace.append("pre-a") or (args[0] * 2,))
    h3 = m[0].register_forward_pre_hook(lambda mod, args: trace.append("pre-first"), prepend=True)
    h4 = m[2].register_forward_hook(lambda mod, args, out: out + 1)  # replaces the output
    h5 = m.register_forward_hook(lambda mod, args, kwargs, out: trace.append(("kw", sorted(kwargs))),
                                 with_kwargs=True)
    y1 = m(x).detach().numpy().copy()
    for h in (h2, h4):
        h.remove()
    h2.remove()  # twice is harmless
    y2 = m(x).detach().numpy().copy()
    for h in (h1, h3, h5):
        h.remove()

    def boom(*a):
        raise ValueError("boom")
    m[2].forward = boom
    seen = []
    m[2].register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(x)
    return trace, feats["relu"], y1, y2, seen


@requires_torch
def test_forward_hooks_as_torch():
    import torch
    got, want = _hook_scenario(dlcore), _hook_scenario(torch)
    assert got[0] == want[0] == ["pre-first", "pre-a", ("kw", []), "pre-first", ("kw", [])]
    for a, b in zip(got[1:4], want[1:4]):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert got[4] == want[4] == [None]


# ---- ParameterList / ParameterDict ---------------------------------------------------------------

class _Mixer(nn.Module):
    """The same small model in both libraries (nn is dlcore.nn or torch.nn): weights held in a
    ParameterList and a ParameterDict."""

    @staticmethod
    def build(lib, nnmod, ws, bias, scale):
        class M(nnmod.Module):
            def __init__(self):
                super().__init__()
                self.ws = nnmod.ParameterList([nnmod.Parameter(lib.tensor(w)) for w in ws[:1]])
                self.ws.append(lib.tensor(ws[1]))  # a plain tensor becomes a Parameter
                self.extra = nnmod.ParameterDict({"bias": nnmod.Parameter(lib.tensor(bias))})
                self.extra["scale"] = nnmod.Parameter(lib.tensor(scale))

            def forward(self, x):
                for w in self.ws:
                    x = (x @ w).tanh()
                return x * self.extra["scale"] + self.extra.bias
        return M()


@requires_torch
def test_parameter_containers_register_like_torch():
    import torch
    r = rng(7)
    ws, bias, scale = [r.normal(size=(3, 4)), r.normal(size=(4, 2))], r.normal(size=2), r.normal(size=2)
    m = _Mixer.build(dlcore, nn, ws, bias, scale)
    tm = _Mixer.build(torch, torch.nn, ws, bias, scale)
    names = [n for n, _ in m.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()] == ["ws.0", "ws.1", "extra.bias", "extra.scale"]
    assert list(m.state_dict()) == list(tm.state_dict())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.ws)
    x = r.normal(size=(5, 3))
    y, ty = m(dlcore.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-14)
    y.sum().backward()
    ty.sum().backward()
    for (n, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12, atol=1e-13, err_msg=n)
    # state dicts travel both ways; to() casts the contained parameters in place
    m2 = _Mixer.build(dlcore, nn, [np.zeros((3, 4)), np.zeros((4, 2))], np.zeros(2), np.zeros(2))
    m2.load_state_dict(tm.state_dict())
    np.testing.assert_array_equal(m2.ws[-1].detach().numpy(), ws[1])
    p0 = m2.extra["scale"]
    m2.float()
    assert m2.extra["scale"] is p0 and p0.dtype == dlcore.float32 and m2.ws[0].dtype == dlcore.float32
    assert "(0): Parameter containing: [float32 of size 3x4]" in repr(m2.ws)


def test_parameter_list_and_dict_container_protocol():
    pl = nn.ParameterList([nn.Parameter(dlcore.zeros(2)), dlcore.ones(3)])
    pl += [dlcore.zeros(1)]
    assert len(pl) == 3 and pl[-1].shape == (1,) and isinstance(pl[1:], nn.ParameterList) and len(pl[1:]) == 2
    pl[0] = dlcore.ones(4)
    assert pl[0].shape == (4,) and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="ParameterList: index 3 is out of range for a list of 3"):
        pl[3]
    with pytest.raises(TypeError, match="ParameterList: items must be Parameters or Tensors, got list"):
        pl.append([1.0])
    pd = nn.ParameterDict([("a", dlcore.zeros(2))])
    pd.update({"b": dlcore.ones(2)})
    assert list(pd) == ["a", "b"] and "a" in pd and pd.get("c") is None and len(pd.copy()) == 2
    assert pd.pop("a").shape == (2,) and list(pd.keys()) == ["b"]
    del pd["b"]
    assert len(pd) == 0 and not list(pd.parameters())
    with pytest.raises(TypeError, match="ParameterDict: keys must be strings, got int"):
        pd[1] = dlcore.zeros(1)
    with pytest.raises(KeyError, match=r"without '\.'"):
        pd["a.b"] = dlcore.zeros(1)
