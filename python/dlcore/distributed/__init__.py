"""dlcore.distributed: data-parallel training over MPI processes, identical to one process.

Launch N processes with ``mpirun -np N python train.py`` (one host, or several with
``--hostfile``); docs/distributed.md has the launch lines, a hostfile, the equivalence
guarantees, BatchNorm's behaviour, the fault behaviour and measurements.

PyTorch-style loop::

    import dlcore, dlcore.distributed as dist
    w = dist.init()                                   # rank, size, local_rank; threads per process
    model = dist.DistributedDataParallel(net)         # rank 0's weights everywhere
    sampler = dlcore.data.DistributedSampler(ds, batch_size=B, seed=0)
    for x, y in dlcore.data.DataLoader(ds, batch_size=B, sampler=sampler):
        opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()   # grads averaged in backward
        mean_loss, n = dist.weighted_mean(loss, len(y))   # the global batch's, on every rank
        if w.rank == 0: print(mean_loss)                  # only rank 0 prints and saves

Keras-style: ``model.fit(x, y, batch_size=GLOBAL, distributed=True)`` (or
``distributed=dist.DataParallel(sync_batchnorm=True)``).

Layout: comm.py (init, the World and its collectives; the only mpi4py importer), ddp.py
(broadcasts, GradientReducer, DistributedDataParallel, SyncBatchNorm), strategy.py (fit's
DataParallel strategy, metric reduction).
"""
from .comm import (DistributedError, World, barrier, init, is_initialized, local_rank, rank, weighted_mean, world,
                   world_size)
from .ddp import (DistributedDataParallel, GradientReducer, SyncBatchNorm, broadcast_buffers, broadcast_generator,
                  broadcast_parameters)
from .strategy import DataParallel, reduce_metrics
from ..data import DistributedSampler

__all__ = ["DistributedError", "World", "init", "is_initialized", "world", "rank", "world_size", "local_rank",
           "barrier", "weighted_mean", "broadcast_parameters", "broadcast_buffers", "broadcast_generator", "GradientReducer",
           "DistributedDataParallel", "SyncBatchNorm", "DataParallel", "reduce_metrics", "DistributedSampler"]
