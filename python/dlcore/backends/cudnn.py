"""dlcore.backends.cudnn: torch.backends.cudnn's flags (``benchmark``, ``deterministic``,
``enabled``), which scripts set; dlcore does not use cuDNN, so they change nothing (its kernels
give the same results run after run)."""

__all__ = ["is_available", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = False


def is_available() -> bool:
    """False: dlcore has its own CUDA kernels and never uses cuDNN."""
    return False
