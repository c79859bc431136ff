"""nn.utils.rnn (PackedSequence, pack / pad functions) and RNN / LSTM / GRU on packed input,
against PyTorch in float64: the same packed data and index tensors, the same outputs, final
states at each sequence's true last step, and the same gradients for the input, the initial
state and every weight."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn.utils import rnn as R
from conftest import requires_torch

try:
    import torch
    TR = torch.nn.utils.rnn
except Exception:  # pragma: no cover
    torch = None

TOL = dict(rtol=1e-10, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 4], False)])
def test_pack_and_pad_match_torch_with_gradients(batch_first, lengths, enforce_sorted):
    rng = np.random.default_rng(0)
    shape = (4, 6, 3) if batch_first else (6, 4, 3)
    x = rng.standard_normal(shape)
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pd = R.pack_padded_sequence(xd, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = TR.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                 enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(pd.data.detach().numpy(), pt.data.detach().numpy())
    assert pd.batch_sizes.tolist() == pt.batch_sizes.tolist()
    for a, b in ((pd.sorted_indices, pt.sorted_indices), (pd.unsorted_indices, pt.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    od, ld = R.pad_packed_sequence(pd, batch_first=batch_first, padding_value=-2.0, total_length=7)
    ot, lt = TR.pad_packed_sequence(pt, batch_first=batch_first, padding_value=-2.0, total_length=7)
    np.testing.assert_array_equal(od.detach().numpy(), ot.detach().numpy())
    assert ld.tolist() == lt.tolist() == lengths
    g = rng.standard_normal(tuple(ot.shape))
    (od * dlcore.tensor(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(xd.grad.numpy(), xt.grad.numpy())  # zero at the padded steps


@requires_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_and_unpad_match_torch(batch_first, side):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((n, 2, 3)) for n in (3, 5, 1)]
    sd = [dlcore.tensor(a, requires_grad=True) for a in arrays]
    st = [torch.tensor(a, requires_grad=True) for a in arrays]
    od = R.pad_sequence(sd, batch_first, 1.5, side)
    ot = TR.pad_sequence(st, batch_first, 1.5, side)
    np.testing.assert_array_equal(od.detach().numpy(), ot.detach().numpy())
    g = rng.standard_normal(tuple(ot.shape))
    (od * dlcore.tensor(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    for a, b in zip(sd, st):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    if side == "right":
        back = R.unpad_sequence(od, [3, 5, 1], batch_first)
        for a, b in zip(back, arrays):
            np.testing.assert_array_equal(a.detach().numpy(), b)
    seqs = R.unpack_sequence(R.pack_sequence([s.detach() for s in sd], enforce_sorted=False))
    for a, b in zip(seqs, arrays):
        np.testing.assert_array_equal(a.numpy(), b)


def _pair(kind, **kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 4, dtype=torch.float64, **kw)
    dm = getattr(nn, kind)(3, 4, dtype=dlcore.float64, **kw)
    dm.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return dm, tm


@requires_torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)],
                         ids=["plain", "2layer_bidir", "batch_first"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_rnn_on_packed_sequence_matches_torch(kind, kw, enforce_sorted):
    rng = np.random.default_rng(2)
    dm, tm = _pair(kind, **kw)
    lengths = [6, 4, 4, 2, 1] if enforce_sorted else [2, 6, 1, 4, 5]
    N, T = 5, 6
    bf = kw.get("batch_first", False)
    x = rng.standard_normal((N, T, 3) if bf else (T, N, 3))
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    h0 = rng.standard_normal((D * L, N, 4))
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hd, ht = dlcore.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    if kind == "LSTM":
        c0 = rng.standard_normal((D * L, N, 4))
        cd, ct = dlcore.tensor(c0, requires_grad=True), torch.tensor(c0, requires_grad=True)
        hxd, hxt = (hd, cd), (ht, ct)
    else:
        hxd, hxt = hd, ht
    pd = R.pack_padded_sequence(xd, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
    pt = TR.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=bf, enforce_sorted=enforce_sorted)
    od, sd = dm(pd, hxd)
    ot, st = tm(pt, hxt)
    assert isinstance(od, R.PackedSequence)
    assert od.batch_sizes.tolist() == ot.batch_sizes.tolist()
    np.testing.assert_allclose(od.data.detach().numpy(), ot.data.detach().numpy(), **TOL)
    states_d = sd if kind == "LSTM" else (sd,)
    states_t = st if kind == "LSTM" else (st,)
    for a, b in zip(states_d, states_t):  # each sequence's state at its true last step
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL)
    g = rng.standard_normal(tuple(ot.data.shape))
    gs = [rng.standard_normal(tuple(s.shape)) for s in states_t]
    loss_d = (od.data * dlcore.tensor(g)).sum()
    loss_t = (ot.data * torch.tensor(g)).sum()
    for a, b, w in zip(states_d, states_t, gs):
        loss_d = loss_d + (a * dlcore.tensor(w)).sum()
        loss_t = loss_t + (b * torch.tensor(w)).sum()
    loss_d.backward()
    loss_t.backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(hd.grad.numpy(), ht.grad.numpy(), **TOL)
    if kind == "LSTM":
        np.testing.assert_allclose(cd.grad.numpy(), ct.grad.numpy(), **TOL)
    dp = dict(dm.named_parameters())
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(dp[n].grad.numpy(), p.grad.numpy(), err_msg=n, **TOL)


def test_packed_bad_input():
    x = dlcore.randn(4, 3, 2)
    with pytest.raises(ValueError, match="not sorted in decreasing order.*enforce_sorted=False"):
        R.pack_padded_sequence(x, [1, 3, 2])
    with pytest.raises(ValueError, match="got 2 lengths for a batch of 3"):
        R.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\]"):
        R.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match=r"total_length \(2\) is less than the longest sequence \(4\)"):
        R.pad_packed_sequence(R.pack_padded_sequence(x, [4, 2, 1]), total_length=2)
    with pytest.raises(ValueError, match=r"sequences\[1\] has shape \(2, 3\)"):
        R.pad_sequence([dlcore.randn(3, 2), dlcore.randn(2, 3)])
    with pytest.raises(ValueError, match="PackedSequence carries its lengths"):
        nn.GRU(2, 3)(R.pack_padded_sequence(x, [4, 2, 1]), lengths=[4, 2, 1])
