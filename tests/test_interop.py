"""Interop with NumPy and PyTorch: zero-copy from_numpy / numpy(), __array__, DLPack both
ways; shared memory is verified by writing through one side and reading the other."""
import numpy as np
import pytest

import dlcore
from conftest import requires_torch


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_from_numpy_is_zero_copy(dtype):
    a = np.zeros((3, 4), dtype)
    t = dlcore.from_numpy(a)
    assert t.dtype == dtype and t.shape == (3, 4)
    a[1, 2] = 1
    assert t.numpy()[1, 2] == 1          # write through NumPy shows in the tensor
    t[0, 0] = 1
    assert a[0, 0] == 1                  # write through the tensor shows in NumPy
    assert t.numpy() is a or np.shares_memory(t.numpy(), a)


def test_from_numpy_of_strided_view_stays_a_view():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    v = base[::2, 1::2]
    t = dlcore.from_numpy(v)
    np.testing.assert_array_equal(t.numpy(), v)
    np.testing.assert_array_equal((t * 2.0).numpy(), v * 2)
    t[0, 0] = -1
    assert base[0, 1] == -1


def test_numpy_is_zero_copy():
    t = dlcore.zeros(2, 3)
    n = t.numpy()
    n[1, 1] = 7
    assert t[1, 1].item() == 7
    t.fill_(2.0)
    assert np.all(n == 2)


def test_array_protocol():
    t = dlcore.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32 and np.shares_memory(a, t.numpy())
    np.testing.assert_array_equal(np.array(t, dtype=np.float64), [[1, 2], [3, 4]])
    c = np.array(t, copy=True)
    c[0, 0] = 9
    assert t[0, 0].item() == 1
    np.testing.assert_array_equal(np.add(t, 1), [[2, 3], [4, 5]])
    # __array__ works on tensors that require grad too (used by NumPy functions)
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(np.asarray(w), [1, 2])


def test_numpy_operand_defers_to_tensor():
    t = dlcore.tensor([1.0, 2.0])
    out = np.array([1.0, 1.0], np.float32) + t
    assert isinstance(out, dlcore.Tensor)
    np.testing.assert_array_equal(out.numpy(), [2, 3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_dlpack_to_numpy(dtype):
    t = dlcore.zeros(2, 3, dtype=dtype)
    a = np.from_dlpack(t)
    assert a.dtype == dtype and a.shape == (2, 3)
    a[0, 1] = 1
    assert t.numpy()[0, 1] == 1
    t[1, 2] = 1
    assert a[1, 2] == 1


def test_dlpack_from_numpy():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = dlcore.from_dlpack(a)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    t[1, 1] = -1
    assert a[1, 1] == -1


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_dlpack_to_torch(dtype):
    import torch

    t = dlcore.zeros(3, 2, dtype=dtype)
    pt = torch.from_dlpack(t)
    assert tuple(pt.shape) == (3, 2)
    assert str(pt.dtype).endswith({np.float32: "float32", np.float64: "float64",
                                   np.int64: "int64", np.bool_: "bool"}[dtype])
    pt[1, 0] = 1
    assert t.numpy()[1, 0] == 1
    t[2, 1] = 1
    assert bool(pt[2, 1]) is True


@requires_torch
def test_dlpack_to_torch_non_contiguous():
    import torch

    t = dlcore.tensor(np.arange(12.0).reshape(3, 4)).T
    pt = torch.from_dlpack(t)
    assert tuple(pt.shape) == (4, 3) and pt.stride() == t.stride()
    np.testing.assert_array_equal(pt.numpy(), t.numpy())


@requires_torch
@pytest.mark.parametrize("tdtype", ["float32", "float64", "int64", "bool"])
def test_dlpack_from_torch(tdtype):
    import torch

    pt = torch.zeros(2, 3, dtype=getattr(torch, tdtype))
    t = dlcore.from_dlpack(pt)
    assert str(t.dtype) == tdtype and t.shape == (2, 3)
    pt[0, 2] = 1
    assert t.numpy()[0, 2] == 1
    t[1, 0] = 1
    assert bool(pt[1, 0]) is True
    # and the kernels accept the shared memory
    if tdtype.startswith("float"):
        np.testing.assert_array_equal((t * 2.0).numpy(), pt.numpy() * 2)


@requires_torch
def test_dlpack_from_torch_strided_and_bad_dtype():
    import torch

    pt = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    t = dlcore.from_dlpack(pt)
    np.testing.assert_array_equal(t.numpy(), pt.numpy())
    np.testing.assert_array_equal(t.sum(0).numpy(), pt.sum(0).numpy())
    with pytest.raises(TypeError, match=r"from_dlpack: unsupported dtype float16"):
        dlcore.from_dlpack(torch.zeros(2, dtype=torch.float16))


@requires_torch
def test_values_match_torch_for_the_same_inputs():
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    ta = dlcore.tensor(a, requires_grad=True)
    pa = torch.tensor(a, requires_grad=True)
    out = (dlcore.tanh(ta @ dlcore.tensor(b)) * 2.0).var(0).sum()
    pout = (torch.tanh(pa @ torch.tensor(b)) * 2.0).var(0).sum()
    out.backward()
    pout.backward()
    np.testing.assert_allclose(out.item(), pout.item(), rtol=1e-5)
    np.testing.assert_allclose(ta.grad.numpy(), pa.grad.numpy(), rtol=1e-4, atol=1e-6)
