"""Attention family against PyTorch on the same weights, float64: scaled_dot_product_attention
(bool / float / causal masks, fully masked rows), MultiheadAttention (every parameter layout,
masks, head weights), the Transformer modules (forward and backward, state_dicts loaded from
PyTorch), and the Keras-style MultiHeadAttention / Attention layers against the same
computation written in PyTorch."""
import numpy as np
import pytest

import dlcore
from dlcore import layers, nn
from conftest import requires_torch
from gradcheck import gradcheck

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = None

F = nn.functional
TOL = dict(rtol=1e-10, atol=1e-12)


def pair(a):
    """The same float64 data as a dlcore and a torch leaf that require grad."""
    return dlcore.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def close(d, t, tol=TOL):
    np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), **tol)


def backward_both(dout, tout, rng):
    g = rng.standard_normal(tuple(tout.shape))
    tout.backward(torch.tensor(g))
    dout.backward(dlcore.tensor(g))


def load_torch_weights(dm, tm):
    """tm's state_dict into dm, through NumPy (the names must be the same)."""
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    assert sorted(sd) == sorted(dm.state_dict())
    res = dm.load_state_dict({k: dlcore.tensor(v) for k, v in sd.items()})
    assert not res.missing_keys and not res.unexpected_keys


def param_grads_close(dm, tm, tol=TOL):
    dp = dict(dm.named_parameters())
    for n, p in tm.named_parameters():
        assert dp[n].grad is not None, n
        np.testing.assert_allclose(dp[n].grad.numpy(), p.grad.numpy(), err_msg=n, **tol)


# ---- scaled_dot_product_attention ------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("case", ["plain", "causal", "scale", "bool", "float", "causal_wide", "3d"])
def test_sdpa_matches_torch(case):
    rng = np.random.default_rng(1)
    L, S = (6, 4) if case == "causal_wide" else (4, 6)
    lead = (3,) if case == "3d" else (2, 3)
    q, k, v = (rng.standard_normal(lead + s) for s in ((L, 5), (S, 5), (S, 7)))
    kw_d, kw_t = {}, {}
    if case in ("causal", "causal_wide"):
        kw_d = kw_t = {"is_causal": True}
    elif case == "scale":
        kw_d = kw_t = {"scale": 0.3}
    elif case == "bool":
        m = rng.random((L, S)) > 0.5
        m[1] = False  # a row with every key masked: zero output, no NaN
        kw_d, kw_t = {"attn_mask": dlcore.tensor(m)}, {"attn_mask": torch.tensor(m)}
    elif case == "float":
        m = rng.standard_normal((3, L, S))
        m[0, 2] = -np.inf
        m[1, 0, :3] = -np.inf
        kw_d, kw_t = {"attn_mask": dlcore.tensor(m)}, {"attn_mask": torch.tensor(m)}
    (dq, tq), (dk, tk), (dv, tv) = pair(q), pair(k), pair(v)
    dout = F.scaled_dot_product_attention(dq, dk, dv, **kw_d)
    tout = TF.scaled_dot_product_attention(tq, tk, tv, **kw_t)
    close(dout, tout)
    assert np.isfinite(dout.detach().numpy()).all()
    backward_both(dout, tout, rng)
    for d, t in ((dq, tq), (dk, tk), (dv, tv)):
        close(d.grad, t.grad)


def test_sdpa_gradients_against_central_differences():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    m = dlcore.tensor(rng.random((3, 5)) > 0.3)
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m), [q, k, v])
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True, scale=0.7), [q, k, v])


def test_sdpa_dropout_drops_weights_and_is_seeded():
    rng = np.random.default_rng(3)
    q, k, v = (dlcore.tensor(rng.standard_normal((2, 8, 4))) for _ in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    dlcore.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    dlcore.manual_seed(5)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)


def test_sdpa_bad_input_names_the_function_and_shapes():
    q, k = dlcore.randn(2, 3, 4), dlcore.randn(2, 5, 4)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: query and key .*\(2, 3, 4\)"):
        F.scaled_dot_product_attention(q, dlcore.randn(2, 5, 3), k)
    with pytest.raises(ValueError, match="key and value must have the same length"):
        F.scaled_dot_product_attention(q, k, dlcore.randn(2, 4, 4))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\) does not broadcast"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=dlcore.ones(4, 4, dtype="bool"))
    with pytest.raises(TypeError, match="attn_mask must be bool or float32"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=dlcore.ones(3, 5, dtype="int64"))
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=dlcore.ones(3, 5, dtype="bool"), is_causal=True)
    with pytest.raises(TypeError, match="key must be a dlcore Tensor"):
        F.scaled_dot_product_attention(q, np.zeros((2, 5, 4)), k)


# ---- MultiheadAttention ----------------------------------------------------------------------

MHA_CASES = [dict(), dict(batch_first=True), dict(kdim=3, vdim=5), dict(bias=False),
             dict(add_bias_kv=True, add_zero_attn=True)]


@requires_torch
@pytest.mark.parametrize("kw", MHA_CASES, ids=lambda kw: ",".join(kw) or "default")
@pytest.mark.parametrize("masks", ["none", "padding+float", "bool_causal_per_head", "self"])
def test_multihead_attention_loads_torch_state_dict_and_matches(kw, masks):
    rng = np.random.default_rng(4)
    E, H, L, S, N = 8, 2, 4, 6, 3
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, dtype=torch.float64, **kw)
    dm = nn.MultiheadAttention(E, H, dtype=dlcore.float64, **kw)
    load_torch_weights(dm, tm)
    kd, vd = kw.get("kdim", E), kw.get("vdim", E)
    if masks == "self":
        if kd != E or vd != E:
            pytest.skip("self-attention needs kdim == vdim == embed_dim")
        S = L
    shapes = [(L, N, E), (S, N, kd), (S, N, vd)]
    if kw.get("batch_first"):
        shapes = [(b, a, c) for a, b, c in shapes]
    arrays = [rng.standard_normal(s) for s in shapes]
    if masks == "self":
        arrays = arrays[:1] * 3
    pairs = [pair(a) for a in arrays]
    if masks == "self":
        pairs = pairs[:1] * 3  # the same tensor: the one-GEMM projection path
    ad, at = {}, {}
    if masks == "padding+float":
        kpm = rng.random((N, S)) > 0.7
        kpm[:, 0] = False
        am = rng.standard_normal((L, S))
        ad = dict(key_padding_mask=dlcore.tensor(kpm), attn_mask=dlcore.tensor(am))
        at = dict(key_padding_mask=torch.tensor(kpm).double().masked_fill(torch.tensor(kpm), -np.inf),
                  attn_mask=torch.tensor(am))
    elif masks == "bool_causal_per_head":
        am = np.triu(np.ones((N * H, L, S), bool), 1)
        ad = dict(attn_mask=dlcore.tensor(am), average_attn_weights=False)
        at = dict(attn_mask=torch.tensor(am), average_attn_weights=False)
    dout, dw = dm(*[p[0] for p in pairs], **ad)
    tout, tw = tm(*[p[1] for p in pairs], **at)
    close(dout, tout)
    close(dw, tw)
    backward_both(dout, tout, rng)
    for d, t in pairs:
        close(d.grad, t.grad)
    param_grads_close(dm, tm)


@requires_torch
def test_multihead_attention_unbatched_and_no_weights():
    rng = np.random.default_rng(5)
    torch.manual_seed(1)
    tm = torch.nn.MultiheadAttention(6, 3, dtype=torch.float64)
    dm = nn.MultiheadAttention(6, 3, dtype=dlcore.float64)
    load_torch_weights(dm, tm)
    q, k = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    am = rng.standard_normal((3, 4, 5))
    dout, dw = dm(dlcore.tensor(q), dlcore.tensor(k), dlcore.tensor(k), attn_mask=dlcore.tensor(am))
    tout, tw = tm(torch.tensor(q), torch.tensor(k), torch.tensor(k), attn_mask=torch.tensor(am))
    close(dout, tout)
    close(dw, tw)
    out, w = dm(dlcore.tensor(q), dlcore.tensor(k), dlcore.tensor(k), need_weights=False)
    assert w is None and tuple(out.shape) == (4, 6)


def test_multihead_attention_init_and_parameter_layout():
    m = nn.MultiheadAttention(16, 4)
    names = dict(m.named_parameters())
    assert set(names) == {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
    assert tuple(m.in_proj_weight.shape) == (48, 16)
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6.0 / (16 + 48))  # Xavier-uniform over the (3E, E) matrix, as PyTorch
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    m2 = nn.MultiheadAttention(16, 4, kdim=5, vdim=7)
    assert {n: tuple(p.shape) for n, p in m2.named_parameters()} == {
        "q_proj_weight": (16, 16), "k_proj_weight": (16, 5), "v_proj_weight": (16, 7),
        "in_proj_bias": (48,), "out_proj.weight": (16, 16), "out_proj.bias": (16,)}


def test_multihead_attention_bad_input():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    x = dlcore.randn(4, 2, 8)
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(batch, S\) = \(2, 4\)"):
        m(x, x, x, key_padding_mask=dlcore.ones(4, 2, dtype="bool"))
    with pytest.raises(ValueError, match=r"attn_mask must be \(4, 4\)"):
        m(x, x, x, attn_mask=dlcore.ones(3, 4, dtype="bool"))
    with pytest.raises(ValueError, match="query has 7 features"):
        m(dlcore.randn(4, 2, 7), x, x)
    with pytest.raises(ValueError, match="pass attn_mask too"):
        m(x, x, x, is_causal=True)


# ---- Transformer -----------------------------------------------------------------------------

def _torch_encoder(kw, layers_n=2):
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dtype=torch.float64, **kw)
    return torch.nn.TransformerEncoder(tl, layers_n, norm=torch.nn.LayerNorm(8, dtype=torch.float64),
                                       enable_nested_tensor=False)


@requires_torch
@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True, norm_first=True, activation="gelu"),
                                dict(bias=False, layer_norm_eps=1e-3)], ids=["post", "pre_gelu_bf", "nobias"])
def test_transformer_encoder_matches_torch(kw):
    rng = np.random.default_rng(6)
    torch.manual_seed(2)
    tm = _torch_encoder(kw)
    dm = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dtype=dlcore.float64, **kw), 2,
                               norm=nn.LayerNorm(8, dtype=dlcore.float64))
    load_torch_weights(dm, tm)
    tm.eval(), dm.eval()
    x = rng.standard_normal((3, 5, 8) if kw.get("batch_first") else (5, 3, 8))
    kpm = rng.random((3, 5)) > 0.7
    kpm[:, 0] = False
    mask = nn.transformer.generate_square_subsequent_mask(5, dtype=dlcore.float64)
    np.testing.assert_array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(
        5, dtype=torch.float64).numpy())
    (dx, tx) = pair(x)
    dout = dm(dx, mask=mask, src_key_padding_mask=dlcore.tensor(kpm))
    tout = tm(tx, mask=torch.tensor(mask.numpy()), src_key_padding_mask=torch.tensor(kpm))
    close(dout, tout, dict(rtol=1e-9, atol=1e-11))
    backward_both(dout, tout, rng)
    close(dx.grad, tx.grad, dict(rtol=1e-9, atol=1e-11))
    param_grads_close(dm, tm, dict(rtol=1e-9, atol=1e-11))


def test_transformer_encoder_layers_start_as_copies_and_train_apart():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    enc = nn.TransformerEncoder(layer, 3)
    w = [enc.layers[i].linear1.weight for i in range(3)]
    assert w[0] is not w[1] and w[0] is not layer.linear1.weight
    np.testing.assert_array_equal(w[0].detach().numpy(), w[2].detach().numpy())
    enc(dlcore.randn(4, 2, 8)).sum().backward()
    assert all(p.grad is not None for p in enc.parameters())
    assert layer.linear1.weight.grad is None


@requires_torch
def test_transformer_encoder_decoder_matches_torch():
    rng = np.random.default_rng(7)
    torch.manual_seed(3)
    tm = torch.nn.Transformer(8, 2, 2, 2, 16, dtype=torch.float64)
    dm = nn.Transformer(8, 2, 2, 2, 16, dtype=dlcore.float64)
    load_torch_weights(dm, tm)
    tm.eval(), dm.eval()
    (ds, ts), (dt, tt) = pair(rng.standard_normal((5, 3, 8))), pair(rng.standard_normal((4, 3, 8)))
    tmask = nn.Transformer.generate_square_subsequent_mask(4, dtype=dlcore.float64)
    mkpm = rng.random((3, 5)) > 0.7
    mkpm[:, 0] = False
    dout = dm(ds, dt, tgt_mask=tmask, memory_key_padding_mask=dlcore.tensor(mkpm))
    tout = tm(ts, tt, tgt_mask=torch.tensor(tmask.numpy()), memory_key_padding_mask=torch.tensor(mkpm))
    close(dout, tout, dict(rtol=1e-9, atol=1e-11))
    backward_both(dout, tout, rng)
    close(ds.grad, ts.grad, dict(rtol=1e-9, atol=1e-11))
    close(dt.grad, tt.grad, dict(rtol=1e-9, atol=1e-11))
    param_grads_close(dm, tm, dict(rtol=1e-9, atol=1e-11))


def test_transformer_bad_input():
    with pytest.raises(ValueError, match="activation should be relu/gelu, not 'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    t = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(ValueError, match=r"batch size of src and tgt must be equal.*\(5, 3, 8\)"):
        t(dlcore.randn(5, 3, 8), dlcore.randn(4, 2, 8))


# ---- Keras-style layers ----------------------------------------------------------------------

def _torch_mha(params, q, v, k, H, kd, mask):
    """Keras's MultiHeadAttention written in PyTorch: einsum projections with the Keras
    kernels, masked softmax (masked -> 0, fully masked rows -> 0), output projection."""
    def proj(x, name):
        y = torch.einsum("btd,dhk->bthk", x, params[f"{name}.kernel"])
        return y + params[f"{name}.bias"] if f"{name}.bias" in params else y
    qh, kh, vh = proj(q, "query"), proj(k, "key"), proj(v, "value")
    scores = torch.einsum("bshk,bthk->bhts", kh, qh / np.sqrt(kd))
    if mask is not None:
        m = torch.tensor(mask)[:, None]
        scores = scores.masked_fill(~m, -1e9)
        w = torch.softmax(scores, -1) * m
    else:
        w = torch.softmax(scores, -1)
    o = torch.einsum("bhts,bshv->bthv", w, vh)
    out = torch.einsum("bthv,hvo->bto", o, params["attention_output.kernel"])
    if "attention_output.bias" in params:
        out = out + params["attention_output.bias"]
    return out, w


@requires_torch
@pytest.mark.parametrize("case", ["self", "cross_mask", "causal_nobias_outshape", "query_mask"])
def test_keras_multi_head_attention_matches_torch_computation(case):
    rng = np.random.default_rng(8)
    B, T, S, H, kd = 2, 4, 5, 3, 6
    kw = dict(use_bias=case != "causal_nobias_outshape")
    if case == "causal_nobias_outshape":
        kw.update(value_dim=4, output_shape=7)
    layer = layers.MultiHeadAttention(H, kd, **kw)
    q = rng.standard_normal((B, T, 8))
    v = q if case == "self" else rng.standard_normal((B, S, 5))
    k = None if case in ("self", "query_mask") else rng.standard_normal((B, S, 3)) if case == "cross_mask" else v
    call_kw, mask = {}, None
    if case == "cross_mask":
        mask = rng.random((B, T, S)) > 0.4
        mask[0, 1] = False  # a query row with no key
        call_kw["attention_mask"] = dlcore.tensor(mask)
    elif case == "causal_nobias_outshape":
        call_kw["use_causal_mask"] = True
        mask = np.broadcast_to(np.tril(np.ones((T, S), bool)), (B, T, S))
    elif case == "query_mask":
        qm, vm = rng.random((B, T)) > 0.3, rng.random((B, S)) > 0.3
        call_kw.update(query_mask=dlcore.tensor(qm), value_mask=dlcore.tensor(vm))
        mask = qm[:, :, None] & vm[:, None, :]
    dq = dlcore.tensor(q, requires_grad=True)
    dv = dq if case == "self" else dlcore.tensor(v, requires_grad=True)
    dk = None if k is None or k is v else dlcore.tensor(k, requires_grad=True)
    if k is v and case != "self":
        dk = dv
    layer.double()  # built below in float64 from the float64 input
    out, scores = layer(dq, dv, dk, return_attention_scores=True, **call_kw)
    shapes = {n: tuple(p.shape) for n, p in layer.named_parameters()}
    vd, od = kw.get("value_dim", kd), kw.get("output_shape", 8)
    assert shapes["query.kernel"] == (8, H, kd) and shapes["value.kernel"] == (v.shape[-1], H, vd)
    assert shapes["attention_output.kernel"] == (H, vd, od)
    assert tuple(out.shape) == (B, T, od) and tuple(scores.shape) == (B, H, T, S if case != "self" else T)
    params = {n: torch.tensor(p.detach().numpy(), requires_grad=True) for n, p in layer.named_parameters()}
    tq = torch.tensor(q, requires_grad=True)
    tv = tq if case == "self" else torch.tensor(v, requires_grad=True)
    tk = tv if dk is None or dk is dv else torch.tensor(k, requires_grad=True)
    tout, tw = _torch_mha(params, tq, tv, tk, H, kd, mask)
    close(out, tout)
    close(scores, tw)
    backward_both(out, tout, rng)
    close(dq.grad, tq.grad)
    if case != "self":
        close(dv.grad, tv.grad)
    for n, p in layer.named_parameters():
        close(p.grad, params[n].grad)


def test_keras_multi_head_attention_init_config_and_graph():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=16)
    x = dlcore.randn(3, 5, 32)
    y = layer(x, x)
    assert tuple(y.shape) == (3, 5, 32) and layer.query.kernel.dtype == dlcore.float32
    limit = np.sqrt(6.0 / (2 * 32 + 16 * 32))  # Keras's fans of a (32, 2, 16) kernel
    w = layer.query.kernel.detach().numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.8 * limit
    assert np.all(layer.query.bias.detach().numpy() == 0)
    cfg = layer.get_config()
    assert cfg["num_heads"] == 2 and cfg["key_dim"] == 16 and cfg["value_dim"] == 16
    inp = dlcore.Input((5, 32))
    out = layers.MultiHeadAttention(2, 8)(inp, inp, use_causal_mask=True)
    model = dlcore.Model(inp, out)
    assert tuple(model(x).shape) == (3, 5, 32)
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(batch, T, S\) = \(3, 5, 5\)"):
        layer(x, x, attention_mask=dlcore.ones(3, 4, 5, dtype="bool"))
    with pytest.raises(ValueError, match="query has 31 features"):
        layer(dlcore.randn(3, 5, 31), x)


def _torch_luong(q, v, k, scale, concat_w, mode, vmask, qmask, causal):
    if mode == "dot":
        scores = q @ k.transpose(1, 2)
        if scale is not None:
            scores = scores * scale
    else:
        s = q[:, :, None] + k[:, None]
        scores = concat_w * torch.tanh(s * scale if scale is not None else s).sum(-1)
    keep = None
    if vmask is not None:
        keep = torch.tensor(vmask)[:, None]
    if causal:
        c = torch.tril(torch.ones(q.shape[1], v.shape[1], dtype=torch.bool))[None]
        keep = c if keep is None else keep & c
    if keep is not None:
        scores = scores - 1e9 * (~keep).double()
    w = torch.softmax(scores, -1)
    out = w @ v
    if qmask is not None:
        out = out * torch.tensor(qmask)[..., None].double()
    return out, w


@requires_torch
@pytest.mark.parametrize("mode,use_scale", [("dot", False), ("dot", True), ("concat", True), ("concat", False)])
@pytest.mark.parametrize("masked", [False, True])
def test_keras_attention_matches_torch_computation(mode, use_scale, masked):
    rng = np.random.default_rng(9)
    q, v, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 4))
    layer = layers.Attention(use_scale=use_scale, score_mode=mode)
    (dq, tq), (dv, tv), (dk, tk) = pair(q), pair(v), pair(k)
    vmask = qmask = None
    kw = {}
    if masked:
        vmask, qmask = rng.random((2, 5)) > 0.4, rng.random((2, 3)) > 0.3
        vmask[1] = False  # Keras: every key masked -> the unmasked softmax (-1e9 on all)
        kw = dict(mask=[dlcore.tensor(qmask), dlcore.tensor(vmask)], use_causal_mask=True)
    out, w = layer([dq, dv, dk], return_attention_scores=True, **kw)
    if use_scale:  # a trained value, not the initial 1
        layer.scale.data.fill_(0.7)
        out, w = layer([dq, dv, dk], return_attention_scores=True, **kw)
    params = {n: torch.tensor(p.detach().numpy(), requires_grad=True) for n, p in layer.named_parameters()}
    tout, tw = _torch_luong(tq, tv, tk, params.get("scale"), params.get("concat_score_weight"), mode,
                            vmask, qmask, masked)
    close(out, tout)
    close(w, tw)
    backward_both(out, tout, rng)
    for d, t in ((dq, tq), (dv, tv), (dk, tk)):
        close(d.grad, t.grad)
    for n, p in layer.named_parameters():
        close(p.grad, params[n].grad)


def test_keras_attention_in_a_functional_model_and_bad_input():
    qi, vi = dlcore.Input((3, 4)), dlcore.Input((5, 4))
    out = layers.Attention(use_scale=True)([qi, vi])
    model = dlcore.Model([qi, vi], out)
    y = model([dlcore.randn(2, 3, 4), dlcore.randn(2, 5, 4)])
    assert tuple(y.shape) == (2, 3, 4)
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        layers.Attention(score_mode="add")
    with pytest.raises(ValueError, match=r"inputs must be a list \[query, value\]"):
        layers.Attention()(dlcore.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"value_mask must have shape \(2, 5\)"):
        layers.Attention()([dlcore.randn(2, 3, 4), dlcore.randn(2, 5, 4)], mask=[None, dlcore.ones(2, 4, dtype="bool")])


def test_attention_layers_save_and_load_with_call_keywords(tmp_path):
    inp = dlcore.Input((5, 8))
    h = layers.MultiHeadAttention(2, 4, name="mha")(inp, inp, use_causal_mask=True)
    model = dlcore.Model(inp, layers.Attention(use_scale=True)([h, inp]))
    x = dlcore.randn(3, 5, 8)
    y = model(x).detach().numpy()
    model.save(tmp_path / "m.safetensors")
    loaded = dlcore.load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded(x).detach().numpy(), y)  # use_causal_mask kept
    mha = loaded.mha if hasattr(loaded, "mha") else dict(loaded.named_modules())["mha"]
    assert not np.allclose(mha(x, x).detach().numpy(), mha(x, x, use_causal_mask=True).detach().numpy())


def test_deepcopy_copies_leaves_and_refuses_graph_tensors():
    import copy
    p = nn.Parameter(dlcore.randn(3))
    p.grad = dlcore.ones(3)
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q is not p
    np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())
    q.data.fill_(0.0)
    q.grad.fill_(5.0)
    assert p.detach().numpy().any() and np.all(p.grad.numpy() == 1)
    with pytest.raises(RuntimeError, match="only graph leaves"):
        copy.deepcopy(p * 2)


def test_keras_multi_head_attention_several_attention_axes_and_dropout():
    rng = np.random.default_rng(10)
    layer = layers.MultiHeadAttention(2, 4, dropout=0.5)
    layer.eval()
    q = dlcore.tensor(rng.standard_normal((2, 2, 3, 8)).astype(np.float32))
    v = dlcore.tensor(rng.standard_normal((2, 4, 5)).astype(np.float32))
    out, scores = layer(q, v, return_attention_scores=True)
    assert tuple(out.shape) == (2, 2, 3, 8) and tuple(scores.shape) == (2, 2, 2, 3, 4)
    # the two query axes are attended as one flattened axis
    flat, flat_scores = layer(q.reshape(2, 6, 8), v, return_attention_scores=True)
    tol = dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out.detach().numpy(), flat.detach().numpy().reshape(2, 2, 3, 8), **tol)
    np.testing.assert_allclose(scores.detach().numpy(), flat_scores.detach().numpy().reshape(2, 2, 2, 3, 4), **tol)
    # training: dropout on the weights changes the output, the returned scores are taken before it
    layer.train()
    out_t, scores_t = layer(q, v, return_attention_scores=True)
    assert not np.allclose(out_t.detach().numpy(), out.detach().numpy())
    np.testing.assert_allclose(scores_t.detach().numpy(), scores.detach().numpy(), rtol=1e-6, atol=1e-6)
    out_f = layer(q, v, training=False)
    np.testing.assert_allclose(out_f.detach().numpy(), out.detach().numpy(), rtol=1e-6, atol=1e-6)
