"""dlcore._C.Array, the storage behind every tensor: views computed in C++ against NumPy (values,
shapes, shared memory) and PyTorch (when a reshape can be a view), copies, the NumPy edge."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import _C

from conftest import requires_torch


def arr(a):
    return _C.from_object(np.asarray(a))


def same(a, ref):
    got = np.asarray(a)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def view_chains(draw):
    """A shape and a sequence of view ops valid for it, each applied to NumPy and to the Array."""
    shape = draw(shapes)
    ops = []
    cur = shape
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["permute", "slice", "expand", "unsqueeze", "squeeze", "select", "narrow"]))
        nd = len(cur)
        if kind == "permute":
            dims = tuple(draw(st.permutations(range(nd))))
            ops.append((kind, dims))
            cur = tuple(cur[d] for d in dims)
        elif kind == "slice" and nd:
            d = draw(st.integers(0, nd - 1))
            start = draw(st.integers(-5, 5) | st.none())
            stop = draw(st.integers(-5, 5) | st.none())
            step = draw(st.sampled_from([1, 2, 3, -1, -2]))
            idx = tuple([slice(None)] * d + [slice(start, stop, step)])
            ops.append((kind, idx))
            cur = np.empty(cur)[idx].shape
        elif kind == "expand" and nd < 6:
            target = tuple(draw(st.integers(0, 3)) if s == 1 else s for s in cur)
            lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
            ops.append((kind, lead + target))
            cur = lead + target
        elif kind == "unsqueeze" and nd < 6:
            d = draw(st.integers(-nd - 1, nd))
            ops.append((kind, d))
            cur = np.expand_dims(np.empty(cur), d).shape
        elif kind == "squeeze":
            ops.append((kind, None))
            cur = tuple(s for s in cur if s != 1)
        elif kind == "select" and nd and cur[0] > 0:
            i = draw(st.integers(-cur[0], cur[0] - 1))
            ops.append((kind, i))
            cur = cur[1:]
        elif kind == "narrow" and nd:
            d = draw(st.integers(0, nd - 1))
            start = draw(st.integers(0, cur[d]))
            length = draw(st.integers(0, cur[d] - start))
            ops.append((kind, (d, start, length)))
            cur = cur[:d] + (length,) + cur[d + 1:]
    return shape, ops


def apply_np(x, op, a):
    if op == "permute":
        return x.transpose(a)
    if op == "slice":
        return x[a]
    if op == "expand":
        return np.broadcast_to(x, a)
    if op == "unsqueeze":
        return np.expand_dims(x, a)
    if op == "squeeze":
        return x.reshape(tuple(s for s in x.shape if s != 1))
    if op == "select":
        return x[a]
    d, start, length = a
    return x[(slice(None),) * d + (slice(start, start + length),)]


def apply_dl(x, op, a):
    if op == "permute":
        return x.permute(*a)
    if op == "slice":
        return x[a]
    if op == "expand":
        return x.expand(*a)
    if op == "unsqueeze":
        return x.unsqueeze(a)
    if op == "squeeze":
        return x.squeeze()
    if op == "select":
        return x.select(0, a)
    return x.narrow(*a)


@settings(max_examples=300, deadline=None)
@given(view_chains())
def test_view_chains_match_numpy_and_share_memory(case):
    shape, ops = case
    ref = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    a = arr(ref)
    for op, arg in ops:
        ref = apply_np(ref, op, arg)
        a = apply_dl(a, op, arg)
        same(a, ref)
    # a view shares memory: writing through it is seen by the base (when it has elements and
    # no element is reached twice, i.e. no expanded dim)
    assert a.numel() == ref.size


@settings(max_examples=300, deadline=None)
@given(view_chains(), st.data())
def test_reshape_is_a_view_exactly_when_torch_can_view(case, data):
    torch = pytest.importorskip("torch")
    shape, ops = case
    base = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    a, t = arr(base), torch.from_numpy(base.copy())
    for op, arg in ops:
        if op == "slice" and any(s.step is not None and s.step < 0 for s in arg):
            return  # PyTorch has no negative steps
        a = apply_dl(a, op, arg)
        t = {"permute": lambda: t.permute(arg), "slice": lambda: t[arg], "expand": lambda: t.expand(arg),
             "unsqueeze": lambda: t.unsqueeze(arg), "squeeze": lambda: t.squeeze(),
             "select": lambda: t.select(0, arg), "narrow": lambda: t.narrow(*arg)}[op]()
    n = a.numel()
    target = data.draw(st.sampled_from([(n,), (-1,), (1, n), (n, 1, 1)] +
                                       ([(2, n // 2)] if n % 2 == 0 else [])))
    try:
        tv = t.view(*target)
    except RuntimeError:
        tv = None
    if tv is None:
        with pytest.raises(ValueError, match="view"):
            a.view(*target)
    else:
        v = a.view(*target)
        assert v.shape == tuple(tv.shape) and v.strides == tuple(tv.stride()) or v.numel() <= 1
        np.testing.assert_array_equal(np.asarray(v), tv.numpy())
    np.testing.assert_array_equal(np.asarray(a.reshape(*target)), t.reshape(*target).numpy())


def test_views_share_storage_and_writes_show_through():
    a = arr(np.zeros((3, 4)))
    v = a[1:, ::2]
    v.fill_(7.0)
    assert np.asarray(a)[1:, ::2].tolist() == [[7, 7], [7, 7]] and np.asarray(a)[0].sum() == 0
    assert a.T.shares_storage(a) and not a.clone().shares_storage(a)


def test_setitem_reads_overlapping_source_first():
    a = arr(np.arange(6.0))
    a[1:] = a[:-1]
    same(a, np.array([0.0, 0, 1, 2, 3, 4]))
    b = arr(np.arange(4.0))
    b[::-1] = b
    same(b, np.array([3.0, 2, 1, 0]))


def test_setitem_value_with_leading_ones_like_numpy():
    a = arr(np.zeros((2, 3)))
    a[0] = np.ones((1, 1, 3))
    same(a, np.array([[1.0, 1, 1], [0, 0, 0]]))


def test_shape_errors_name_the_op_and_shapes():
    a = arr(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        a.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(2, 4\)"):
        a.expand(2, 4)
    with pytest.raises(IndexError, match=r"permute: dim 2 is out of range"):
        a.permute(0, 2)
    with pytest.raises(ValueError, match="appears twice"):
        a.permute(1, 1)
    with pytest.raises(IndexError, match="index 2 is out of bounds for dimension 0 with size 2"):
        a[2]
    with pytest.raises(IndexError, match="too many indices"):
        a[0, 0, 0]
    with pytest.raises(ValueError, match="as_strided: .* reaches outside"):
        a.as_strided((3, 3), (3, 1))
    with pytest.raises(ValueError, match="narrow: start \\(1\\) \\+ length \\(3\\) exceeds"):
        a.narrow(0, 1, 3)


def test_as_strided_in_bounds_views_the_storage():
    a = arr(np.arange(9.0))
    diag = a.as_strided((3,), (4,))
    same(diag, np.array([0.0, 4, 8]))
    windows = a.as_strided((7, 3), (1, 1))
    same(windows, np.lib.stride_tricks.sliding_window_view(np.arange(9.0), 3))


def test_numpy_edge_is_zero_copy_both_ways():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    s = _C.share(x)
    s.fill_(1.0)
    assert x.sum() == 6
    back = s.numpy()
    assert np.shares_memory(back, x)
    ro = np.ones(3)
    ro.flags.writeable = False
    r = _C.share(ro)
    assert not r.writable and not r.numpy().flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        r.fill_(0.0)
    neg = _C.share(np.arange(5.0)[::-2])
    same(neg, np.array([4.0, 2, 0]))


def test_from_object_dtype_rules():
    assert _C.from_object(1.5).dtype == "float32"
    assert _C.from_object(np.float64(1.5)).dtype == "float64"
    assert _C.from_object(np.ones(2, np.float32)).dtype == "float32"
    assert _C.from_object(np.ones(2, np.float16)).dtype == "float32"
    assert _C.from_object(np.ones(2, np.uint8)).dtype == "int64"
    assert _C.from_object([True, False]).dtype == "bool"
    assert _C.from_object([1, 2], default_float="float64").dtype == "int64"
    assert _C.from_object([1.0], default_float="float64").dtype == "float64"
    with pytest.raises(TypeError, match="cannot make a tensor from data of type <U1"):
        _C.from_object(["a"])
    with pytest.raises(ValueError, match="does not fit in int64"):
        _C.from_object(np.array([2 ** 63], np.uint64))


def test_dtype_objects_compare_with_names_numpy_and_torch():
    f = _C.float32
    assert f == "float32" and f == np.float32 and f == np.dtype("float32") and f != np.float64
    assert _C.bool_ == np.bool_ and _C.int64 == "int64" and repr(f) == "dlcore.float32" and str(f) == "float32"
    assert np.dtype(f) == np.float32 and f.itemsize == 4 and f.is_floating_point and not _C.int64.is_floating_point
    assert {"float32": 1}[f] == 1


@requires_torch
def test_dtype_compares_with_torch():
    import torch
    assert _C.float64 == torch.float64 and _C.float64 != torch.float32


def test_cross_device_without_cuda_raises_clearly():
    if _C.cuda_device_count() > 0:
        pytest.skip("a GPU is present")
    a = arr(np.ones(3))
    with pytest.raises(ValueError, match="(built without CUDA|no CUDA device)"):
        a.to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        a.to("tpu")


def test_numpy_crossings_count_both_directions():
    imports, exports = _C.numpy_crossings()
    a = arr(np.ones(3))
    _C.unary(_C.Unary.exp, a)
    assert _C.numpy_crossings() == (imports, exports)
    _C.unary(_C.Unary.exp, np.ones(3))
    np.asarray(a)
    assert _C.numpy_crossings() == (imports + 1, exports + 1)
