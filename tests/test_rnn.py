"""RNN / LSTM / GRU layers and cells against PyTorch (same weights in, same outputs and
gradients out), float64 central differences, variable lengths, state_dict loading, bad input."""

import numpy as np
import pytest

import dlcore
from dlcore import nn
from conftest import cuda_array, host_array, requires_torch, threads

try:
    import torch
except Exception:  # pragma: no cover
    torch = None

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def make_pair(mode, I, H, dtype, **kw):
    """A dlcore module and a torch module of the same kind with the dlcore weights copied in."""
    if mode.startswith("RNN"):
        kw["nonlinearity"] = "tanh" if mode == "RNN_TANH" else "relu"
        dcls, tcls = nn.RNN, torch.nn.RNN
    else:
        dcls, tcls = getattr(nn, mode), getattr(torch.nn, mode)
    dm = dcls(I, H, dtype=dtype, **kw)
    tm = tcls(I, H, **kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for name, p in tm.named_parameters():
            p.copy_(torch.from_numpy(dict(dm.named_parameters())[name].detach().numpy().copy()))
    return dm, tm


def run_both(dm, tm, x, hx, lengths=None, batch_first=False):
    """Forward + backward of loss = sum(out * R) + sum(h_n * Rh) (+ sum(c_n * Rc)) in both."""
    rs = np.random.default_rng(7)
    lstm = isinstance(dm, nn.LSTM)
    xd = dlcore.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    hd = ht = None
    if hx is not None:
        if lstm:
            hd = tuple(dlcore.tensor(a, requires_grad=True) for a in hx)
            ht = tuple(torch.tensor(a, requires_grad=True) for a in hx)
        else:
            hd = dlcore.tensor(hx, requires_grad=True)
            ht = torch.tensor(hx, requires_grad=True)
    od, sd = dm(xd, hd, lengths=lengths)
    if lengths is None:
        ot, st = tm(xt, ht)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                                         enforce_sorted=False)
        op, st = tm(packed, ht)
        T = x.shape[1] if batch_first else x.shape[0]
        ot, _ = torch.nn.utils.rnn.pad_packed_sequence(op, batch_first=batch_first, total_length=T)
    sd = sd if lstm else (sd,)
    st = st if lstm else (st,)
    R = rs.standard_normal(od.shape).astype(x.dtype)
    loss_d = (od * dlcore.tensor(R)).sum()
    loss_t = (ot * torch.tensor(R)).sum()
    for a, b in zip(sd, st):
        Rh = rs.standard_normal(a.shape).astype(x.dtype)
        loss_d = loss_d + (a * dlcore.tensor(Rh)).sum()
        loss_t = loss_t + (b * torch.tensor(Rh)).sum()
    loss_d.backward()
    loss_t.backward()
    return dict(out=(od, ot), states=list(zip(sd, st)), x=(xd, xt),
                hx=list(zip(hd if lstm else (hd,), ht if lstm else (ht,))) if hx is not None else [])


def check_all(res, dm, tm, dtype):
    tol = TOL[dtype]
    od, ot = res["out"]
    assert od.shape == tuple(ot.shape)
    np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), **tol)
    for a, b in res["states"]:
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    xd, xt = res["x"]
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), **tol)
    for a, b in res["hx"]:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    dps = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(dps[name].grad.numpy(), p.grad.numpy(), err_msg=name, **tol)


def inputs(mode, T, N, I, H, layers, D, batch_first, with_h0, dtype, seed=0):
    rs = np.random.default_rng(seed)
    x = rs.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(dtype)
    hx = None
    if with_h0:
        h0 = (0.5 * rs.standard_normal((layers * D, N, H))).astype(dtype)
        hx = (h0, (0.5 * rs.standard_normal((layers * D, N, H))).astype(dtype)) if mode == "LSTM" else h0
    return x, hx


@requires_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layers,bidir", [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequence_vs_torch(mode, layers, bidir, batch_first, with_h0, dtype):
    T, N, I, H = 5, 3, 4, 6
    D = 2 if bidir else 1
    dm, tm = make_pair(mode, I, H, dtype, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    x, hx = inputs(mode, T, N, I, H, layers, D, batch_first, with_h0, dtype)
    res = run_both(dm, tm, x, hx)
    check_all(res, dm, tm, dtype)
    # states keep PyTorch's (D*layers, N, H) shape even with batch_first
    assert res["states"][0][0].shape == (D * layers, N, H)


@requires_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layers,bidir", [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lengths_vs_torch_packed(mode, layers, bidir, batch_first, dtype):
    T, N, I, H = 6, 4, 3, 5
    D = 2 if bidir else 1
    lengths = [4, 6, 1, 3]  # unsorted, the longest equals T
    dm, tm = make_pair(mode, I, H, dtype, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    x, hx = inputs(mode, T, N, I, H, layers, D, batch_first, True, dtype, seed=3)
    res = run_both(dm, tm, x, hx, lengths=lengths, batch_first=batch_first)
    check_all(res, dm, tm, dtype)
    out = res["out"][0].detach().numpy()
    xg = res["x"][0].grad.numpy()
    for n, L in enumerate(lengths):  # padded steps: zero output and no gradient
        pad_out = out[n, L:] if batch_first else out[L:, n]
        pad_g = xg[n, L:] if batch_first else xg[L:, n]
        assert np.all(pad_out == 0) and np.all(pad_g == 0)


def test_lengths_padding_does_not_change_results():
    """Values written into padded steps change neither outputs, states nor gradients."""
    m = nn.GRU(3, 4, bidirectional=True, dtype=np.float64)
    rs = np.random.default_rng(1)
    x = rs.standard_normal((5, 2, 3))
    lengths = [3, 5]
    x2 = x.copy()
    x2[3:, 0] = 100.0
    results = []
    for arr in (x, x2):
        xt = dlcore.tensor(arr, requires_grad=True)
        m.zero_grad()
        o, h = m(xt, lengths=lengths)
        (o.sum() + (h * h).sum()).backward()
        results.append((o.detach().numpy(), h.detach().numpy(), xt.grad.numpy()[:3, 0],
                        m.weight_ih_l0.grad.numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ---- float64 central differences -------------------------------------------------------------

def numeric_grad(f, arr, eps=1e-6):
    g = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        fp = f()
        arr[i] = old - eps
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lengths", [None, [2, 3]])
def test_central_differences(mode, lengths):
    rs = np.random.default_rng(11)
    T, N, I, H = 3, 2, 2, 3
    cls = {"RNN_TANH": lambda: nn.RNN(I, H, bidirectional=True, dtype=np.float64),
           "RNN_RELU": lambda: nn.RNN(I, H, nonlinearity="relu", bidirectional=True, dtype=np.float64),
           "LSTM": lambda: nn.LSTM(I, H, bidirectional=True, dtype=np.float64),
           "GRU": lambda: nn.GRU(I, H, bidirectional=True, dtype=np.float64)}[mode]
    m = cls()
    x = rs.standard_normal((T, N, I))
    h0 = 0.5 * rs.standard_normal((2, N, H))
    c0 = 0.5 * rs.standard_normal((2, N, H))
    R = rs.standard_normal((T, N, 2 * H))
    Rh = rs.standard_normal((2, N, H))

    def loss(track=False):
        xt = dlcore.tensor(x, requires_grad=track)
        ht = dlcore.tensor(h0, requires_grad=track)
        ct = dlcore.tensor(c0, requires_grad=track)
        o, s = m(xt, (ht, ct) if mode == "LSTM" else ht, lengths=lengths)
        s = s[0] + 0.5 * s[1] if mode == "LSTM" else s
        val = (o * dlcore.tensor(R)).sum() + (s * dlcore.tensor(Rh)).sum()
        return val, xt, ht, ct

    val, xt, ht, ct = loss(True)
    val.backward()
    f = lambda: loss()[0].item()  # noqa: E731
    checks = [(xt.grad.numpy(), x), (ht.grad.numpy(), h0)]
    if mode == "LSTM":
        checks.append((ct.grad.numpy(), c0))
    for name, p in m.named_parameters():
        checks.append((p.grad.numpy().copy(), p.detach().numpy()))
    for analytic, arr in checks:
        num = numeric_grad(f, arr)
        np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-7 * (1 + np.abs(num).max()))


# ---- state_dict, parameters, cells ------------------------------------------------------------

@requires_torch
def test_torch_lstm_state_dict_loads_unchanged():
    torch.manual_seed(0)
    tm = torch.nn.LSTM(5, 8, num_layers=2, bidirectional=True, batch_first=True)
    dm = nn.LSTM(5, 8, num_layers=2, bidirectional=True, batch_first=True)
    assert list(dm.state_dict().keys()) == list(tm.state_dict().keys())
    res = dm.load_state_dict(tm.state_dict())
    assert not res.missing_keys and not res.unexpected_keys
    x = np.random.default_rng(0).standard_normal((3, 7, 5)).astype(np.float32)
    od, (hd, cd) = dm(dlcore.tensor(x))
    with torch.no_grad():
        ot, (ht, ct) = tm(torch.tensor(x))
    np.testing.assert_allclose(od.detach().numpy(), ot.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hd.detach().numpy(), ht.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cd.detach().numpy(), ct.numpy(), rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("mode", MODES)
def test_parameter_names_shapes_and_init_match_torch(mode):
    dm, tm = make_pair(mode, 3, 16, np.float32, num_layers=2, bidirectional=True)
    dshapes = {k: tuple(v.shape) for k, v in dm.named_parameters()}
    tshapes = {k: tuple(v.shape) for k, v in tm.named_parameters()}
    assert dshapes == tshapes
    k = 1 / np.sqrt(16)
    allw = np.concatenate([p.detach().numpy().ravel() for p in dm.parameters()])
    assert np.abs(allw).max() <= k and allw.std() > 0.4 * k  # U(-k, k): std k/sqrt(3)


@requires_torch
@pytest.mark.parametrize("mode", MODES)
def test_no_bias_vs_torch(mode):
    dm, tm = make_pair(mode, 3, 4, np.float64, bias=False, bidirectional=True)
    assert "bias_ih_l0" not in dict(dm.named_parameters())
    x, hx = inputs(mode, 4, 2, 3, 4, 1, 2, False, True, np.float64)
    check_all(run_both(dm, tm, x, hx), dm, tm, np.float64)


@requires_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cells_vs_torch(mode, with_hx, dtype):
    I, H, N = 4, 5, 3
    if mode.startswith("RNN"):
        nl = "tanh" if mode == "RNN_TANH" else "relu"
        dc, tc = nn.RNNCell(I, H, nonlinearity=nl, dtype=dtype), torch.nn.RNNCell(I, H, nonlinearity=nl)
    else:
        dc, tc = getattr(nn, mode + "Cell")(I, H, dtype=dtype), getattr(torch.nn, mode + "Cell")(I, H)
    tc = tc.to(torch.float64 if dtype == np.float64 else torch.float32)
    assert {k: tuple(v.shape) for k, v in dc.named_parameters()} == \
        {k: tuple(v.shape) for k, v in tc.named_parameters()}
    dc.load_state_dict(tc.state_dict())
    rs = np.random.default_rng(5)
    x = rs.standard_normal((N, I)).astype(dtype)
    hs = [rs.standard_normal((N, H)).astype(dtype) for _ in range(2 if mode == "LSTM" else 1)]
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hd = [dlcore.tensor(h, requires_grad=True) for h in hs]
    ht = [torch.tensor(h, requires_grad=True) for h in hs]
    arg_d = (tuple(hd) if mode == "LSTM" else hd[0]) if with_hx else None
    arg_t = (tuple(ht) if mode == "LSTM" else ht[0]) if with_hx else None
    od, ot = dc(xd, arg_d), tc(xt, arg_t)
    od = od if mode == "LSTM" else (od,)
    ot = ot if mode == "LSTM" else (ot,)
    Rs = [rs.standard_normal((N, H)).astype(dtype) for _ in od]
    sum(((a * dlcore.tensor(r)).sum() for a, r in zip(od, Rs)), dlcore.tensor(np.zeros((), dtype))).backward()
    sum((a * torch.tensor(r)).sum() for a, r in zip(ot, Rs)).backward()
    tol = TOL[dtype]
    for a, b in zip(od, ot):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), **tol)
    if with_hx:
        for a, b in zip(hd, ht):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    tps = dict(tc.named_parameters())
    for name, p in dc.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tps[name].grad.numpy(), err_msg=name, **tol)


@requires_torch
def test_unbatched_inputs_vs_torch():
    dm, tm = make_pair("GRU", 3, 4, np.float64, num_layers=2)
    x = np.random.default_rng(2).standard_normal((5, 3))
    od, hd = dm(dlcore.tensor(x))
    with torch.no_grad():
        ot, ht = tm(torch.tensor(x))
    assert od.shape == (5, 4) and hd.shape == (2, 4)
    np.testing.assert_allclose(od.detach().numpy(), ot.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hd.detach().numpy(), ht.numpy(), rtol=1e-10, atol=1e-12)
    cell = nn.LSTMCell(3, 4, dtype=np.float64)
    h, c = cell(dlcore.tensor(x[0]))
    assert h.shape == (4,) and c.shape == (4,)


# ---- dropout, determinism ---------------------------------------------------------------------

def test_dropout_between_layers_training_only_and_seeded():
    x = dlcore.tensor(np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32))
    m = nn.LSTM(5, 6, num_layers=2, dropout=0.5)
    dlcore.manual_seed(1)
    a = m(x)[0].detach().numpy()
    dlcore.manual_seed(1)
    b = m(x)[0].detach().numpy()
    dlcore.manual_seed(2)
    c = m(x)[0].detach().numpy()
    m.eval()
    e1, e2 = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, e1)
    np.testing.assert_array_equal(e1, e2)
    m2 = nn.LSTM(5, 6, num_layers=2, dropout=0.0)
    m2.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m2(x)[0].detach().numpy(), e1)


def test_results_identical_for_any_thread_count():
    m = nn.LSTM(16, 64, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((6, 40, 16)).astype(np.float32)
    outs = []
    for nt in (1, 2):
        with threads(nt):
            m.zero_grad()
            xt = dlcore.tensor(x, requires_grad=True)
            o, (h, c) = m(xt)
            (o.sum() + h.sum()).backward()
            outs.append([o.detach().numpy(), xt.grad.numpy(), m.weight_hh_l0.grad.numpy().copy()])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@requires_torch
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_vector_loops_and_chunked_projection_vs_torch(mode, every_isa):
    # H = 37: full vector blocks plus a scalar tail in the per-ISA cell loops; T*N = 9*40 rows:
    # the input projection runs in chunks of steps (in reverse order for the reverse direction);
    # N*H and the step GEMM are large enough for the step to be split over threads.
    T, N, I, H = 9, 40, 7, 37
    dm, tm = make_pair(mode, I, H, np.float32, bidirectional=True)
    x, hx = inputs(mode, T, N, I, H, 1, 2, False, True, np.float32)
    lengths = np.random.default_rng(3).integers(1, T + 1, N)
    lengths[0] = T
    for lens in (None, lengths):
        dm.zero_grad()
        tm.zero_grad()
        check_all(run_both(dm, tm, x, hx, lengths=lens), dm, tm, np.float32)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T", [1, 4, 7])
def test_no_grad_forward_equals_training_forward(mode, T):
    # Under no_grad the sequence routine keeps two state slots instead of all T+1 states and no
    # workspace; outputs and final states must be bitwise the same as when recording a graph.
    kw = {"nonlinearity": "relu" if mode == "RNN_RELU" else "tanh"} if mode.startswith("RNN") else {}
    cls = nn.RNN if mode.startswith("RNN") else getattr(nn, mode)
    m = cls(5, 20, num_layers=2, bidirectional=True, **kw)
    rs = np.random.default_rng(1)
    x = rs.standard_normal((T, 3, 5)).astype(np.float32)
    h0 = dlcore.tensor((0.5 * rs.standard_normal((4, 3, 20))).astype(np.float32))
    hx = (h0, dlcore.tensor((0.5 * rs.standard_normal((4, 3, 20))).astype(np.float32))) if mode == "LSTM" else h0
    lengths = [T, max(1, T - 2), 1]
    for lens in (None, lengths):
        o1, s1 = m(dlcore.tensor(x, requires_grad=True), hx, lengths=lens)
        with dlcore.no_grad():
            o2, s2 = m(dlcore.tensor(x), hx, lengths=lens)
        assert not o2.requires_grad
        np.testing.assert_array_equal(o1.detach().numpy(), o2.numpy())
        for a, b in zip(s1 if mode == "LSTM" else (s1,), s2 if mode == "LSTM" else (s2,)):
            np.testing.assert_array_equal(a.detach().numpy(), b.numpy())


@pytest.mark.parametrize("mode,N,H,bidir", [("LSTM", 1, 512, False), ("GRU", 8, 128, False),
                                            ("LSTM", 1, 512, True), ("LSTM", 32, 256, True),
                                            ("LSTM", 14, 64, False), ("GRU", 24, 96, True)])
def test_step_split_identical_for_any_thread_count(mode, N, H, bidir):
    # Batch 1 (GEMV over W_hh rows) and a GRU: the step GEMM + cell run split over hidden units.
    # Batches 14 (W_hh^T) and 24, 32 (W_hh slices per thread) use W_hh packed once per call.
    # Bidirectional: the two directions run at once, one per thread, except with more than two
    # threads and large steps (the last case at 3 threads), where they run one after the other.
    m = getattr(nn, mode)(8, H, bidirectional=bidir)
    x = np.random.default_rng(2).standard_normal((3, N, 8)).astype(np.float32)
    outs = []
    for nt in (1, 2, 3):
        with threads(nt):
            m.zero_grad()
            xt = dlcore.tensor(x, requires_grad=True)
            o, h = m(xt)
            h = h[0] if mode == "LSTM" else h
            (o.sum() + h.sum()).backward()
            outs.append([o.detach().numpy(), xt.grad.numpy(), m.weight_hh_l0.grad.numpy().copy()]
                        + ([m.weight_ih_l0_reverse.grad.numpy().copy()] if bidir else []))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


@requires_torch
def test_saturated_gates_stay_finite_and_match_torch():
    # Pre-activations in the hundreds: the float tanh saturates to +-1 (it gave inf / inf = NaN
    # for |x| > 44 before it was clamped) and the sigmoids to 0 / 1.
    dm, tm = make_pair("LSTM", 4, 24, np.float32)
    with torch.no_grad():
        for (name, p) in tm.named_parameters():
            p.mul_(40.0)
            dict(dm.named_parameters())[name].detach().numpy()[...] = p.numpy()
    x = (10 * np.random.default_rng(4).standard_normal((6, 2, 4))).astype(np.float32)
    res = run_both(dm, tm, x, None)
    assert np.isfinite(res["out"][0].detach().numpy()).all()
    check_all(res, dm, tm, np.float32)


# ---- bad input --------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    m = nn.LSTM(4, 5, num_layers=2)
    x = dlcore.tensor(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="input_size. Expected 4, got 6"):
        m(dlcore.tensor(np.zeros((3, 2, 6), np.float32)))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 2, 5\).*got \(1, 2, 5\)"):
        m(x, (dlcore.zeros(1, 2, 5), dlcore.zeros(2, 2, 5)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 2, 5\).*got \(2, 3, 5\)"):
        m(x, (dlcore.zeros(2, 2, 5), dlcore.zeros(2, 3, 5)))
    with pytest.raises(ValueError, match="tuple"):
        m(x, dlcore.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="empty sequence"):
        m(dlcore.tensor(np.zeros((0, 2, 4), np.float32)))
    with pytest.raises(ValueError, match="2-D .* or 3-D"):
        m(dlcore.tensor(np.zeros((3, 2, 4, 1), np.float32)))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 3\]"):
        m(x, lengths=[2, 4])
    with pytest.raises(ValueError, match="got 3 lengths for a batch of 2"):
        m(x, lengths=[1, 2, 3])
    with pytest.raises(TypeError, match="float64 but the parameters are float32"):
        m(dlcore.tensor(np.zeros((3, 2, 4))))
    g = nn.GRU(4, 5)
    with pytest.raises(ValueError, match=r"expected hx of shape \(1, 2, 5\)"):
        g(x, dlcore.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(4, 5, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.RNN(4, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(4, 5, nonlinearity="sigmoid")
    cell = nn.GRUCell(4, 5)
    with pytest.raises(ValueError, match="expected input_size=4"):
        cell(dlcore.zeros(2, 3))
    with pytest.raises(ValueError, match=r"expected hx of shape \(2, 5\), got \(2, 4\)"):
        cell(dlcore.zeros(2, 4), dlcore.zeros(2, 4))


def test_kernel_front_door_checks_shapes():
    """The C++ front door names the argument and the shapes (no crash, no silent result)."""
    C = dlcore._C
    x = np.zeros((3, 2, 4), np.float32)
    w_ih, w_hh = np.zeros((20, 4), np.float32), np.zeros((20, 5), np.float32)
    with pytest.raises(ValueError, match=r"weight_hh' has shape \(20, 4\), expected \(20, 5\)|weight_ih"):
        C.rnn_forward(C.RnnMode.lstm, x, None, None, w_ih, np.zeros((20, 4), np.float32), None, None, None, False)
    with pytest.raises(ValueError, match=r"'h0' has shape \(3, 5\), expected \(2, 5\)"):
        C.rnn_forward(C.RnnMode.lstm, x, np.zeros((3, 5), np.float32), None, w_ih, w_hh, None, None, None, False)
    with pytest.raises(ValueError, match=r"'bias_ih' has shape \(5,\), expected \(20,\)"):
        C.rnn_forward(C.RnnMode.lstm, x, None, None, w_ih, w_hh, np.zeros(5, np.float32), None, None, False)
    with pytest.raises(ValueError, match="empty sequence"):
        C.rnn_forward(C.RnnMode.gru, np.zeros((0, 2, 4), np.float32), None, None, np.zeros((15, 4), np.float32),
                      np.zeros((15, 5), np.float32), None, None, None, False)
    with pytest.raises(ValueError, match=r"lengths\[1\] = 7 is outside \[0, 3\]"):
        C.rnn_forward(C.RnnMode.lstm, x, None, None, w_ih, w_hh, None, None, np.array([1, 7]), False)
    with pytest.raises(TypeError, match="weight_ih' is float64 but the input is float32"):
        C.rnn_forward(C.RnnMode.lstm, x, None, None, w_ih.astype(np.float64), w_hh, None, None, None, False)


# ---- the fused cell kernels on their own (CPU, and CUDA vs CPU when a GPU exists) -----------

def _cell_inputs(mode, N=3, H=4, dtype=np.float64, seed=0):
    rs = np.random.default_rng(seed)
    G = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}[mode]
    a = lambda *s: rs.standard_normal(s).astype(dtype)  # noqa: E731
    return dict(xg=a(N, G * H), hg=a(N, G * H), b_ih=a(G * H), b_hh=a(G * H), h_prev=a(N, H),
                c_prev=a(N, H) if mode == "LSTM" else None)


def _mode(mode):
    return {"RNN_TANH": dlcore._C.RnnMode.rnn_tanh, "RNN_RELU": dlcore._C.RnnMode.rnn_relu,
            "LSTM": dlcore._C.RnnMode.lstm, "GRU": dlcore._C.RnnMode.gru}[mode]


def _cell_fwd(mode, d, lengths=None, t=0):
    return dlcore._C.rnn_cell_forward(_mode(mode), d["xg"], d["hg"], d["b_ih"], d["b_hh"], d["h_prev"],
                                      d["c_prev"], lengths, t)


@pytest.mark.parametrize("mode", MODES)
def test_cell_kernel_forward_matches_formulas(mode):
    d = _cell_inputs(mode)
    h, c, ws, y = _cell_fwd(mode, d)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    H = d["h_prev"].shape[1]
    gi, gh = d["xg"] + d["b_ih"], d["hg"] + d["b_hh"]
    if mode == "LSTM":
        p = gi + gh
        i, f, g, o = sig(p[:, :H]), sig(p[:, H:2 * H]), np.tanh(p[:, 2 * H:3 * H]), sig(p[:, 3 * H:])
        c_ref = f * d["c_prev"] + i * g
        np.testing.assert_allclose(c, c_ref, rtol=1e-12)
        h_ref = o * np.tanh(c_ref)
    elif mode == "GRU":
        r, z = sig(gi[:, :H] + gh[:, :H]), sig(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h_ref = (1 - z) * n + z * d["h_prev"]
    else:
        p = gi + gh
        h_ref = np.tanh(p) if mode == "RNN_TANH" else np.maximum(p, 0)
    np.testing.assert_allclose(h, h_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(y, h)
    # a padded row (t >= length) carries its state and outputs zero
    h2, c2, _, y2 = _cell_fwd(mode, d, lengths=np.array([1, 0, 1]), t=0)
    np.testing.assert_array_equal(h2[1], d["h_prev"][1])
    np.testing.assert_array_equal(y2[1], 0)
    np.testing.assert_array_equal(h2[0], h[0])


@pytest.mark.parametrize("mode", MODES)
def test_cell_kernel_backward_central_differences(mode):
    d = _cell_inputs(mode, seed=1)
    rs = np.random.default_rng(2)
    N, H = d["h_prev"].shape
    Rh, Ry, Rc = rs.standard_normal((N, H)), rs.standard_normal((N, H)), rs.standard_normal((N, H))

    def loss():
        h, c, _, y = _cell_fwd(mode, d)
        return float((h * Rh).sum() + (y * Ry).sum() + ((c * Rc).sum() if c is not None else 0))

    h, c, ws, y = _cell_fwd(mode, d)
    dxg, dhg, dhp, dcp = dlcore._C.rnn_cell_backward(_mode(mode), ws, d["h_prev"], d["c_prev"], h, c, Ry, Rh,
                                                     Rc if mode == "LSTM" else None, None, 0)
    checks = [(dxg, "xg"), (dhp, "h_prev")]
    if mode == "GRU":
        checks.append((dhg, "hg"))
    if mode == "LSTM":
        checks.append((dcp, "c_prev"))
    for analytic, key in checks:
        num = numeric_grad(loss, d[key])
        np.testing.assert_allclose(analytic, num, rtol=1e-6, atol=1e-8, err_msg=key)


@pytest.mark.cuda
@pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_cell_kernels_match_cpu(mode, dtype):
    C = dlcore._C
    d = _cell_inputs(mode, N=5, H=37, dtype=dtype, seed=4)
    lengths = np.array([3, 0, 5, 1, 2])
    rs = np.random.default_rng(5)
    Rh, Ry, Rc = (rs.standard_normal((5, 37)).astype(dtype) for _ in range(3))
    dev, host = cuda_array, host_array
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    cpu_f = _cell_fwd(mode, d, lengths, 2)
    gpu_f = C.rnn_cell_forward(_mode(mode), *(dev(d[k]) for k in ("xg", "hg", "b_ih", "b_hh", "h_prev", "c_prev")),
                               dev(lengths), 2)
    for a, b in zip(cpu_f, gpu_f):
        if a is not None:
            np.testing.assert_allclose(host(b), a, **tol)
    h, c, ws, y = cpu_f
    cpu_b = C.rnn_cell_backward(_mode(mode), ws, d["h_prev"], d["c_prev"], h, c, Ry, Rh,
                                Rc if mode == "LSTM" else None, lengths, 2)
    gpu_b = C.rnn_cell_backward(_mode(mode), dev(ws), dev(d["h_prev"]), dev(d["c_prev"]), dev(h), dev(c), dev(Ry),
                                dev(Rh), dev(Rc) if mode == "LSTM" else None, dev(lengths), 2)
    for a, b in zip(cpu_b, gpu_b):
        if a is not None:
            np.testing.assert_allclose(host(b), a, **tol)
