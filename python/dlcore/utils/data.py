"""dlcore.utils.data: torch.utils.data's names, for code that imports them from there
(``from dlcore.utils.data import DataLoader, Dataset``); they live in dlcore.data."""
from ..data import (BatchSampler, ConcatDataset, DataLoader, Dataset, DistributedSampler,  # noqa: F401
                    IterableDataset, RandomSampler, Sampler, SequentialSampler, Subset, SubsetRandomSampler,
                    TensorDataset, WeightedRandomSampler, WorkerInfo, default_collate, get_worker_info,
                    random_split)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset",
           "RandomSampler", "WeightedRandomSampler",
           "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WorkerInfo",
           "default_collate", "get_worker_info", "random_split"]
