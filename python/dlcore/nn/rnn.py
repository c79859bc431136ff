"""Recurrent layers with PyTorch's semantics and parameter layout: RNN (tanh / relu), LSTM,
GRU and the single-step cells RNNCell, LSTMCell, GRUCell.

Each layer and direction is one autograd node (_ops.rnn.RNNLayer / BiRNNLayer) whose forward and
backward are single calls into the C++ sequence routines (``_C.rnn_forward`` /
``_C.rnn_backward``: one input-projection GEMM for all time steps, one recurrent GEMM plus one
fused cell kernel per step, backward through time with weight gradients as GEMMs over all
steps). A PyTorch ``state_dict`` loads unchanged (same names and shapes).

Variable-length batches: a PackedSequence (nn.utils.rnn.pack_padded_sequence) in, a
PackedSequence out, as in PyTorch; or ``forward(input, hx, lengths=...)`` with one length per
batch row of a padded input: outputs at padded steps are zero, the final states are the
states at each row's last valid step, and padded steps contribute no gradient.
"""
from __future__ import annotations

import math
import numbers

from .. import _C
from ..dtype import int64
from .._ops import _args
from .._ops import rnn as _ops
from ..tensor import Tensor, cat, current_generator, empty, stack, tensor, zeros_like
from . import init
from .module import Module, Parameter
from .utils.rnn import PackedSequence, _pack_like, pad_packed_sequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_MODES = {"RNN_TANH": _C.RnnMode.rnn_tanh, "RNN_RELU": _C.RnnMode.rnn_relu,
          "LSTM": _C.RnnMode.lstm, "GRU": _C.RnnMode.gru}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _as_lengths(lengths, n, T, name):
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        arr = lengths._data.to("cpu")
    elif hasattr(lengths, "detach"):  # a torch tensor
        arr = tensor(lengths.detach().cpu().numpy())._data
    else:
        arr = tensor(lengths)._data
    if arr.dtype != int64 or arr.ndim != 1:
        raise ValueError(f"{name}: lengths must be a 1-D sequence of ints (one per batch element), "
                         f"got {arr.dtype} array of shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name}: got {arr.shape[0]} lengths for a batch of {n} sequences")
    _args.check_range(arr, 0, T, lambda lo, hi: ValueError(
        f"{name}: lengths must lie in [0, {T}] (the padded sequence length), got min {lo} and max {hi}"))
    return arr.contiguous()


def _dropout(x, p):
    """Inverted dropout with a mask from dlcore's generator (between RNN layers)."""
    if p >= 1.0:
        return x * zeros_like(x)
    u = _C.empty(x.shape, x.dtype, x._data.device)
    g = current_generator()
    _C.random_fill(_C.RandomDist.uniform, u, 0.0, 1.0, g.seed, g.take(u.dtype, u.size))
    keep = _C.binary(_C.Binary.ge, u, _C.full((), p, u.dtype, u.device)).astype(u.dtype)
    mask = _C.unary(_C.Unary.mul_scalar, keep, 1.0 / (1.0 - p), 0.0)
    return x * Tensor._wrap(mask)


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters weight_ih_l{k}[_reverse] (G*H, I_k),
    weight_hh_l{k}[_reverse] (G*H, H), bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (G*H,)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        super().__init__()
        name = type(self).__name__
        for arg, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {v!r}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        G, H, D = _GATES[mode], self.hidden_size, 2 if bidirectional else 1
        self._names = []  # per (layer, direction): (w_ih, w_hh, b_ih, b_hh) names
        for layer in range(self.num_layers):
            in_l = self.input_size if layer == 0 else H * D
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = (f"weight_ih{sfx}", f"weight_hh{sfx}", f"bias_ih{sfx}", f"bias_hh{sfx}")
                setattr(self, names[0], Parameter(empty(G * H, in_l, dtype=dtype)))
                setattr(self, names[1], Parameter(empty(G * H, H, dtype=dtype)))
                if self.bias:
                    setattr(self, names[2], Parameter(empty(G * H, dtype=dtype)))
                    setattr(self, names[3], Parameter(empty(G * H, dtype=dtype)))
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), like PyTorch."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    @property
    def _num_directions(self):
        return 2 if self.bidirectional else 1

    def _layer_params(self, idx):
        w_ih, w_hh, b_ih, b_hh = self._names[idx]
        p = self._parameters
        return p[w_ih], p[w_hh], (p[b_ih] if self.bias else None), (p[b_hh] if self.bias else None)

    def _check_state(self, t, name, expected, dtype):
        if not isinstance(t, Tensor):
            raise TypeError(f"{type(self).__name__}: {name} must be a dlcore Tensor, got {type(t).__name__}")
        if tuple(t.shape) != tuple(expected):
            raise ValueError(f"{type(self).__name__}: expected {name} of shape {tuple(expected)} "
                             f"(num_layers * num_directions, batch, hidden_size), got {tuple(t.shape)}")
        if t.dtype != dtype:
            raise TypeError(f"{type(self).__name__}: {name} is {t.dtype} but the input is {dtype}")

    def forward(self, input, hx=None, lengths=None):
        """input (T, N, I) (batch_first: (N, T, I)), unbatched (T, I), or a PackedSequence;
        hx (num_layers * num_directions, N, H) (an LSTM: (h_0, c_0)). Returns (output, h_n)
        (an LSTM: (output, (h_n, c_n))); output is a PackedSequence when the input is one,
        and h_n / c_n hold each sequence's state at its true last step, in the caller's batch
        order (as PyTorch). ``lengths`` (a dlcore extension) does the same for a padded input.

        A PackedSequence runs as its padded (T, N) batch with lengths: the padded steps cost
        compute (T * N steps instead of sum(lengths)) but give neither output nor gradient, and
        unpacking / packing are one row gather each."""
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{type(self).__name__}: a PackedSequence carries its lengths; "
                                 f"do not pass lengths too")
            padded, lens = pad_packed_sequence(input)
            out, hidden = self._forward(padded, hx, lens, False)
            return _pack_like(out, input), hidden
        return self._forward(input, hx, lengths, self.batch_first)

    def _forward(self, input, hx, lengths, batch_first):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a dlcore Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched) or 3-D (batched) input, got shape "
                             f"{tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]} (input shape {tuple(input.shape)})")
        w0 = self._parameters[self._names[0][0]]
        if input.dtype != w0.dtype:
            raise TypeError(f"{name}: input is {input.dtype} but the parameters are {w0.dtype} "
                            f"(use module.double() / .float() or cast the input)")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if batch_first else input)
        T, N = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError(f"{name}: empty sequence (input shape {tuple(input.shape)} has 0 time steps)")
        if N == 0:
            raise ValueError(f"{name}: empty batch (input shape {tuple(input.shape)})")
        if lengths is not None and unbatched:
            lengths = [lengths] if isinstance(lengths, numbers.Integral) else lengths
        lens = _as_lengths(lengths, N, T, name)
        D, L, H = self._num_directions, self.num_layers, self.hidden_size
        h0 = c0 = None
        if hx is not None:
            if self.mode == "LSTM":
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{name}: hx must be a tuple (h_0, c_0) for an LSTM")
                h0, c0 = hx
            else:
                h0 = hx
            want = (D * L, H) if unbatched else (D * L, N, H)
            self._check_state(h0, "h_0" if self.mode == "LSTM" else "hx", want, input.dtype)
            if c0 is not None:
                self._check_state(c0, "c_0", want, input.dtype)
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
        mode = _MODES[self.mode]
        hs, cs = [], []
        layer_in = x
        for layer in range(L):
            outs = []
            if D == 2:  # both directions in one call, one per thread
                i0, i1 = layer * 2, layer * 2 + 1
                res = _ops.BiRNNLayer.apply(
                    layer_in, h0[i0] if h0 is not None else None, c0[i0] if c0 is not None else None,
                    h0[i1] if h0 is not None else None, c0[i1] if c0 is not None else None,
                    *self._layer_params(i0), *self._layer_params(i1), mode, lens)
                k = 3 if self.mode == "LSTM" else 2
                for part in (res[:k], res[k:]):
                    outs.append(part[0])
                    hs.append(part[1])
                    if self.mode == "LSTM":
                        cs.append(part[2])
            for d in range(D if D == 1 else 0):
                idx = layer * D + d
                w_ih, w_hh, b_ih, b_hh = self._layer_params(idx)
                res = _ops.RNNLayer.apply(layer_in, h0[idx] if h0 is not None else None,
                                             c0[idx] if c0 is not None else None,
                                             w_ih, w_hh, b_ih, b_hh, mode, lens, d == 1)
                outs.append(res[0])
                hs.append(res[1])
                if self.mode == "LSTM":
                    cs.append(res[2])
            layer_in = outs[0] if D == 1 else cat(outs, 2)
            if self.training and self.dropout > 0 and layer < L - 1:
                layer_in = _dropout(layer_in, self.dropout)
        out = layer_in
        h_n = stack(hs, 0)
        c_n = stack(cs, 0) if self.mode == "LSTM" else None
        if unbatched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if self.mode == "LSTM" else (out, h_n)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}' (use 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM with gates (i, f, g, o) in PyTorch's order; forward(input, (h_0, c_0)) returns
    (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, dtype=None):
        if proj_size:
            raise ValueError("LSTM: proj_size is not supported by dlcore (use proj_size=0)")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)


class GRU(RNNBase):
    """GRU with gates (r, z, n) in PyTorch's order: n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),
    h' = (1-z)*n + z*h."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)


# ---- cells ------------------------------------------------------------------------------------

class RNNCellBase(Module):
    """One time step. Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,)."""

    def __init__(self, mode, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        name = type(self).__name__
        for arg, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {v!r}")
        self.mode = mode
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        G = _GATES[mode]
        self.weight_ih = Parameter(empty(G * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(G * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(G * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(empty(G * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _state(self, t, name, want, dtype):
        if not isinstance(t, Tensor):
            raise TypeError(f"{type(self).__name__}: {name} must be a dlcore Tensor, got {type(t).__name__}")
        if tuple(t.shape) != want:
            raise ValueError(f"{type(self).__name__}: expected {name} of shape {want}, got {tuple(t.shape)}")
        if t.dtype != dtype:
            raise TypeError(f"{type(self).__name__}: {name} is {t.dtype} but the input is {dtype}")
        return t

    def forward(self, input, hx=None):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a dlcore Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: expected a 1-D (unbatched) or 2-D (batch, input_size) input, "
                             f"got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features (shape {tuple(input.shape)}), "
                             f"expected input_size={self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input is {input.dtype} but the parameters are {self.weight_ih.dtype}")
        unbatched = input.ndim == 1
        x = input.reshape(1, 1, -1) if unbatched else input.unsqueeze(0)
        N = x.shape[1]
        if N == 0:
            raise ValueError(f"{name}: empty batch (input shape {tuple(input.shape)})")
        want = (self.hidden_size,) if unbatched else (N, self.hidden_size)
        h0 = c0 = None
        if hx is not None:
            if self.mode == "LSTM":
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{name}: hx must be a tuple (h_0, c_0)")
                h0 = self._state(hx[0], "h_0", want, input.dtype)
                c0 = self._state(hx[1], "c_0", want, input.dtype)
            else:
                h0 = self._state(hx, "hx", want, input.dtype)
            if unbatched:
                h0 = h0.reshape(1, -1)
                c0 = c0.reshape(1, -1) if c0 is not None else None
        res = _ops.RNNLayer.apply(x, h0, c0, self.weight_ih, self.weight_hh, self.bias_ih,
                                     self.bias_hh, _MODES[self.mode], None, False)
        h = res[1].reshape(-1) if unbatched else res[1]
        if self.mode == "LSTM":
            c = res[2].reshape(-1) if unbatched else res[2]
            return h, c
        return h

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}' (use 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         bias, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

