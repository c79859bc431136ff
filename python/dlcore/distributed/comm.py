"""The process group: this process's place in an MPI job and the collectives dlcore uses.

The only module of dlcore that imports mpi4py. ``init()`` initialises MPI (thread level
"multiple"), takes a private duplicate of COMM_WORLD, finds the ranks on this host, sizes
dlcore's thread pool so the processes of one host never oversubscribe its cores, and starts one
communication thread. After init every MPI call of dlcore runs on that thread, one collective
at a time in the order the main thread submitted them (the same order in every process, so
collectives always match). Each collective starts with a non-blocking barrier polled with a
growing sleep - a rank waiting for slower peers leaves its core to the compute threads, and the
wait is bounded - and then runs as the blocking MPI call, which uses the library's fastest
algorithms (Open MPI's blocking allreduce is 2-5x faster than its non-blocking one for 1-4 MB
here) while every rank is known to be inside it.

Faults: a collective that has not completed after ``timeout`` seconds (a peer died, hangs or
left the training loop) prints which collective, on which rank, and calls MPI_Abort, which ends
every process of the job; an uncaught exception in any rank does the same after its traceback;
a rank that the launcher terminates (SIGTERM, e.g. because a peer died) says so before exiting.

Buffers cross into MPI as host memory through the buffer protocol of a contiguous CPU
``_C.Array`` (zero-copy): that is the transport edge; callers stage device tensors on the host.
"""
from __future__ import annotations

import atexit
import os
import queue
import signal
import socket
import sys
import threading
import time

from .. import _C
from ..data import _launcher_world

__all__ = ["DistributedError", "World", "init", "is_initialized", "world", "rank", "world_size",
           "local_rank", "barrier", "weighted_mean"]

DEFAULT_TIMEOUT = 600.0  # seconds; DLCORE_DIST_TIMEOUT or init(timeout=) override it


class DistributedError(RuntimeError):
    """A collective failed (MPI error) - timeouts abort the job instead (see module docstring)."""


class _Task:
    """One collective submitted to the communication thread: ``run()`` makes the blocking MPI
    call once every rank has arrived. Times: t_start (the thread took it), t_ready (all ranks
    arrived), t_end (done)."""

    __slots__ = ("what", "run", "done", "error", "t_start", "t_ready", "t_end")

    def __init__(self, what, run):
        self.what, self.run = what, run
        self.done = threading.Event()
        self.error = None
        self.t_start = self.t_ready = self.t_end = None


class World:
    """This process in the job: rank, size, local_rank / local_size (ranks on this host), host,
    timeout, and the collectives over host buffers (``_C.Array``s, contiguous, on the CPU)."""

    def __init__(self, rank=0, size=1, local_rank=0, local_size=1, comm=None, mpi=None,
                 timeout=DEFAULT_TIMEOUT):
        self.rank, self.size = rank, size
        self.local_rank, self.local_size = local_rank, local_size
        self.host = socket.gethostname()
        self.timeout = float(timeout)
        self._comm, self._mpi = comm, mpi
        self._queue = None
        self._thread = None
        self.wait_seconds = 0.0  # statistics: time collectives waited for the last rank to arrive
        self.comm_seconds = 0.0  # ... and then took to run

    def __repr__(self):
        return (f"World(rank={self.rank}, size={self.size}, local_rank={self.local_rank}, "
                f"local_size={self.local_size}, host={self.host!r})")

    # ---- the communication thread --------------------------------------------------------------

    def _start(self):
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="dlcore-mpi", daemon=True)
        self._thread.start()

    def _stop(self):
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5.0)

    def _loop(self):
        while True:
            task = self._queue.get()
            if task is None:
                return
            task.t_start = task.t_ready = time.perf_counter()
            try:
                self._poll(task, self._comm.Ibarrier())
                task.t_ready = time.perf_counter()
                task.run()
            except BaseException as e:  # an MPI error: handed to the waiting main thread
                task.error = e
            task.t_end = time.perf_counter()
            self.wait_seconds += task.t_ready - task.t_start
            self.comm_seconds += task.t_end - task.t_ready
            task.done.set()

    def _poll(self, task, request):
        """Waits for the barrier that opens a collective: Test in a loop, sleeping 20 us doubling
        to 250 us between tries after the first 100 us (waiting costs no core, and a late arrival
        is noticed within a quarter millisecond); aborts the job at the timeout."""
        t0 = time.monotonic()
        deadline = t0 + self.timeout
        nap = 0.0
        while not request.Test():
            now = time.monotonic()
            if now > deadline:
                self.abort(f"{task.what} did not complete within {self.timeout:g} s: another rank "
                           f"died, hangs, or left the training loop early")
            if now - t0 > 1e-4:
                nap = min(2 * nap or 2e-5, 2.5e-4)
                time.sleep(nap)

    def submit(self, what, run):
        """Queues a collective (``run()`` makes the blocking MPI call); returns the task to wait on."""
        task = _Task(what, run)
        self._queue.put(task)
        return task

    def wait(self, task):
        """Blocks until the task completed; raises DistributedError for an MPI error. A task not
        done after twice the timeout means the communication thread is stuck inside MPI (a rank
        died during a collective): the job is aborted."""
        if not task.done.wait(2 * self.timeout + 10.0):
            self.abort(f"{task.what}: the communication thread did not answer within "
                       f"{2 * self.timeout + 10.0:g} s")
        if task.error is not None:
            raise DistributedError(f"rank {self.rank}: {task.what} failed: {task.error}") from task.error
        return task

    def abort(self, message, code=1):
        """Prints the reason with this rank's identity, then ends the whole job (MPI_Abort)."""
        sys.stderr.write(f"\ndlcore.distributed: rank {self.rank} of {self.size} on {self.host}: "
                         f"{message}; aborting the job\n")
        sys.stderr.flush()
        if self._comm is not None:
            self._mpi.COMM_WORLD.Abort(code)
        os._exit(code)

    # ---- collectives on host buffers -----------------------------------------------------------

    @staticmethod
    def _buf(arr):
        if arr.device != "cpu" or not arr.is_contiguous():
            raise ValueError("dlcore.distributed: collectives take contiguous CPU arrays "
                             f"(got {arr.device}, contiguous={arr.is_contiguous()})")
        return memoryview(arr)

    def allreduce_async(self, arr, what="allreduce"):
        """Starts summing ``arr`` in place over all ranks; returns a task for ``wait``."""
        buf = self._buf(arr)
        return self.submit(what, lambda: self._comm.Allreduce(self._mpi.IN_PLACE, buf, op=self._mpi.SUM))

    def allreduce_(self, arr, what="allreduce", op="sum"):
        """Sums (op='max': maximum of) ``arr`` in place over all ranks."""
        if self.size == 1:
            return arr
        buf = self._buf(arr)
        mop = self._mpi.MAX if op == "max" else self._mpi.SUM
        self.wait(self.submit(what, lambda: self._comm.Allreduce(self._mpi.IN_PLACE, buf, op=mop)))
        return arr

    def broadcast_(self, arr, root=0, what="broadcast"):
        """Overwrites ``arr`` with rank ``root``'s."""
        if self.size == 1:
            return arr
        buf = self._buf(arr)
        self.wait(self.submit(what, lambda: self._comm.Bcast(buf, root=root)))
        return arr

    def allgather(self, arr, what="allgather"):
        """Every rank's ``arr`` (1-D, same dtype, any lengths) concatenated in rank order."""
        if self.size == 1:
            return arr
        counts = _C.full((self.size,), 0, _C.int64)
        counts[self.rank] = arr.size  # each rank fills its slot, the sum gathers them
        self.allreduce_(counts, what + " (sizes)")
        sizes = [int(c) for c in counts.tolist()]
        out = _C.empty((sum(sizes),), arr.dtype)
        send, recv = self._buf(arr.contiguous()), self._buf(out)
        self.wait(self.submit(what, lambda: self._comm.Allgatherv(send, [recv, sizes])))
        return out

    def barrier(self, what="barrier"):
        if self.size > 1:
            self.wait(self.submit(what, lambda: None))  # the opening barrier is the barrier


_world = None


def is_initialized():
    return _world is not None


def world():
    """The World of this process (init() on first use)."""
    return _world if _world is not None else init()


def rank():
    return world().rank


def world_size():
    return world().size


def local_rank():
    return world().local_rank


def barrier():
    world().barrier()


def weighted_mean(value, weight=1.0):
    """(sum of value * weight / sum of weight, sum of weight) over all ranks, e.g. a batch's
    mean loss and size: the figures to log in a PyTorch-style loop (the same on every rank)."""
    w = world()
    value = value.item() if hasattr(value, "item") else float(value)
    if w.size == 1:
        return value, weight
    buf = _C.from_object([value * weight, float(weight)], _C.float64)
    total, count = w.allreduce_(buf, "weighted_mean").tolist()
    return (total / count if count else 0.0), count


def _threads_per_process(local_size):
    """Cores this process may use so that the local_size processes of this host share them
    without oversubscription: the cores it is bound to (mpirun binds each of 2 ranks to a
    core), capped at the host's cores divided among its processes."""
    try:
        bound = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        bound = os.cpu_count() or 1
    return max(1, min(bound, (os.cpu_count() or 1) // max(local_size, 1)))


def init(timeout=None, threads="auto"):
    """Joins the MPI job this process was launched in (``mpirun -np N python train.py``) and
    returns its World; later calls return the same World.

    timeout: seconds a collective may wait for its peers before the job is aborted with an
    error naming the collective (default $DLCORE_DIST_TIMEOUT or 600). threads: dlcore threads
    of this process; "auto" keeps DLCORE_NUM_THREADS / OMP_NUM_THREADS when set, else gives
    each process of a host an equal share of its cores (1 thread each for 2 processes on 2
    cores). Without mpi4py, or outside a launcher, the world is this one process."""
    global _world
    if _world is not None:
        return _world
    if timeout is None:
        timeout = float(os.environ.get("DLCORE_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    if float(timeout) <= 0:
        raise ValueError(f"dlcore.distributed.init: timeout must be positive seconds, got {timeout}")
    launched_size = _launcher_world()[1]
    try:
        import mpi4py
        mpi4py.rc.thread_level = "multiple"
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as e:  # no mpi4py, or no MPI library for it
        if launched_size > 1:
            raise ImportError(f"dlcore.distributed: this process is one of {launched_size} MPI ranks, "
                              f"but MPI cannot be used from Python ({e}): pip install 'dlcore[distributed]' "
                              "(mpi4py) with an MPI library, e.g. apt-get install openmpi-bin "
                              "libopenmpi-dev") from None
        _world = World(timeout=timeout)
        return _world
    if MPI.Query_thread() < MPI.THREAD_SERIALIZED:
        raise DistributedError("dlcore.distributed: the MPI library gives no thread support above "
                               "FUNNELED; dlcore's communication thread needs SERIALIZED or MULTIPLE")
    comm = MPI.COMM_WORLD.Dup()  # dlcore's own communicator: user MPI traffic never interleaves
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    w = World(comm.Get_rank(), comm.Get_size(), node.Get_rank(), node.Get_size(), comm, MPI, timeout)
    node.Free()
    if threads == "auto":
        if not (os.environ.get("DLCORE_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")):
            _C.set_num_threads(_threads_per_process(w.local_size))
    elif threads is not None:
        _C.set_num_threads(int(threads))
    if w.size > 1:
        w._start()
        atexit.register(w._stop)  # registered after mpi4py's MPI_Finalize, so it runs first
        _install_fault_handlers(w)
    _world = w
    return w


def _install_fault_handlers(w):
    """An uncaught exception in any rank ends the job (instead of leaving the others waiting in
    a collective); SIGTERM from the launcher is reported before exiting."""
    previous = sys.excepthook

    def excepthook(tp, value, tb):
        previous(tp, value, tb)
        if not issubclass(tp, KeyboardInterrupt):
            w.abort(f"uncaught {tp.__name__} (traceback above)")

    sys.excepthook = excepthook

    def on_term(signum, frame):
        sys.stderr.write(f"\ndlcore.distributed: rank {w.rank} of {w.size} on {w.host}: terminated by "
                         f"the launcher (signal {signum}), most likely because another rank of the "
                         "job failed (see the launcher's report)\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
