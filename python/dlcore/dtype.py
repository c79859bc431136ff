"""dlcore's dtypes (float32, float64, int64, bool), type promotion, the default float dtype and
the canonical form of any dtype argument. The dtype objects are dlcore's own (``_C.dtype``);
they compare equal to their names, to NumPy's dtypes and scalar types and to PyTorch's dtypes,
and ``np.dtype(dlcore.float32)`` works, so code written for either library keeps working."""
from __future__ import annotations

import builtins

from . import _C

__all__ = ["dtype", "float32", "float64", "int64", "bool_", "double", "long", "SUPPORTED", "set_default_dtype",
           "get_default_dtype", "canonical", "is_dtype_like", "promote"]

dtype = _C.dtype
float32 = _C.float32
float64 = _C.float64
int64 = _C.int64
bool_ = _C.bool_
double = float64  # PyTorch's names (dlcore/__init__ also gives float, int and bool, which would
long = int64      # shadow Python's types here)
SUPPORTED = (float32, float64, int64, bool_)
_ORDER = {bool_: 0, int64: 1, float32: 2, float64: 3}
# Python's own types as dtype arguments, as PyTorch reads them
_PYTHON_TYPES = {builtins.float: float64, builtins.int: int64, builtins.bool: bool_}
_ALIASES = {"float": float32, "double": float64, "long": int64, "int": int64}
_default = float32


def set_default_dtype(d):
    """The dtype of tensors made from Python floats and of the creation functions (float32 or
    float64)."""
    global _default
    d = canonical(d, "set_default_dtype")
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only float32 or float64, got {d}")
    _default = d


def get_default_dtype():
    return _default


def _lookup(d):
    if isinstance(d, dtype):
        return d
    if isinstance(d, type) and d in _PYTHON_TYPES:
        return _PYTHON_TYPES[d]
    if isinstance(d, str) and d in _ALIASES:
        return _ALIASES[d]
    for s in SUPPORTED:
        if s == d:
            return s
    return None


def canonical(d, arg="dtype"):
    """The dtype object for any dtype-like value (None stays None); TypeError for dtypes dlcore
    does not support."""
    if d is None:
        return None
    found = _lookup(d)
    if found is None:
        name = getattr(d, "name", None) or getattr(d, "__name__", None) or str(d)
        raise TypeError(f"{arg}: unsupported dtype {name}; dlcore supports float32, float64, int64 and bool")
    return found


def is_dtype_like(a):
    """True for what reads as a dtype: what canonical() accepts, and other libraries' dtypes
    (a NumPy dtype or scalar type, a PyTorch dtype), which canonical() may then refuse."""
    if _lookup(a) is not None:
        return True
    if isinstance(a, type):
        return hasattr(a, "dtype") and hasattr(a, "itemsize")  # a NumPy scalar type
    return type(a).__name__ in ("dtype", "dtypes") or str(type(a)).startswith(("<class 'numpy.dtype", "<class 'torch.dtype"))


def promote(a, b):
    """The result dtype of a binary op on a and b: bool < int64 < float32 < float64."""
    if a is b:
        return a
    return a if _ORDER[a] > _ORDER[b] else b
