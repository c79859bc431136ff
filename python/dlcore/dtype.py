"""dlcore's dtypes (float32, float64, int64, bool), type promotion, the default float dtype and
the canonical form of any dtype argument. The dtype objects are NumPy dtypes for now (a CPU
tensor's memory is a NumPy array)."""
from __future__ import annotations

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")
SUPPORTED = (float32, float64, int64, bool_)
_ORDER = {bool_: 0, int64: 1, float32: 2, float64: 3}
_default = float32


def set_default_dtype(dtype):
    """The dtype of tensors made from Python floats and of the creation functions (float32 or
    float64)."""
    global _default
    d = np.dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 or float64, got {d}")
    _default = d


def get_default_dtype():
    return _default


def canonical(dtype, arg="dtype"):
    """The dtype object for any dtype-like value (None stays None); TypeError for dtypes dlcore
    does not support."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype == "bool":
        return bool_
    d = np.dtype(dtype)
    if d not in SUPPORTED:
        raise TypeError(f"{arg}: unsupported dtype {d}; dlcore supports float32, float64, int64 and bool")
    return d


def is_dtype_like(a):
    """True for a dtype object, a NumPy scalar type or a string NumPy reads as a dtype."""
    if isinstance(a, np.dtype) or (isinstance(a, type) and issubclass(a, np.generic)):
        return True
    if isinstance(a, str):
        try:
            np.dtype(a)
            return True
        except TypeError:
            return False
    return False


def promote(a, b):
    """The result dtype of a binary op on a and b: bool < int64 < float32 < float64."""
    if a == b:
        return a
    return a if _ORDER[a] > _ORDER[b] else b
