"""Tensor basics: creation and dtypes, printing, conversion (.to, .type, item), layout ops
(reshape / transpose / permute / expand / squeeze / flatten / cat / stack / split / chunk)
with view semantics, and matmul against NumPy under every ISA path."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlcore
from conftest import requires_torch, rng

FLOATS = [np.float32, np.float64]


# ---- creation and dtypes -----------------------------------------------------------------------

def test_tensor_dtype_inference():
    assert dlcore.tensor([1.0, 2.0]).dtype == np.float32
    assert dlcore.tensor([1, 2]).dtype == np.int64
    assert dlcore.tensor([True, False]).dtype == np.bool_
    assert dlcore.tensor(np.zeros(3)).dtype == np.float64  # NumPy float64 stays float64
    assert dlcore.tensor(np.zeros(3, np.int32)).dtype == np.int64
    assert dlcore.tensor([1, 2], dtype=dlcore.float64).dtype == np.float64
    assert dlcore.tensor(2.5).shape == ()
    assert dlcore.tensor(np.float64(2.5)).dtype == np.float64
    t = dlcore.Tensor([[1, 2]], dtype=dlcore.float32)
    assert t.dtype == np.float32 and t.shape == (1, 2) and not t.requires_grad
    assert dlcore.Tensor(np.ones(2), requires_grad=True).requires_grad


def test_tensor_copies_its_data():
    a = np.ones(3, np.float32)
    t = dlcore.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 1


def test_creation_functions():
    np.testing.assert_array_equal(dlcore.zeros(2, 3).numpy(), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(dlcore.ones((2, 3)).numpy(), np.ones((2, 3), np.float32))
    assert dlcore.zeros(2, dtype=dlcore.float64).dtype == np.float64
    f = dlcore.full((2, 3), 1.5)
    assert f.dtype == np.float32 and f.shape == (2, 3) and np.all(f.numpy() == 1.5)
    assert dlcore.full((2,), 7).dtype == np.int64  # like PyTorch: an int fill gives int64
    assert dlcore.full((2,), True).dtype == np.bool_
    assert dlcore.full(3, 2.0, dtype=dlcore.float64).dtype == np.float64
    e = dlcore.eye(3)
    np.testing.assert_array_equal(e.numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(dlcore.eye(2, 4, dtype=dlcore.float64).numpy(), np.eye(2, 4))
    np.testing.assert_array_equal(dlcore.arange(5).numpy(), np.arange(5))
    assert dlcore.arange(5).dtype == np.int64
    np.testing.assert_allclose(dlcore.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    z = dlcore.zeros_like(dlcore.ones(2, 2, dtype=dlcore.float64))
    assert z.dtype == np.float64 and np.all(z.numpy() == 0)
    assert dlcore.empty(4, 5).shape == (4, 5)
    with pytest.raises(ValueError, match="negative dimension"):
        dlcore.zeros(2, -1)


def test_default_dtype():
    try:
        dlcore.set_default_dtype(dlcore.float64)
        assert dlcore.tensor([1.0]).dtype == np.float64
        assert dlcore.zeros(2).dtype == np.float64
        assert dlcore.randn(2).dtype == np.float64
    finally:
        dlcore.set_default_dtype(dlcore.float32)
    assert dlcore.get_default_dtype() == np.float32
    with pytest.raises(TypeError, match="set_default_dtype"):
        dlcore.set_default_dtype(np.int64)


def test_metadata():
    t = dlcore.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and len(t) == 2
    assert t.stride() == (12, 4, 1) and t.is_contiguous()
    tt = t.transpose(0, 2)
    assert tt.stride() == (1, 4, 12) and not tt.is_contiguous()
    assert tt.contiguous().is_contiguous()
    assert t.device == "cpu"


def test_repr_and_str():
    r = repr(dlcore.tensor([1.0, 2.5]))
    assert r.startswith("tensor([1.") and "2.5" in r and "dtype" not in r
    assert "dtype=float64" in repr(dlcore.tensor(np.array([1.0])))
    assert "requires_grad=True" in repr(dlcore.tensor([1.0], requires_grad=True))
    y = dlcore.tensor([1.0], requires_grad=True) * 2
    assert "grad_fn=" in repr(y)
    assert str(dlcore.tensor([1, 2])) == "tensor([1, 2])"
    assert "Parameter containing" in repr(dlcore.nn.Parameter(dlcore.ones(2)))


def test_item_and_conversions():
    assert dlcore.tensor([[3.5]]).item() == 3.5
    assert float(dlcore.tensor(2.0)) == 2.0 and int(dlcore.tensor(7)) == 7
    assert bool(dlcore.tensor([True])) is True
    assert dlcore.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match=r"item\(\).*shape \(2,\)"):
        dlcore.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(dlcore.tensor([1.0, 2.0]))
    assert [0, 1, 2][dlcore.tensor(1)] == 1  # __index__


def test_to_and_type():
    t = dlcore.tensor([1.5, 2.5])
    assert t.to(dlcore.float64).dtype == np.float64  # positional dtype, like PyTorch
    assert t.to("float64").dtype == np.float64
    assert t.to(dtype=dlcore.float64).dtype == np.float64
    assert t.to("cpu") is t
    assert t.to(device="cpu", dtype=dlcore.float32) is t
    assert t.to(dlcore.tensor([1], dtype=dlcore.int64)).dtype == np.int64  # dtype of another tensor
    np.testing.assert_array_equal(t.long().numpy(), [1, 2])
    assert t.double().dtype == np.float64 and t.double().float().dtype == np.float32
    assert t.type(dlcore.int64).dtype == np.int64
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        t.to("tpu")
    with pytest.raises(RuntimeError, match="cuda"):
        t.to("cuda")
    with pytest.raises(TypeError, match="unsupported dtype float16"):
        t.to(np.float16)


# ---- layout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_reshape_view_and_flatten(dtype):
    a = rng(20).standard_normal((2, 3, 4)).astype(dtype)
    t = dlcore.from_numpy(a)
    r = t.reshape(6, 4)
    np.testing.assert_array_equal(r.numpy(), a.reshape(6, 4))
    assert np.shares_memory(r.numpy(), a)  # a view of a contiguous tensor
    np.testing.assert_array_equal(t.reshape(-1, 2).numpy(), a.reshape(-1, 2))
    np.testing.assert_array_equal(t.view((4, -1)).numpy(), a.reshape(4, -1))
    np.testing.assert_array_equal(t.flatten().numpy(), a.reshape(-1))
    np.testing.assert_array_equal(t.flatten(1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(t.transpose(0, 2).reshape(-1).numpy(), a.transpose(2, 1, 0).reshape(-1))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape .*\(2, 3, 4\).*\(5, 5\)"):
        t.reshape(5, 5)


@pytest.mark.parametrize("dtype", FLOATS)
def test_transpose_permute(dtype):
    a = rng(21).standard_normal((2, 3, 4)).astype(dtype)
    t = dlcore.from_numpy(a)
    np.testing.assert_array_equal(t.transpose(0, 1).numpy(), a.swapaxes(0, 1))
    np.testing.assert_array_equal(t.transpose(-1, 0).numpy(), a.swapaxes(-1, 0))
    np.testing.assert_array_equal(t.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.permute((1, -1, 0)).numpy(), a.transpose(1, 2, 0))
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    np.testing.assert_array_equal(t.mT.numpy(), a.swapaxes(-1, -2))
    assert np.shares_memory(t.permute(2, 0, 1).numpy(), a)


def test_expand_squeeze_unsqueeze():
    a = rng(22).standard_normal((3, 1)).astype(np.float32)
    t = dlcore.tensor(a)
    np.testing.assert_array_equal(t.expand(3, 4).numpy(), np.broadcast_to(a, (3, 4)))
    np.testing.assert_array_equal(t.expand(2, -1, 5).numpy(), np.broadcast_to(a, (2, 3, 5)))
    np.testing.assert_array_equal(t.unsqueeze(0).numpy(), a[None])
    np.testing.assert_array_equal(t.unsqueeze(-1).numpy(), a[..., None])
    assert t.squeeze().shape == (3,) and t.squeeze(1).shape == (3,) and t.squeeze(0).shape == (3, 1)
    assert dlcore.zeros(1, 2, 1).squeeze((0, 2)).shape == (2,)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim, dtype):
    r = rng(23)
    xs = [r.standard_normal((2, 3)).astype(dtype) for _ in range(3)]
    ts = [dlcore.tensor(x) for x in xs]
    np.testing.assert_array_equal(dlcore.cat(ts, dim).numpy(), np.concatenate(xs, dim))
    np.testing.assert_array_equal(dlcore.concatenate(ts, dim).numpy(), np.concatenate(xs, dim))
    np.testing.assert_array_equal(dlcore.stack(ts, dim).numpy(), np.stack(xs, dim))
    # different sizes along the cat axis, and a transposed (non-contiguous) operand
    y = r.standard_normal((3, 5)).astype(dtype)
    np.testing.assert_array_equal(dlcore.cat([ts[0], dlcore.tensor(y).T[:2]], 0).numpy(),
                                  np.concatenate([xs[0], y.T[:2]], 0))


def test_cat_promotes_dtypes():
    out = dlcore.cat([dlcore.tensor([1, 2]), dlcore.tensor([0.5])])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [1, 2, 0.5])


@pytest.mark.parametrize("dtype", FLOATS)
def test_split_chunk(dtype):
    a = rng(24).standard_normal((7, 4)).astype(dtype)
    t = dlcore.tensor(a)
    parts = t.split(3)
    assert [p.shape for p in parts] == [(3, 4), (3, 4), (1, 4)]
    for p, ref in zip(parts, np.split(a, [3, 6])):
        np.testing.assert_array_equal(p.numpy(), ref)
    parts = dlcore.split(t, [1, 3], dim=1)
    for p, ref in zip(parts, np.split(a, [1], axis=1)):
        np.testing.assert_array_equal(p.numpy(), ref)
    assert [p.shape for p in t.chunk(3)] == [(3, 4), (3, 4), (1, 4)]
    assert [p.shape for p in t.chunk(2, dim=-1)] == [(7, 2), (7, 2)]


# ---- matmul (every ISA path) -------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((1, 1), (1, 1)), ((17, 33), (33, 9)), ((64, 70), (70, 65)),
    ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)),
    ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
    ((0, 4), (4, 3)), ((3, 0), (0, 2)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_matches_numpy(sa, sb, dtype, every_isa):
    r = rng(25)
    a = r.standard_normal(sa).astype(dtype)
    b = r.standard_normal(sb).astype(dtype)
    got = (dlcore.tensor(a) @ dlcore.tensor(b)).numpy()
    ref = (a.astype(np.float64) @ b.astype(np.float64))
    assert got.shape == ref.shape and got.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got, ref, **tol)
    np.testing.assert_allclose(dlcore.matmul(dlcore.tensor(a), dlcore.tensor(b)).numpy(), ref, **tol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_matmul_non_contiguous_operands(dtype, every_isa):
    r = rng(26)
    a = r.standard_normal((9, 12)).astype(dtype)
    b = r.standard_normal((10, 9)).astype(dtype)
    c = r.standard_normal((3, 12, 14)).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    ta, tb, tc = dlcore.tensor(a), dlcore.tensor(b), dlcore.tensor(c)
    np.testing.assert_allclose((ta.T @ tb.T).numpy(), a.T @ b.T, **tol)            # both transposed
    np.testing.assert_allclose((ta[::2, 1::2] @ tb[:6, ::2]).numpy(),              # strided slices
                               a[::2, 1::2] @ b[:6, ::2], **tol)
    np.testing.assert_allclose((tc.transpose(1, 2)[:, :5] @ ta.T).numpy(),        # batched, strided
                               c.transpose(0, 2, 1)[:, :5] @ a.T, **tol)
    np.testing.assert_allclose((ta @ tc[1]).numpy(), a @ c[1], **tol)


def test_matmul_int_promotion_and_mixed():
    a = dlcore.tensor([[1.0, 2.0]])
    b = dlcore.tensor(np.array([[1.0], [3.0]]))
    out = a @ b
    assert out.dtype == np.float64 and out.item() == 7.0
    np.testing.assert_allclose((np.eye(2, dtype=np.float32) @ dlcore.ones(2, 2)).numpy(), np.ones((2, 2)))


@given(st.data())
@settings(max_examples=40, deadline=None, derandomize=True)
def test_matmul_property_random_batched_shapes(data):
    """Random M, N, K, broadcast batch dims and transposed operands: equal NumPy (float64)."""
    m, n, k = (data.draw(st.integers(1, 9)) for _ in range(3))
    nb = data.draw(st.integers(0, 2))
    batch = [data.draw(st.integers(1, 3)) for _ in range(nb)]
    ba = tuple(b if data.draw(st.booleans()) else 1 for b in batch)[data.draw(st.integers(0, nb)):]
    bb = tuple(b if data.draw(st.booleans()) else 1 for b in batch)[data.draw(st.integers(0, nb)):]
    r = np.random.default_rng(data.draw(st.integers(0, 99)))
    a = r.standard_normal(ba + (m, k))
    b = r.standard_normal(bb + (k, n))
    ta = dlcore.tensor(a)
    tb = dlcore.tensor(b)
    if data.draw(st.booleans()):  # pass a as a transposed view of its transpose
        ta = dlcore.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2))).mT
    if data.draw(st.booleans()):
        tb = dlcore.tensor(np.ascontiguousarray(np.swapaxes(b, -1, -2))).mT
    np.testing.assert_allclose((ta @ tb).numpy(), a @ b, rtol=1e-12, atol=1e-12)


@requires_torch
def test_more_pytorch_tensor_methods_match_torch():
    import torch
    r = np.random.default_rng(7)
    a_np, b_np = r.standard_normal((3, 4)), r.standard_normal((4, 2))
    a, b = dlcore.tensor(a_np), dlcore.tensor(b_np)
    ta, tb = torch.tensor(a_np), torch.tensor(b_np)
    np.testing.assert_allclose(a.mm(b).numpy(), ta.mm(tb).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(a.t().numpy(), ta.t().numpy())
    np.testing.assert_array_equal(a.narrow(1, 1, 2).numpy(), ta.narrow(1, 1, 2).numpy())
    assert a.narrow(1, 1, 2).data_ptr() == a.data_ptr() + 8  # a view
    np.testing.assert_array_equal(a.view_as(dlcore.zeros(4, 3)).numpy(), ta.view_as(torch.zeros(4, 3)).numpy())
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(a, name)(0.5).numpy(), getattr(ta, name)(0.5).numpy())
    for dim in (None, 0, 1, (0, 1)):
        for fn in ("all", "any"):
            got = getattr(a > 0, fn)(dim) if dim is not None else getattr(a > 0, fn)()
            want = getattr(ta > 0, fn)(dim) if isinstance(dim, int) else getattr(ta > 0, fn)()
            if isinstance(dim, tuple):
                want = getattr(ta > 0, fn)()
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert a.new_zeros(2, 5).dtype == a.dtype and a.new_full((2,), 3.0).tolist() == [3.0, 3.0]
    assert f"{a.sum():.4f}" == f"{ta.sum().item():.4f}"
    with pytest.raises(ValueError, match="mm: both arguments must be 2-D"):
        a.mm(dlcore.ones(4))


def test_in_place_family_and_version_counters():
    x = dlcore.ones(3)
    w = dlcore.ones(3, requires_grad=True)
    y = (x * w).sum()
    x.mul_(2.0)  # x was saved by the multiplication
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        w.add_(1.0)
    with dlcore.no_grad():
        w.add_(1.0).mul_(3.0)
    assert w.tolist() == [6.0, 6.0, 6.0] and w.requires_grad
    t = dlcore.arange(5.0)
    assert t.clamp_(1.0, 3.0).tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert t.masked_fill_(t > 2.0, -1.0).tolist() == [1.0, 1.0, 2.0, -1.0, -1.0]
    i = dlcore.arange(3)
    with pytest.raises(TypeError, match="add_: the result is float32 but the tensor is int64"):
        i.add_(0.5)
    z = dlcore.tensor([-1.0, 2.0])
    r = dlcore.nn.functional.relu(z, inplace=True)
    assert r is z and z.tolist() == [0.0, 2.0]
    g = dlcore.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):  # as PyTorch
        dlcore.nn.functional.relu(g, inplace=True)
    h = g * 1.0
    out = dlcore.nn.functional.relu(h, inplace=True)  # a non-leaf: written in place, recorded
    out.sum().backward()
    assert out is h and h.tolist() == [0.0, 2.0] and g.grad.tolist() == [0.0, 1.0]
