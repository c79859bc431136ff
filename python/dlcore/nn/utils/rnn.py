"""dlcore.nn.utils.rnn: variable-length sequence batches as PyTorch's torch.nn.utils.rnn has them.

A :class:`PackedSequence` holds the valid steps of a batch of sequences, time-major, sorted by
decreasing length: ``data`` is (sum(lengths), *), and its first ``batch_sizes[0]`` rows are step 0
of every sequence, the next ``batch_sizes[1]`` rows step 1 of the sequences that have one, and
so on. ``sorted_indices`` / ``unsorted_indices`` map between the caller's batch order and the
sorted one (None when the batch was already sorted). nn.RNN / LSTM / GRU take one and return one.

Every conversion here is one ``index_select`` over the rows (the row indices are computed from
the lengths, which are host integers), so gradients flow through packing and padding.
"""
from __future__ import annotations

from collections import namedtuple

from ...dtype import int64
from ..._ops import _args
from ...tensor import Tensor, cat, full, tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch of sequences (see the module's doc): data (sum(lengths), *),
    batch_sizes (T,) int64, sorted_indices / unsorted_indices (N,) int64 or None. Build it with
    pack_padded_sequence or pack_sequence."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = tensor(_inverse(sorted_indices.tolist()), dtype=int64)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def to(self, *args, **kwargs):
        """The same packing with ``data.to(*args, **kwargs)`` (the index tensors stay on the CPU)."""
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def _int_list(v, op, name):
    if isinstance(v, Tensor):
        if v.dtype != int64 or v.ndim != 1:
            raise ValueError(f"{op}: {name} must be a 1-D int64 tensor or a list of ints, got "
                             f"{v.dtype} of shape {tuple(v.shape)}")
        return v.tolist()
    if hasattr(v, "tolist") and not isinstance(v, (list, tuple)):  # a NumPy array, a torch tensor
        v = v.tolist()
    try:
        return [_args.integer(x, op, name) for x in v]
    except TypeError:
        raise TypeError(f"{op}: {name} must be a 1-D int64 tensor or a list of ints, got "
                        f"{type(v).__name__}") from None


def _rows(x, op, name, min_ndim):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a dlcore Tensor, got {type(x).__name__}")
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: {name} needs at least {min_ndim} dims, got shape {tuple(x.shape)}")
    return x


def _with_pad_row(data, padding_value):
    """data (R, *) with one more row of padding_value (row R): the source of padded positions."""
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    return cat([data, pad], 0)


def _gather(rows, idx, shape):
    return rows.index_select(0, tensor(idx, dtype=int64, device=rows.device)).reshape(shape)


def _structure(batch_sizes):
    """Per sorted position j, the sequence's length; per step t, the first row of step t."""
    lengths = [0] * (batch_sizes[0] if batch_sizes else 0)
    offsets, off = [], 0
    for b in batch_sizes:
        offsets.append(off)
        off += b
        for j in range(b):
            lengths[j] += 1
    return lengths, offsets


def _pack(padded, batch_sizes, order, batch_first):
    """The packed data of a padded (T, N, *) (batch_first: (N, T, *)) tensor: the row of step t
    of the j-th longest sequence is padded[t, order[j]]."""
    T, N = (padded.shape[1], padded.shape[0]) if batch_first else (padded.shape[0], padded.shape[1])
    idx = [order[j] * T + t if batch_first else t * N + order[j]
           for t, b in enumerate(batch_sizes) for j in range(b)]
    flat = padded.reshape((T * N,) + tuple(padded.shape[2:]))
    return _gather(flat, idx, (len(idx),) + tuple(padded.shape[2:]))


def _pack_like(padded, like):
    """A time-major padded (T, N, *) tensor in the caller's batch order packed with the
    structure of the PackedSequence ``like`` (how nn.RNN returns its output)."""
    bs = like.batch_sizes.tolist()
    order = like.sorted_indices.tolist() if like.sorted_indices is not None else list(range(bs[0]))
    return PackedSequence(_pack(padded, bs, order, False), like.batch_sizes, like.sorted_indices,
                          like.unsorted_indices)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch (T, N, *) (batch_first: (N, T, *)) of sequences of the given
    lengths (a list or a 1-D int64 tensor, each in [1, T]). With enforce_sorted the lengths must
    be in decreasing order; otherwise the batch is sorted here (stable) and the PackedSequence
    remembers the permutation."""
    op = "pack_padded_sequence"
    _rows(input, op, "input", 2)
    lens = _int_list(lengths, op, "lengths")
    T, N = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    if len(lens) != N:
        raise ValueError(f"{op}: got {len(lens)} lengths for a batch of {N} sequences (input shape "
                         f"{tuple(input.shape)}, batch_first={bool(batch_first)})")
    if N == 0:
        raise ValueError(f"{op}: empty batch (input shape {tuple(input.shape)})")
    if min(lens) <= 0 or max(lens) > T:
        raise ValueError(f"{op}: lengths must lie in [1, {T}] (the padded length), got min "
                         f"{min(lens)} and max {max(lens)}")
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise ValueError(f"{op}: lengths {lens} are not sorted in decreasing order; sort the batch "
                             f"or pass enforce_sorted=False")
        order, sorted_idx = list(range(N)), None
    else:
        order = sorted(range(N), key=lambda i: -lens[i])
        sorted_idx = tensor(order, dtype=int64)
    batch_sizes = [sum(1 for n in lens if n > t) for t in range(max(lens))]
    data = _pack(input, batch_sizes, order, batch_first)
    return PackedSequence(data, tensor(batch_sizes, dtype=int64), sorted_idx)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded, lengths) with padded (T, N, *)
    (batch_first: (N, T, *)) in the original batch order, padding_value at the steps past each
    sequence's end, T = total_length or the longest length; lengths a 1-D int64 tensor."""
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: sequence must be a PackedSequence, got {type(sequence).__name__}")
    bs = _int_list(sequence.batch_sizes, op, "batch_sizes")
    lens_sorted, offsets = _structure(bs)
    T, N = len(bs), bs[0]
    if total_length is not None:
        total_length = _args.integer(total_length, op, "total_length")
        if total_length < T:
            raise ValueError(f"{op}: total_length ({total_length}) is less than the longest sequence "
                             f"({T})")
        T = total_length
    unsorted = (sequence.unsorted_indices.tolist() if sequence.unsorted_indices is not None
                else list(range(N)))
    data = sequence.data
    pad = data.shape[0]  # the pad row's index
    rest = tuple(data.shape[1:])

    def src(t, b):
        j = unsorted[b]
        return offsets[t] + j if t < lens_sorted[j] else pad
    if batch_first:
        idx, shape = [src(t, b) for b in range(N) for t in range(T)], (N, T) + rest
    else:
        idx, shape = [src(t, b) for t in range(T) for b in range(N)], (T, N) + rest
    padded = _gather(_with_pad_row(data, padding_value), idx, shape)
    return padded, tensor([lens_sorted[unsorted[b]] for b in range(N)], dtype=int64)


def _check_sequences(sequences, op):
    if isinstance(sequences, Tensor) or not isinstance(sequences, (list, tuple)):
        raise TypeError(f"{op}: sequences must be a list of Tensors, got {type(sequences).__name__}")
    if not sequences:
        raise ValueError(f"{op}: sequences is empty")
    for i, s in enumerate(sequences):
        _rows(s, op, f"sequences[{i}]", 1)
        if tuple(s.shape[1:]) != tuple(sequences[0].shape[1:]) or s.dtype != sequences[0].dtype:
            raise ValueError(f"{op}: sequences[{i}] has shape {tuple(s.shape)} and dtype {s.dtype}, but "
                             f"sequences[0] has {tuple(sequences[0].shape)} and {sequences[0].dtype}; all "
                             f"must match after the first dim")
    return list(sequences)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks sequences (L_i, *) into one padded (max L, N, *) tensor (batch_first:
    (N, max L, *)), padding_value on the right of each (padding_side='left': before it)."""
    op = "pad_sequence"
    seqs = _check_sequences(sequences, op)
    if padding_side not in ("right", "left"):
        raise ValueError(f"{op}: padding_side must be 'right' or 'left', got {padding_side!r}")
    lens = [s.shape[0] for s in seqs]
    T, N, rest = max(lens), len(seqs), tuple(seqs[0].shape[1:])
    starts = [0]
    for n in lens[:-1]:
        starts.append(starts[-1] + n)
    pad = starts[-1] + lens[-1]

    def src(t, b):
        s = t if padding_side == "right" else t - (T - lens[b])
        return starts[b] + s if 0 <= s < lens[b] else pad
    if batch_first:
        idx, shape = [src(t, b) for b in range(N) for t in range(T)], (N, T) + rest
    else:
        idx, shape = [src(t, b) for t in range(T) for b in range(N)], (T, N) + rest
    return _gather(_with_pad_row(cat(seqs, 0), padding_value), idx, shape)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (length_i, *) of a padded batch (the inverse of pad_sequence)."""
    op = "unpad_sequence"
    x = _rows(padded_sequences, op, "padded_sequences", 2)
    lens = _int_list(lengths, op, "lengths")
    if not batch_first:
        x = x.transpose(0, 1)
    if len(lens) != x.shape[0] or any(n < 0 or n > x.shape[1] for n in lens):
        raise ValueError(f"{op}: lengths {lens} do not fit a batch of {x.shape[0]} sequences of "
                         f"length {x.shape[1]}")
    return [x[b, :n] for b, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of sequences (L_i, *) (pad_sequence then pack_padded_sequence)."""
    seqs = _check_sequences(sequences, "pack_sequence")
    return pack_padded_sequence(pad_sequence(seqs), [s.shape[0] for s in seqs],
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) of a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
