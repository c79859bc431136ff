"""Data parallelism for the Keras-style loop: ``model.fit(..., distributed=True)`` or
``distributed=DataParallel(...)`` (a distribution strategy object), and the reduction of the
loss and metrics over ranks for the logs.

In fit, ``batch_size`` is the global batch (Keras's convention under a distribution strategy):
each of N processes takes batch_size / N samples per step, so one command line trains the same
model with 1 or N processes. Callbacks see logs reduced over all ranks, so EarlyStopping,
ReduceLROnPlateau and the like decide alike everywhere; the callbacks marked rank_zero_only
(progress, checkpoints, CSV logs) run on rank 0 only."""
from __future__ import annotations

import contextlib
import copy

from .. import _C
from ..data import DistributedSampler
from ..tensor import Tensor, cat, current_generator
from .comm import init, weighted_mean
from .ddp import GradientReducer, SyncBatchNorm, broadcast_buffers, broadcast_generator, broadcast_parameters

__all__ = ["DataParallel", "reduce_metrics", "strategy", "run", "FitRun"]


class DataParallel:
    """Distribution strategy for fit / evaluate: data parallel over the processes of the MPI job.

    bucket_cap_mb, first_bucket_mb, overlap: gradient buckets (GradientReducer). sync_batchnorm: replace
    the model's BatchNorm layers by SyncBatchNorm (statistics of the global batch) at the start
    of fit. broadcast_buffers: give every rank rank 0's buffers before each step (PyTorch DDP's
    default; per-process batch statistics otherwise). After fit, ``reducer`` is the
    GradientReducer it used (``reducer.stats``: communication timings)."""

    reducer = None

    def __init__(self, bucket_cap_mb=4.0, first_bucket_mb=1.0, sync_batchnorm=False, broadcast_buffers=True,
                 overlap=True):
        self.bucket_cap_mb, self.first_bucket_mb = float(bucket_cap_mb), float(first_bucket_mb)
        self.overlap = bool(overlap)
        self.sync_batchnorm, self.broadcast_buffers = bool(sync_batchnorm), bool(broadcast_buffers)

    def __repr__(self):
        return (f"DataParallel(bucket_cap_mb={self.bucket_cap_mb}, first_bucket_mb={self.first_bucket_mb}, "
                f"sync_batchnorm={self.sync_batchnorm}, broadcast_buffers={self.broadcast_buffers})")


def strategy(spec):
    """fit's ``distributed`` argument as a DataParallel, or None for single-process training."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return DataParallel()
    if isinstance(spec, DataParallel):
        return spec
    raise TypeError(f"distributed must be True, False or a dlcore.distributed.DataParallel, got {spec!r}")


class FitRun:
    """The distributed side of one fit / evaluate call (made by ``run(spec)``)."""

    def __init__(self, strat):
        self.strategy = strat
        self.world = init()
        self.reducer = None
        self.model = None

    @property
    def rank(self):
        return self.world.rank

    def local_batch(self, batch_size, what="fit"):
        n = self.world.size
        if int(batch_size) % n:
            raise ValueError(f"{what}(distributed=...): batch_size is the global batch and must be a "
                             f"multiple of the {n} processes, got {batch_size}")
        return int(batch_size) // n

    def sampler(self, n, local_batch, shuffle, even=True):
        """This rank's shard of n samples; the permutation comes from the current generator (the model's in fit),
        whose state every rank shares (broadcast at the first step), like one process's fit."""
        return DistributedSampler(n, self.world.size, self.world.rank, shuffle=shuffle,
                                  batch_size=local_batch, generator=current_generator(), even=even)

    def check_loader(self, loader):
        s = getattr(loader, "sampler", None)
        if not (isinstance(s, DistributedSampler) and s.num_replicas == self.world.size):
            raise ValueError("fit(distributed=...): a data loader must shard its data: "
                             "DataLoader(dataset, batch_size=B, sampler=dlcore.data.DistributedSampler("
                             "dataset, batch_size=B)); otherwise every process trains on the same batches")

    def callbacks(self, cbs):
        """The callbacks this rank runs: all on rank 0, the others without rank_zero_only ones."""
        return list(cbs) if self.rank == 0 else [c for c in cbs if not getattr(c, "rank_zero_only", False)]

    def attach(self, model, optimizer):
        """At the first step (the model is built, its optimizer made): SyncBatchNorm if asked,
        rank 0's weights and generator state everywhere, the gradient hooks on the optimizer's
        parameters."""
        self.model = model
        if self.strategy.sync_batchnorm:
            SyncBatchNorm.convert_sync_batchnorm(model)
        broadcast_parameters(model)
        broadcast_generator(current_generator())
        params = [p for g in optimizer.param_groups for p in g["params"]]
        self.reducer = GradientReducer(params, self.strategy.bucket_cap_mb, self.strategy.first_bucket_mb,
                                       overlap=self.strategy.overlap)
        self.reducer.enabled = False  # only inside step(): an exception leaves no live hooks behind
        self.strategy.reducer = self.reducer  # its buckets and timing statistics, after fit too

    def detach(self):
        if self.reducer is not None:
            self.reducer.remove()

    @contextlib.contextmanager
    def step(self):
        """Around one training step: rank 0's buffers first (broadcast_buffers), dropout masks
        as this rank's part of the global batch."""
        if self.strategy.broadcast_buffers and self.world.size > 1:
            broadcast_buffers(self.model)
        self.reducer.enabled = True
        try:
            with current_generator().sharded(self.world.rank, self.world.size):
                yield
        finally:
            self.reducer.enabled = False

    def reduce_step(self, loss, n):
        """(mean loss of the global batch, its size) from this rank's (mean loss, size)."""
        mean, count = weighted_mean(loss, n)
        return mean, int(count)

    def any(self, flag, what="stop flag"):
        """True on every rank when it is True on any."""
        if self.world.size == 1:
            return bool(flag)
        buf = _C.from_object([1.0 if flag else 0.0], _C.float64)
        self.world.allreduce_(buf, what)
        return buf.tolist()[0] > 0

    def reduce_mean(self, mean):
        """The global value of a metrics.Mean over everything the ranks added."""
        return reduce_metrics([mean], self.world)[0]

    def metric_logs(self, metrics, prefix=""):
        return {prefix + m.name: v for m, v in zip(metrics, reduce_metrics(metrics, self.world))}


def run(spec):
    """A FitRun for fit's / evaluate's ``distributed`` argument, or None."""
    s = strategy(spec)
    return FitRun(s) if s is not None else None


def _number(v):
    return v.item() if isinstance(v, Tensor) else float(v)


def reduce_metrics(metrics, w):
    """Each streaming metric's result over the union of what every rank's copy has seen.

    Metrics keeping sums (``total`` / ``count``: Mean, the accuracies, MSE / MAE, function
    metrics) are summed in one allreduce; a confusion matrix (``cm``: precision / recall / F1)
    is summed (grown to the largest seen); AUC's kept labels and scores are gathered. Any other
    metric is averaged over ranks. The metrics themselves are left unchanged."""
    if w.size == 1:
        return [float(m.result()) for m in metrics]
    sums = [m for m in metrics if hasattr(m, "total") and hasattr(m, "count")]
    out = {}
    if sums:
        buf = _C.from_object([x for m in sums for x in (_number(m.total), _number(m.count))], _C.float64)
        w.allreduce_(buf, "metric allreduce")
        vals = buf.tolist()
        for i, m in enumerate(sums):
            g = copy.copy(m)
            g.total, g.count = vals[2 * i], vals[2 * i + 1]
            out[id(m)] = float(g.result())
    for m in metrics:
        if id(m) in out:
            continue
        g = copy.copy(m)
        if hasattr(m, "cm"):
            k = _C.from_object([0.0 if m.cm is None else float(m.cm.shape[0])], _C.float64)
            k = int(w.allreduce_(k, "confusion matrix size", op="max").tolist()[0])
            cm = _C.zeros((k, k), _C.float64)
            if m.cm is not None:
                j = m.cm.shape[0]
                cm[:j, :j] = m.cm._data.to("cpu")
            g.cm = Tensor._wrap(w.allreduce_(cm, "confusion matrix allreduce")) if k else None
        elif hasattr(m, "t") and hasattr(m, "s"):
            t = cat(m.t)._data.astype(_C.float64).to("cpu") if m.t else _C.empty((0,), _C.float64)
            s = cat(m.s)._data.astype(_C.float64).to("cpu") if m.s else _C.empty((0,), _C.float64)
            g.t = [Tensor._wrap(w.allgather(t, "AUC labels"))]
            g.s = [Tensor._wrap(w.allgather(s, "AUC scores"))]
            if g.t[0].numel() == 0:
                g.t, g.s = [], []
        else:
            buf = _C.from_object([float(m.result())], _C.float64)
            out[id(m)] = w.allreduce_(buf, "metric allreduce").tolist()[0] / w.size
            continue
        out[id(m)] = float(g.result())
    return [out[id(m)] for m in metrics]
