"""dlcore.accelerator: torch.accelerator's device-agnostic queries, so code written as
``device = dlcore.accelerator.current_accelerator() or "cpu"`` runs anywhere. dlcore's one
accelerator type is CUDA (cuda.py)."""
from . import _C, cuda
from .device import device

__all__ = ["is_available", "current_accelerator", "device_count", "synchronize"]


def is_available() -> bool:
    """True when an accelerator (a CUDA GPU) can be used now."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator dlcore was built for (device('cuda')), or None in a CPU-only build; with
    check_available=True also None when no GPU is present at run time."""
    if not cuda.is_built() or (check_available and not cuda.is_available()):
        return None
    return device("cuda")


def device_count() -> int:
    """The number of accelerator devices present (0 without one)."""
    return cuda.device_count()


def synchronize(device=None):  # noqa: ARG001 - one GPU: the argument names it
    """Waits until the accelerator has finished the work queued so far (nothing to wait for
    without one)."""
    if cuda.is_available():
        _C.cuda_synchronize()
