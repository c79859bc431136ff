"""Indexing against NumPy: basic slicing (views), integer arrays, boolean masks, __setitem__,
index_select, gather, one_hot, and their gradients."""
import numpy as np
import pytest

import dlcore
from conftest import requires_torch, rng, threads
from gradcheck import gradcheck

try:
    import torch
except ImportError:  # the PyTorch comparisons skip
    torch = None

FLOATS = [np.float32, np.float64]

BASIC = [
    (1,), (-1,), (slice(1, 3),), (slice(None, None, 2),), (slice(None, None, -1),),
    (1, 2), (-1, -2, 0), (slice(None), 1), (Ellipsis, 0), (None, 1), (slice(0, 0),),
    (1, slice(None), slice(1, None, 2)), (Ellipsis, None), (0, 0, 0), (Ellipsis,),
]


@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
@pytest.mark.parametrize("idx", BASIC, ids=str)
def test_basic_indexing(idx, dtype):
    a = rng(30).integers(-9, 9, (3, 4, 5)).astype(dtype)
    t = dlcore.from_numpy(a)
    got = t[idx]
    assert isinstance(got, dlcore.Tensor) and isinstance(got.numpy(), np.ndarray)
    ref = a[idx]
    assert got.shape == np.shape(ref) and got.dtype == dtype
    np.testing.assert_array_equal(got.numpy(), ref)
    if got.numel():
        assert np.shares_memory(got.numpy(), a)  # basic indexing is a view


def test_scalar_index_of_1d_and_0d():
    t = dlcore.tensor([1.0, 2.0, 3.0])
    x = t[1]
    assert x.shape == () and x.item() == 2.0
    assert t[-1].item() == 3.0
    assert (t[0] + t[2]).item() == 4.0
    s = dlcore.tensor(5.0)
    assert s[()].item() == 5.0 and s[...].shape == ()
    assert [v.item() for v in t] == [1.0, 2.0, 3.0]  # iteration


@pytest.mark.parametrize("dtype", FLOATS)
def test_integer_array_indexing(dtype):
    a = rng(31).standard_normal((5, 4, 3)).astype(dtype)
    t = dlcore.tensor(a)
    for idx in ([0, 2, 2, -1], np.array([[1, 0], [4, 3]]), dlcore.tensor([3, 1])):
        ref_idx = idx.numpy() if isinstance(idx, dlcore.Tensor) else np.asarray(idx)
        np.testing.assert_array_equal(t[idx].numpy(), a[ref_idx])
    np.testing.assert_array_equal(t[[0, 1], 2].numpy(), a[[0, 1], 2])
    np.testing.assert_array_equal(t[:, [0, 3]].numpy(), a[:, [0, 3]])
    np.testing.assert_array_equal(t[[0, 4], [1, 2]].numpy(), a[[0, 4], [1, 2]])
    np.testing.assert_array_equal(t[[1, -2], ..., [0, 2]].numpy(), a[[1, -2], ..., [0, 2]])


@pytest.mark.parametrize("dtype", FLOATS)
def test_boolean_mask_indexing(dtype):
    a = rng(32).standard_normal((4, 5)).astype(dtype)
    t = dlcore.tensor(a)
    np.testing.assert_array_equal(t[t > 0].numpy(), a[a > 0])
    rows = a[:, 0] > 0
    np.testing.assert_array_equal(t[dlcore.tensor(rows)].numpy(), a[rows])
    np.testing.assert_array_equal(t[[True, False, True, False]].numpy(), a[[True, False, True, False]])
    np.testing.assert_array_equal(t[:, a[0] > 0].numpy(), a[:, a[0] > 0])


@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
def test_setitem(dtype):
    a = np.zeros((4, 5), dtype)
    t = dlcore.tensor(a)
    ref = a.copy()
    ops = [
        ((1,), 3), ((slice(None), 2), np.arange(4)), ((0, 0), 7), ((-1, -1), 9),
        ((slice(1, 3), slice(None, None, 2)), np.ones((2, 3))), ((Ellipsis, 4), 5),
        ((np.array([0, 2]),), 2), ((slice(None), [1, 3]), -1), ((np.array([True, False, False, True]),), 8),
    ]
    for idx, v in ops:
        t[idx if len(idx) > 1 else idx[0]] = v
        ref[idx if len(idx) > 1 else idx[0]] = v
        np.testing.assert_array_equal(t.numpy(), ref)
    t[t.numpy() > 7] = 0  # mask from a NumPy array
    ref[ref > 7] = 0
    np.testing.assert_array_equal(t.numpy(), ref)
    t[1:3] = dlcore.tensor(np.full((2, 5), 4, dtype))  # Tensor value
    ref[1:3] = 4
    np.testing.assert_array_equal(t.numpy(), ref)


def test_setitem_on_view_writes_through_and_casts():
    t = dlcore.zeros(3, 4)
    v = t[1]
    v[2] = 5  # writing into a view changes the base
    assert t.numpy()[1, 2] == 5
    t[2] = dlcore.ones(1, 1, 4)  # leading 1s of the value are dropped, like NumPy and PyTorch
    np.testing.assert_array_equal(t.numpy()[2], np.ones(4))
    t[2, 3] = np.full(1, 6.0)
    assert t.numpy()[2, 3] == 6
    t[0] = dlcore.tensor([1, 2, 3, 4])  # int64 value into a float32 tensor is converted
    np.testing.assert_array_equal(t.numpy()[0], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)|\(4,\).*\(3,\)"):
        t[0] = dlcore.tensor([1.0, 2.0, 3.0])


def test_setitem_on_leaf_requiring_grad():
    w = dlcore.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="__setitem__: a view of a leaf tensor that requires grad .* in-place"):
        w[0] = 2.0
    with dlcore.no_grad():
        w[0] = 2.0
    assert w.detach().numpy()[0] == 2.0
    y = w * 2.0  # a non-leaf: the write joins the graph (tests/test_inplace.py), as in PyTorch
    y[0] = 1.0
    y.sum().backward()
    assert y.tolist() == [1.0, 2.0, 2.0] and w.grad.tolist() == [0.0, 2.0, 2.0]


@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim, dtype):
    a = rng(33).integers(-9, 9, (4, 5, 3)).astype(dtype)
    idx = np.array([2, 0, 2, 1])
    t = dlcore.tensor(a)
    np.testing.assert_array_equal(dlcore.index_select(t, dim, idx).numpy(), np.take(a, idx, axis=dim))
    np.testing.assert_array_equal(t.index_select(dim, dlcore.tensor(idx)).numpy(), np.take(a, idx, axis=dim))
    # non-contiguous input
    np.testing.assert_array_equal(dlcore.index_select(t.transpose(0, 2), dim, idx[:3] % 3).numpy(),
                                  np.take(a.transpose(2, 1, 0), idx[:3] % 3, axis=dim))


@pytest.mark.parametrize("nthreads", [1, 2, 3])
@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_index_select_block_copies(dim, dtype, nthreads):
    """Contiguous input and output: each selected slice is copied as one block (rows of a batch,
    embedding rows); blocks of every size, a strided index, any thread count."""
    a = rng(35).integers(-9, 9, (37, 9, 40)).astype(dtype)
    full = rng(36).integers(0, a.shape[dim], 2 * 301)
    with threads(nthreads):
        got = dlcore.index_select(dlcore.tensor(a), dim, dlcore.tensor(full)[::2])  # a strided index
    np.testing.assert_array_equal(got.numpy(), np.take(a, full[::2], axis=dim))


@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_gather(dim, dtype):
    r = rng(34)
    a = r.integers(-9, 9, (3, 4, 5)).astype(dtype)
    shape = list(a.shape)
    shape[dim] = 6
    idx = r.integers(0, a.shape[dim], shape)
    t = dlcore.tensor(a)
    np.testing.assert_array_equal(dlcore.gather(t, dim, idx).numpy(), np.take_along_axis(a, idx, axis=dim))
    np.testing.assert_array_equal(t.gather(dim, dlcore.tensor(idx)).numpy(), np.take_along_axis(a, idx, axis=dim))
    # index smaller than the input in the other dims (PyTorch allows it)
    small = idx[:2, :3, :4] % min(a.shape)
    got = dlcore.gather(t, dim, small).numpy()
    want = np.empty(small.shape, dtype)
    for i in np.ndindex(small.shape):
        j = list(i)
        j[dim] = small[i]
        want[i] = a[tuple(j)]
    np.testing.assert_array_equal(got, want)


def test_one_hot():
    idx = np.array([[0, 2], [1, 3]])
    got = dlcore.one_hot(dlcore.tensor(idx), 4)
    assert got.dtype == np.int64 and got.shape == (2, 2, 4)
    np.testing.assert_array_equal(got.numpy(), np.eye(4, dtype=np.int64)[idx])
    np.testing.assert_array_equal(dlcore.one_hot(idx).numpy(), np.eye(4, dtype=np.int64)[idx])
    f = dlcore.one_hot([1, 0], 3, dtype=dlcore.float32)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.numpy(), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(dlcore.one_hot(np.array([[0, 1, 2]]).T[::2], 3).numpy(),
                                  np.eye(3, dtype=np.int64)[[[0], [2]]])


# ---- gradients -----------------------------------------------------------------------------

def test_getitem_gradients():
    a = rng(35).standard_normal((4, 5))
    for i in [1, (slice(1, 3), 2), (Ellipsis, slice(None, None, -2)), (None, 2), (2, 3),
              [0, 2, 2], (np.array([1, 3]), np.array([0, 0])), (slice(None), [4, 4, 0]),
              a > 0, a[:, 0] > 0]:
        gradcheck(lambda x: x[i] * 1.0, [a])


def test_getitem_repeated_index_accumulates():
    x = dlcore.tensor(np.zeros(4), requires_grad=True)
    x[[1, 1, 3, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 3, 0, 1])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select_gather_gradients(dim):
    r = rng(36)
    a = r.standard_normal((3, 4, 2))
    gradcheck(lambda x: dlcore.index_select(x, dim, [1, 0, 1]), [a])
    shape = list(a.shape)
    shape[dim] = 5
    idx = r.integers(0, a.shape[dim], shape)
    gradcheck(lambda x: dlcore.gather(x, dim, idx), [a])


def test_setitem_with_overlapping_source():
    # the source is a view of the destination's memory: NumPy semantics (read all, then write)
    a = np.arange(1.0, 7.0)
    t = dlcore.tensor(a)
    t[1:] = t[:-1]
    a[1:] = a[:-1].copy()
    np.testing.assert_array_equal(t.numpy(), a)
    m = dlcore.tensor(np.arange(9.0).reshape(3, 3))
    m[...] = m.T
    np.testing.assert_array_equal(m.numpy(), np.arange(9.0).reshape(3, 3).T)
    c = dlcore.tensor(np.arange(5.0))
    c.copy_(c.numpy()[::-1])
    np.testing.assert_array_equal(c.numpy(), np.arange(5.0)[::-1])


def test_large_index_ops_and_their_backward():
    # big enough for the parallel paths (index_add over >8192 columns, gather >32768 outputs)
    r = rng(37)
    x = r.standard_normal((50, 9000))
    idx = r.integers(0, 50, 40)
    t = dlcore.tensor(x, requires_grad=True)
    y = dlcore.index_select(t, 0, idx)
    np.testing.assert_array_equal(y.detach().numpy(), x[idx])
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.bincount(idx, minlength=50)[:, None] * np.ones((1, 9000)))
    gi = r.integers(0, 9000, (50, 1000))
    g = dlcore.gather(dlcore.tensor(x), 1, gi)
    np.testing.assert_array_equal(g.numpy(), np.take_along_axis(x, gi, 1))


def test_zero_dim_integer_tensor_as_index():
    a = np.arange(12.0).reshape(3, 4)
    t = dlcore.tensor(a, requires_grad=True)
    i, j = dlcore.tensor(2), dlcore.tensor(1)
    assert t[i].shape == (4,) and t[i, j].shape == () and t[i, j].item() == a[2, 1]
    assert dlcore.tensor([5.0, 6.0])[dlcore.tensor(1)].item() == 6.0
    (t[i, j] * 3.0).backward()
    g = np.zeros((3, 4))
    g[2, 1] = 3
    np.testing.assert_array_equal(t.grad.numpy(), g)
    with dlcore.no_grad():
        t[i, np.int64(0)] = -1.0
    assert t.detach().numpy()[2, 0] == -1.0


# ---- advanced indexing: NumPy's placement rules, gradients like PyTorch -------------------------

ADVANCED = [
    (np.array([0, 2, -1]),),                                  # one int array on dim 0
    (slice(None), np.array([[1, 0], [3, 3]])),                # a 2-D index array on dim 1
    (np.array([0, 1]), np.array([2, 3])),                     # two arrays, broadcast together
    (np.array([[0], [1]]), slice(1, 3), np.array([0, 4])),    # separated by a slice: result dims first
    (Ellipsis, np.array([4, 0])),                             # after an ellipsis
    (1, np.array([0, 2]), slice(None, None, -1)),             # an int, an array, a reversed slice
    (None, np.array([1, 1]), 2),                              # a new axis before the array
    (np.array([True, False, True]),),                         # a bool mask on dim 0
    (np.array([[True, False, False, True]] * 3),),            # a 2-D bool mask
    (slice(0, 2), np.array([[True, False, True, False, True]] * 4)),  # a mask over the last two dims
]


@pytest.mark.parametrize("idx", ADVANCED, ids=range(len(ADVANCED)))
def test_advanced_indexing_matches_numpy(idx):
    x = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    got = dlcore.tensor(x)[idx]
    np.testing.assert_array_equal(got.numpy(), x[idx])


@pytest.mark.parametrize("idx", ADVANCED, ids=range(len(ADVANCED)))
def test_advanced_setitem_matches_numpy(idx):
    x = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    t = dlcore.tensor(x)
    value = -np.arange(np.asarray(x[idx]).size, dtype=np.float64).reshape(np.shape(x[idx])) - 1
    x[idx] = value
    t[idx] = value
    np.testing.assert_array_equal(t.numpy(), x)
    t[idx] = 7.0  # a scalar broadcast
    x[idx] = 7.0
    np.testing.assert_array_equal(t.numpy(), x)


@requires_torch
@pytest.mark.parametrize("idx", [i for i in ADVANCED[:8] if not any(isinstance(a, slice) and a.step for a in i)],
                         ids=lambda i: str(len(i)))
def test_advanced_indexing_gradient_matches_torch(idx):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    t = dlcore.tensor(x, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    tidx = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in idx)
    y, ty = t[idx], tt[tidx]
    w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * dlcore.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_advanced_index_errors_name_the_problem():
    t = dlcore.zeros(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        t[[0, 3]]
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\) does not match"):
        t[np.array([True, False])]
    with pytest.raises(IndexError, match="must be int64 or bool"):
        t[dlcore.tensor([0.5])]
    with pytest.raises(ValueError, match="cannot be broadcast"):
        t[[0, 1], [0, 1, 2]]


def test_view_never_copies_silently():
    t = dlcore.arange(6.0).reshape(2, 3)
    v = t.view(3, 2)
    v[0, 0] = 100.0
    assert t[0, 0].item() == 100.0  # a view: the write is seen
    with pytest.raises(ValueError, match="cannot be viewed as .* without a copy"):
        t.T.view(6)
    assert t.T.reshape(6).tolist() == [100.0, 3.0, 1.0, 4.0, 2.0, 5.0]  # reshape copies when it must


def test_expanded_views_are_read_only():
    t = dlcore.ones(3).expand(2, 3)
    with pytest.raises(ValueError, match="read-only"):
        t[0, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        t.fill_(0.0)
    c = t.clone()
    c[0, 0] = 5.0
    assert c.tolist() == [[5.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
