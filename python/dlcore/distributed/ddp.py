"""Data parallelism for the PyTorch-style loop: broadcast from rank 0, the bucketed gradient
allreduce that overlaps backward (GradientReducer), the DistributedDataParallel wrapper and
SyncBatchNorm. docs/distributed.md has the guarantees and the measurements."""
from __future__ import annotations

import contextlib
import time

from .. import _C
from ..autograd import Function
from ..nn.module import Module, register
from ..nn.norm import _BatchNorm
from ..tensor import Tensor, cat, current_generator
from .comm import init, world
from .comm import world as _world

__all__ = ["broadcast_parameters", "broadcast_buffers", "broadcast_generator", "GradientReducer",
           "DistributedDataParallel", "SyncBatchNorm"]

_MB = 1 << 20


def _host_flat(dtype, n):
    return _C.empty((int(n),), dtype)


def _tensors(obj, buffers=True):
    """The parameters (and buffers) of a Module, or the given tensors, without None."""
    if isinstance(obj, Module):
        ts = list(obj.parameters()) + (list(obj.buffers()) if buffers else [])
    elif isinstance(obj, Tensor):
        ts = [obj]
    else:
        ts = list(obj)
    return [t for t in ts if t is not None]


def _broadcast(tensors, root, what):
    """Overwrites each tensor with rank root's values: one broadcast per dtype of a host buffer
    packed from the tensors (any device)."""
    w = world()
    if w.size == 1:
        return
    groups = {}
    for t in tensors:
        groups.setdefault(t.dtype, []).append(t)
    for dtype, ts in groups.items():
        flat = _host_flat(dtype, sum(t.numel() for t in ts))
        views, o = [], 0
        for t in ts:
            n = t.numel()
            views.append(flat[o:o + n].reshape(tuple(t.shape)))
            o += n
        if w.rank == root:
            for t, v in zip(ts, views):
                _C.copy(t._data, v)
        w.broadcast_(flat, root, f"{what} ({len(ts)} {dtype} tensors)")
        if w.rank != root:
            for t, v in zip(ts, views):
                _C.copy(v, t._data)


def broadcast_parameters(module_or_tensors, root=0):
    """Gives every rank rank ``root``'s parameters and buffers (a Module) or tensors, in place
    (the tensors keep their identity, so optimizers made from them stay valid)."""
    _broadcast(_tensors(module_or_tensors), root, "broadcast_parameters")


def broadcast_buffers(module, root=0):
    """Gives every rank rank ``root``'s buffers (BatchNorm's running statistics)."""
    _broadcast([b for b in module.buffers() if b is not None], root, "broadcast_buffers")


def broadcast_generator(generator=None, root=0):
    """Gives every rank rank ``root``'s generator state (seed, counter), so shuffles and dropout
    masks are drawn alike everywhere."""
    w = world()
    g = generator or current_generator()
    if w.size == 1:
        return g
    seed, counter = g.get_state()
    state = _C.from_object([seed - (1 << 64) if seed >= 1 << 63 else seed, counter], _C.int64)
    w.broadcast_(state, root, "broadcast_generator")
    seed, counter = state.tolist()
    g.set_state((seed + (1 << 64) if seed < 0 else seed, counter))
    return g


class _Bucket:
    """Parameters of one dtype whose gradients are reduced together through one host buffer."""

    __slots__ = ("index", "dtype", "params", "views", "flat", "ready", "task", "nbytes")

    def __init__(self, index, dtype):
        self.index, self.dtype, self.params, self.views = index, dtype, [], []
        self.flat, self.ready, self.task, self.nbytes = None, 0, None, 0


class GradientReducer:
    """Averages the gradients of ``params`` over all ranks during backward.

    The parameters, in reverse order (about the order backward finishes them), are packed into
    buckets of one dtype: the first closes at ``first_bucket_mb`` (so communication starts
    early), the others at ``bucket_cap_mb``. A post-accumulate-grad hook on every parameter
    counts the gradients of its bucket; the moment a bucket is complete its gradients are copied
    into its host buffer and its allreduce (sum) is handed to the communication thread while
    backward goes on. Buckets are launched in index order, so every rank issues the same
    collectives in the same order. When the last bucket is launched (the end of backward) the
    reducer waits for all, scales by 1/world_size and copies the averages back into ``.grad``:
    when ``loss.backward()`` returns the gradients are averaged.

    ``enabled = False`` (DistributedDataParallel.no_sync) leaves gradients local, to accumulate.
    ``world``: the process group (default: this process's, dlcore.distributed.init).
    ``overlap=False`` launches every bucket only when backward has produced all gradients.
    ``stats`` (sums over steps): seconds the allreduces waited for the last rank (wait_s) and
    then ran (comm_s), seconds backward waited for them at its end (exposed_s), seconds of
    packing / unpacking (copy_s)."""

    def __init__(self, params, bucket_cap_mb=4.0, first_bucket_mb=1.0, world=None, overlap=True):
        self.world = world or _world()
        seen, ps = set(), []
        for p in params:
            if p is not None and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                ps.append(p)
        self.params = ps
        self.buckets = []
        cur = None
        for p in reversed(ps):
            cap = (first_bucket_mb if len(self.buckets) == 1 else bucket_cap_mb) * _MB
            if cur is None or cur.dtype != p.dtype or cur.nbytes >= cap:
                cur = _Bucket(len(self.buckets), p.dtype)
                self.buckets.append(cur)
            cur.params.append(p)
            cur.nbytes += p._data.nbytes
        self._bucket_of = {}
        for b in self.buckets:
            b.flat, o = _host_flat(b.dtype, sum(p.numel() for p in b.params)), 0
            for p in b.params:
                n = p.numel()
                b.views.append(b.flat[o:o + n].reshape(tuple(p.shape)))
                o += n
                self._bucket_of[id(p)] = b
        self.enabled = True
        self.overlap = bool(overlap)
        self._n_ready = 0
        self._next = 0
        self.stats = {"steps": 0, "wait_s": 0.0, "comm_s": 0.0, "exposed_s": 0.0, "copy_s": 0.0}
        self._handles = ([p.register_post_accumulate_grad_hook(self._on_grad) for p in ps]
                         if self.world.size > 1 else [])

    def __repr__(self):
        return (f"GradientReducer({len(self.params)} parameters in {len(self.buckets)} buckets: "
                f"{[round(b.nbytes / _MB, 2) for b in self.buckets]} MB)")

    def remove(self):
        """Takes the hooks off the parameters."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def _on_grad(self, p):
        if not self.enabled:
            return
        b = self._bucket_of[id(p)]
        b.ready += 1
        self._n_ready += 1
        if not self.overlap and self._n_ready < len(self.params):
            return
        while self._next < len(self.buckets) and self.buckets[self._next].ready == len(self.buckets[self._next].params):
            self._launch(self.buckets[self._next])
            self._next += 1
        if self._next == len(self.buckets):
            self._finish()

    def _launch(self, b):
        t = time.perf_counter()
        for p, v in zip(b.params, b.views):
            _C.copy(p.grad._data, v)
        self.stats["copy_s"] += time.perf_counter() - t
        b.task = self.world.allreduce_async(
            b.flat, f"gradient allreduce (bucket {b.index + 1} of {len(self.buckets)}, "
                    f"{b.nbytes / _MB:.2f} MB)")

    def _finish(self):
        t = time.perf_counter()
        for b in self.buckets:
            self.world.wait(b.task)
        t2 = time.perf_counter()
        scale = 1.0 / self.world.size
        for b in self.buckets:
            _C.multi_scale([b.flat], scale)
            for p, v in zip(b.params, b.views):
                _C.copy(v, p.grad._data)
            self.stats["wait_s"] += b.task.t_ready - b.task.t_start
            self.stats["comm_s"] += b.task.t_end - b.task.t_ready
            b.ready, b.task = 0, None
        self._next = self._n_ready = 0
        st = self.stats
        st["steps"] += 1
        st["exposed_s"] += t2 - t
        st["copy_s"] += time.perf_counter() - t2

    def check_finished(self):
        """Raises when the last backward left a bucket incomplete: some parameters got no
        gradient (not used in the forward), so their bucket could never be reduced."""
        if any(b.ready for b in self.buckets):
            missing = [i for i, p in enumerate(self.params)
                       if self._bucket_of[id(p)].ready and p.grad is None]
            raise RuntimeError(
                "dlcore.distributed: the last backward did not produce gradients for every "
                f"parameter (parameters {missing[:10]} of the reducer's list got none), so their "
                "buckets were never reduced. Every parameter given to DistributedDataParallel must "
                "take part in every forward; freeze the others (requires_grad_(False)) first.")


class DistributedDataParallel(Module):
    """Wraps a module for data-parallel training in the PyTorch-style loop (PyTorch's
    DistributedDataParallel contract): construction joins the job (dlcore.distributed.init),
    gives every rank rank 0's parameters, buffers and generator state, and attaches a
    GradientReducer; ``loss.backward()`` then returns with the gradients averaged over all
    ranks, so each rank's optimizer takes the same step.

    forward runs the module with dropout masks drawn as this rank's part of the global batch
    (rank r's batch is part r of the N parts; see DistributedSampler(batch_size=...)) and, with
    broadcast_buffers=True, first gives every rank rank 0's buffers (BatchNorm running
    statistics: per-process batch statistics as in PyTorch DDP; SyncBatchNorm synchronises them).
    State dict keys carry the 'module.' prefix; save ``ddp.module`` to get the plain names."""

    def __init__(self, module, bucket_cap_mb=4.0, first_bucket_mb=1.0, broadcast_buffers=True,
                 generator=None, overlap=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        self.module = module
        self.world = init()
        self.generator = generator or current_generator()
        self.broadcast_buffers = bool(broadcast_buffers)
        broadcast_parameters(module)
        broadcast_generator(self.generator)
        self.reducer = GradientReducer(module.parameters(), bucket_cap_mb, first_bucket_mb, overlap=overlap)

    def forward(self, *args, **kwargs):
        self.reducer.check_finished()
        if self.broadcast_buffers and self.training and self.world.size > 1:
            broadcast_buffers(self.module)
        with self.generator.sharded(self.world.rank, self.world.size):
            return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside keep their gradients local (accumulating); the first backward
        after the block averages the accumulated sums."""
        prev = self.reducer.enabled
        self.reducer.enabled = False
        try:
            yield
        finally:
            self.reducer.enabled = prev


# ---- SyncBatchNorm ----------------------------------------------------------------------------

def _T(a):
    return Tensor._wrap(a)


class _SyncBatchNormFn(Function):
    """Batch norm with the statistics of the whole global batch: forward gathers every rank's
    (count, mean, biased variance) per channel in float64 and combines them (Chan et al.) in
    rank order, identically on every rank; backward sums d(bias) and d(weight)-like terms over
    all ranks, which gives each rank the gradient of the sum of all ranks' losses for its part of
    the input (the reducer's 1/world_size then makes it the global mean's)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, factor, eps, w):
        C = x.shape[1]
        axes = [0] + list(range(2, x.ndim))
        x64 = x if x.dtype == _C.float64 else x.astype(_C.float64)
        local = cat([_T(_C.full((1,), x.size // C, _C.float64)),
                     _T(_C.reduce(_C.Reduce.mean, x64, axes)),
                     _T(_C.reduce(_C.Reduce.var, x64, axes, False, 0.0))])._data.to("cpu")
        g = _T(w.allgather(local, "SyncBatchNorm statistics").to(x.device)).reshape(w.size, 2 * C + 1)
        n, means, vars_ = g[:, :1], g[:, 1:C + 1], g[:, C + 1:]
        m = float(n.sum().item())
        mean = (n * means).sum(0) / m
        var = (n * (vars_ + (means - mean) ** 2)).sum(0) / m
        if running_mean is not None:
            _C.copy((_T(running_mean) * (1.0 - factor) + mean * factor)._data.astype(running_mean.dtype), running_mean)
        if running_var is not None:
            unbiased = var * (m / max(m - 1.0, 1.0))
            _C.copy((_T(running_var) * (1.0 - factor) + unbiased * factor)._data.astype(running_var.dtype), running_var)
        y, smean, sinvstd = _C.batch_norm_forward(x, weight, bias, mean._data.astype(x.dtype),
                                                  var._data.astype(x.dtype), False, 0.0, eps)
        ctx.save_for_backward(x, weight, smean, sinvstd)
        ctx.count, ctx.world = m, w
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, mean, invstd = ctx.saved_tensors
        w = ctx.world
        dx_local, dweight, dbias = _C.batch_norm_backward(gy, x, weight, mean, invstd, False)
        C = x.shape[1]
        sums = cat([_T(dbias.astype(_C.float64)), _T(dweight.astype(_C.float64))])._data.to("cpu")
        w.allreduce_(sums, "SyncBatchNorm backward sums")
        sums = _T(sums.to(x.device).astype(x.dtype))
        shape = (1, C) + (1,) * (x.ndim - 2)
        k = _T(invstd) * (1.0 / ctx.count)
        if weight is not None:
            k = k * _T(weight)
        xhat = (_T(x) - _T(mean).reshape(shape)) * _T(invstd).reshape(shape)
        dx = _T(dx_local) - k.reshape(shape) * (sums[:C].reshape(shape) + xhat * sums[C:].reshape(shape))
        need = ctx.needs_input_grad
        return (dx._data if need[0] else None, dweight if need[1] else None,
                dbias if need[2] else None, None, None, None, None, None)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *) whose training statistics are those of the global batch (every
    rank's part together), so N processes with batch B normalise exactly like one process with
    batch N*B (up to rounding); running statistics are updated from the global statistics,
    identically on every rank. Outside a job of several processes, or in eval mode, it is the
    plain BatchNorm. ``SyncBatchNorm.convert_sync_batchnorm(model)`` swaps every BatchNorm."""

    _ndims = (2, 3, 4, 5)
    _expect = "(N, C, *) with 2 to 5 dims"

    def _normalize(self, x, running_mean, running_var, use_batch, factor):
        if not (self.training and use_batch):
            return super()._normalize(x, running_mean, running_var, use_batch, factor)
        w = world()
        if w.size == 1:
            return super()._normalize(x, running_mean, running_var, use_batch, factor)
        raw = (lambda t: None if t is None else t._data)
        return _SyncBatchNormFn.apply(x, self.weight, self.bias, raw(running_mean), raw(running_var),
                                      float(factor), float(self.eps), w)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        """Replaces every BatchNorm1d/2d/3d in ``module`` by a SyncBatchNorm holding the same
        Parameter and buffer objects (optimizers already made keep working); returns the module
        (or the replacement, when ``module`` itself is a BatchNorm)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            new = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats)
            new._parameters.update(module._parameters)
            new._buffers.update(module._buffers)
            new.train(module.training)
            return new
        for name, child in list(module._modules.items()):
            module._modules[name] = cls.convert_sync_batchnorm(child)
        return module


register(SyncBatchNorm, "distributed.SyncBatchNorm")
