"""CUDA device support, under torch.cuda's names. Importing dlcore never needs a GPU:
is_available() is False when dlcore was built without CUDA or when no driver/device is present,
and moving a tensor to "cuda" then raises a clear error (Tensor.to, python/dlcore/tensor.py).

Device memory comes from a caching allocator (cuda/device.cu): freed blocks are kept by size
class and reused, so a training step whose tensors have the sizes of the previous step's calls
neither cudaMalloc nor cudaFree. The memory queries below report it; like PyTorch's, they
return 0 (and empty_cache / reset_peak_memory_stats do nothing) where CUDA is not available.
Running out of device memory raises `OutOfMemoryError` (a RuntimeError) saying how many bytes
were requested and how many the GPU has free. dlcore drives one GPU, device 0."""
from . import _C

__all__ = ["is_built", "device_count", "is_available", "synchronize", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "reset_peak_memory_stats", "empty_cache",
           "memory_stats", "OutOfMemoryError"]

OutOfMemoryError = _C.OutOfMemoryError
OutOfMemoryError.__doc__ = ("Raised when the GPU has no room for an allocation (after dlcore's cached "
                            "blocks were given back): a RuntimeError, like torch.cuda.OutOfMemoryError.")


def is_built() -> bool:
    """True when this dlcore was compiled with its CUDA kernels."""
    return bool(_C.cuda_built)


def device_count() -> int:
    """The number of CUDA devices visible (0 without a driver or a CUDA build)."""
    return int(_C.cuda_device_count())


def is_available() -> bool:
    """True when CUDA tensors can be made: a CUDA build and at least one device."""
    return device_count() > 0


def synchronize(device=None) -> None:
    """Waits for every queued CUDA kernel and copy to finish (nothing to do without CUDA)."""
    _device_index(device, "synchronize")
    if is_available():  # a CUDA build without a driver has nothing to wait for
        _C.cuda_synchronize()


def _device_index(device, fn):
    """Checks a torch.cuda-style `device` argument (None, 0, "cuda", "cuda:0", a dlcore.device):
    dlcore drives device 0 only; any other index raises ValueError naming the function."""
    if device is None:
        return 0
    if isinstance(device, int) and not isinstance(device, bool):
        index = device
    else:
        name = str(device)
        if name == "cuda":
            return 0
        if not name.startswith("cuda:") or not name[5:].isdigit():
            raise ValueError(f"dlcore.cuda.{fn}: device must be None, an index or 'cuda[:index]', got {device!r}")
        index = int(name[5:])
    if index != 0:
        raise ValueError(f"dlcore.cuda.{fn}: dlcore uses CUDA device 0 only, got device {device!r}")
    return 0


def memory_stats(device=None) -> dict:
    """The caching allocator's counters: allocated_bytes (in tensors and scratch buffers now),
    peak_allocated_bytes (since the last reset), reserved_bytes (allocated + cached),
    device_allocs / device_frees (cudaMalloc / cudaFree calls so far). Zeros without CUDA."""
    return _stats(device, "memory_stats")


def _stats(device, fn):
    _device_index(device, fn)
    return dict(_C.cuda_memory_stats())


def memory_allocated(device=None) -> int:
    """Bytes of device memory held by live tensors (block sizes: requests rounded up to their
    size class), as torch.cuda.memory_allocated; 0 without CUDA."""
    return int(_stats(device, "memory_allocated")["allocated_bytes"])


def max_memory_allocated(device=None) -> int:
    """The most memory_allocated() has been since the start or the last
    reset_peak_memory_stats(); 0 without CUDA."""
    return int(_stats(device, "max_memory_allocated")["peak_allocated_bytes"])


def memory_reserved(device=None) -> int:
    """Bytes the allocator holds from the driver: allocated plus cached free blocks."""
    return int(_stats(device, "memory_reserved")["reserved_bytes"])


def reset_peak_memory_stats(device=None) -> None:
    """Starts max_memory_allocated() again from the current allocation."""
    _device_index(device, "reset_peak_memory_stats")
    _C.cuda_reset_peak_memory_stats()


def empty_cache() -> None:
    """Gives the cached, unused device blocks back to the driver (other processes can then use
    them; dlcore's later allocations call cudaMalloc again). Live tensors are not touched."""
    _C.cuda_empty_cache()
