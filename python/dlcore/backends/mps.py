"""dlcore.backends.mps: Apple's Metal backend, which dlcore does not have (scripts test it
with ``torch.backends.mps.is_available()``)."""

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: dlcore has no MPS (Apple GPU) backend."""
    return False


def is_built() -> bool:
    return False
