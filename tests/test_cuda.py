"""CUDA kernels against the CPU kernels. Skipped on machines without a CUDA device; the
build-level checks below run everywhere."""
import numpy as np
import pytest

import dlcore
from conftest import cuda_array, host_array, requires_cuda


def test_cuda_absent_is_a_clear_error_not_a_crash():
    if dlcore.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="cuda"):
        dlcore.ones(3).to("cuda")
    assert dlcore.config()["cuda_available"] is False


@pytest.mark.parametrize("make", [lambda: dlcore.zeros(2, device="cuda"), lambda: dlcore.ones(2, device="cuda"),
                                  lambda: dlcore.full((2,), 1.0, device="cuda"), lambda: dlcore.randn(2, device="cuda"),
                                  lambda: dlcore.arange(3, device="cuda"), lambda: dlcore.eye(2, device="cuda")])
def test_device_argument_without_a_gpu_is_a_clear_error(make):
    if dlcore.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="cuda"):
        make()


def test_device_cpu_argument_is_accepted():
    assert dlcore.zeros(2, 3, device="cpu").device == "cpu"
    assert dlcore.randn(4, device="cpu", requires_grad=True).requires_grad


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="unknown device"):
        dlcore.ones(2).to("tpu")


def _close(dev, ref, rtol=1e-5, atol=1e-6):
    assert dev.device == "cuda:0"
    np.testing.assert_allclose(host_array(dev), np.asarray(ref), rtol=rtol, atol=atol)


@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "lt"])
def test_binary_matches_cpu(op):
    r = np.random.default_rng(0)
    a = r.standard_normal((4, 1, 5)).astype(np.float32)
    b = r.standard_normal((3, 1)).astype(np.float32)
    C = dlcore._C
    code = getattr(C.Binary, op)
    ref = C.binary(code, a, b)
    dev = C.binary(code, cuda_array(a), cuda_array(b))
    _close(dev, ref)


@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "relu", "abs"])
def test_unary_matches_cpu(op):
    x = np.random.default_rng(1).standard_normal((7, 9)).astype(np.float32)
    C = dlcore._C
    code = getattr(C.Unary, op)
    _close(C.unary(code, cuda_array(x)), C.unary(code, x))


@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var", "argmax"])
@pytest.mark.parametrize("axes", [None, [0], [1, 2]])
def test_reduce_matches_cpu(op, axes):
    x = np.random.default_rng(2).standard_normal((5, 6, 7)).astype(np.float64)
    C = dlcore._C
    code = getattr(C.Reduce, op)
    _close(C.reduce(code, cuda_array(x), axes, True), C.reduce(code, x, axes, True), rtol=1e-10, atol=1e-12)


@requires_cuda
@pytest.mark.cuda
def test_strided_copy_roundtrip():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    d = cuda_array(x).permute(2, 0, 1)
    np.testing.assert_array_equal(host_array(d.contiguous()), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(host_array(d), x.transpose(2, 0, 1))


@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_matches_cpu(ta, tb):
    r = np.random.default_rng(3)
    a = r.standard_normal((2, 33, 17)).astype(np.float32)
    b = r.standard_normal((17, 65)).astype(np.float32)
    C = dlcore._C
    da, db = cuda_array(a), cuda_array(b)
    if ta:
        da = cuda_array(np.ascontiguousarray(a.transpose(0, 2, 1))).permute(0, 2, 1)
    if tb:
        db = cuda_array(np.ascontiguousarray(b.T)).permute(1, 0)
    _close(C.matmul(da, db), C.matmul(a, b), rtol=1e-4, atol=1e-4)


# ---- memory queries, the cuda_check script and the trainer's device logic (CPU-testable) -------

def test_memory_queries_without_cuda_are_zero_and_harmless():
    if dlcore.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert dlcore.cuda.memory_allocated() == 0
    assert dlcore.cuda.max_memory_allocated() == 0
    assert dlcore.cuda.memory_reserved() == 0
    assert set(dlcore.cuda.memory_stats()) == {"allocated_bytes", "peak_allocated_bytes", "reserved_bytes",
                                               "device_allocs", "device_frees"}
    dlcore.cuda.reset_peak_memory_stats()
    dlcore.cuda.empty_cache()
    dlcore.cuda.synchronize()
    assert issubclass(dlcore.cuda.OutOfMemoryError, RuntimeError)


@pytest.mark.parametrize("device", [None, 0, "cuda", "cuda:0"])
def test_memory_queries_take_torchs_device_arguments(device):
    assert dlcore.cuda.memory_allocated(device) >= 0


@pytest.mark.parametrize("device", [1, "cuda:1", "cpu", "gpu"])
def test_memory_queries_refuse_other_devices_by_name(device):
    with pytest.raises(ValueError, match="dlcore.cuda.max_memory_allocated: .*device"):
        dlcore.cuda.max_memory_allocated(device)


def test_cuda_check_script_exits_early_without_a_gpu(tmp_path):
    """bench/cuda_check.sh on a machine whose nvidia-smi lists no GPU (here: a stand-in that
    fails, as nvidia-smi does without a driver) stops before building, with status 2."""
    import os
    import pathlib
    import subprocess
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'\n"
                    "exit 9\n")
    fake.chmod(0o755)
    script = pathlib.Path(__file__).resolve().parent.parent / "bench" / "cuda_check.sh"
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert "no NVIDIA GPU found" in r.stderr
    assert "built" not in r.stdout and "pytest" not in r.stdout  # stopped before building or testing


def test_trainer_moves_every_batch_to_the_model_device(monkeypatch):
    """fit / evaluate / predict / train_on_batch hand each batch to _on_device, which moves it
    to the model's device: checked on the CPU by reporting a stand-in device and recording the
    moves (a CUDA run is in tests/test_cuda_training.py)."""
    from dlcore import trainer
    model = dlcore.Sequential([dlcore.nn.Linear(3, 2)])
    model.compile(optimizer="sgd", loss="mse")
    moved = []

    def fake_to_device(t, device):
        if t is not None:
            moved.append((device, tuple(t.shape)))
        return t
    monkeypatch.setattr(trainer, "_to_device", fake_to_device)
    monkeypatch.setattr(type(model), "_device", lambda self: "cuda:7")
    x = np.ones((10, 3), np.float32)
    y = np.zeros((10, 2), np.float32)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert moved and all(d == "cuda:7" for d, _ in moved)
    assert {s for _, s in moved} == {(4, 3), (2, 3), (4, 2), (2, 2)}  # inputs and targets, every batch
    for call in (lambda: model.evaluate(x, y, batch_size=5), lambda: model.predict(x, batch_size=5),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        moved.clear()
        call()
        assert moved and all(d == "cuda:7" for d, _ in moved)


def test_model_device_follows_parameters_and_to():
    model = dlcore.Sequential([dlcore.nn.Linear(3, 2)])
    assert str(model._device()) == "cpu"
    lazy = dlcore.Sequential([dlcore.layers.Dense(2)])  # no weights yet
    assert lazy._device() is None
    lazy.to("cpu")
    assert lazy._device() == "cpu"  # remembered for the lazy weights made on the first batch
    lazy.compile(optimizer="sgd", loss="mse")
    lazy.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    assert all(str(p.device) == "cpu" for p in lazy.parameters())


def test_optimizer_state_follows_module_to():
    """Module.to after the optimizer made its state: the next step moves the state to the
    parameter's device (seen here as the state's device matching the parameter's)."""
    lin = dlcore.nn.Linear(3, 2)
    opt = dlcore.optim.Adam(lin.parameters(), lr=0.1)
    lin(dlcore.ones(4, 3)).sum().backward()
    opt.step()
    lin.to("cpu")
    lin(dlcore.ones(4, 3)).sum().backward()
    opt.step()
    for p in lin.parameters():
        assert all(str(v.device) == str(p.device) for v in opt.state[id(p)].values() if hasattr(v, "device"))
