"""Embedding: a lookup table (num_embeddings, embedding_dim) indexed by integer tensors, with
PyTorch's semantics: gather forward (``_C.index_select``), scatter-add backward
(``_C.index_add_``), and ``padding_idx`` whose row is initialised to zero and never receives a
gradient."""
from __future__ import annotations

import numbers

from ..dtype import int64
from .._ops import _args
from .._ops import embedding as _ops
from ..tensor import Tensor, empty, tensor
from . import init
from .module import Module, Parameter

__all__ = ["embedding", "Embedding"]


def _indices(input, num_embeddings, name, device=None):
    """The flat int64 indices and their shape; data that is not a dlcore Tensor is made on
    `device` (the table's)."""
    if isinstance(input, Tensor):
        arr = input._data
    elif hasattr(input, "detach"):  # a torch tensor
        arr = tensor(input.detach().cpu().numpy(), device=device)._data
    else:  # Python or NumPy data
        arr = tensor(input, device=device)._data
    if arr.dtype != int64:
        raise TypeError(f"{name}: indices must be an integer tensor, got {arr.dtype}")
    flat = arr.reshape(-1)
    _args.check_range(flat, 0, num_embeddings - 1, lambda lo, hi: IndexError(
        f"{name}: index {lo if lo < 0 else hi} is out of range for an embedding table with {num_embeddings} rows"))
    return flat.contiguous(), arr.shape


def _padding_idx(padding_idx, n, name):
    """padding_idx in [0, n) (a negative one counts from the end, like PyTorch), or None."""
    if padding_idx is None:
        return None
    i = _args.integer(padding_idx, name, "padding_idx")
    if not -n <= i < n:
        raise ValueError(f"{name}: padding_idx must be within num_embeddings ({n}), i.e. in "
                         f"[{-n}, {n - 1}], got {padding_idx}")
    return i % n


def embedding(input, weight, padding_idx=None):
    """Functional form: rows of weight (num_embeddings, dim) picked by the integer input."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a dlcore Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    flat, shape = _indices(input, weight.shape[0], "embedding", weight.device)
    padding_idx = _padding_idx(padding_idx, weight.shape[0], "embedding")
    return _ops.Embedding.apply(weight, flat, tuple(shape) + (weight.shape[1],), padding_idx)


class Embedding(Module):
    """Lookup table: input of any integer shape (...) -> output (..., embedding_dim).
    Weight ~ N(0, 1) with the padding_idx row set to zero (like PyTorch)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None, dtype=None):
        super().__init__()
        for arg, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive integer, got {v!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding_idx(padding_idx, self.num_embeddings, "Embedding")
        if _weight is None:
            self.weight = Parameter(empty(self.num_embeddings, self.embedding_dim, dtype=dtype))
            self.reset_parameters()
        else:
            w = _weight if isinstance(_weight, Tensor) else Tensor(_weight)
            if tuple(w.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(w.shape)}, expected "
                                 f"{(self.num_embeddings, self.embedding_dim)}")
            self.weight = Parameter(w._data.clone())

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx].fill_(0.0)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        w = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(w.shape)}")
        m = cls(w.shape[0], w.shape[1], padding_idx=padding_idx, _weight=w)
        m.weight.requires_grad = not freeze
        return m

    def forward(self, input):
        flat, shape = _indices(input, self.num_embeddings, "Embedding", self.weight.device)
        return _ops.Embedding.apply(self.weight, flat, tuple(shape) + (self.embedding_dim,),
                                       self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
