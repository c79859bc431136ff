"""dlcore.utils: the helpers Keras code imports from ``keras.utils`` - to_categorical,
pad_sequences (also ``keras.preprocessing.sequence.pad_sequences``), set_random_seed,
normalize; they work on NumPy data, before it meets the model (dlcore.data's edge). And the
module path PyTorch code imports from torch.utils: dlcore.utils.data (DataLoader, Dataset,
TensorDataset, random_split, Subset, samplers)."""
from __future__ import annotations

import numpy as np

from ..data import to_categorical
from ..tensor import manual_seed
from . import data

__all__ = ["to_categorical", "pad_sequences", "set_random_seed", "normalize", "data"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Lists of token ids -> a (num_sequences, maxlen) array, Keras's rules: maxlen defaults to
    the longest sequence; padding / truncating 'pre' (default: pad and cut at the start) or
    'post'; dtype 'int32' gives int64 (dlcore's integer type)."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding and truncating must be 'pre' or 'post', got "
                         f"{padding!r} and {truncating!r}")
    seqs = [list(s) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    elif int(maxlen) < 0:
        raise ValueError(f"pad_sequences: maxlen must be >= 0, got {maxlen}")
    maxlen = int(maxlen)
    if dtype in ("int32", "int16", "int8", "uint8"):
        dtype = "int64"
    out = np.full((len(seqs), maxlen), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not s or maxlen == 0:
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, maxlen - len(s):] = s
    return out


def set_random_seed(seed):
    """Seeds dlcore's default generator (weights, dropout, shuffling) and NumPy's global one
    (data code often draws from it), as keras.utils.set_random_seed does."""
    manual_seed(int(seed))
    np.random.seed(int(seed) % (2 ** 32))


def normalize(x, axis=-1, order=2):
    """x divided by its L-``order`` norm along axis (zeros stay zeros), NumPy in and out."""
    x = np.asarray(x)
    n = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(n == 0, 1, n)
