"""Keras-style recurrent layers: SimpleRNN, LSTM, GRU over (batch, time, features), on
dlcore's fused RNN sequence op (_ops.rnn.RNNLayer: one C++ call for the whole sequence,
forward and backward).

Weights are Keras's, by name, layout and order (get_weights / set_weights carry Keras weights
over): ``kernel`` (input_dim, G*units), ``recurrent_kernel`` (units, G*units), ``bias``
(G*units,), or (2, G*units) for GRU(reset_after=True): the input and the recurrent bias. Gate
order is Keras's: LSTM i, f, c, o (the same as PyTorch's i, f, g, o); GRU z, r, h (PyTorch's
r, z, n: the first two column blocks swap on the way to the op). Keras 3's GRU default,
reset_after=True, is PyTorch's GRU formulation (the reset gate multiplies the recurrent
projection after its bias), which is the one dlcore's op computes; reset_after=False is not
supported. Each call maps the Keras weights to the op's (transposes of the kernels: a copy
per call, with gradients flowing back).

Masks (Embedding(mask_zero=True) upstream, a Masking layer, or ``mask=``): any (N, T) mask
is supported, as Keras has it - a masked step leaves the state unchanged, so each row runs
over its unmasked steps only: the row's unmasked steps are moved to the front (a gather), the
op runs with per-row lengths, and the outputs are gathered back; at a masked step the output
repeats the previous one (zeros before the first unmasked step), or is zero with
zero_output_for_mask=True. The returned last output / state is the one after the last
unmasked step.

Supported: activation 'tanh' (SimpleRNN also 'relu'), recurrent_activation 'sigmoid',
return_sequences, return_state, go_backwards, initial_state, use_bias, dropout (one mask
per sequence on the inputs, as Keras), recurrent_dropout (one mask per sequence on the state
the recurrent projection reads; in training it runs the recurrence step by step in dlcore ops,
slower than the fused kernel, which serves every other call), the Keras initializers and
regularizers. Not supported (a clear error): stateful=True, other activations, GRU
reset_after=False.
"""
from __future__ import annotations

from .. import _C, initializers
from ..dtype import float64, int64
from ..nn.dropout import dropout as _dropout
from ..nn.module import Parameter
from ..nn.regularizers import attach as _attach_regularizer
from .._ops import rnn as _ops
from .._ops._args import integer
from ..tensor import Tensor, arange, cat, ones, relu, sigmoid, stack, tanh, tensor, zeros
from .base import Layer, _match_dtype

__all__ = ["SimpleRNN", "LSTM", "GRU"]


def _act_name(a):
    return a if isinstance(a, str) or a is None else getattr(a, "__name__", repr(a))


def _mask_order(mask):
    """(gather index, lengths, scatter-back index) for a bool (N, T) mask: ``front[n, k]`` is
    the k-th unmasked step of row n (masked steps after them), ``lengths[n]`` the number of
    unmasked steps, ``back[n, t]`` the number of unmasked steps up to and including t (the
    position + 1 of step t's output among the compacted ones; 0: none yet)."""
    N, T = mask.shape
    dev = mask.device  # every index here lives where the mask does
    steps = arange(T, dtype=int64, device=dev)
    tri = (steps.reshape(T, 1) <= steps.reshape(1, T)).type(float64)  # tri[s, t] = s <= t
    back = (mask.type(float64) @ tri).type(int64)                     # inclusive running count
    m = mask.type(int64)
    lengths = back[:, T - 1].contiguous()
    # compacted position of each step: unmasked steps in order, then the masked ones
    pos = back * m + (lengths.reshape(N, 1) + steps.reshape(1, T) - back) * (1 - m) - m
    front = zeros(N, T, dtype=int64, device=dev)  # the inverse permutation: front[n, pos[n, t]] = t
    front[arange(N, dtype=int64, device=dev).reshape(N, 1), pos] = steps.reshape(1, T).expand(N, T)
    return front, lengths, back


class _RNN(Layer):
    """Shared by SimpleRNN, LSTM and GRU (subclasses set _mode, _gates, _state_count)."""

    _mode = None
    _gates = 1
    _n_states = 1
    supports_masking = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, seed=None, use_cudnn="auto", name=None, **kwargs):
        # seed: dropout masks come from dlcore's generator (dlcore.manual_seed / model.generator);
        # use_cudnn / unroll: how Keras runs the loop, nothing to choose here (one fused kernel)
        super().__init__(name, **kwargs)
        cls = type(self).__name__
        self.units = integer(units, cls, "units", 1)
        if stateful:
            raise ValueError(f"{cls}: stateful=True is not supported by dlcore (carry states between "
                             f"batches yourself: return_state=True, then initial_state=...)")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{cls}: dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= float(recurrent_dropout) < 1.0:
            raise ValueError(f"{cls}: recurrent_dropout must be in [0, 1), got {recurrent_dropout}")
        act, ract = _act_name(activation), _act_name(recurrent_activation)
        ok = ("tanh", "relu") if self._mode == "RNN" else ("tanh",)
        if act not in ok:
            raise ValueError(f"{cls}: activation {act!r} is not supported (dlcore's fused kernel has {list(ok)})")
        if self._mode != "RNN" and ract != "sigmoid":
            raise ValueError(f"{cls}: recurrent_activation {ract!r} is not supported (only 'sigmoid')")
        self.activation, self.recurrent_activation = act, ract
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self._regularizers = {"kernel": kernel_regularizer, "recurrent_kernel": recurrent_regularizer,
                              "bias": bias_regularizer}
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), False, bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)

    # -- weights --
    def _bias_shape(self):
        return (self._gates * self.units,)

    def _init_bias(self, b):
        pass

    def build(self, input_shape, x=None):
        cls = type(self).__name__
        if len(input_shape) != 3:
            raise ValueError(f"{cls} '{self.name}': expects a (batch, time, features) input, got shape "
                             f"{tuple(input_shape)}")
        G, H = self._gates * self.units, self.units
        self.kernel = Parameter(initializers.get(self.kernel_initializer)((int(input_shape[-1]), G)))
        self.recurrent_kernel = Parameter(initializers.get(self.recurrent_initializer)((H, G)))
        if self.use_bias:
            self.bias = Parameter(initializers.get(self.bias_initializer)(self._bias_shape()))
            self._init_bias(self.bias)
        _match_dtype(self, x)
        for name, reg in self._regularizers.items():
            if reg is not None and name in self._parameters:
                _attach_regularizer(self, name, reg)
        self.built = True

    def _op_weights(self):
        """(w_ih, w_hh, b_ih, b_hh) in the op's layout (PyTorch's) from the Keras weights."""
        b = self.bias if self.use_bias else None
        return self.kernel.T.contiguous(), self.recurrent_kernel.T.contiguous(), b, None

    # -- calling --
    def _states(self, initial_state, N, dtype, device):
        cls = type(self).__name__
        if initial_state is None:
            return [None] * 2
        st = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(st) != self._n_states:
            raise ValueError(f"{cls} '{self.name}': initial_state needs {self._n_states} tensor(s) "
                             f"({'[h, c]' if self._n_states == 2 else '[h]'}), got {len(st)}")
        out = []
        for i, s in enumerate(st):
            s = s if isinstance(s, Tensor) else tensor(s, dtype=dtype, device=device)
            if tuple(s.shape) != (N, self.units):
                raise ValueError(f"{cls} '{self.name}': initial_state[{i}] has shape {tuple(s.shape)}, "
                                 f"expected (batch, units) = {(N, self.units)}")
            out.append(s.contiguous())
        return out + [None] * (2 - len(out))

    def forward(self, x, mask=None, initial_state=None, training=None):
        cls = type(self).__name__
        if x.ndim != 3:
            raise ValueError(f"{cls} '{self.name}': expects a (batch, time, features) input, got shape "
                             f"{tuple(x.shape)}")
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{cls} '{self.name}': input has {x.shape[-1]} features, the layer was built "
                             f"for {self.kernel.shape[0]}")
        if x.dtype != self.kernel.dtype:
            x = x.type(self.kernel.dtype)
        N, T = x.shape[0], x.shape[1]
        if mask is not None:
            mask = mask if isinstance(mask, Tensor) else tensor(mask, device=x.device)
            if tuple(mask.shape) != (N, T):
                raise ValueError(f"{cls} '{self.name}': mask has shape {tuple(mask.shape)}, expected "
                                 f"(batch, time) = {(N, T)}")
        if self.go_backwards:
            x = x[:, ::-1]
            mask = mask[:, ::-1] if mask is not None else None
        train = self.training if training is None else bool(training)
        if train and self.dropout > 0:  # one input mask per sequence, shared by every step
            keep = _dropout(ones(N, 1, x.shape[2], dtype=x.dtype, device=x.device), self.dropout, True)
            x = x * keep
        h0, c0 = self._states(initial_state, N, x.dtype, x.device)
        if train and self.recurrent_dropout > 0:  # the step-by-step path (the fused kernel has no mask on h)
            rec_keep = _dropout(ones(N, self.units, dtype=x.dtype, device=x.device), self.recurrent_dropout, True)
            out, states = self._loop(x, h0, c0, mask, rec_keep)
            return [out] + states if self.return_state else out
        if mask is not None:
            front, lengths, back = _mask_order(mask)
            rows = arange(N, dtype=int64, device=x.device).reshape(N, 1)
            x = x[rows, front]
        else:
            lengths = None
        w_ih, w_hh, b_ih, b_hh = self._op_weights()
        res = _ops.RNNLayer.apply(x.transpose(0, 1), h0, c0, w_ih, w_hh, b_ih, b_hh,
                                  self._op_mode(), None if lengths is None else lengths._data.to("cpu"), False)
        y, h = res[0], res[1]
        states = [h] if self._n_states == 1 else [h, res[2]]
        if self.return_sequences:
            y = y.transpose(0, 1)  # (N, T, units)
            if mask is not None:  # step t's output: the compacted output of its last unmasked step
                y = cat([zeros(N, 1, self.units, dtype=y.dtype, device=y.device), y], 1)[rows, back]
                if self.zero_output_for_mask:
                    y = y * mask.type(y.dtype).unsqueeze(-1)
            out = y
        else:
            out = h
        return [out] + states if self.return_state else out

    def _loop(self, x, h, c, mask, rec_keep):
        """The recurrence one step at a time in dlcore ops (training with recurrent_dropout:
        the recurrent projection reads h * rec_keep, one mask per sequence, as Keras). Masked
        steps keep the state and repeat the previous output."""
        N, T, u = x.shape[0], x.shape[1], self.units
        h = zeros(N, u, dtype=x.dtype, device=x.device) if h is None else h
        if self._n_states == 2:
            c = zeros(N, u, dtype=x.dtype, device=x.device) if c is None else c
        b = self.bias if self.use_bias else None
        b_in = None if b is None else (b[0] if self._mode == "GRU" else b)
        b_rec = b[1] if b is not None and self._mode == "GRU" else None
        xp = x @ self.kernel + b_in if b_in is not None else x @ self.kernel
        m = None if mask is None else mask.type(x.dtype).unsqueeze(-1)  # (N, T, 1)
        prev = zeros(N, u, dtype=x.dtype, device=x.device)
        outs = []
        for t in range(T):
            hp = (h * rec_keep) @ self.recurrent_kernel
            xt = xp[:, t]
            if self._mode == "RNN":
                new_h = (relu if self.activation == "relu" else tanh)(xt + hp)
            elif self._mode == "LSTM":
                g = xt + hp
                i, f = sigmoid(g[:, :u]), sigmoid(g[:, u:2 * u])
                new_c = f * c + i * tanh(g[:, 2 * u:3 * u])
                new_h = sigmoid(g[:, 3 * u:]) * tanh(new_c)
            else:  # GRU, reset_after: r multiplies the recurrent projection with its bias
                if b_rec is not None:
                    hp = hp + b_rec
                z = sigmoid(xt[:, :u] + hp[:, :u])
                r = sigmoid(xt[:, u:2 * u] + hp[:, u:2 * u])
                new_h = z * h + (1.0 - z) * tanh(xt[:, 2 * u:] + r * hp[:, 2 * u:])
            if m is None:
                h, out = new_h, new_h
                if self._n_states == 2:
                    c = new_c
            else:
                mt = m[:, t]
                h = mt * new_h + (1.0 - mt) * h
                if self._n_states == 2:
                    c = mt * new_c + (1.0 - mt) * c
                out = mt * new_h + (0.0 if self.zero_output_for_mask else (1.0 - mt) * prev)
                prev = mt * new_h + (1.0 - mt) * prev
            outs.append(out)
        states = [h] if self._n_states == 1 else [h, c]
        return (stack(outs, 1) if self.return_sequences else (prev if m is not None else h)), states

    def _op_mode(self):
        return {"RNN_TANH": _C.RnnMode.rnn_tanh, "RNN_RELU": _C.RnnMode.rnn_relu,
                "LSTM": _C.RnnMode.lstm, "GRU": _C.RnnMode.gru}[self._mode_name()]

    def _mode_name(self):
        return self._mode

    def compute_mask(self, inputs, mask=None):
        if not self.return_sequences or mask is None:
            return None
        return mask[:, ::-1] if self.go_backwards else mask

    def get_config(self):
        def name_of(v):
            return v if isinstance(v, str) or v is None else type(v).__name__
        return {"name": self.name, "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": name_of(self.kernel_initializer),
                "recurrent_initializer": name_of(self.recurrent_initializer),
                "bias_initializer": name_of(self.bias_initializer), "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "zero_output_for_mask": self.zero_output_for_mask}


class SimpleRNN(_RNN):
    """Fully connected RNN: h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias);
    activation 'tanh' (default) or 'relu'."""

    _mode, _gates, _n_states = "RNN", 1, 1

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def _mode_name(self):
        return "RNN_RELU" if self.activation == "relu" else "RNN_TANH"


class LSTM(_RNN):
    """Long short-term memory, Keras's gates i, f, c, o; states [h, c]. unit_forget_bias=True
    (Keras's default) starts the forget gate's bias at 1."""

    _mode, _gates, _n_states = "LSTM", 4, 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _init_bias(self, b):
        if self.unit_forget_bias:
            with_grad = b.requires_grad
            b.requires_grad_(False)
            b[self.units:2 * self.units] = 1.0
            b.requires_grad_(with_grad)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Gated recurrent unit, Keras 3's default reset_after=True (PyTorch's formulation):
    z, r = sigmoid(.), h~ = tanh(x W_h + b_h + r * (h W'_h + b'_h)), h = z h + (1 - z) h~.
    Gates z, r, h in the kernels' column blocks; bias (2, 3 * units): input bias, recurrent
    bias."""

    _mode, _gates, _n_states = "GRU", 3, 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 reset_after=True, **kwargs):
        if not reset_after:
            raise ValueError("GRU: reset_after=False (the reset gate applied before the recurrent "
                             "projection) is not supported by dlcore; use Keras 3's default reset_after=True")
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _op_weights(self):
        u = self.units

        def zr_swap(w):  # Keras's z, r, h column blocks -> the op's r, z, n
            return cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], -1)
        w_ih = zr_swap(self.kernel).T.contiguous()
        w_hh = zr_swap(self.recurrent_kernel).T.contiguous()
        if not self.use_bias:
            return w_ih, w_hh, None, None
        b = zr_swap(self.bias)
        return w_ih, w_hh, b[0], b[1]

    def get_config(self):
        return {**super().get_config(), "reset_after": True}
