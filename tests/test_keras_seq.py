"""Issue 14, Keras side: sequence layers (Embedding, SimpleRNN / LSTM / GRU in Keras's weight
layout, masks, Bidirectional, TimeDistributed, RepeatVector, Permute), activation / noise /
normalization layers, input handling, custom train_step, and the Keras namespaces.

References: PyTorch on the same weights mapped to its layout (float64), or NumPy."""
import numpy as np
import pytest

import dlcore
from dlcore import layers as L

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
TOL = dict(rtol=1e-9, atol=1e-10)


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


# ---- recurrent layers vs PyTorch ---------------------------------------------------------------

def _torch_rnn(layer, bidirectional_with=None):
    """A torch RNN / LSTM / GRU (batch_first) holding the Keras layer's weights."""
    kind = type(layer).__name__
    I = layer.kernel.shape[0]
    H = layer.units
    if kind == "SimpleRNN":
        m = torch.nn.RNN(I, H, batch_first=True, nonlinearity=layer.activation,
                         bidirectional=bidirectional_with is not None, dtype=torch.float64)
    else:
        m = getattr(torch.nn, kind)(I, H, batch_first=True, bidirectional=bidirectional_with is not None,
                                    dtype=torch.float64)

    def load(lay, sfx):
        k, rk = lay.kernel.detach().numpy(), lay.recurrent_kernel.detach().numpy()
        b = lay.bias.detach().numpy() if lay.use_bias else None
        if kind == "GRU":  # Keras z, r, h -> torch r, z, n
            def sw(w):
                return np.concatenate([w[..., H:2 * H], w[..., :H], w[..., 2 * H:]], -1)
            k, rk = sw(k), sw(rk)
            b_ih, b_hh = (sw(b)[0], sw(b)[1]) if b is not None else (None, None)
        else:
            b_ih, b_hh = b, (np.zeros_like(b) if b is not None else None)
        with torch.no_grad():
            getattr(m, "weight_ih_l0" + sfx).copy_(_t(k.T))
            getattr(m, "weight_hh_l0" + sfx).copy_(_t(rk.T))
            if b is not None:
                getattr(m, "bias_ih_l0" + sfx).copy_(_t(b_ih))
                getattr(m, "bias_hh_l0" + sfx).copy_(_t(b_hh))
            else:
                getattr(m, "bias_ih_l0" + sfx).zero_()
                getattr(m, "bias_hh_l0" + sfx).zero_()
    load(layer, "")
    if bidirectional_with is not None:
        load(bidirectional_with, "_reverse")
    return m


def _built(cls, units, x, **kw):
    layer = cls(units, **kw).double()
    layer(dlcore.tensor(x))
    # non-zero biases so the bias mapping is checked
    if layer.use_bias:
        with dlcore.no_grad():
            layer.bias.copy_(dlcore.tensor(RNG.normal(size=tuple(layer.bias.shape))))
    return layer


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
@pytest.mark.parametrize("use_bias", [True, False])
def test_rnn_layers_match_torch_forward_and_gradients(cls, use_bias):
    x = RNG.normal(size=(3, 5, 4))
    layer = _built(cls, 6, x, return_sequences=True, return_state=True, use_bias=use_bias)
    tm = _torch_rnn(layer)
    xd = dlcore.tensor(x, requires_grad=True)
    out = layer(xd)
    xt = _t(x).requires_grad_(True)
    yt, st = tm(xt)
    st = list(st) if isinstance(st, tuple) else [st]
    np.testing.assert_allclose(out[0].detach().numpy(), yt.detach().numpy(), **TOL)
    for a, b in zip(out[1:], st):
        np.testing.assert_allclose(a.detach().numpy(), b[0].detach().numpy(), **TOL)
    w = RNG.normal(size=(3, 5, 6))
    (out[0] * dlcore.tensor(w)).sum().backward()
    (yt * _t(w)).sum().backward()
    np.testing.assert_allclose(xd.grad.detach().numpy(), xt.grad.detach().numpy(), **TOL)
    gk = tm.weight_ih_l0.grad.detach().numpy().T
    if cls is L.GRU:
        gk = np.concatenate([gk[:, 6:12], gk[:, :6], gk[:, 12:]], -1)
    np.testing.assert_allclose(layer.kernel.grad.detach().numpy(), gk, **TOL)


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
def test_last_output_and_go_backwards_as_keras(cls):
    x = RNG.normal(size=(2, 7, 3))
    layer = _built(cls, 4, x)
    tm = _torch_rnn(layer)
    y = layer(dlcore.tensor(x)).detach().numpy()
    np.testing.assert_allclose(y, tm(_t(x))[0][:, -1].detach().numpy(), **TOL)
    # go_backwards: the sequence is read from its end, the outputs come in that order
    back = cls(4, go_backwards=True, return_sequences=True).double()
    back(dlcore.tensor(x))
    back.set_weights(layer.get_weights())
    ref = tm(_t(x[:, ::-1].copy()))[0].detach().numpy()
    np.testing.assert_allclose(back(dlcore.tensor(x)).detach().numpy(), ref, **TOL)


def test_keras_weight_layouts_and_initializers():
    x = np.zeros((2, 3, 5))
    lstm = L.LSTM(8)
    lstm(x)
    assert [w.shape for w in lstm.get_weights()] == [(5, 32), (8, 32), (32,)]
    b = lstm.bias.detach().numpy()
    np.testing.assert_array_equal(b[8:16], 1.0)        # unit_forget_bias
    np.testing.assert_array_equal(np.r_[b[:8], b[16:]], 0.0)
    rk = lstm.recurrent_kernel.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(rk @ rk.T, np.eye(8), atol=1e-5)  # orthogonal rows
    lim = np.sqrt(6.0 / (5 + 32))
    k = lstm.kernel.detach().numpy()
    assert np.abs(k).max() <= lim and np.abs(k).max() > 0.5 * lim
    gru = L.GRU(4)
    gru(x)
    assert [w.shape for w in gru.get_weights()] == [(5, 12), (4, 12), (2, 12)]
    rnn = L.SimpleRNN(4, use_bias=False)
    rnn(x)
    assert [w.shape for w in rnn.get_weights()] == [(5, 4), (4, 4)]
    emb = L.Embedding(100, 7)
    e = emb.get_weights()[0]
    assert e.shape == (100, 7) and np.abs(e).max() <= 0.05 and e.std() > 0.02


def test_set_weights_round_trip_and_shape_errors():
    x = np.zeros((2, 3, 5), np.float32)
    a, b = L.GRU(4), L.GRU(4)
    a(x)
    b(x)
    b.set_weights(a.get_weights())
    xs = RNG.normal(size=(2, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(a(xs).detach().numpy(), b(xs).detach().numpy())
    with pytest.raises(ValueError, match="recurrent_kernel.*shape"):
        b.set_weights([a.get_weights()[0], np.zeros((4, 4)), a.get_weights()[2]])


def test_wrapped_layers_weights_in_keras_layout():
    """A wrapper lists its inner layers' weights in their Keras layouts (TimeDistributed(Dense):
    kernel (in, out), not nn.Linear's (out, in)), and set_weights writes them back there."""
    td = L.TimeDistributed(L.Dense(3))
    td(np.zeros((2, 4, 5), np.float32))
    ws = td.get_weights()
    assert [w.shape for w in ws] == [(5, 3), (3,)]
    np.testing.assert_array_equal(ws[0], td.layer.linear.weight.detach().numpy().T)
    k = RNG.normal(size=(5, 3)).astype(np.float32)
    td.set_weights([k, ws[1]])
    np.testing.assert_array_equal(td.layer.linear.weight.detach().numpy(), k.T)


def test_unsupported_options_raise_clear_errors():
    with pytest.raises(ValueError, match="stateful"):
        L.LSTM(4, stateful=True)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        L.GRU(4, recurrent_dropout=1.5)
    with pytest.raises(ValueError, match="reset_after"):
        L.GRU(4, reset_after=False)
    with pytest.raises(ValueError, match="activation"):
        L.LSTM(4, activation="relu")
    lstm = L.LSTM(4)
    with pytest.raises(ValueError, match="batch, time, features"):
        lstm(np.zeros((2, 3), np.float32))


def test_initial_state_is_used():
    x = RNG.normal(size=(2, 4, 3))
    layer = _built(L.LSTM, 5, x, return_state=True)
    tm = _torch_rnn(layer)
    h0, c0 = RNG.normal(size=(2, 5)), RNG.normal(size=(2, 5))
    y, h, c = layer(dlcore.tensor(x), initial_state=[dlcore.tensor(h0), dlcore.tensor(c0)])
    yt, (ht, ct) = tm(_t(x), (_t(h0)[None], _t(c0)[None]))
    np.testing.assert_allclose(h.detach().numpy(), ht[0].detach().numpy(), **TOL)
    np.testing.assert_allclose(c.detach().numpy(), ct[0].detach().numpy(), **TOL)


# ---- masks ---------------------------------------------------------------------------------------

def _masked_reference(tm, x, mask, zero_output):
    """Keras's masked RNN, row by row: the state skips masked steps; the output at a masked
    step repeats the previous one (zeros before any) or is zero."""
    N, T = mask.shape
    outs, finals = [], []
    for n in range(N):
        idx = np.flatnonzero(mask[n])
        H = tm.hidden_size
        if len(idx):
            y, st = tm(_t(x[n:n + 1, idx]))
            y = y[0].detach().numpy()
            h = (st[0] if isinstance(st, tuple) else st)[0, 0].detach().numpy()
        else:
            y, h = np.zeros((0, H)), np.zeros(H)
        row, k, prev = [], 0, np.zeros(H)
        for t in range(T):
            if mask[n, t]:
                prev = y[k]
                k += 1
                row.append(prev)
            else:
                row.append(np.zeros(H) if zero_output else prev)
        outs.append(row)
        finals.append(h)
    return np.array(outs), np.array(finals)


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
@pytest.mark.parametrize("zero_output", [False, True])
def test_any_mask_skips_masked_steps_as_keras(cls, zero_output):
    x = RNG.normal(size=(4, 6, 3))
    mask = np.array([[1, 1, 1, 0, 0, 0],    # right-padded
                     [0, 0, 1, 1, 1, 1],    # left-padded (pad_sequences' default)
                     [1, 0, 1, 1, 0, 1],    # holes
                     [0, 0, 0, 0, 0, 0]], bool)  # nothing
    layer = _built(cls, 5, x, return_sequences=True, return_state=True, zero_output_for_mask=zero_output)
    tm = _torch_rnn(layer)
    out = layer(dlcore.tensor(x), mask=dlcore.tensor(mask))
    ref_y, ref_h = _masked_reference(tm, x, mask, zero_output)
    np.testing.assert_allclose(out[0].detach().numpy(), ref_y, **TOL)
    np.testing.assert_allclose(out[1].detach().numpy(), ref_h, **TOL)


def test_masked_gradients_match_torch_packed_sequences():
    x = RNG.normal(size=(3, 5, 2))
    lengths = [5, 2, 3]
    mask = np.arange(5)[None] < np.array(lengths)[:, None]
    layer = _built(L.LSTM, 4, x)
    tm = _torch_rnn(layer)
    xd = dlcore.tensor(x, requires_grad=True)
    h = layer(xd, mask=mask)
    xt = _t(x).requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=True, enforce_sorted=False)
    _, (ht, _) = tm(packed)
    np.testing.assert_allclose(h.detach().numpy(), ht[0].detach().numpy(), **TOL)
    w = RNG.normal(size=(3, 4))
    (h * dlcore.tensor(w)).sum().backward()
    (ht[0] * _t(w)).sum().backward()
    np.testing.assert_allclose(xd.grad.detach().numpy(), xt.grad.detach().numpy(), **TOL)
    np.testing.assert_allclose(layer.recurrent_kernel.grad.detach().numpy(), tm.weight_hh_l0.grad.detach().numpy().T, **TOL)


def test_embedding_mask_zero_reaches_the_rnn_in_sequential_and_model():
    tokens = np.array([[3, 1, 4, 0, 0], [2, 7, 0, 0, 0], [5, 9, 2, 6, 5]])
    dlcore.manual_seed(0)
    emb, rnn = L.Embedding(10, 3, mask_zero=True), L.GRU(4)
    model = dlcore.Sequential([emb, rnn])
    got = model(tokens).detach().numpy()
    vecs = emb(tokens).detach().numpy()
    ref = np.stack([rnn(vecs[i:i + 1, :n]).detach().numpy()[0] for i, n in enumerate([3, 2, 5])])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    # the functional form, with Keras's Input(shape=(None,), dtype="int32") for token ids
    inp = dlcore.Input(shape=(None,), dtype="int32")
    fm = dlcore.Model(inp, rnn(emb(inp)))
    assert fm.outputs[0].shape == (None, 4)
    np.testing.assert_allclose(fm(tokens).detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm(tokens[:, :4]).detach().numpy()[:2], ref[:2], rtol=1e-5, atol=1e-6)  # any length
    # without mask_zero the padding is read as tokens
    assert not np.allclose(dlcore.Sequential([L.Embedding(10, 3), L.GRU(4)])(tokens).detach().numpy()[:2], 0)


def test_masking_layer():
    x = RNG.normal(size=(2, 4, 3))
    x[0, 2:] = 0.0
    layer = _built(L.SimpleRNN, 3, x)
    model = dlcore.Sequential([L.Masking(0.0), layer])
    got = model(dlcore.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got[0], layer(dlcore.tensor(x[:1, :2])).detach().numpy()[0], **TOL)
    np.testing.assert_allclose(got[1], layer(dlcore.tensor(x[1:])).detach().numpy()[0], **TOL)


# ---- wrappers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [L.LSTM, L.GRU])
def test_bidirectional_matches_torch_bidirectional(cls):
    x = RNG.normal(size=(2, 5, 3))
    bi = L.Bidirectional(cls(4, return_sequences=True, return_state=True)).double()
    bi(dlcore.tensor(x))
    for lay in (bi.forward_layer, bi.backward_layer):
        with dlcore.no_grad():
            lay.bias.copy_(dlcore.tensor(RNG.normal(size=tuple(lay.bias.shape))))
    tm = _torch_rnn(bi.forward_layer, bidirectional_with=bi.backward_layer)
    out = bi(dlcore.tensor(x))
    yt, st = tm(_t(x))
    np.testing.assert_allclose(out[0].detach().numpy(), yt.detach().numpy(), **TOL)
    h = st[0] if isinstance(st, tuple) else st
    np.testing.assert_allclose(out[1].detach().numpy(), h[0].detach().numpy(), **TOL)   # forward h
    k = 2 if cls is L.LSTM else 1
    np.testing.assert_allclose(out[1 + k].detach().numpy(), h[1].detach().numpy(), **TOL)  # backward h
    # weights: forward layer's, then backward layer's
    assert len(bi.get_weights()) == 6


@pytest.mark.parametrize("mode", ["sum", "mul", "ave", None])
def test_bidirectional_merge_modes(mode):
    x = RNG.normal(size=(2, 4, 3))
    bi = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode=mode).double()
    out = bi(dlcore.tensor(x))
    f = bi.forward_layer(dlcore.tensor(x)).detach().numpy()
    b = bi.backward_layer(dlcore.tensor(x)).detach().numpy()[:, ::-1]
    ref = {"sum": f + b, "mul": f * b, "ave": (f + b) / 2}.get(mode)
    if mode is None:
        np.testing.assert_allclose(out[0].detach().numpy(), f, **TOL)
        np.testing.assert_allclose(out[1].detach().numpy(), b, **TOL)
    else:
        np.testing.assert_allclose(out.detach().numpy(), ref, **TOL)
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")


def test_time_distributed_repeat_vector_permute():
    x = RNG.normal(size=(2, 3, 4))
    dense = L.Dense(5).double()
    td = L.TimeDistributed(dense)
    y = td(dlcore.tensor(x)).detach().numpy()
    assert y.shape == (2, 3, 5)
    np.testing.assert_allclose(y[:, 1], dense(dlcore.tensor(x[:, 1])).detach().numpy(), **TOL)
    v = RNG.normal(size=(2, 4))
    r = L.RepeatVector(3)(dlcore.tensor(v)).detach().numpy()
    np.testing.assert_array_equal(r, np.repeat(v[:, None], 3, 1))
    np.testing.assert_array_equal(L.Permute((2, 1))(dlcore.tensor(x)).detach().numpy(), x.transpose(0, 2, 1))
    with pytest.raises(ValueError, match="permutation"):
        L.Permute((1, 3))


def test_seq2seq_encoder_states_feed_a_decoder_in_a_functional_model():
    enc_in = dlcore.Input(shape=(None, 3))
    _, h, c = L.LSTM(6, return_state=True)(enc_in)
    dec_in = dlcore.Input(shape=(None, 2))
    dec = L.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    model = dlcore.Model([enc_in, dec_in], L.Dense(2)(dec))
    a, b = RNG.normal(size=(4, 5, 3)).astype("f"), RNG.normal(size=(4, 7, 2)).astype("f")
    assert model([a, b]).shape == (4, 7, 2)


# ---- activation, noise, normalization layers ---------------------------------------------------

def test_activation_layers_against_numpy():
    x = RNG.normal(size=(4, 6)) * 3

    def relu_ref(v, max_value=None, slope=0.0, thr=0.0):
        y = np.where(v >= thr, v, slope * (v - thr))
        return y if max_value is None else np.minimum(y, max_value)

    for kw in ({}, {"max_value": 2.0}, {"negative_slope": 0.1}, {"threshold": 0.5, "negative_slope": 0.2},
               {"max_value": 6.0, "threshold": -1.0}):
        got = L.ReLU(**kw)(dlcore.tensor(x)).detach().numpy()
        ref = relu_ref(x, kw.get("max_value"), kw.get("negative_slope", 0.0), kw.get("threshold", 0.0))
        np.testing.assert_allclose(got, ref, **TOL)
    np.testing.assert_allclose(L.LeakyReLU()(dlcore.tensor(x)).detach().numpy(), np.where(x > 0, x, 0.3 * x), **TOL)
    np.testing.assert_allclose(L.ELU(0.7)(dlcore.tensor(x)).detach().numpy(), np.where(x > 0, x, 0.7 * np.expm1(x)), **TOL)
    sm = L.Softmax(axis=0)(dlcore.tensor(x)).detach().numpy()
    np.testing.assert_allclose(sm, np.exp(x) / np.exp(x).sum(0, keepdims=True), **TOL)
    mask = RNG.random((4, 6)) > 0.3
    mask[:, 0] = True
    sm = L.Softmax()(dlcore.tensor(x), mask=dlcore.tensor(mask)).detach().numpy()
    e = np.exp(x) * mask
    np.testing.assert_allclose(sm, e / e.sum(1, keepdims=True), rtol=1e-9, atol=1e-12)


def test_prelu_learns_alpha_per_feature_and_shared_axes():
    x = RNG.normal(size=(2, 3, 4))
    p = L.PReLU(shared_axes=[1]).double()
    p(dlcore.tensor(x))
    assert p.get_weights()[0].shape == (1, 4)
    a = RNG.normal(size=(1, 4))
    p.set_weights([a])
    xd = dlcore.tensor(x, requires_grad=True)
    y = p(xd)
    np.testing.assert_allclose(y.detach().numpy(), np.where(x > 0, x, a * x), **TOL)
    y.sum().backward()
    np.testing.assert_allclose(p.alpha.grad.detach().numpy(), np.where(x > 0, 0, x).sum((0, 1))[None], **TOL)


def test_layer_and_group_normalization_match_torch():
    x = RNG.normal(size=(2, 5, 6))
    ln = L.LayerNormalization().double()
    ln(dlcore.tensor(x))
    g, b = RNG.normal(size=6), RNG.normal(size=6)
    ln.set_weights([g, b])
    ref = torch.nn.functional.layer_norm(_t(x), (6,), _t(g), _t(b), eps=1e-3).detach().numpy()
    np.testing.assert_allclose(ln(dlcore.tensor(x)).detach().numpy(), ref, **TOL)
    gn = L.GroupNormalization(groups=3).double()  # channels last: 6 channels, 3 groups
    gn(dlcore.tensor(x))
    gn.set_weights([g, b])
    ref = torch.nn.functional.group_norm(_t(x).permute(0, 2, 1), 3, _t(g), _t(b), eps=1e-3).permute(0, 2, 1)
    np.testing.assert_allclose(gn(dlcore.tensor(x)).detach().numpy(), ref.detach().numpy(), **TOL)
    with pytest.raises(ValueError, match="groups"):
        L.GroupNormalization()(dlcore.tensor(x))  # 6 channels, 32 groups


def test_noise_layers_train_only_and_spatial_dropout_shares_a_mask_per_channel():
    x = dlcore.ones(8, 5, 16)
    for layer in (L.GaussianNoise(0.5), L.GaussianDropout(0.3), L.SpatialDropout1D(0.5), L.Dropout(0.5)):
        np.testing.assert_array_equal(layer(x, training=False).detach().numpy(), x.detach().numpy())
    dlcore.manual_seed(1)
    sd = L.SpatialDropout1D(0.5)
    model = dlcore.Sequential([sd])
    model.train()
    y = sd(x).detach().numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert (y == y[:, :1]).all()                         # the same draw at every step
    assert 0 < (y[:, 0] == 0).mean() < 1
    model.eval()
    np.testing.assert_array_equal(sd(x).detach().numpy(), x.detach().numpy())
    gn = L.GaussianNoise(0.5)
    gn.train()
    assert 0.4 < (gn(x).detach().numpy() - 1).std() < 0.6
    gd = L.GaussianDropout(0.2)
    gd.train()
    assert abs(gd(x).detach().numpy().mean() - 1) < 0.05
    with dlcore.nn.module.eval_mode():
        np.testing.assert_array_equal(gn(x).detach().numpy(), x.detach().numpy())
    img = dlcore.ones(4, 3, 3, 8)
    s2 = L.SpatialDropout2D(0.5)
    s2.train()
    y = s2(img).detach().numpy()
    assert (y == y[:, :1, :1, :]).all()


# ---- input handling ----------------------------------------------------------------------------

def test_input_shape_and_input_layer_build_sequential():
    m = dlcore.Sequential([L.Dense(8, activation="relu", input_shape=(4,)), L.Dense(2)])
    assert m.count_params() == 4 * 8 + 8 + 8 * 2 + 2
    m2 = dlcore.Sequential([dlcore.Input((4,)), L.Dense(3)])
    assert m2.count_params() == 15
    m3 = dlcore.Sequential()
    m3.add(dlcore.Input(shape=(6,)))
    m3.add(L.Dense(2))
    assert m3.count_params() == 14
    m4 = dlcore.Sequential([L.Dense(2, input_dim=5)])
    assert m4.count_params() == 12
    seq = dlcore.Sequential([dlcore.Input(shape=(None,), dtype="int32"), L.Embedding(20, 4), L.LSTM(3)])
    assert seq.count_params() == 80 + 4 * 12 + 3 * 12 + 12
    # NumPy data into every layer call, built or not
    x = RNG.normal(size=(2, 4)).astype(np.float32)
    assert m(x).shape == (2, 2) and m.layers[0](x).shape == (2, 8)
    assert L.LayerNormalization()(x).shape == (2, 4)


def test_training_argument_sets_the_mode_of_one_call():
    m = dlcore.Sequential([L.Dropout(0.5, input_shape=(100,))])
    m.eval()
    x = np.ones((4, 100), np.float32)
    np.testing.assert_array_equal(m(x).detach().numpy(), x)
    assert (m(x, training=True).detach().numpy() == 0).any()
    m.train()
    np.testing.assert_array_equal(m(x, training=False).detach().numpy(), x)
    np.testing.assert_array_equal(m.layers[0](x, training=False).detach().numpy(), x)


def test_custom_keras_layer_with_call_build_and_add_weight():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, inputs):
            return inputs * self.w

    s = Scale()
    x = RNG.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(s(x).detach().numpy(), x)
    assert [w.shape for w in s.get_weights()] == [(3,)] and len(s.trainable_weights) == 1


# ---- custom training (Keras 3's train_step) ----------------------------------------------------

def _data(n=64):
    x = RNG.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [1.5]], np.float32)).astype(np.float32)
    return x, y


class _TapeModel(dlcore.Model):
    """Keras 3's custom-fit example, TensorFlow style: a GradientTape and optimizer.apply."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.d1, self.d2 = L.Dense(16, activation="relu"), L.Dense(1)
        self.loss_tracker = dlcore.metrics.Mean(name="loss")
        self.mae_metric = dlcore.metrics.MeanAbsoluteError(name="mae")

    def call(self, x):
        return self.d2(self.d1(x))

    def train_step(self, data):
        x, y = data
        with dlcore.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = dlcore.losses.mean_squared_error(y, y_pred).mean()
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(dlcore.losses.mse(y, y_pred).mean())
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_train_step_override_trains_and_fit_resets_the_trackers():
    dlcore.manual_seed(0)
    x, y = _data()
    m = _TapeModel()
    m.compile(optimizer=dlcore.optimizers.Adam(learning_rate=0.01))
    h = m.fit(x, y, epochs=6, batch_size=16, verbose=0)
    loss = h.history["loss"]
    assert set(h.history) == {"loss", "mae"}
    assert loss[-1] < 0.5 * loss[0]
    # reset per epoch: the last epoch's logged loss is that epoch's mean, not the run's mean
    m.loss_tracker.reset_state()
    ev = m.evaluate(x, y, return_dict=True)
    assert ev["loss"] <= loss[-1] * 1.5 and m.loss_tracker.count == len(x) // 32 + (len(x) % 32 > 0)


def test_torch_style_gradients_in_train_step_with_compiled_loss_and_metrics():
    class M(dlcore.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(1)

        def call(self, x):
            return self.d(x)

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            grads = [v.grad for v in self.trainable_weights]
            self.optimizer.apply(grads, self.trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    dlcore.manual_seed(0)
    x, y = _data()
    m = M()
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    h = m.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert [mm.name for mm in m.metrics] == ["loss", "mae"]
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]


def test_gan_style_two_optimizers_and_apply_gradients():
    """The structure of Keras 3's GAN example: compile() with no loss, two Keras optimizers made
    without variables, apply_gradients(zip(...)), x-only data."""
    class GAN(dlcore.Model):
        def __init__(self, d, g):
            super().__init__()
            self.discriminator, self.generator = d, g
            self.d_loss_tracker = dlcore.metrics.Mean(name="d_loss")
            self.g_loss_tracker = dlcore.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real):
            n = real.shape[0]
            fake = self.generator(dlcore.randn(n, 2))
            both = dlcore.cat([fake.detach(), real])
            labels = dlcore.cat([dlcore.ones(n, 1), dlcore.zeros(n, 1)])
            with dlcore.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(both))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            with dlcore.GradientTape() as tape:
                g_loss = self.loss_fn(dlcore.zeros(n, 1), self.discriminator(self.generator(dlcore.randn(n, 2))))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    dlcore.manual_seed(0)
    d = dlcore.Sequential([dlcore.Input((3,)), L.Dense(8), L.LeakyReLU(0.2), L.Dense(1)])
    g = dlcore.Sequential([dlcore.Input((2,)), L.Dense(8, activation="relu"), L.Dense(3)])
    g_before = [w.copy() for w in g.get_weights()]
    gan = GAN(d, g)
    gan.compile(dlcore.optimizers.Adam(learning_rate=1e-3), dlcore.optimizers.Adam(learning_rate=1e-3),
                dlcore.losses.BinaryCrossentropy(from_logits=True))
    h = gan.fit(RNG.normal(size=(64, 3)).astype(np.float32) + 2.0, epochs=2, batch_size=16, verbose=0)
    assert set(h.history) == {"d_loss", "g_loss"} and len(h.history["d_loss"]) == 2
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, g.get_weights()))
    assert gan.d_optimizer.learning_rate == pytest.approx(1e-3)


def test_optimizer_apply_checks_and_leaves_grads_alone():
    w = dlcore.nn.Parameter(dlcore.ones(3))
    opt = dlcore.optim.SGD([w], lr=0.5)
    w.grad = dlcore.full((3,), 7.0)
    opt.apply([dlcore.ones(3)], [w])
    np.testing.assert_allclose(w.detach().numpy(), 0.5)
    np.testing.assert_allclose(w.grad.detach().numpy(), 7.0)
    other = dlcore.nn.Parameter(dlcore.ones(2))
    with pytest.raises(ValueError, match="not one of this optimizer's parameters"):
        opt.apply([dlcore.ones(2)], [other])
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        opt.apply([dlcore.ones(3), dlcore.ones(3)], [w])


def test_gradient_tape_matches_backward():
    w = dlcore.nn.Parameter(dlcore.tensor([1.0, 2.0], dtype=dlcore.float64))
    with dlcore.GradientTape() as tape:
        loss = (w * w).sum()
    (g,) = tape.gradient(loss, [w])
    np.testing.assert_allclose(g.detach().numpy(), [2.0, 4.0])
    assert w.grad is None


def test_rnn_text_model_trains_with_fit():
    """Embedding(mask_zero) -> Bidirectional(LSTM) -> Dense on padded token sequences: the task
    (does token 1 occur?) is learnt."""
    dlcore.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    seqs = [list(rng.integers(2, 12, size=rng.integers(2, 9))) for _ in range(256)]
    y = rng.integers(0, 2, size=256)
    for s, lab in zip(seqs, y):
        if lab:
            s[rng.integers(0, len(s))] = 1
    x = dlcore.utils.pad_sequences(seqs, maxlen=8)
    model = dlcore.Sequential([dlcore.Input(shape=(None,), dtype="int32"), L.Embedding(12, 8, mask_zero=True),
                               L.Bidirectional(L.LSTM(8)), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=dlcore.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y.astype(np.float32), epochs=8, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    assert h.history["accuracy"][-1] > 0.9


# ---- namespaces --------------------------------------------------------------------------------

def test_keras_namespaces_import():
    import dlcore.callbacks
    import dlcore.initializers
    import dlcore.losses
    import dlcore.metrics
    import dlcore.optimizers
    import dlcore.regularizers
    import dlcore.utils
    assert dlcore.layers.LSTM and dlcore.callbacks.EarlyStopping and dlcore.metrics.Mean
    assert dlcore.regularizers.l2(1e-4) is not None and dlcore.initializers.get("GlorotUniform")
    np.testing.assert_array_equal(dlcore.utils.to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(dlcore.utils.pad_sequences([[1, 2, 3], [4]], maxlen=2),
                                  [[2, 3], [0, 4]])
    np.testing.assert_array_equal(dlcore.utils.pad_sequences([[1, 2, 3], [4]], padding="post", truncating="post"),
                                  [[1, 2, 3], [4, 0, 0]])
    dlcore.utils.set_random_seed(3)
    a = dlcore.randn(3).detach().numpy()
    dlcore.utils.set_random_seed(3)
    np.testing.assert_array_equal(a, dlcore.randn(3).detach().numpy())


def test_mean_tracker():
    m = dlcore.metrics.Mean(name="total")
    m.update_state(2.0)
    m.update_state(dlcore.tensor(4.0))
    assert m.result() == pytest.approx(3.0) and m.name == "total"
    m.reset_state()
    assert m.result() == 0.0


def test_keras_losses_match_torch():
    p = RNG.random((5, 3))
    t = (RNG.random((5, 3)) > 0.5).astype(np.float64)
    got = dlcore.losses.binary_crossentropy(t, p).detach().numpy()
    ref = torch.nn.functional.binary_cross_entropy(_t(p), _t(t), reduction="none").mean(-1).detach().numpy()
    np.testing.assert_allclose(got, ref, **TOL)
    logits = RNG.normal(size=(5, 4))
    lab = RNG.integers(0, 4, size=5)
    got = dlcore.losses.SparseCategoricalCrossentropy(from_logits=True)(lab, logits).item()
    assert got == pytest.approx(torch.nn.functional.cross_entropy(_t(logits), torch.tensor(lab)).item(), rel=1e-12)
    oh = np.eye(4)[lab]
    got = dlcore.losses.categorical_crossentropy(oh, logits, from_logits=True).detach().numpy()
    ref = torch.nn.functional.cross_entropy(_t(logits), torch.tensor(lab), reduction="none").detach().numpy()
    np.testing.assert_allclose(got, ref, **TOL)


def test_sequence_models_save_and_load(tmp_path):
    tok = np.array([[1, 2, 0, 0], [3, 4, 5, 6]])
    models = [
        dlcore.Sequential([L.Embedding(10, 4, mask_zero=True), L.Bidirectional(L.LSTM(3), merge_mode="sum")]),
        dlcore.Sequential([L.Embedding(10, 4), L.TimeDistributed(L.Dense(2)), L.Permute((2, 1)), L.Flatten(),
                           L.RepeatVector(2), L.SimpleRNN(2, activation="relu", return_sequences=True),
                           L.LayerNormalization(), L.PReLU(), L.ReLU(max_value=1.0), L.LeakyReLU(), L.ELU(),
                           L.Softmax(), L.GaussianNoise(0.1), L.SpatialDropout1D(0.1), L.GaussianDropout(0.1)]),
    ]
    inp = dlcore.Input(shape=(None,), dtype="int32")
    h = L.Bidirectional(L.GRU(4, return_sequences=True))(L.Embedding(10, 4, mask_zero=True)(inp))
    models.append(dlcore.Model(inp, L.LSTM(2)(L.GroupNormalization(2)(h))))
    for i, m in enumerate(models):
        m.compile("adam", "mse")
        y = m.predict(tok)
        m.fit(tok, np.zeros(y.shape, np.float32), verbose=0)
        y = m.predict(tok)
        m.save(tmp_path / f"m{i}.safetensors")
        back = dlcore.load_model(tmp_path / f"m{i}.safetensors")
        np.testing.assert_allclose(back.predict(tok), y, rtol=1e-6, atol=1e-7)


def test_vae_example_structure_trains():
    """Keras 3's VAE example with its imports changed: a custom Sampling layer (call), a
    functional encoder with three outputs, a subclassed Model with loss trackers in `metrics`,
    GradientTape + optimizer.apply_gradients, fit on x alone."""
    class Sampling(L.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            return z_mean + dlcore.exp(0.5 * z_log_var) * dlcore.randn(*z_mean.shape)

    dlcore.utils.set_random_seed(0)
    enc_in = dlcore.Input(shape=(2, 4))
    h = L.Dense(16, activation="relu")(L.Flatten()(enc_in))
    z_mean, z_log_var = L.Dense(2, name="z_mean")(h), L.Dense(2, name="z_log_var")(h)
    encoder = dlcore.Model(enc_in, [z_mean, z_log_var, Sampling()([z_mean, z_log_var])], name="encoder")
    lat_in = dlcore.Input(shape=(2,))
    decoder = dlcore.Model(lat_in, L.Reshape((2, 4))(L.Dense(8, activation="sigmoid")(
        L.Dense(16, activation="relu")(lat_in))), name="decoder")

    class VAE(dlcore.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.total_loss_tracker = dlcore.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = dlcore.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = dlcore.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            with dlcore.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = dlcore.losses.binary_crossentropy(data, reconstruction).sum(1).mean()
                kl_loss = -0.5 * (1 + z_log_var - z_mean ** 2 - dlcore.exp(z_log_var))
                kl_loss = kl_loss.sum(1).mean()
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {"loss": self.total_loss_tracker.result(),
                    "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                    "kl_loss": self.kl_loss_tracker.result()}

    data = (RNG.random((128, 2, 4)) > 0.7).astype(np.float32)
    data[:64] = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], np.float32)
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=dlcore.optimizers.Adam(learning_rate=0.01))
    h = vae.fit(data, epochs=6, batch_size=32, verbose=0)
    assert set(h.history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert h.history["loss"][-1] < 0.85 * h.history["loss"][0]


# ---- bad input: a clear exception naming the layer, never a raw internal error --------------------

_CLEAN = (ValueError, TypeError, IndexError, RuntimeError)
_WRONG = [None, "a", [1, 2], (1,), {}, object(), 1.5, -1, True]
_NEW_LAYERS = [lambda: L.Embedding(5, 2), lambda: L.SimpleRNN(2), lambda: L.LSTM(2), lambda: L.GRU(2),
               lambda: L.Bidirectional(L.LSTM(2)), lambda: L.TimeDistributed(L.Dense(2)),
               lambda: L.RepeatVector(2), lambda: L.Permute((2, 1)), lambda: L.ReLU(max_value=1.0),
               lambda: L.LeakyReLU(), lambda: L.PReLU(), lambda: L.ELU(), lambda: L.Softmax(),
               lambda: L.GaussianNoise(0.1), lambda: L.GaussianDropout(0.1), lambda: L.SpatialDropout1D(0.1),
               lambda: L.SpatialDropout2D(0.1), lambda: L.LayerNormalization(), lambda: L.GroupNormalization(2),
               lambda: L.Masking()]


def _clean(call, what):
    try:
        call()
    except _CLEAN as e:
        assert str(e), what
        assert "_C." not in str(e) and "pybind" not in str(e) and "incompatible function" not in str(e), \
            f"{what}: unclear error {e}"
    except Exception as e:
        raise AssertionError(f"{what}: raw {type(e).__name__}: {e}") from e


@pytest.mark.parametrize("make", _NEW_LAYERS)
def test_new_layers_refuse_wrong_inputs_clearly(make):
    for v in _WRONG + [dlcore.ones(0, 3), dlcore.tensor(1.0), dlcore.ones(2, 3, dtype="int64")]:
        m = make()
        _clean(lambda: m(v), f"{type(m).__name__}({v!r})")


@pytest.mark.parametrize("cls,n", [(L.Embedding, 2), (L.SimpleRNN, 1), (L.LSTM, 1), (L.GRU, 1),
                                   (L.RepeatVector, 1), (L.Permute, 1), (L.ReLU, 1), (L.LeakyReLU, 1),
                                   (L.ELU, 1), (L.Softmax, 1), (L.GaussianNoise, 1), (L.GaussianDropout, 1),
                                   (L.SpatialDropout1D, 1), (L.LayerNormalization, 1), (L.GroupNormalization, 1),
                                   (L.Bidirectional, 1), (L.TimeDistributed, 1), (L.PReLU, 1), (L.Masking, 1)])
def test_new_layer_constructors_refuse_wrong_arguments_clearly(cls, n):
    for v in _WRONG:
        _clean(lambda: cls(*([v] * n)), f"{cls.__name__}({v!r})")


def test_variable_sizes_stay_none_and_names_are_keras_snake_case():
    inp = dlcore.Input(shape=(None,), dtype="int32")
    seq = L.LSTM(13, return_sequences=True)(L.Embedding(20, 13)(inp))  # sizes equal to the example length
    last = L.LSTM(13)(seq)
    assert seq.shape == (None, None, 13) and last.shape == (None, 13)
    m = dlcore.Sequential([dlcore.Input(shape=(None,), dtype="int32"), L.Embedding(20, 4), L.GRU(13)])
    rows = []
    m.summary(print_fn=rows.append)
    assert any("(None, None, 4)" in r for r in rows) and any("(None, 13)" in r for r in rows)
    assert L.LSTM(2).name.startswith("lstm") and L.SimpleRNN(2).name.startswith("simple_rnn")
    assert L.PReLU().name.startswith("p_re_lu") and L.GaussianNoise(0.1).name.startswith("gaussian_noise")


def test_rnn_input_dropout_one_mask_per_sequence_and_trainable_flag():
    x = np.ones((4, 6, 8))
    layer = _built(L.SimpleRNN, 3, x, dropout=0.5, return_sequences=True)
    ref = layer(dlcore.tensor(x), training=False).detach().numpy()
    dlcore.manual_seed(0)
    a = layer(dlcore.tensor(x), training=True).detach().numpy()
    assert not np.allclose(a, ref)
    # one (batch, 1, features) mask shared by every step, as Keras draws it
    x = RNG.normal(size=(4, 6, 8))
    dlcore.manual_seed(5)
    got = layer(dlcore.tensor(x), training=True).detach().numpy()
    dlcore.manual_seed(5)
    keep = dlcore.nn.functional.dropout(dlcore.ones(4, 1, 8, dtype=dlcore.float64), 0.5, True).numpy()
    np.testing.assert_allclose(got, layer(dlcore.tensor(x * keep), training=False).detach().numpy(), **TOL)
    m = dlcore.Sequential([L.Dense(2, input_shape=(3,)), L.Dense(1)])
    m.layers[0].trainable = False
    assert len(m.trainable_weights) == 2 and len(m.non_trainable_weights) == 2
    m.trainable = False
    assert m.trainable_weights == []


def test_compile_takes_keras_loss_objects_and_optimizers():
    dlcore.manual_seed(0)
    m = dlcore.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(3)])
    m.compile(optimizer=dlcore.optimizers.RMSprop(learning_rate=0.01),
              loss=dlcore.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x = RNG.random((20, 3)).astype(np.float32)
    y = RNG.integers(0, 3, 20)
    w = RNG.random(20).astype(np.float32)
    m.fit(x, y, epochs=2, verbose=0, sample_weight=w)
    assert isinstance(m.optimizer, dlcore.optim.RMSprop) and m.optimizer.param_groups[0]["alpha"] == 0.9
    loss, acc = m.evaluate(x, y, sample_weight=w)
    logits = torch.tensor(m.predict(x), dtype=torch.float64)
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none").numpy()
    assert loss == pytest.approx((ce * w).mean(), rel=1e-4)  # Keras's sum_over_batch_size (one batch)
    hits = m.predict(x).argmax(1) == y
    assert acc == pytest.approx((hits * w).sum() / w.sum(), rel=1e-5)  # weighted, as Keras weighs metrics


def test_train_step_calling_super_and_masks_skipping_plain_modules():
    class Logged(dlcore.Sequential):
        steps = 0

        def train_step(self, data):
            type(self).steps += 1
            return super().train_step(data)

    dlcore.manual_seed(0)
    x, y = _data(32)
    m = Logged([L.Dense(8, activation="relu", input_shape=(4,)), L.Dense(1)])
    m.compile("adam", "mse", metrics=["mae"])
    h = m.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert Logged.steps == 12 and set(h.history) == {"loss", "mae"}
    assert h.history["loss"][-1] < h.history["loss"][0]
    # a mask reaching a plain nn module in a graph is not passed to it
    inp = dlcore.Input(shape=(5,), dtype="int32")
    out = dlcore.layers.Lambda(dlcore.nn.Flatten())(L.Embedding(9, 2, mask_zero=True)(inp))
    assert dlcore.Model(inp, out)(np.array([[1, 2, 0, 0, 0]])).shape == (1, 10)


def test_model_build_takes_keras_batch_shapes():
    m = dlcore.Sequential([L.Dense(3), L.Dense(1)])
    m.build((None, 5))
    assert m.count_params() == 5 * 3 + 3 + 4
    r = dlcore.Sequential([L.LSTM(2)])
    r.build((None, None, 4))  # batch and time both variable
    assert r.count_params() == 4 * 8 + 2 * 8 + 8


def test_dense_and_batchnorm_weights_in_keras_layout():
    d = L.Dense(3).double()
    x = RNG.normal(size=(2, 4))
    d(dlcore.tensor(x))
    kernel, bias = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    d.set_weights([kernel, bias])
    np.testing.assert_allclose(d(dlcore.tensor(x)).detach().numpy(), x @ kernel + bias, **TOL)
    assert [w.shape for w in d.get_weights()] == [(4, 3), (3,)]
    bn = L.BatchNormalization()
    bn(np.zeros((2, 5), np.float32))
    assert [w.shape for w in bn.get_weights()] == [(5,)] * 4  # gamma, beta, moving mean, moving variance


def test_dense_keras_initializers_and_regularizer_in_the_loss():
    d = L.Dense(50)
    d(np.zeros((1, 30), np.float32))
    k, b = d.get_weights()
    lim = np.sqrt(6 / (30 + 50))
    assert np.abs(k).max() <= lim and np.abs(k).max() > 0.9 * lim and not b.any()
    d2 = L.Dense(2, kernel_initializer="ones", bias_initializer=dlcore.initializers.Constant(0.5))
    d2(np.zeros((1, 3), np.float32))
    np.testing.assert_array_equal(d2.get_weights()[0], 1.0)
    np.testing.assert_array_equal(d2.get_weights()[1], 0.5)
    # kernel_regularizer: the loss fit reports includes l2 * sum(kernel^2)
    m = dlcore.Sequential([L.Dense(1, kernel_initializer="ones", use_bias=False, input_shape=(2,),
                                   kernel_regularizer=dlcore.regularizers.l2(0.1))])
    m.compile("sgd", "mse")
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    assert m.evaluate(x, y) == pytest.approx(0.1 * 2)
    with pytest.raises(ValueError, match="initializer"):
        L.Dense(2, kernel_initializer="glorot_unifrom")


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
def test_recurrent_dropout_step_path_matches_torch_and_keras_masks(cls):
    """Training with recurrent_dropout runs the step-by-step path: with a vanishing rate (the
    mask is 1 + 1e-12) it must give the fused kernel's / PyTorch's values, masks included."""
    x = RNG.normal(size=(4, 6, 3))
    mask = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]], bool)
    layer = _built(cls, 5, x, return_sequences=True, return_state=True, recurrent_dropout=1e-12)
    tm = _torch_rnn(layer)
    xd = dlcore.tensor(x, requires_grad=True)
    out = layer(xd, mask=dlcore.tensor(mask), training=True)
    ref_y, ref_h = _masked_reference(tm, x, mask, False)
    np.testing.assert_allclose(out[0].detach().numpy(), ref_y, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(out[1].detach().numpy(), ref_h, rtol=1e-9, atol=1e-10)
    # gradients against the fused path (no recurrent dropout in eval mode)
    w = RNG.normal(size=(4, 6, 5))
    (out[0] * dlcore.tensor(w)).sum().backward()
    g_loop, k_loop = xd.grad.numpy().copy(), layer.kernel.grad.numpy().copy()
    xd.grad = None
    layer.kernel.grad = None
    (layer(xd, mask=dlcore.tensor(mask), training=False)[0] * dlcore.tensor(w)).sum().backward()
    np.testing.assert_allclose(g_loop, xd.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(k_loop, layer.kernel.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_recurrent_dropout_masks_the_state_the_recurrence_reads():
    x = RNG.normal(size=(3, 5, 2))
    layer = _built(L.SimpleRNN, 4, x, return_sequences=True, recurrent_dropout=0.5)
    dlcore.manual_seed(7)
    got = layer(dlcore.tensor(x), training=True).detach().numpy()
    dlcore.manual_seed(7)
    keep = dlcore.nn.functional.dropout(dlcore.ones(3, 4, dtype=dlcore.float64), 0.5, True).numpy()
    k, rk, b = layer.get_weights()
    h, ref = np.zeros((3, 4)), []
    for t in range(5):
        h = np.tanh(x[:, t] @ k + (h * keep) @ rk + b)
        ref.append(h)
    np.testing.assert_allclose(got, np.stack(ref, 1), **TOL)
    assert not np.allclose(got, layer(dlcore.tensor(x), training=False).detach().numpy())


def test_layer_dtype_argument_sets_the_weights_dtype():
    assert L.Embedding(5, 2, dtype="float64").embeddings.dtype == dlcore.float64
    d = L.Dense(2, dtype="float64")
    assert d(np.ones((1, 3))).dtype == dlcore.float64
    lstm = L.LSTM(2, dtype="float64")
    assert lstm(np.ones((1, 3, 2), np.float32)).dtype == dlcore.float64


def test_seq2seq_trains_through_the_encoder_states():
    """Keras's character-level seq2seq structure (encoder states as the decoder's initial_state,
    teacher forcing) on a toy task: the decoder must output the encoder's first token at every
    step, so it learns only if gradients flow through initial_state."""
    dlcore.utils.set_random_seed(0)
    rng = np.random.default_rng(2)
    V, T = 5, 4
    src = rng.integers(0, V, size=(256, T))
    enc_x = dlcore.utils.to_categorical(src, V)
    dec_x = np.zeros((256, T, V), np.float32)
    target = np.repeat(src[:, :1], T, 1)
    enc_in = dlcore.Input(shape=(None, V))
    _, h, c = L.LSTM(16, return_state=True)(enc_in)
    dec_in = dlcore.Input(shape=(None, V))
    dec = L.LSTM(16, return_sequences=True)(dec_in, initial_state=[h, c])
    model = dlcore.Model([enc_in, dec_in], L.Dense(V)(dec))
    model.compile(dlcore.optimizers.Adam(learning_rate=0.02),
                  loss=dlcore.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit([enc_x, dec_x], target, epochs=8, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]


def test_model_weights_in_keras_order_and_layout():
    def make():
        inp = dlcore.Input(shape=(None,), dtype="int32")
        h = L.Bidirectional(L.GRU(3))(L.Embedding(7, 4)(inp))
        return dlcore.Model(inp, L.Dense(2)(L.BatchNormalization()(h)))
    a, b = make(), make()
    shapes = [w.shape for w in a.get_weights()]
    assert shapes == [(7, 4), (4, 9), (3, 9), (2, 9), (4, 9), (3, 9), (2, 9), (6,), (6,), (6,), (6,), (6, 2), (2,)]
    b.set_weights(a.get_weights())
    tok = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(a.predict(tok), b.predict(tok))
    with pytest.raises(ValueError, match="got 2 arrays for 13 weights"):
        b.set_weights(a.get_weights()[:2])


def test_mean_tracker_keras_semantics():
    m = dlcore.metrics.Mean()
    m.update_state(dlcore.tensor([1.0, 2.0, 3.0]))      # every element counts
    m.update_state(5.0)
    assert m.result() == pytest.approx(11 / 4)
    m.reset_state()
    m.update_state(np.array([1.0, 3.0]), sample_weight=np.array([1.0, 3.0]))
    assert m.result() == pytest.approx(2.5)
    m.reset_state()
    assert m(dlcore.tensor(4.0)) == pytest.approx(4.0) and m(2.0) == pytest.approx(3.0)


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU])
def test_masked_bidirectional_matches_torch_packed_sequences(cls):
    x = RNG.normal(size=(3, 6, 2))
    lengths = [6, 2, 4]
    mask = np.arange(6)[None] < np.array(lengths)[:, None]
    bi = L.Bidirectional(cls(4, return_sequences=True, return_state=True)).double()
    bi(dlcore.tensor(x))
    for lay in (bi.forward_layer, bi.backward_layer):
        with dlcore.no_grad():
            lay.bias.copy_(dlcore.tensor(RNG.normal(size=tuple(lay.bias.shape))))
    tm = _torch_rnn(bi.forward_layer, bidirectional_with=bi.backward_layer)
    out = bi(dlcore.tensor(x), mask=dlcore.tensor(mask))
    packed = torch.nn.utils.rnn.pack_padded_sequence(_t(x), lengths, batch_first=True, enforce_sorted=False)
    yp, st = tm(packed)
    yt, _ = torch.nn.utils.rnn.pad_packed_sequence(yp, batch_first=True, total_length=6)
    y = out[0].detach().numpy()
    for n, ln in enumerate(lengths):  # valid steps; padded ones differ by design (Keras repeats, torch zeros)
        np.testing.assert_allclose(y[n, :ln], yt[n, :ln].detach().numpy(), **TOL)
    h = (st[0] if isinstance(st, tuple) else st).detach().numpy()
    k = 2 if cls is L.LSTM else 1
    np.testing.assert_allclose(out[1].detach().numpy(), h[0], **TOL)
    np.testing.assert_allclose(out[1 + k].detach().numpy(), h[1], **TOL)


def test_call_training_argument_follows_fit_and_predict():
    seen = []

    class Noisy(L.Layer):
        def call(self, x, training=False):
            seen.append(("layer", training))
            return x

    class M(dlcore.Model):
        def __init__(self):
            super().__init__()
            self.d, self.n = L.Dense(1), Noisy()

        def call(self, x, training=False):
            seen.append(("model", training))
            return self.d(self.n(x))

    m = M()
    m.compile("sgd", "mse")
    x, y = _data(8)
    m.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert seen[-2:] == [("model", True), ("layer", True)]  # (after a build pass in inference mode)
    seen.clear()
    m.predict(x)
    assert seen == [("model", False), ("layer", False)]
    seen.clear()
    m(x, training=True)
    assert seen == [("model", True), ("layer", True)]


def test_port_bidirectional_lstm_text_classifier_with_only_imports_changed():
    """The shape of Keras 3's bidirectional-LSTM text classification example, written the Keras
    way with `import dlcore as keras` (data: synthetic token sequences instead of IMDB)."""
    import dlcore as keras
    from dlcore import layers

    keras.utils.set_random_seed(1)
    max_features, maxlen = 50, 12
    rng = np.random.default_rng(3)
    seqs = [list(rng.integers(3, max_features, size=rng.integers(3, 15))) for _ in range(320)]
    y_all = rng.integers(0, 2, size=320)
    for s, lab in zip(seqs, y_all):  # class 1: token 2 occurs
        if lab:
            s[rng.integers(0, len(s))] = 2
    x_all = keras.utils.pad_sequences(seqs, maxlen=maxlen)
    x_train, y_train, x_val, y_val = x_all[:256], y_all[:256], x_all[256:], y_all[256:]

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 16)(inputs)
    x = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(16))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.summary(print_fn=lambda *a: None)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x_train, y_train, batch_size=16, epochs=12, validation_data=(x_val, y_val), verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.8


def test_numpy_inputs_to_multi_input_layers():
    a, b = RNG.normal(size=(2, 3)).astype(np.float32), RNG.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(L.Add()([a, b]).detach().numpy(), a + b, rtol=1e-6)
    np.testing.assert_allclose(L.Concatenate()([a, dlcore.tensor(b)]).detach().numpy(), np.concatenate([a, b], 1))
