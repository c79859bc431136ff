"""Keras-style layer wrappers and sequence reshaping: Bidirectional, TimeDistributed,
RepeatVector, Permute."""
from __future__ import annotations

import copy

from .._ops._args import integer
from ..tensor import cat
from .base import Layer

__all__ = ["Bidirectional", "TimeDistributed", "RepeatVector", "Permute"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards (go_backwards flipped, its
    own weights) over the same sequence and merges the two: merge_mode 'concat' (default, on
    the last axis), 'sum', 'mul', 'ave', or None (a list [forward, backward]). With
    return_sequences the backward layer's outputs are put back in time order first. Weights:
    the forward layer's, then the backward layer's (Keras's order). return_state: [output,
    *forward states, *backward states]. A mask reaches both layers."""

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards"):
            raise TypeError(f"Bidirectional: layer must be a recurrent layer (SimpleRNN, LSTM, GRU), got "
                            f"{type(layer).__name__}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}, got {merge_mode!r}")
        if backward_layer is None:
            if layer.built:
                raise ValueError("Bidirectional: wrap a layer that has not been called yet (its copy "
                                 "for the backward direction needs fresh weights)")
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = not layer.go_backwards
            backward_layer.name = "backward_" + layer.name
        if (backward_layer.return_sequences != layer.return_sequences
                or backward_layer.return_state != layer.return_state):
            raise ValueError("Bidirectional: the backward layer must have the forward layer's "
                             "return_sequences and return_state")
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.built = True

    def _merge(self, a, b):
        if self.merge_mode == "concat":
            return cat([a, b], -1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        if self.merge_mode == "ave":
            return (a + b) * 0.5
        return [a, b]

    def forward(self, x, mask=None, initial_state=None, training=None):
        sf = sb = None
        if initial_state is not None:
            st = list(initial_state)
            half = len(st) // 2
            sf, sb = st[:half], st[half:]
        yf = self.forward_layer(x, mask=mask, initial_state=sf, training=training)
        yb = self.backward_layer(x, mask=mask, initial_state=sb, training=training)
        states = []
        if self.return_state:
            yf, states_f = yf[0], yf[1:]
            yb, states_b = yb[0], yb[1:]
            states = list(states_f) + list(states_b)
        if self.return_sequences:  # the backward layer returns its steps in its processing order
            yb = yb[:, ::-1]
        out = self._merge(yf, yb)
        if not self.return_state:
            return out
        return (out if isinstance(out, list) else [out]) + states

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        return {"name": self.name, "layer": self.forward_layer, "merge_mode": self.merge_mode,
                "backward_layer": self.backward_layer}


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step of a (N, T, ...) input (the steps are folded into
    the batch: one call on (N*T, ...)); the layer's weights are shared by every step."""

    supports_masking = True

    def __init__(self, layer, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not callable(layer):
            raise TypeError(f"TimeDistributed: layer must be a layer, got {type(layer).__name__}")
        self.layer = layer
        self.built = True

    def forward(self, x):
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed: expects a (batch, time, ...) input with at least 3 dims, "
                             f"got shape {tuple(x.shape)}")
        N, T = x.shape[0], x.shape[1]
        y = self.layer(x.reshape(N * T, *x.shape[2:]))
        return y.reshape(N, T, *y.shape[1:])

    def get_config(self):
        return {"name": self.name, "layer": self.layer}


class RepeatVector(Layer):
    """(N, F) -> (N, n, F): the input repeated n times along a new time axis."""

    def __init__(self, n, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.n = integer(n, "RepeatVector", "n", 1)
        self.built = True

    def forward(self, x):
        if x.ndim != 2:
            raise ValueError(f"RepeatVector: expects a (batch, features) input, got shape {tuple(x.shape)}")
        return x.unsqueeze(1).expand(x.shape[0], self.n, x.shape[1])

    def get_config(self):
        return {"name": self.name, "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes: dims is a permutation of 1..ndim-1 (Keras's numbering,
    the batch axis not counted), e.g. Permute((2, 1)) swaps time and features."""

    supports_masking = False

    def __init__(self, dims, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.dims = tuple(integer(d, "Permute", "dims", 1) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")
        self.built = True

    def forward(self, x):
        if x.ndim != len(self.dims) + 1:
            raise ValueError(f"Permute: dims {self.dims} need a {len(self.dims) + 1}-D input, got shape "
                             f"{tuple(x.shape)}")
        return x.permute(0, *self.dims)

    def get_config(self):
        return {"name": self.name, "dims": list(self.dims)}
