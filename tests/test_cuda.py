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
