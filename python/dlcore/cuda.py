"""CUDA device support. Importing dlcore never needs a GPU: is_available() is False when
dlcore was built without CUDA or when no driver/device is present, and moving a tensor to
"cuda" then raises a clear RuntimeError."""
from . import _C


def is_built() -> bool:
    return bool(_C.cuda_built)


def device_count() -> int:
    return int(_C.cuda_device_count())


def is_available() -> bool:
    return device_count() > 0


def _move(t, device):
    from .tensor import Tensor

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"to(): unknown device '{device}'; expected 'cpu' or 'cuda'")
    if device == "cpu":
        return Tensor._wrap(_C.cuda_to_host(t._data))
    device = "cuda"
    if not is_built():
        raise RuntimeError("to('cuda'): dlcore was built without CUDA (no nvcc at build time)")
    if not is_available():
        raise RuntimeError("to('cuda'): no CUDA device is available (no driver or no GPU)")
    return Tensor._wrap(_C.cuda_from_host(t._data))
