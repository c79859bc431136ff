"""CUDA device support. Importing dlcore never needs a GPU: is_available() is False when
dlcore was built without CUDA or when no driver/device is present, and moving a tensor to
"cuda" then raises a clear RuntimeError (Tensor.to, python/dlcore/tensor.py)."""
from . import _C

__all__ = ["is_built", "device_count", "is_available"]


def is_built() -> bool:
    return bool(_C.cuda_built)


def device_count() -> int:
    return int(_C.cuda_device_count())


def is_available() -> bool:
    return device_count() > 0

