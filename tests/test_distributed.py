"""dlcore.distributed: data parallelism that reproduces single-process training.

In one process: the gradient reducer's buckets and their order (against a stand-in peer),
SyncBatchNorm's arithmetic, DistributedDataParallel / fit(distributed=True) in a world of one.
Under ``mpirun -np 2`` (skipped without mpirun or mpi4py): every rank ends with the same bits;
an MLP with dropout and a CNN with BatchNorm trained by 2 processes with batch B match one
process with batch 2B (within float tolerance: the batch sums are split differently) and, bitwise,
one process accumulating the two micro-batches (the same sums in the same order); SyncBatchNorm
matches BatchNorm over the global batch; Keras-style fit; a dead, hung or failing rank ends the
job with a clear error in bounded time; a job restarted from rank 0's checkpoint ends like an
uninterrupted one; the main job runs under mpirun."""
import os
import pathlib
import shutil
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import dlcore
import dlcore.distributed as dist
import dlcore.nn.functional as F
from dlcore import _C, nn
from dlcore.distributed.ddp import _SyncBatchNormFn

import distributed_cases as cases

HERE = pathlib.Path(__file__).resolve().parent
MPIRUN = shutil.which("mpirun")


def _mpi_missing():
    if MPIRUN is None:
        return "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
    r = subprocess.run([sys.executable, "-c", "from mpi4py import MPI"], capture_output=True, timeout=120)
    if r.returncode:
        return "mpi4py or its MPI library is missing (pip install 'dlcore[distributed]')"
    return None


MPI_MISSING = _mpi_missing()
requires_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=MPI_MISSING or "")


def mpirun(n, args, timeout=300, env=None):
    """Runs `python args...` as n MPI ranks on this host; returns (returncode, output, seconds)."""
    cmd = [MPIRUN, "-np", str(n)]
    version = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        cmd += ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    e = dict(os.environ)
    pkg = str(pathlib.Path(dlcore.__file__).resolve().parent.parent)
    e["PYTHONPATH"] = os.pathsep.join([pkg, str(HERE)] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e.setdefault("DLCORE_DIST_TIMEOUT", "60")
    e.update(env or {})
    t = time.monotonic()
    r = subprocess.run(cmd + [sys.executable] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, env=e)
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t


# ---- one process -------------------------------------------------------------------------------

def test_outside_a_launcher_the_world_is_this_process():
    w = dist.init()
    assert (w.rank, w.size, w.local_rank) == (0, 1, 0) and dist.world_size() == 1 and dist.init() is w
    assert dist.is_initialized()


def test_threads_per_process_share_the_cores():
    from dlcore.distributed.comm import _threads_per_process
    cores = os.cpu_count()
    assert _threads_per_process(1) == min(len(os.sched_getaffinity(0)), cores)
    assert _threads_per_process(cores) == 1 and _threads_per_process(4 * cores) == 1


class _Twin:
    """A stand-in for a peer rank holding the same gradients: the sum doubles them."""

    size, rank = 2, 0

    def __init__(self):
        self.launched = []

    def allreduce_async(self, arr, what):
        self.launched.append(what)
        _C.multi_scale([arr], 2.0)
        return types.SimpleNamespace(t_start=0.0, t_ready=0.0, t_end=0.0)

    def wait(self, task):
        return task


def test_reducer_buckets_launch_in_order_during_backward():
    """Parameters are bucketed in reverse order (first bucket small); every bucket is launched,
    in index order, before backward returns, and the averaged gradients equal the local ones."""
    ref = cases.mlp()
    x, y = cases.data(16)
    F.cross_entropy(ref(dlcore.tensor(x)), dlcore.tensor(y)).backward()
    model = cases.mlp()
    twin = _Twin()
    red = dist.GradientReducer(model.parameters(), bucket_cap_mb=0.0005, first_bucket_mb=0.0005, world=twin)
    names = [n for n, _ in model.named_parameters()]
    assert [p for b in red.buckets for p in b.params] == list(model.parameters())[::-1]
    assert len(red.buckets) >= 3 and all(b.nbytes >= 0.0005 * 2 ** 20 for b in red.buckets[:-1])
    F.cross_entropy(model(dlcore.tensor(x)), dlcore.tensor(y)).backward()
    assert [w.split(" (")[1].split(",")[0] for w in twin.launched] == \
        [f"bucket {i + 1} of {len(red.buckets)}" for i in range(len(red.buckets))]
    for n, p, q in zip(names, model.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy(), err_msg=n)
    assert red.stats["steps"] == 1
    red.enabled = False  # no_sync: gradients stay local
    F.cross_entropy(model(dlcore.tensor(x)), dlcore.tensor(y)).backward()
    assert len(twin.launched) == len(red.buckets)
    red.enabled = True
    model[1].weight.requires_grad_(False)  # a parameter without gradient leaves its bucket open
    model.zero_grad()
    F.cross_entropy(model(dlcore.tensor(x)), dlcore.tensor(y)).backward()
    with pytest.raises(RuntimeError, match="did not produce gradients for every parameter"):
        red.check_finished()
    red.remove()


class _Solo:
    size, rank = 1, 0

    def allgather(self, arr, what):
        return arr

    def allreduce_(self, arr, what, op="sum"):
        return arr


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 2, 3)])
def test_sync_batchnorm_arithmetic_matches_batch_norm(shape):
    """The synchronised path (statistics combined from per-rank counts, means and variances;
    backward from globally summed terms) against batch_norm, float64: forward, running
    statistics and all three gradients."""
    r = np.random.default_rng(1)
    xs = r.standard_normal(shape) * 3 + 1
    C = shape[1]
    outs = []
    for sync in (False, True):
        x = dlcore.tensor(xs, requires_grad=True)
        w = dlcore.tensor(r.standard_normal(C) if not outs else outs[0][5], requires_grad=True)
        b = dlcore.tensor(np.linspace(-1, 1, C), requires_grad=True)
        rm, rv = dlcore.zeros(C, dtype="float64"), dlcore.ones(C, dtype="float64")
        if sync:
            y = _SyncBatchNormFn.apply(x, w, b, rm._data, rv._data, 0.1, 1e-5, _Solo())
        else:
            y = F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5)
        (y * dlcore.tensor(np.cos(np.arange(y.numel())).reshape(shape))).sum().backward()
        outs.append([t.detach().numpy() for t in (y, rm, rv, x.grad, b.grad, w)] + [w.grad.numpy()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_convert_sync_batchnorm_keeps_the_parameters_and_buffers():
    net = cases.cnn()
    params = list(net.parameters())
    dist.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(net[1], dist.SyncBatchNorm) and isinstance(net[5], dist.SyncBatchNorm)
    assert all(p is q for p, q in zip(params, net.parameters()))
    bn = nn.BatchNorm1d(3)
    assert isinstance(dist.SyncBatchNorm.convert_sync_batchnorm(bn), dist.SyncBatchNorm)


def test_ddp_and_fit_in_a_world_of_one_are_plain_training():
    """With one process nothing is reduced: DistributedDataParallel and fit(distributed=True)
    give the bits of plain training."""
    a = cases.single_batch("mlp", "adam", 1)
    net = cases.mlp()
    model = dist.DistributedDataParallel(net)
    assert model.reducer._handles == [] and "module.1.weight" in model.state_dict()
    opt = cases.make_opt("adam", net.parameters())
    x, y = cases.data()
    for xb, yb in dlcore.data.DataLoader((x, y), batch_size=cases.B, shuffle=True, seed=cases.SEED):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    for k, v in cases.state(net).items():
        np.testing.assert_array_equal(v, a[k], err_msg=k)
    plain, one = cases.keras(False), cases.keras(True)
    for k in plain:
        np.testing.assert_array_equal(plain[k], one[k], err_msg=k)


def test_fit_distributed_argument_checks():
    model = dlcore.Sequential([nn.Linear(4, 2)])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="distributed must be True, False or a dlcore.distributed.DataParallel"):
        model.fit(np.ones((4, 4)), np.ones((4, 2)), distributed="yes", verbose=0)
    assert dist.strategy.strategy(True).sync_batchnorm is False


def test_only_rank_zero_prints_and_writes():
    cb = dlcore.callbacks
    assert cb.ProgbarLogger.rank_zero_only and cb.ModelCheckpoint.rank_zero_only and cb.CSVLogger.rank_zero_only
    assert not cb.EarlyStopping.rank_zero_only and not cb.LearningRateScheduler.rank_zero_only


def test_metric_reduction_in_a_world_of_one():
    ms = [dlcore.metrics.get(m) for m in ("accuracy", "precision", "auc", "mse")]
    y, p = dlcore.tensor([0, 1, 1, 0]), dlcore.tensor([0.2, 0.7, 0.4, 0.1])
    for m in ms:
        m.update_state(y, p)
    assert dist.reduce_metrics(ms, dist.init()) == [float(m.result()) for m in ms]


# ---- mpirun -np 2 -------------------------------------------------------------------------------

RUNS = ["mlp-sgd", "mlp-adam", "cnn-adam", "cnn_sync-sgd", "keras"]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Runs every case as 2 ranks (one mpirun); returns load(case, rank) -> dict of arrays."""
    out = tmp_path_factory.mktemp("dist")
    rc, log, _ = mpirun(2, [HERE / "distributed_cases.py", out] + RUNS)
    assert rc == 0, log
    return lambda case, r: dict(np.load(out / f"{case}.rank{r}.npz"))


@requires_mpi
@pytest.mark.parametrize("case", RUNS)
def test_every_rank_ends_with_the_same_bits(ranks, case):
    """Parameters, optimizer steps and logs agree bit for bit on every rank. Per-process
    BatchNorm statistics are the exception (as in PyTorch DDP): each rank's running statistics
    are rank 0's until the last forward, then updated from its own batch - rank 0 saves them."""
    a, b = ranks(case, 0), ranks(case, 1)
    assert a.keys() == b.keys()
    for k in a:
        if case == "cnn-adam" and "running" in k:
            continue
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _close(got, want, keys, rtol, atol):
    for k in keys:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


@requires_mpi
def test_two_processes_batch_b_match_one_process_batch_2b_mlp_with_dropout(ranks):
    """Within float tolerance: one process sums each weight gradient over 2B rows in one GEMM,
    two processes sum B rows each and then add the two sums. The dropout masks are the same
    (each rank draws its rows' part of the global mask), else the difference would be O(1). The
    logged loss (weighted_mean over ranks) is the global batch's."""
    got, want = ranks("mlp-sgd", 0), cases.single_batch("mlp", "sgd", 2)
    _close(got, want, want, 2e-5, 2e-6)


@requires_mpi
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_two_processes_match_micro_batch_accumulation_bitwise(ranks, model):
    """Bitwise: when one process accumulates the two micro-batches (losses scaled by 1/2), every
    sum is the one the ranks compute, and the allreduce of 2 ranks adds the same two numbers
    (scaling by 1/2 is exact). With per-process BatchNorm (PyTorch DDP's behaviour) each micro-
    batch is normalised by its own statistics in both runs."""
    got, want = ranks(f"{model}-adam", 0), cases.single_accumulated(model, "adam", 2)
    params = [k for k in want if "running" not in k and "num_batches" not in k and k != "_losses"]
    for k in params:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@requires_mpi
def test_sync_batchnorm_matches_batch_norm_over_the_global_batch(ranks):
    """SyncBatchNorm: 2 ranks with batch B normalise with the statistics of all 2B samples, like
    one process's BatchNorm with batch 2B, running statistics included (within tolerance: the
    statistics are combined from per-rank parts)."""
    got, want = ranks("cnn_sync-sgd", 0), cases.single_batch("cnn_sync", "sgd", 2)
    _close(got, want, want, 2e-5, 2e-6)


@requires_mpi
def test_keras_fit_distributed_matches_one_process(ranks):
    """fit(distributed=True) with the global batch: weights within tolerance, and the logged
    loss, accuracy and validation values are those of the whole data (reduced over ranks)."""
    got, want = ranks("keras", 0), cases.keras(False)
    _close(got, want, want, 2e-5, 2e-6)


FAULT = """
import os, signal, sys, time
import dlcore, dlcore.distributed as dist
w = dist.init()
model = dist.DistributedDataParallel(dlcore.nn.Linear(8, 2))
for step in range(50):
    if step == 3 and w.rank == 1:
        if sys.argv[1] == "hang":
            time.sleep(600)
        elif sys.argv[1] == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            raise ValueError("a bug on rank 1")
    model(dlcore.ones(4, 8)).sum().backward()
"""


@requires_mpi
@pytest.mark.parametrize("mode", ["hang", "die", "raise"])
def test_a_hung_dead_or_failing_rank_ends_the_job_with_a_clear_error(mode, tmp_path):
    script = tmp_path / "fault.py"
    script.write_text(FAULT)
    rc, log, seconds = mpirun(2, [script, mode], timeout=120, env={"DLCORE_DIST_TIMEOUT": "3"})
    assert rc != 0 and seconds < 60, (rc, seconds, log)
    if mode == "hang":
        assert "rank 0 of 2" in log and "gradient allreduce (bucket 1 of 1" in log
        assert "did not complete within 3 s" in log
    elif mode == "die":
        assert "rank 0 of 2" in log and "terminated by the launcher" in log
    else:
        assert "ValueError: a bug on rank 1" in log and "rank 1 of 2" in log and "uncaught ValueError" in log


@requires_mpi
def test_restart_from_rank_zero_checkpoint_matches_an_uninterrupted_run(tmp_path):
    """3 epochs uninterrupted, against: rank 1 killed at the start of epoch 3 (the job fails,
    rank 0's checkpoint of epoch 2 stays whole), then a new job resumed from it."""
    script = HERE / "distributed_cases.py"
    rc, log, _ = mpirun(2, [script, tmp_path, "keras_resume_full"])
    assert rc == 0, log
    rc, log, _ = mpirun(2, [script, tmp_path, "keras_resume_crash"])
    assert rc != 0 and (tmp_path / "ckpt.safetensors").exists(), log
    assert not list(tmp_path.glob(".ckpt*.tmp"))  # no half-written temporary left behind
    assert dlcore.load_model(tmp_path / "ckpt.safetensors").completed_epochs == 2
    rc, log, _ = mpirun(2, [script, tmp_path, "keras_resume_restart"])
    assert rc == 0, log
    full = dict(np.load(tmp_path / "keras_resume_full.rank0.npz"))
    resumed = dict(np.load(tmp_path / "keras_resume_restart.rank0.npz"))
    for k in (k for k in full if k.startswith("w")):
        np.testing.assert_array_equal(resumed[k], full[k], err_msg=k)
    np.testing.assert_array_equal(resumed["h_loss"], full["h_loss"][2:])


@requires_mpi
@pytest.mark.skipif(not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
                    and not os.environ.get("DLCORE_DATA"), reason="Fashion-MNIST not installed")
def test_main_job_runs_under_mpirun():
    rc, log, _ = mpirun(2, ["-m", "dlcore.examples.cli", "fashion-mnist", "--model", "cnn", "--limit", "512",
                            "--epochs", "1", "--verbose", "2"], timeout=600)
    assert rc == 0, log
    assert log.count("test accuracy") == 1 and "2 processes" in log, log
