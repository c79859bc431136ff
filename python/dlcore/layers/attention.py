"""Keras-style attention layers on dlcore.nn.attention: MultiHeadAttention (Keras 3's
arguments, call signature and weight shapes) and Attention (Luong-style dot-product attention).

Sequences are (batch, time, features), as in Keras (the feature axis is last here: these layers
take no images). Masks are Keras's: True / 1 = attend. A query whose keys are all masked gets a
zero output in MultiHeadAttention (Keras's masked softmax does the same); Attention subtracts
1e9 from masked scores, as Keras does.
"""
from __future__ import annotations

import math

from .. import initializers
from ..dtype import bool_, get_default_dtype
from ..nn.attention import attend, causal_mask
from ..nn.module import Module, Parameter
from .._ops import _args
from ..tensor import Tensor, full, matmul, ones, tanh, tensor, where, zeros
from .base import Layer, _as_input, _build_lock

__all__ = ["MultiHeadAttention", "Attention"]


class _EinsumDense(Module):
    """A Keras EinsumDense of MultiHeadAttention: ``kernel`` of shape in_dims + out_dims and
    ``bias`` of shape out_dims, contracting the input's last len(in_dims) axes."""

    def __init__(self, in_dims, out_dims, use_bias, dtype):
        super().__init__()
        self.in_dims, self.out_dims = tuple(in_dims), tuple(out_dims)
        self.kernel = Parameter(initializers.GlorotUniform()(self.in_dims + self.out_dims, dtype=dtype))
        if use_bias:
            self.bias = Parameter(zeros(*self.out_dims, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        k_in, k_out = math.prod(self.in_dims), math.prod(self.out_dims)
        lead = tuple(x.shape[:x.ndim - len(self.in_dims)])
        y = matmul(x.reshape(*lead, k_in), self.kernel.reshape(k_in, k_out))
        if self.bias is not None:
            y = y + self.bias.reshape(k_out)
        return y.reshape(*lead, *self.out_dims)


def _bool_mask(m):
    """A Keras mask (bool, or numbers where nonzero = attend) as a bool tensor, or None."""
    if m is None:
        return None
    m = m if isinstance(m, Tensor) else tensor(m)
    return m if m.dtype == bool_ else m != 0


def _training(layer, training):
    return layer.training if training is None else bool(training)


class MultiHeadAttention(Layer):
    """Multi-head attention as Keras 3's layers.MultiHeadAttention.

    MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
    output_shape=None); call(query, value, key=None, query_mask=None, value_mask=None,
    key_mask=None, attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False). query (B, T, dim), value (B, S, dim_v), key (B, S, dim_k) (default:
    value); more than one middle axis is attended jointly (Keras's attention_axes=None).
    attention_mask (B, T, S): True / 1 = attend; use_causal_mask: query t sees keys 0..t;
    query_mask (B, T), value_mask / key_mask (B, S) add to it. Output (B, T, output_shape or
    dim); with return_attention_scores also the softmax scores (B, num_heads, T, S), taken
    before dropout as Keras does.

    Weights (Keras's shapes, built on the first call): query.kernel (dim, num_heads, key_dim),
    key.kernel (dim_k, num_heads, key_dim), value.kernel (dim_v, num_heads, value_dim),
    attention_output.kernel (num_heads, value_dim, out); biases of the output shapes;
    Glorot-uniform kernels and zero biases."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, name=None):
        super().__init__(name)
        op = "MultiHeadAttention"
        self.num_heads = _args.integer(num_heads, op, "num_heads", 1)
        self.key_dim = _args.integer(key_dim, op, "key_dim", 1)
        self.value_dim = self.key_dim if value_dim is None else _args.integer(value_dim, op, "value_dim", 1)
        self.dropout = _args.real(dropout, op, "dropout")
        if not 0.0 <= self.dropout <= 1.0:
            raise ValueError(f"{op}: dropout must be in [0, 1], got {dropout!r}")
        self.use_bias = bool(use_bias)
        if output_shape is not None:
            out = (output_shape,) if not isinstance(output_shape, (tuple, list)) else tuple(output_shape)
            if len(out) != 1:
                raise ValueError(f"{op}: output_shape must be an int (the output's last dim), got "
                                 f"{output_shape!r}")
            output_shape = _args.integer(out[0], op, "output_shape", 1)
        self.output_shape = output_shape
        if attention_axes is not None:
            raise ValueError(f"{op}: attention_axes is not supported by dlcore (None attends over "
                             f"every axis between the batch and the features)")
        self.built = True  # the weights need the value's and key's sizes: made on the first forward

    def _make_weights(self, query, value, key):
        dt = query.dtype if query.dtype.is_floating_point else get_default_dtype()
        H, kd, vd = self.num_heads, self.key_dim, self.value_dim
        dim = query.shape[-1]
        self.query = _EinsumDense((dim,), (H, kd), self.use_bias, dt)
        self.key = _EinsumDense((key.shape[-1],), (H, kd), self.use_bias, dt)
        self.value = _EinsumDense((value.shape[-1],), (H, vd), self.use_bias, dt)
        self.attention_output = _EinsumDense((H, vd), (self.output_shape or dim,), self.use_bias, dt)

    def forward(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
                attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False):
        op = f"MultiHeadAttention '{self.name}'"
        query, value = _as_input(query, self), _as_input(value, self)
        key = value if key is None else _as_input(key, self)
        for n, t in (("query", query), ("value", value), ("key", key)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}: {n} must be a dlcore Tensor, got {type(t).__name__}")
            if t.ndim < 3:
                raise ValueError(f"{op}: {n} must be (batch, time, features) or of higher rank, got "
                                 f"shape {tuple(t.shape)}")
        if tuple(key.shape[:-1]) != tuple(value.shape[:-1]) or query.shape[0] != value.shape[0]:
            raise ValueError(f"{op}: query {tuple(query.shape)}, value {tuple(value.shape)} and key "
                             f"{tuple(key.shape)} must share the batch size, and key and value every "
                             f"axis but the last")
        if "query" not in self._modules:
            with _build_lock:
                if "query" not in self._modules:
                    self._make_weights(query, value, key)
        for n, t, d in (("query", query, self.query), ("key", key, self.key), ("value", value, self.value)):
            if t.shape[-1] != d.in_dims[0]:
                raise ValueError(f"{op}: {n} has {t.shape[-1]} features (shape {tuple(t.shape)}), but "
                                 f"the layer was built for {d.in_dims[0]}")
        B, q_axes, v_axes = query.shape[0], tuple(query.shape[1:-1]), tuple(value.shape[1:-1])
        T, S = math.prod(q_axes), math.prod(v_axes)
        # (B, T, H, d) -> (B, H, T, d), the middle axes flattened into one
        q = self.query(query).reshape(B, T, self.num_heads, self.key_dim).transpose(1, 2)
        k = self.key(key).reshape(B, S, self.num_heads, self.key_dim).transpose(1, 2)
        v = self.value(value).reshape(B, S, self.num_heads, self.value_dim).transpose(1, 2)
        mask = self._mask(op, B, q_axes, v_axes, query_mask, value_mask, key_mask, attention_mask,
                          use_causal_mask, query.device)
        p = self.dropout if _training(self, training) else 0.0
        scores = matmul(q * (1.0 / math.sqrt(self.key_dim)), k.transpose(-2, -1))
        out, weights, _ = attend(scores, v, mask, p, op=op)
        out = self.attention_output(out.transpose(1, 2).reshape(B, *q_axes, self.num_heads, self.value_dim))
        if return_attention_scores:
            return out, weights.reshape(B, self.num_heads, *q_axes, *v_axes)
        return out

    def _mask(self, op, B, q_axes, v_axes, query_mask, value_mask, key_mask, attention_mask, causal, device):
        """The (B, 1, T, S) bool mask (True = attend) from every mask argument, or None."""
        T, S = math.prod(q_axes), math.prod(v_axes)
        mask = None

        def both(m):
            nonlocal mask
            mask = m if mask is None else mask & m
        for name, m, axes, shape in (("query_mask", query_mask, q_axes, (B, T, 1)),
                                     ("value_mask", value_mask, v_axes, (B, 1, S)),
                                     ("key_mask", key_mask, v_axes, (B, 1, S))):
            m = _bool_mask(m)
            if m is not None:
                if tuple(m.shape) != (B,) + axes:
                    raise ValueError(f"{op}: {name} must have shape {(B,) + axes}, got {tuple(m.shape)}")
                both(m.reshape(*shape))
        am = _bool_mask(attention_mask)
        if am is not None:
            if tuple(am.shape) not in ((B,) + q_axes + v_axes, q_axes + v_axes):
                raise ValueError(f"{op}: attention_mask must have shape (batch, T, S) = "
                                 f"{(B,) + q_axes + v_axes}, got {tuple(am.shape)}")
            both(am.reshape(-1, T, S))
        if causal:
            both(causal_mask(T, S, device).unsqueeze(0))
        return None if mask is None else mask.unsqueeze(1)

    def get_config(self):
        return {"name": self.name, "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.output_shape}


class Attention(Layer):
    """Dot-product (Luong-style) attention as Keras 3's layers.Attention.

    Attention(use_scale=False, score_mode="dot", dropout=0.0); call(inputs, mask=None,
    training=None, return_attention_scores=False, use_causal_mask=False) with inputs = [query,
    value] or [query, value, key] (key defaults to value): query (B, Tq, dim), value (B, Tv, dim).
    scores = query @ key^T ("dot"), or concat_score_weight * sum(tanh(query + key)) over the
    features ("concat"); use_scale multiplies them (dot) or the sum inside tanh (concat) by a
    trainable scalar ``scale`` (initially 1). mask = [query_mask (B, Tq), value_mask (B, Tv)]:
    masked keys get -1e9 added to their scores; masked queries a zero output. Returns (B, Tq,
    dim) and, with return_attention_scores, the weights (B, Tq, Tv) after dropout."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, name=None):
        super().__init__(name)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout = _args.real(dropout, "Attention", "dropout")
        if not 0.0 <= self.dropout <= 1.0:
            raise ValueError(f"Attention: dropout must be in [0, 1], got {dropout!r}")

    def build(self, input_shape, x=None):
        dt = x[0].dtype if isinstance(x, (list, tuple)) and x[0].dtype.is_floating_point else get_default_dtype()
        if self.use_scale:
            self.scale = Parameter(ones((), dtype=dt))
        if self.score_mode == "concat":
            self.concat_score_weight = Parameter(ones((), dtype=dt))
        self.built = True

    def forward(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False):
        op = f"Attention '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            what = f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple)) else type(inputs).__name__
            raise ValueError(f"{op}: inputs must be a list [query, value] or [query, value, key], got {what}")
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        for n, t in (("query", query), ("value", value), ("key", key)):
            if not isinstance(t, Tensor) or t.ndim != 3:
                raise ValueError(f"{op}: {n} must be a (batch, time, features) Tensor, got "
                                 f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
        if query.shape[-1] != key.shape[-1] or key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(f"{op}: shapes query {tuple(query.shape)}, value {tuple(value.shape)}, key "
                             f"{tuple(key.shape)} do not fit: query and key need the same features, key "
                             f"and value the same batch and time")
        scale = self._parameters.get("scale")
        if self.score_mode == "dot":
            scores = matmul(query if scale is None else query * scale, key.transpose(1, 2))
        else:  # (B, Tq, 1, d) + (B, 1, Tv, d)
            s = query.unsqueeze(2) + key.unsqueeze(1)
            scores = self.concat_score_weight * tanh(s if scale is None else s * scale).sum(-1)
        q_mask = v_mask = None
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or len(mask) != 2:
                raise ValueError(f"{op}: mask must be a list [query_mask, value_mask] (either may be None)")
            q_mask, v_mask = _bool_mask(mask[0]), _bool_mask(mask[1])
        keep = None
        if v_mask is not None:
            if tuple(v_mask.shape) != tuple(value.shape[:2]):
                raise ValueError(f"{op}: value_mask must have shape {tuple(value.shape[:2])}, got "
                                 f"{tuple(v_mask.shape)}")
            keep = v_mask.unsqueeze(1)
        if use_causal_mask:
            c = causal_mask(query.shape[1], value.shape[1], query.device).unsqueeze(0)
            keep = c if keep is None else keep & c
        add = None if keep is None else where(keep, 0.0, full((), -1e9, dtype=scores.dtype, device=scores.device))
        p = self.dropout if _training(self, training) else 0.0
        out, _, weights = attend(scores, value, add, p, op=op)
        if q_mask is not None:
            if tuple(q_mask.shape) != tuple(query.shape[:2]):
                raise ValueError(f"{op}: query_mask must have shape {tuple(query.shape[:2])}, got "
                                 f"{tuple(q_mask.shape)}")
            out = where(q_mask.unsqueeze(-1), out, 0.0)
        return (out, weights) if return_attention_scores else out

    def get_config(self):
        return {"name": self.name, "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout}
