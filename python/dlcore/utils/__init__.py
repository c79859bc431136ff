"""dlcore.utils: the module paths PyTorch code imports from torch.utils - dlcore.utils.data
(DataLoader, Dataset, TensorDataset, random_split, Subset, samplers)."""
from . import data  # noqa: F401

__all__ = ["data"]
