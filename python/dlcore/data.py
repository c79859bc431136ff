"""dlcore.data: datasets, a batching DataLoader, splits, scalers, one-hot and image augmentation.

DataLoader yields tuples of dlcore Tensors. Shuffling draws from a dlcore Generator (the
counter-based Philox generator), so a seeded run shuffles identically on any machine and
thread count, and ``loader.state_dict()`` / ``load_state_dict()`` (or saving the generator
state) lets a resumed run see the same batches as an uninterrupted one.

Where NumPy meets tensors here (the data edge): a dataset of dlcore Tensors is batched with
index_select on the tensors' device and never touches NumPy; a dataset of NumPy arrays (or
Python data) is batched on the host and each batch becomes a Tensor once. Splits, scalers,
one-hot and the augmentations are data preparation on host arrays: they take NumPy data (a
Tensor given to them is copied to the host first).

Augmentations (RandomHorizontalFlip, RandomCrop, RandomRotation) work on whole batches of
(N, C, H, W) or (N, H, W) arrays, vectorised, with randomness from a dlcore Generator; pass
them to DataLoader(transform=...) (applied to the first element of each batch, the inputs).

DistributedSampler shards a dataset between the processes of a data-parallel job
(dlcore.distributed, docs/distributed.md): DataLoader(dataset, batch_size=B,
sampler=DistributedSampler(dataset, batch_size=B)) in each of N processes yields, at every
step, this process's B-sample part of the batch of N*B that one process would have drawn.
"""
from __future__ import annotations

import bisect
import collections
import math
import os
import threading
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from .dtype import float64
from ._ops._args import integer
from .tensor import (Generator, Tensor, arange, argsort, cat, cumsum, current_generator, index_select, minimum,
                     multinomial, rand, randint, randperm, stack, tensor, use_generator, zeros)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "DataLoader", "DistributedSampler",
           "Subset", "ConcatDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "WorkerInfo", "get_worker_info",
           "train_val_test_split", "StandardScaler",
           "MinMaxScaler", "to_categorical", "one_hot", "Compose", "RandomHorizontalFlip",
           "RandomCrop", "RandomRotation", "default_collate"]


def _arr(a):
    """Host data for the NumPy-side helpers (a Tensor is copied to the host)."""
    if isinstance(a, Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _data(a):
    """A dataset column: a Tensor stays a Tensor (batched on its device), other data NumPy."""
    return a.detach() if isinstance(a, Tensor) else np.asarray(a)


class Dataset:
    """Map-style dataset: __getitem__(i) -> sample, __len__(). Optionally __getitems__(indices)
    -> a whole batch (used by DataLoader when present and no collate_fn is given)."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class IterableDataset(Dataset):
    """Stream-style dataset: __iter__() yields the samples (torch.utils.data.IterableDataset).
    DataLoader batches them in the order they come (no sampler, no shuffle; __len__ is
    optional). With num_workers > 0 the stream is still read once, in the loading thread, so
    get_worker_info() is None there and a dataset that shards itself by worker yields each
    sample once."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: an IterableDataset must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it has no indexing")


class TensorDataset(Dataset):
    """Samples are tuples (a[i], b[i], ...) of arrays / Tensors with the same first dimension."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(_data(a) for a in arrays)
        n = self.arrays[0].shape[0]
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or a.shape[0] != n:
                raise ValueError(f"TensorDataset: array {i} has shape {a.shape}, but array 0 has "
                                 f"{n} samples; all arrays need the same first dimension")

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)

    def __getitems__(self, indices):
        """One batch: `indices` is an int64 Tensor (the loader's order) or a sequence of ints."""
        idx = indices if isinstance(indices, Tensor) else tensor(indices)
        host = None
        out = []
        for a in self.arrays:
            if isinstance(a, Tensor):
                out.append(index_select(a, 0, idx.to(a.device)))
            else:
                host = idx.numpy() if host is None else host
                out.append(a[host])
        return tuple(out)


def default_collate(samples):
    """Stacks a list of samples (arrays, numbers or tuples of them) into batched arrays."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[j] for s in samples]) for j in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, Tensor):
        return stack(samples)
    return np.stack([np.asarray(s) for s in samples])


def _to_tensor(b):
    if isinstance(b, Tensor):
        return b
    if isinstance(b, np.ndarray):  # integers -> int64, floats other than 32/64 bits -> float32
        return tensor(b)
    if isinstance(b, tuple):
        return tuple(_to_tensor(x) for x in b)
    if isinstance(b, list):
        return [_to_tensor(x) for x in b]
    if isinstance(b, dict):
        return {k: _to_tensor(v) for k, v in b.items()}
    return b


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (a sequence of ints), in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [integer(i, "Subset", "indices") for i in (indices.tolist() if isinstance(indices, Tensor)
                                                                  else indices)]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, (list, tuple)):
            return [self.dataset[self.indices[j]] for j in i]
        return self.dataset[self.indices[i]]

    def __getitems__(self, idx):
        """One batch (the loader's int64 Tensor of positions in this subset): batched by the
        dataset's own __getitems__ where it has one, else sample by sample."""
        own = [self.indices[j] for j in (idx.tolist() if isinstance(idx, Tensor) else idx)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(tensor(own, dtype="int64"))
        return default_collate([self.dataset[i] for i in own])


class ConcatDataset(Dataset):
    """The datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, i):
        n = len(self)
        i = integer(i, "ConcatDataset", "index")
        if not -n <= i < n:
            raise IndexError(f"ConcatDataset: index {i} is out of range for {n} samples")
        i %= n
        k = bisect.bisect_right(self.cumulative_sizes, i)
        return self.datasets[k][i - (self.cumulative_sizes[k - 1] if k else 0)]


def random_split(dataset, lengths, generator=None):
    """Splits a dataset into non-overlapping Subsets of the given lengths (ints that sum to
    len(dataset), or fractions that sum to 1: the remainder goes one by one to the first
    parts, as PyTorch), from a random permutation drawn from ``generator`` (default: the
    current dlcore generator)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: fractions must be non-negative, got {lengths}")
        sizes = [int(math.floor(n * x)) for x in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    lengths = [integer(x, "random_split", "lengths", 0) for x in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the dataset has "
                         f"{n} samples")
    perm = randperm(n, generator=generator).tolist()
    out, pos = [], 0
    for m in lengths:
        out.append(Subset(dataset, perm[pos:pos + m]))
        pos += m
    return out


class Sampler:
    """Base of the samplers: iterating gives sample indices; len() is their number."""

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def indices(self):
        """The epoch's order as an int64 Tensor (what DataLoader reads)."""
        return tensor(list(iter(self)), dtype="int64")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each time it is iterated (drawn from ``generator``, default the
    current dlcore generator); with replacement=True, num_samples uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, bool(replacement), generator
        self._num = None if num_samples is None else integer(num_samples, "RandomSampler", "num_samples", 1)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num is None else self._num

    def indices(self):
        n = len(self.data_source)
        if self.replacement:
            return randint(0, n, (self.num_samples,), generator=self.generator)
        if self._num is None:
            return randperm(n, generator=self.generator)
        reps = -(-self._num // n)  # as many permutations as needed, cut to num_samples
        return cat([randperm(n, generator=self.generator) for _ in range(reps)])[:self._num]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new one each time)."""

    def __init__(self, indices, generator=None):
        self.idx = [integer(i, "SubsetRandomSampler", "indices") for i in indices]
        self.generator = generator

    def indices(self):
        perm = randperm(len(self.idx), generator=self.generator).tolist()
        return tensor([self.idx[i] for i in perm], dtype="int64")

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return len(self.idx)


def _search_sorted(cdf, u):
    """For each value of u, the number of entries of the non-decreasing 1-D float64 Tensor cdf
    that are <= it (NumPy's searchsorted(cdf, u, side="right")), in O((K + n) log) with one
    stable sort of both together: ties put cdf's entries first."""
    k = cdf.shape[0]
    order = argsort(cat([cdf, u]), stable=True)
    is_u = order >= k
    below = cumsum((~is_u).long(), 0)  # cdf entries up to each sorted position
    out = zeros(u.shape[0], dtype="int64")
    out[order[is_u] - k] = below[is_u]
    return out


class WeightedRandomSampler(Sampler):
    """num_samples indices drawn from [0, len(weights)) with probabilities proportional to
    ``weights`` (torch.utils.data.WeightedRandomSampler): with replacement (the default)
    independent draws by inverting the weights' cumulative sum at uniform numbers, else
    distinct indices (multinomial without replacement). Draws come from ``generator``
    (default: the current dlcore generator), a new set each time it is iterated; zero weights
    are never drawn."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        op = "WeightedRandomSampler"
        if isinstance(num_samples, bool):
            raise TypeError(f"{op}: num_samples must be a positive integer, got {num_samples!r}")
        self.num_samples = integer(num_samples, op, "num_samples", 1)
        if not isinstance(replacement, bool):
            raise TypeError(f"{op}: replacement must be a bool, got {type(replacement).__name__} {replacement!r}")
        w = (weights.detach().cpu() if isinstance(weights, Tensor) else tensor(weights)).double()
        if w.ndim != 1 or w.shape[0] == 0:
            raise ValueError(f"{op}: weights must be a non-empty 1-D sequence, got shape {tuple(w.shape)}")
        if bool(((w < 0) | w.isnan() | w.isinf()).any()) or not float(w.sum()) > 0:
            raise ValueError(f"{op}: weights must be finite and non-negative with a positive sum")
        positive = int((w > 0).sum())
        if not replacement and self.num_samples > positive:
            raise ValueError(f"{op}: cannot draw {self.num_samples} samples without replacement from "
                             f"{positive} non-zero weights")
        self.weights, self.replacement, self.generator = w, replacement, generator

    def indices(self):
        w = self.weights
        if not self.replacement:
            return multinomial(w, self.num_samples, False, generator=self.generator)
        cdf = cumsum(w, 0)
        u = rand(self.num_samples, dtype=float64, generator=self.generator) * cdf[-1]
        last = int(((w > 0).long() * arange(w.shape[0])).amax())  # u rounded up to the total: the last
        return minimum(_search_sorted(cdf, u), tensor(last))       # positive weight, never a zero one

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of batch_size (the last one shorter unless
    drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = integer(batch_size, "BatchSampler", "batch_size", 1)
        self.drop_last = bool(drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


WorkerInfo = namedtuple("WorkerInfo", ["id", "num_workers", "seed", "dataset"])
_worker = threading.local()


def get_worker_info():
    """In a DataLoader worker thread: WorkerInfo(id, num_workers, seed, dataset); else None."""
    return getattr(_worker, "info", None)


_MASK = (1 << 64) - 1


class DataLoader:
    """Iterates over a dataset in batches (torch.utils.data.DataLoader's arguments, in its
    order).

    DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
               num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
               worker_init_fn=None, multiprocessing_context=None, generator=None, *,
               prefetch_factor=None, persistent_workers=False, seed=None, transform=None,
               target_transform=None, as_tensors=True)

    - dataset: a Dataset, or a tuple of arrays (wrapped in TensorDataset), or an
      IterableDataset: its samples batched in the order it yields them, or passed on one by
      one with batch_size=None (shuffle, sampler and batch_sampler refused, as in PyTorch;
      read in the loading thread whatever num_workers).
    - shuffle: a new permutation every epoch, drawn from ``generator`` (a dlcore.Generator),
      else from Generator(seed) when seed is given, else from dlcore's default generator (so
      dlcore.manual_seed makes it reproducible).
    - sampler: the epoch's sample order - a PyTorch-style sampler (iterating gives indices) or
      an object with ``indices()`` giving an int64 Tensor (DistributedSampler: this process's
      shard); told the epoch (``set_epoch``) before each pass. batch_sampler: gives the
      batches' index lists itself. Both exclude shuffle; batch_sampler excludes batch_size,
      drop_last and sampler.
    - num_workers > 0: batches are fetched by that many worker threads, up to
      num_workers * prefetch_factor (default 2) batches ahead, and yielded in the same order
      as with num_workers=0 - the same batches. Threads run in parallel where the fetching
      releases the GIL (dlcore's index_select and tensor copies, NumPy's copies, file reads).
      Random draws made while fetching (a dataset's own augmentation, ``transform``) come
      from a generator per batch, derived from the loader's generator state at the start of
      the epoch and the batch number: reproducible under a seed whatever the scheduling, but
      not the draws num_workers=0 makes (as in PyTorch, whose workers are seeded apart).
      worker_init_fn(worker_id) runs in each worker; get_worker_info() tells a worker who it is.
      pin_memory, timeout (seconds to wait for a batch), persistent_workers and
      multiprocessing_context are accepted (pinning has no meaning on the CPU).
    - transform: applied to the inputs (first element) of every batch, e.g. RandomCrop; it is
      called as transform(batch_array) and may use the loader's generator.
    - as_tensors: yield dlcore Tensors (default) or NumPy arrays.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, seed=None, transform=None,
                 target_transform=None, as_tensors=True):
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, "
                                 "sampler and drop_last")
            batch_size = None
        elif batch_size is None and not isinstance(dataset, IterableDataset):
            raise ValueError("DataLoader: batch_size must be a positive integer, got None")
        if isinstance(dataset, IterableDataset):
            for name, given in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if given:
                    raise ValueError(f"DataLoader: an IterableDataset gives its samples in its own order, so "
                                     f"{name} must be left unspecified, got {name}={given!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the sampler "
                             "decides the order: DistributedSampler(..., shuffle=True))")
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.dataset = dataset
        self.batch_size = None if batch_size is None else integer(batch_size, "DataLoader", "batch_size", 1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = integer(num_workers, "DataLoader", "num_workers", 0)
        if prefetch_factor is not None and self.num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 (as in PyTorch)")
        self.prefetch_factor = 2 if prefetch_factor is None else integer(prefetch_factor, "DataLoader",
                                                                         "prefetch_factor", 1)
        self.timeout = _timeout_arg(timeout)
        self.worker_init_fn = worker_init_fn
        self.pin_memory, self.persistent_workers = bool(pin_memory), bool(persistent_workers)
        self.collate_fn = collate_fn
        self.transform = transform
        self.target_transform = target_transform
        self.as_tensors = as_tensors
        if generator is None and seed is not None:
            generator = Generator(seed)
        self.generator = generator
        self.epoch = 0

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        if isinstance(self.dataset, IterableDataset) and type(self.dataset).__len__ is Dataset.__len__:
            raise TypeError(f"DataLoader: the IterableDataset {type(self.dataset).__name__} has no __len__, "
                            f"so the number of batches is unknown")
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        if self.batch_size is None:  # an IterableDataset that yields whole batches
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _gen(self):
        return self.generator if self.generator is not None else current_generator()

    def state_dict(self):
        """Generator position (when the loader owns one) and epoch count."""
        g = self.generator
        return {"epoch": self.epoch, "generator": list(g.get_state()) if g is not None else None}

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        if state.get("generator") is not None:
            if self.generator is None:
                self.generator = Generator(0)
            self.generator.set_state(state["generator"])

    def _order(self):
        """This epoch's sample order: an int64 Tensor on the CPU."""
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self.epoch)
            if hasattr(self.sampler, "indices") and callable(self.sampler.indices):
                return self.sampler.indices()
            return tensor([int(i) for i in self.sampler], dtype="int64")
        n = len(self.dataset)
        if self.shuffle:
            return randperm(n, generator=self._gen())
        return arange(n)

    def _batches(self):
        """The epoch's batches of indices (int64 Tensors), in order."""
        if self.batch_sampler is not None:
            if hasattr(self.batch_sampler, "set_epoch"):
                self.batch_sampler.set_epoch(self.epoch)
            return [tensor([int(i) for i in b], dtype="int64") for b in self.batch_sampler]
        order = self._order()
        n = order.shape[0]
        stop = n - n % self.batch_size if self.drop_last else n
        return [order[s:s + self.batch_size] for s in range(0, stop, self.batch_size)]

    def _fetch(self, idx, gen=None):
        ds = self.dataset
        if self.collate_fn is None and hasattr(ds, "__getitems__"):
            batch = ds.__getitems__(idx)
        else:
            batch = (self.collate_fn or default_collate)([ds[i] for i in idx.tolist()])
        return self._finish(batch, gen)

    def _finish(self, batch, gen=None):
        """A collated batch through transform / target_transform, as Tensors unless as_tensors=False."""
        if self.transform is not None or self.target_transform is not None:
            single = not isinstance(batch, tuple)
            items = [batch] if single else list(batch)
            if self.transform is not None:
                items[0] = _call_transform(self.transform, items[0], gen or self._gen())
            if self.target_transform is not None and len(items) > 1:
                items[1] = self.target_transform(items[1])
            batch = items[0] if single else tuple(items)
        return _to_tensor(batch) if self.as_tensors else batch

    def _stream(self):
        """An IterableDataset's samples, batch_size at a time (the last batch shorter unless
        drop_last), collated in the loading thread; with batch_size=None each item as it comes
        (a stream of ready batches), through collate_fn when given."""
        self.epoch += 1
        if self.batch_size is None:
            for item in self.dataset:
                yield self._finish(item if self.collate_fn is None else self.collate_fn(item))
            return
        collate = self.collate_fn or default_collate
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._finish(collate(batch))
                batch = []
        if batch and not self.drop_last:
            yield self._finish(collate(batch))

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            yield from self._stream()
            return
        if self.num_workers == 0:
            batches = self._batches()
            self.epoch += 1
            for idx in batches:
                yield self._fetch(idx)
            return
        seed, counter = self._gen().get_state()  # before the order's draw: the workers' key
        batches = self._batches()
        self.epoch += 1
        yield from self._parallel(batches, seed, counter)

    def _parallel(self, batches, seed, counter):
        """Fetches the batches in worker threads, a bounded number ahead, yielding them in order."""
        nw = self.num_workers
        base = (seed * 0x9E3779B97F4A7C15 + counter * 0xBF58476D1CE4E5B9 + self.epoch) & _MASK
        ids = iter(range(nw))
        lock = threading.Lock()

        def init():
            with lock:
                wid = next(ids)
            _worker.info = WorkerInfo(wid, nw, (base + wid) & _MASK, self.dataset)
            if self.worker_init_fn is not None:
                self.worker_init_fn(wid)

        def job(b, idx):
            g = Generator((base ^ ((b + 1) * 0xD1B54A32D192ED03)) & _MASK)
            with use_generator(g):
                return self._fetch(idx, g)

        pool = ThreadPoolExecutor(max_workers=nw, initializer=init, thread_name_prefix="dlcore-data")
        pending = collections.deque()
        try:
            nxt = 0
            while nxt < len(batches) and len(pending) < nw * self.prefetch_factor:
                pending.append(pool.submit(job, nxt, batches[nxt]))
                nxt += 1
            while pending:
                fut = pending.popleft()
                try:
                    batch = fut.result(timeout=self.timeout or None)
                except FutureTimeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds waiting for a "
                                       f"batch from its workers") from None
                if nxt < len(batches):
                    pending.append(pool.submit(job, nxt, batches[nxt]))
                    nxt += 1
                yield batch
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)


def _timeout_arg(t):
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        raise ValueError(f"DataLoader: timeout must be a non-negative number of seconds, got {t!r}")
    return float(t)


def _launcher_world():
    """(rank, size) of this process as MPI launchers publish them (Open MPI's mpirun, then
    MPICH / Intel MPI's PMI), (0, 1) outside a launcher. dlcore.distributed.init() reads the same
    numbers from MPI itself."""
    for r, n in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")):
        if os.environ.get(r) is not None and os.environ.get(n) is not None:
            return int(os.environ[r]), int(os.environ[n])
    return 0, 1


class DistributedSampler:
    """This process's shard of a dataset in a data-parallel job of ``num_replicas`` processes.

    DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                       drop_last=False, batch_size=1, generator=None, even=True)

    - dataset: a dataset, or its length.
    - num_replicas, rank: default from the MPI launcher's environment (mpirun), else 1 and 0.
    - Order: each epoch a permutation of the whole dataset that every process draws alike: from
      ``generator`` when given (it must be in the same state in every process, e.g. dlcore's
      default generator after dlcore.distributed.init), else from Generator(seed) placed at the
      epoch (``set_epoch``; the DataLoader sets it) - the same permutations, epoch by epoch, as
      DataLoader(dataset, shuffle=True, seed=seed) draws in one process. shuffle=False: 0..n-1.
    - Sharding without overlap: the order is cut into global batches of
      num_replicas * batch_size; process r takes the r-th of the num_replicas equal, consecutive
      parts of each. With the loader's batch_size as ``batch_size``, the k-th batches of the
      processes, in rank order, are exactly the k-th batch of num_replicas * batch_size of one
      process. batch_size=1 interleaves like PyTorch's DistributedSampler.
    - even=True: every process gets the same number of samples (needed for training, where every
      step is a collective): the order is padded by repeating its start (or, drop_last=True,
      cut) to a multiple of num_replicas. even=False (evaluation): no sample is repeated or
      dropped; the last global batch is split as evenly as it goes.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False,
                 batch_size=1, generator=None, even=True):
        self.n = dataset if isinstance(dataset, int) else len(dataset)
        launcher_rank, launcher_size = _launcher_world()
        self.num_replicas = launcher_size if num_replicas is None else int(num_replicas)
        self.rank = launcher_rank if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in [0, num_replicas="
                             f"{self.num_replicas})")
        if int(batch_size) < 1:
            raise ValueError(f"DistributedSampler: batch_size must be a positive integer, got {batch_size}")
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.batch_size, self.generator, self.even = int(batch_size), generator, bool(even)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def _total(self):
        """How many positions of the epoch's order are dealt out (padded or cut when even)."""
        n, w = self.n, self.num_replicas
        if not self.even:
            return n
        return n - n % w if self.drop_last else -(-n // w) * w

    def _bounds(self):
        """[start, stop) of this rank's part of every global batch of the first _total() positions."""
        total, w, r = self._total(), self.num_replicas, self.rank
        step = w * self.batch_size
        return [(s - (-m * r // w), s - (-m * (r + 1) // w))  # ceil: lower ranks take the remainder
                for s in range(0, total, step) for m in (min(step, total - s),)]

    def __len__(self):
        return sum(hi - lo for lo, hi in self._bounds())

    def _order(self):
        n = self.n
        if not self.shuffle:
            return arange(n)
        g = self.generator
        if g is None:  # DataLoader(shuffle=True, seed=seed)'s epoch-th permutation
            g = Generator(self.seed)
            g.counter = self.epoch * _perm_blocks(n)
        return randperm(n, generator=g)

    def indices(self):
        """This process's sample order for the epoch: an int64 Tensor."""
        order = self._order()
        total = self._total()
        if total > self.n:  # pad by repeating the start of the order (PyTorch's rule)
            reps = -(-total // self.n)
            order = cat([order] * reps)
        parts = [order[lo:hi] for lo, hi in self._bounds() if hi > lo]
        return cat(parts) if parts else arange(0)

    def __iter__(self):
        return iter(self.indices().tolist())


def _perm_blocks(n):
    """Philox blocks one randperm(n) takes from its generator."""
    g = Generator(0)
    g.take(float64, n)
    return g.counter


def _call_transform(t, x, gen):
    x = _arr(x)
    if getattr(t, "_uses_generator", False):
        return t(x, generator=gen)
    return t(x)


# ---- splits, scaling, one-hot ------------------------------------------------------------------

def train_val_test_split(*arrays, ratios=(0.8, 0.1, 0.1), stratify=None, seed=0, shuffle=True):
    """Splits arrays (same first dimension) into train / validation / test parts.

    ratios: three fractions (normalised to sum 1) - e.g. (0.7, 0.15, 0.15); a ratio may be 0.
    stratify: labels (N,) to keep class proportions equal in every part (per class, the counts
    are rounded so that the parts add up). seed: the shuffle seed (NumPy's PCG64; this is data
    preparation, not training).
    Returns (train, val, test); each is a tuple of arrays, or a single array when one array is given.
    """
    if not arrays:
        raise ValueError("train_val_test_split: needs at least one array")
    arrs = [_arr(a) for a in arrays]
    n = arrs[0].shape[0]
    for i, a in enumerate(arrs):
        if a.shape[0] != n:
            raise ValueError(f"train_val_test_split: array {i} has {a.shape[0]} samples, array 0 has {n}")
    r = np.asarray(ratios, dtype=np.float64)
    if r.shape != (3,) or np.any(r < 0) or r.sum() <= 0:
        raise ValueError(f"train_val_test_split: ratios must be three non-negative numbers, got {ratios}")
    r = r / r.sum()
    rng = np.random.default_rng(seed)

    def cut(idx):
        m = idx.shape[0]
        if shuffle:
            idx = idx[rng.permutation(m)]
        n_tr = int(round(r[0] * m))
        n_va = int(round(r[1] * m))
        n_va = min(n_va, m - n_tr)
        return idx[:n_tr], idx[n_tr:n_tr + n_va], idx[n_tr + n_va:]

    if stratify is None:
        parts = cut(np.arange(n))
    else:
        labels = _arr(stratify).reshape(-1)
        if labels.shape[0] != n:
            raise ValueError(f"train_val_test_split: stratify has {labels.shape[0]} labels for {n} samples")
        pieces = [[], [], []]
        for c in np.unique(labels):
            for k, p in enumerate(cut(np.flatnonzero(labels == c))):
                pieces[k].append(p)
        parts = []
        for k in range(3):
            p = np.concatenate(pieces[k]) if pieces[k] else np.zeros(0, np.int64)
            parts.append(p[rng.permutation(p.shape[0])] if shuffle else np.sort(p))
    out = []
    for p in parts:
        sel = tuple(a[p] for a in arrs)
        out.append(sel[0] if len(sel) == 1 else sel)
    return tuple(out)


class StandardScaler:
    """x -> (x - mean) / std per feature (axis 0); constant features get std 1."""

    def __init__(self, with_mean=True, with_std=True, axis=0):
        self.with_mean, self.with_std, self.axis = with_mean, with_std, axis
        self.mean_ = self.scale_ = None

    def fit(self, x):
        x = _arr(x).astype(np.float64)
        self.mean_ = x.mean(self.axis, keepdims=True) if self.with_mean else np.zeros((1,) * x.ndim)
        s = x.std(self.axis, keepdims=True) if self.with_std else np.ones((1,) * x.ndim)
        self.scale_ = np.where(s > 0, s, 1.0)
        return self

    def _check(self):
        if self.mean_ is None:
            raise RuntimeError(f"{type(self).__name__}: call fit() before transform()")

    def transform(self, x):
        self._check()
        a = _arr(x)
        dt = a.dtype if a.dtype.kind == "f" else np.float32
        return ((a - self.mean_) / self.scale_).astype(dt)

    def inverse_transform(self, x):
        self._check()
        a = _arr(x)
        return (a * self.scale_ + self.mean_).astype(a.dtype if a.dtype.kind == "f" else np.float32)

    def fit_transform(self, x):
        return self.fit(x).transform(x)


class MinMaxScaler(StandardScaler):
    """x -> (x - min) / (max - min) * (hi - lo) + lo per feature; constant features map to lo."""

    def __init__(self, feature_range=(0.0, 1.0), axis=0):
        super().__init__(axis=axis)
        self.feature_range = feature_range

    def fit(self, x):
        x = _arr(x).astype(np.float64)
        lo, hi = self.feature_range
        mn = x.min(self.axis, keepdims=True)
        rng = x.max(self.axis, keepdims=True) - mn
        rng = np.where(rng > 0, rng, 1.0)
        self.scale_ = rng / (hi - lo)
        self.mean_ = mn - lo * self.scale_
        return self


def to_categorical(y, num_classes=None, dtype="float32"):
    """Integer labels (any shape) -> one-hot with a trailing class axis (Keras's to_categorical)."""
    y = _arr(y).astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


one_hot = to_categorical


# ---- augmentation ------------------------------------------------------------------------------

def _uniform(n, gen, low=0.0, high=1.0):
    return rand(n, dtype="float64", generator=gen).numpy() * (high - low) + low  # host data: the augmentations run in NumPy


class Compose:
    _uses_generator = True

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x, generator=None):
        for t in self.transforms:
            x = t(x, generator=generator) if getattr(t, "_uses_generator", False) else t(x)
        return x


class RandomHorizontalFlip:
    """Flips each image of a batch (..., H, W) left-right with probability p."""

    _uses_generator = True

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, x, generator=None):
        x = _arr(x)
        flip = _uniform(x.shape[0], generator or current_generator()) < self.p
        out = np.array(x, copy=True)
        out[flip] = x[flip][..., ::-1]
        return out


class RandomCrop:
    """Pads each image (..., H, W) by ``padding`` (zeros) and crops a random size x size window
    (size defaults to the original H, W): random translation by up to ``padding`` pixels."""

    _uses_generator = True

    def __init__(self, size=None, padding=4, fill=0.0):
        self.size = (size, size) if isinstance(size, int) else size
        self.padding, self.fill = integer(padding, "RandomCrop", "padding", 0), fill

    def __call__(self, x, generator=None):
        x = _arr(x)
        g = generator or current_generator()
        H, W = x.shape[-2:]
        h, w = self.size or (H, W)
        p = self.padding
        pad = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
        xp = np.pad(x, pad, constant_values=self.fill)
        n = x.shape[0]
        top = np.floor(_uniform(n, g, 0, H + 2 * p - h + 1)).astype(np.int64)
        left = np.floor(_uniform(n, g, 0, W + 2 * p - w + 1)).astype(np.int64)
        rows = top[:, None] + np.arange(h)[None, :]   # (n, h)
        cols = left[:, None] + np.arange(w)[None, :]  # (n, w)
        ni = np.arange(n)[:, None, None]
        if x.ndim == 4:
            out = xp[ni, :, rows[:, :, None], cols[:, None, :]]  # (n, h, w, C)
            return np.ascontiguousarray(np.moveaxis(out, -1, 1))
        return np.ascontiguousarray(xp[ni, rows[:, :, None], cols[:, None, :]])


class RandomRotation:
    """Rotates each image (..., H, W) by a random angle in [-degrees, degrees] about its centre
    (bilinear interpolation, zeros outside)."""

    _uses_generator = True

    def __init__(self, degrees=10.0, fill=0.0):
        self.degrees, self.fill = float(degrees), fill

    def __call__(self, x, generator=None):
        x = _arr(x)
        g = generator or current_generator()
        n = x.shape[0]
        H, W = x.shape[-2:]
        ang = _uniform(n, g, -self.degrees, self.degrees) * (math.pi / 180.0)
        cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
        yy, xx = np.meshgrid(np.arange(H) - cy, np.arange(W) - cx, indexing="ij")
        c, s = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
        # inverse map: output pixel (y, x) samples the input at R(-angle) (y, x)
        sx = c * xx + s * yy + cx
        sy = -s * xx + c * yy + cy
        x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        fx, fy = sx - x0, sy - y0
        flat = x.reshape(n, -1, H, W)
        out = np.zeros(flat.shape, np.float64)
        idx = np.arange(n)[:, None, None]
        for dy, dx, wgt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                            (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
            yi, xi = y0 + dy, x0 + dx
            ok = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            vals = flat[idx, :, np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)]  # (n, H, W, C)
            vals = np.where(ok[..., None], vals, self.fill)
            out += np.moveaxis(vals, -1, 1) * wgt[:, None]
        return out.astype(x.dtype if x.dtype.kind == "f" else np.float32).reshape(x.shape)
