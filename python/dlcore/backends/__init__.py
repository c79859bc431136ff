"""dlcore.backends: torch.backends' switches that scripts set, so they run unchanged.
dlcore's kernels are its own (no cuDNN, no MPS); its results are deterministic already, so the
cuDNN switches change nothing."""
from . import cudnn, mps  # noqa: F401

__all__ = ["cudnn", "mps"]
