"""Attention family: scaled_dot_product_attention (PyTorch's torch.nn.functional signature) and
the MultiheadAttention module (PyTorch's constructor, forward, parameter names and init, so a
PyTorch state_dict loads unchanged).

Attention needs no Function of its own: it is composed from ops that already have gradients
(matmul, softmax, where, dropout), so this family has no _ops/attention.py. ``attend`` (masked
softmax of given scores, dropout, weighted sum) and ``attention`` (the scaled dot-product scores,
then ``attend``) compute output and weights; the functional form, MultiheadAttention and the
Keras layers (layers/attention.py) all call them.

Masks. ``scaled_dot_product_attention`` takes a bool mask (True = attend) or a float mask added
to the scores. MultiheadAttention keeps PyTorch's opposite convention for its bool masks (True =
NOT attended, for both ``attn_mask`` and ``key_padding_mask``). A query row whose keys are all
masked gets zero output and zero weights (PyTorch's scaled_dot_product_attention does the
same; its MultiheadAttention with need_weights=True gives NaN there), and no gradient.
"""
from __future__ import annotations

import math
import numbers

from ..dtype import bool_
from .._ops import _args
from ..tensor import Tensor, arange, cat, matmul, where, zeros
from . import init
from .activation import softmax
from .dropout import dropout
from .linear import Linear, linear
from .module import Module, Parameter

__all__ = ["scaled_dot_product_attention", "attention", "attend", "causal_mask", "MultiheadAttention"]

_NEG_INF = -math.inf


def _check_qkv(op, query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a dlcore Tensor, got {type(t).__name__}")
        _args.require_float(t.dtype, op, name)
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} needs at least 2 dims (..., length, features), got shape "
                             f"{tuple(t.shape)}")
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(f"{op}: query, key and value must have the same dtype, got {query.dtype}, "
                        f"{key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{op}: query and key must have the same last dim (the embedding), got "
                         f"shapes {tuple(query.shape)} and {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same length (dim -2), got shapes "
                         f"{tuple(key.shape)} and {tuple(value.shape)}")


def causal_mask(L, S, device=None):
    """The (L, S) bool mask of causal attention, True = attend: query i sees keys 0..i
    (top-left aligned, as PyTorch's is_causal)."""
    return arange(L, device=device).unsqueeze(1) >= arange(S, device=device).unsqueeze(0)


def attend(scores, value, mask=None, dropout_p=0.0, generator=None, op="attention"):
    """softmax(scores + mask) @ value: the half of attention after the scores (..., L, S).
    mask: None, a bool tensor (True = attend) or a float tensor added to the scores,
    broadcastable to the scores. Rows with no key left get zero weights (and no gradient).
    Returns (output, weights before dropout, weights after dropout)."""
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a dlcore Tensor, got {type(mask).__name__}")
        try:
            if _args.broadcast_shape(tuple(mask.shape), tuple(scores.shape), op) != tuple(scores.shape):
                raise ValueError
        except ValueError:
            raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"attention scores' shape {tuple(scores.shape)} (..., L, S)") from None
        if mask.dtype == bool_:
            scores = where(mask, scores, _NEG_INF)
        elif mask.dtype == scores.dtype:
            scores = scores + mask
        else:
            raise TypeError(f"{op}: attn_mask must be bool or {scores.dtype} (the query's dtype), "
                            f"got {mask.dtype}")
        # rows with every key masked: softmax of all -inf is NaN; give them zero weights instead
        dead = scores.detach().amax(-1, keepdim=True) == _NEG_INF
        if dead.any().item():
            weights = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
        else:
            weights = softmax(scores, -1)
    else:
        weights = softmax(scores, -1)
    dropped = dropout(weights, dropout_p, True, generator=generator) if dropout_p > 0 else weights
    return matmul(dropped, value), weights, dropped


def attention(query, key, value, mask=None, dropout_p=0.0, scale=None, generator=None,
              op="scaled_dot_product_attention"):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims (the leading dims
    broadcast; scale defaults to 1 / sqrt(E)), through ``attend``. Returns (output, weights
    before dropout, weights after dropout)."""
    E = query.shape[-1]
    scale = 1.0 / math.sqrt(E) if scale is None else _args.real(scale, op, "scale")
    scores = matmul(query * scale, key.transpose(-2, -1))
    return attend(scores, value, mask, dropout_p, generator, op)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None):
    """softmax(query @ key^T * scale + mask) @ value (PyTorch's F.scaled_dot_product_attention).

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading dims
    broadcast. attn_mask: bool (True = take part in attention) or a float tensor of the query's
    dtype added to the scores, broadcastable to (..., L, S). is_causal: query i attends to keys
    0..i (with attn_mask it is an error, as in PyTorch). scale defaults to 1 / sqrt(E).
    dropout_p > 0 drops attention weights (always: pass 0.0 outside training). A query whose
    keys are all masked gets a zero output."""
    op = "scaled_dot_product_attention"
    _check_qkv(op, query, key, value)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, numbers.Real) or not 0 <= dropout_p <= 1:
        raise ValueError(f"{op}: dropout_p must be a number in [0, 1], got {dropout_p!r}")
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both")
        attn_mask = causal_mask(query.shape[-2], key.shape[-2], query.device)
    return attention(query, key, value, attn_mask, float(dropout_p), scale, op=op)[0]


def _additive(mask, dtype, op, name):
    """A MultiheadAttention mask as a float mask added to the scores: bool True -> -inf (not
    attended), a float mask as is."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a dlcore Tensor, got {type(mask).__name__}")
    if mask.dtype == bool_:
        return where(mask, _NEG_INF, zeros((), dtype=dtype, device=mask.device))
    if mask.dtype != dtype:
        raise TypeError(f"{op}: {name} must be bool or {dtype} (the query's dtype), got {mask.dtype}")
    return mask


def _pad_col(mask):
    """A float mask with one more key column (of zeros: attended), for bias_k and zero_attn."""
    if mask is None:
        return None
    return cat([mask, zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], -1)


class MultiheadAttention(Module):
    """Multi-head attention (PyTorch's nn.MultiheadAttention): the query, key and value are
    projected, split into num_heads heads of embed_dim // num_heads, attended per head
    (scaled_dot_product_attention) and projected back by out_proj.

    Parameters as PyTorch names them: in_proj_weight (3 * embed_dim, embed_dim) and in_proj_bias
    (3 * embed_dim,) when kdim == vdim == embed_dim, else q_proj_weight (E, E), k_proj_weight
    (E, kdim), v_proj_weight (E, vdim) and in_proj_bias; out_proj.weight / out_proj.bias;
    bias_k / bias_v (1, 1, E) with add_bias_kv. Initialised like PyTorch: Xavier-uniform input
    projections, zero biases, Xavier-normal bias_k / bias_v.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None). Inputs are
    (L, N, E) (batch_first: (N, L, E)) or unbatched (L, E). Bool masks mean True = NOT
    attended: key_padding_mask (N, S); attn_mask (L, S) or (N * num_heads, L, S); float masks are
    added to the scores. is_causal is a hint that attn_mask is the causal mask (attn_mask is
    required, as in PyTorch). Weights are (N, L, S) averaged over heads, or (N, num_heads, L, S),
    after dropout as in PyTorch."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        op = "MultiheadAttention"
        self.embed_dim = _args.integer(embed_dim, op, "embed_dim", 1)
        self.num_heads = _args.integer(num_heads, op, "num_heads", 1)
        self.kdim = self.embed_dim if kdim is None else _args.integer(kdim, op, "kdim", 1)
        self.vdim = self.embed_dim if vdim is None else _args.integer(vdim, op, "vdim", 1)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"{op}: embed_dim ({self.embed_dim}) must be divisible by num_heads "
                             f"({self.num_heads})")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{op}: dropout must be a number in [0, 1], got {dropout!r}")
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.add_zero_attn = bool(add_zero_attn)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        E = self.embed_dim

        def new(*shape):
            return Parameter(zeros(*shape, dtype=dtype, device=device))
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new(3 * E, E)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight = new(E, E), new(E, self.kdim), new(E, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new(3 * E)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        if device is not None:
            self.out_proj.to(device)
        if add_bias_kv:
            self.bias_k, self.bias_v = new(1, 1, E), new(1, 1, E)
        else:
            self.bias_k = self.bias_v = None
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, query, key, value):
        E, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one GEMM for q, k and v
                return linear(query, w, b).chunk(3, -1)
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        op = "MultiheadAttention"
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}: {name} must be a dlcore Tensor, got {type(t).__name__}")
            _args.require_float(t.dtype, op, name)
        if not query.dtype == key.dtype == value.dtype:
            raise TypeError(f"{op}: query, key and value must have the same dtype, got {query.dtype}, "
                            f"{key.dtype} and {value.dtype}")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{op}: query, key and value must all be 3-D (batched) or all 2-D "
                             f"(unbatched), got shapes {tuple(query.shape)}, {tuple(key.shape)} and "
                             f"{tuple(value.shape)}")
        if not batched:  # (L, E) -> (L, 1, E)
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
            if attn_mask is not None and attn_mask.ndim == 3:
                attn_mask = attn_mask.unsqueeze(0)  # (H, L, S) -> (1, H, L, S)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        L, N, E = query.shape
        S = key.shape[0]
        dims = (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim))
        for name, t, want in dims:
            if t.shape[-1] != want:
                raise ValueError(f"{op}: {name} has {t.shape[-1]} features (shape {tuple(t.shape)}), "
                                 f"expected {want}")
        if key.shape[1] != N or value.shape[1] != N or value.shape[0] != S:
            raise ValueError(f"{op}: query, key and value disagree in batch size or key length: "
                             f"shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)} "
                             f"(as (L, N, E))")
        if is_causal and attn_mask is None:
            raise ValueError(f"{op}: is_causal=True is a hint that attn_mask is the causal mask; "
                             f"pass attn_mask too")
        H, hd = self.num_heads, self.head_dim
        mask = None
        if attn_mask is not None:
            am = _additive(attn_mask, query.dtype, op, "attn_mask")
            if am.ndim == 2 and tuple(am.shape) == (L, S):
                mask = am
            elif am.ndim == 3 and tuple(am.shape) == (N * H, L, S):
                mask = am.reshape(N, H, L, S)
            elif am.ndim == 4 and not batched and tuple(am.shape) == (1, H, L, S):
                mask = am
            else:
                raise ValueError(f"{op}: attn_mask must be ({L}, {S}) or (batch * num_heads, L, S) = "
                                 f"({N * H}, {L}, {S}), got {tuple(attn_mask.shape)}")
        if key_padding_mask is not None:
            kpm = _additive(key_padding_mask, query.dtype, op, "key_padding_mask")
            if tuple(kpm.shape) != (N, S):
                raise ValueError(f"{op}: key_padding_mask must be (batch, S) = ({N}, {S}), got "
                                 f"{tuple(key_padding_mask.shape)}")
            kpm = kpm.reshape(N, 1, 1, S)
            mask = kpm if mask is None else mask + kpm
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, N, E)], 0)
            v = cat([v, self.bias_v.expand(1, N, E)], 0)
            mask = _pad_col(mask)
        # (L, N, E) -> (N, H, L, hd)
        q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)
        k = k.reshape(k.shape[0], N, H, hd).permute(1, 2, 0, 3)
        v = v.reshape(v.shape[0], N, H, hd).permute(1, 2, 0, 3)
        if self.add_zero_attn:
            z = zeros(N, H, 1, hd, dtype=q.dtype, device=q.device)
            k, v = cat([k, z], 2), cat([v, z], 2)
            mask = _pad_col(mask)
        p = self.dropout if self.training else 0.0
        out, _, weights = attention(q, k, v, mask, p, op=op)
        out = out.permute(2, 0, 1, 3).reshape(L, N, E)  # (N, H, L, hd) -> (L, N, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights.squeeze(0) if not batched else weights)

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.batch_first:
            s += ", batch_first=True"
        return s
