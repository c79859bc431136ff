"""Bad input gives a Python exception (ValueError / TypeError / IndexError) whose message
names the op, the argument and the shapes; nothing crashes or reads out of bounds."""
import numpy as np
import pytest

import dlcore
from dlcore import _C


def f32(*shape):
    return dlcore.ones(*shape)


# ---- mismatched shapes -------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_binary_shape_mismatch(op):
    fn = getattr(dlcore, op)
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        fn(f32(2, 3), f32(4))


def test_operator_shape_mismatch_and_comparison():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(2,\)"):
        f32(2, 3) + f32(2)
    with pytest.raises(ValueError, match=r"lt: shapes \(3,\) and \(2,\)"):
        f32(3) < f32(2)


def test_where_shape_mismatch():
    with pytest.raises(ValueError, match=r"where: shapes .*\(3,\).*\(2,\)|where: shapes .*\(2,\).*\(3,\)"):
        dlcore.where(dlcore.tensor([True, False, True]), f32(3), f32(2))
    with pytest.raises(TypeError, match=r"where: 'condition' must be a bool tensor, got float32"):
        dlcore.where(f32(3), f32(3), f32(3))


def test_matmul_shape_mismatch():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        f32(2, 3) @ f32(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(4,\)"):
        f32(3) @ f32(4)
    with pytest.raises(ValueError, match=r"matmul.*batch.*\(2,\) and \(3,\)"):
        f32(2, 3, 4) @ f32(3, 4, 5)
    with pytest.raises(ValueError, match=r"matmul: both arguments need at least 1 dimension.*\(\)"):
        dlcore.matmul(dlcore.tensor(1.0), f32(2))


def test_layout_shape_errors():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        f32(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\), incompatible with \(2, 3\)"):
        dlcore.cat([f32(2, 3), f32(2, 4)], 0)
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \(3,\), expected \(2,\)"):
        dlcore.stack([f32(2), f32(3)])
    with pytest.raises(ValueError, match=r"split: sections \[1, 1\] sum to 2, but dim 0 has size 3"):
        dlcore.split(f32(3), [1, 1])
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(4, 3\)"):
        f32(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0\) are not a permutation.*\(2, 3\)"):
        f32(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match=r"expand: -1 is not allowed for the new leading dims of \(-1, 2, 3\)"):
        f32(2, 3).expand(-1, 2, 3)
    with pytest.raises(ValueError, match=r"cat: expected a non-empty"):
        dlcore.cat([])


def test_gather_and_index_select_shape_errors():
    x = f32(3, 4)
    with pytest.raises(ValueError, match=r"gather: 'index' must have the same number of dims as 'input' \(\(3, 4\)\), got \(2,\)"):
        dlcore.gather(x, 1, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"gather: 'index' shape \(5, 2\) exceeds 'input' shape \(3, 4\) at dim 0"):
        dlcore.gather(x, 1, np.zeros((5, 2), np.int64))
    with pytest.raises(ValueError, match=r"index_select: 'index' must be 1-D, got shape \(2, 1\)"):
        dlcore.index_select(x, 0, np.zeros((2, 1), np.int64))


def test_backward_gradient_shape_error():
    x = dlcore.ones(2, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"backward: gradient has shape \(2,\) but the tensor has shape \(2, 2\)"):
        (x * 2).backward(dlcore.ones(2))


def test_setitem_shape_mismatch():
    t = f32(3, 4)
    with pytest.raises(ValueError, match=r"\(2,\).*\(4,\)"):
        t[0] = dlcore.tensor([1.0, 2.0])


# ---- wrong dtypes --------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sigmoid", "tanh", "sin", "cos", "log1p", "expm1", "relu"])
def test_float_only_unary_on_int(op):
    with pytest.raises(TypeError, match=rf"{op}: needs a float32 or float64 tensor, got int64"):
        getattr(dlcore, op)(dlcore.tensor([1, 2]))


def test_kernel_level_dtype_errors_name_op_argument_and_shape():
    with pytest.raises(TypeError, match=r"exp: argument 'x' must be a float32 or float64 tensor, got int64 of shape \(2,\)"):
        _C.unary(_C.Unary.exp, np.array([1, 2]))
    with pytest.raises(TypeError, match=r"add: operands 'a' \(2,\) and 'b' \(2,\) have different dtypes \(float32 and float64\)"):
        _C.binary(_C.Binary.add, np.ones(2, np.float32), np.ones(2))
    with pytest.raises(TypeError, match=r"sum: argument 'x' has dtype float16"):
        _C.reduce(_C.Reduce.sum, np.ones(2, np.float16))
    with pytest.raises(TypeError, match=r"mean: argument 'x' must be a float32 or float64 tensor, got int64"):
        _C.reduce(_C.Reduce.mean, np.ones(2, np.int64))
    with pytest.raises(TypeError, match=r"matmul: needs float32 or float64, got int64"):
        _C.matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64))
    with pytest.raises(TypeError, match=r"mul: argument 'a' must be an array, got str"):
        _C.binary(_C.Binary.mul, "x", np.ones(2))


def test_from_numpy_bad_dtypes():
    with pytest.raises(TypeError, match=r"from_numpy: unsupported dtype float16.*\(3,\)"):
        dlcore.from_numpy(np.ones(3, np.float16))
    with pytest.raises(TypeError, match=r"from_numpy: unsupported dtype int32"):
        dlcore.from_numpy(np.ones(3, np.int32))
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy.ndarray, got list"):
        dlcore.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match=r"from_numpy: the array of shape \(3,\) is not in native byte order"):
        dlcore.from_numpy(np.ones(3, ">f4"))
    with pytest.raises(TypeError, match=r"tensor: cannot make a tensor from data of type <U1"):
        dlcore.tensor(["a"])
    with pytest.raises(TypeError, match=r"unsupported dtype float16"):
        dlcore.zeros(2, dtype=np.float16)


def test_misc_type_errors():
    with pytest.raises(TypeError, match=r"add: unsupported operand type str"):
        f32(2) + "a"
    with pytest.raises(TypeError, match=r"index_select: 'index' must be an integer tensor, got float64"):
        dlcore.index_select(f32(3), 0, np.array([0.0]))
    with pytest.raises(TypeError, match=r"random tensors must be float32 or float64, got int64"):
        dlcore.rand(2, dtype=dlcore.int64)
    with pytest.raises(TypeError, match=r"mean: needs a float32 or float64 tensor, got int64"):
        dlcore.arange(3).mean()
    with pytest.raises(TypeError, match=r"~ is defined for bool tensors only"):
        ~f32(2)


# ---- out-of-range axes and indices -------------------------------------------------------------------

@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "max", "min", "var", "argmax", "argmin"])
@pytest.mark.parametrize("dim", [2, -3, (0, 5)])
def test_reduction_axis_out_of_range(op, dim):
    if op in ("argmax", "argmin", "max", "min") and isinstance(dim, tuple):
        dim = 7  # these take a single int dim
    with pytest.raises(IndexError, match=rf"{op}: dim -?\d is out of range for a tensor of shape \(2, 3\)"):
        getattr(dlcore, op)(f32(2, 3), dim)


_X = dlcore.ones(2, 3)
AXIS_CASES = [
    (lambda: _X.transpose(0, 2), r"transpose: dim 2 is out of range.*\(2, 3\)"),
    (lambda: _X.unsqueeze(4), r"unsqueeze: dim 4 is out of range.*\(2, 3\)"),
    (lambda: _X.squeeze(3), r"squeeze: dim 3 is out of range.*\(2, 3\)"),
    (lambda: dlcore.cat([_X, _X], 2), r"cat: dim 2 is out of range.*\(2, 3\)"),
    (lambda: _X.split(1, dim=-3), r"split: dim -3 is out of range.*\(2, 3\)"),
    (lambda: _X.chunk(2, dim=5), r"chunk: dim 5 is out of range.*\(2, 3\)"),
    (lambda: _X.permute(0, 3), r"permute: dim 3 is out of range.*\(2, 3\)"),
    (lambda: _X.flatten(0, 4), r"flatten: dim 4 is out of range.*\(2, 3\)"),
    (lambda: dlcore.index_select(_X, 2, [0]), r"index_select: dim 2 is out of range.*\(2, 3\)"),
    (lambda: dlcore.index_select(_X, -3, [0]), r"index_select: dim -3 is out of range.*\(2, 3\)"),
    (lambda: dlcore.gather(_X, 2, np.zeros((2, 3), np.int64)), r"gather: dim 2 is out of range.*\(2, 3\)"),
    (lambda: dlcore.stack([_X, _X], 3), r"stack: dim 3 is out of range.*\(2, 3\)"),
]


@pytest.mark.parametrize("i", range(len(AXIS_CASES)))
def test_layout_axis_out_of_range(i):
    fn, pat = AXIS_CASES[i]
    with pytest.raises(IndexError, match=pat):
        fn()


def test_index_out_of_range():
    x = f32(3, 4)
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for (axis|dimension) 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match=r"index -4 is out of bounds for (axis|dimension) 0 with size 3"):
        x[-4]
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for (axis|dimension) 0 with size 3"):
        x[[0, 5]]
    with pytest.raises(IndexError, match=r"index 4 is out of bounds for (axis|dimension) 1 with size 4"):
        x[:, [4]]
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\) does not match.*\(3, 4\)"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match=r"too many indices.*\(3, 4\)|too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"index_select: index 3 is out of bounds for axis 0 with size 3 \(tensor shape \(3, 4\)\)"):
        dlcore.index_select(x, 0, [0, 3])
    with pytest.raises(IndexError, match=r"index_select: index -1 is out of bounds"):
        dlcore.index_select(x, 1, [-1])
    with pytest.raises(IndexError, match=r"gather: index 4 is out of bounds for (axis|dimension) 1 with size 4"):
        dlcore.gather(x, 1, np.full((3, 2), 4))
    with pytest.raises(IndexError, match=r"one_hot: index 3 is out of bounds.*size 3"):
        dlcore.one_hot([0, 3], 3)
    with pytest.raises(IndexError, match=r"one_hot: index -1 is out of bounds"):
        dlcore.one_hot([-1], 3)
    with pytest.raises(ValueError, match=r"one_hot: num_classes must be positive, got 0"):
        dlcore.one_hot([0], 0)
    with pytest.raises(IndexError, match=r"index 3 is out of bounds"):
        x[3] = 1.0


def test_index_out_of_range_in_backward_is_never_reached():
    # the forward refuses the bad index before anything is recorded
    x = dlcore.ones(3, requires_grad=True)
    with pytest.raises(IndexError):
        dlcore.gather(x, 0, np.array([7]))
    assert x.grad is None


# ---- bad memory: non-contiguous, misaligned, read-only -------------------------------------------

def test_misaligned_numpy_arrays():
    buf = bytes(4 * 9)
    mis = np.frombuffer(buf, dtype=np.uint8, offset=1, count=32).view(np.float32)
    assert mis.ctypes.data % 4 != 0
    with pytest.raises(ValueError, match=r"from_numpy: the array of shape \(8,\) is misaligned for float32"):
        dlcore.from_numpy(mis)
    with pytest.raises(ValueError, match=r"exp: argument 'x' is misaligned for float32"):
        _C.unary(_C.Unary.exp, mis)
    # dlcore.tensor copies, so it accepts the same data
    np.testing.assert_array_equal(dlcore.tensor(mis).numpy(), mis)


def test_odd_byte_strides():
    base = np.zeros(40, np.uint8)
    odd = np.lib.stride_tricks.as_strided(base[:36].view(np.float32), shape=(4,), strides=(6,))
    with pytest.raises(ValueError, match=r"from_numpy: .*misaligned for float32 \(strides \(6,\)\)"):
        dlcore.from_numpy(odd)
    with pytest.raises(ValueError, match=r"add: argument 'a' has a byte stride 6 that is not a multiple of its item size 4 \(shape \(4,\)\)"):
        _C.binary(_C.Binary.add, odd, np.ones(4, np.float32))


def test_non_contiguous_numpy_arrays_work():
    a = np.arange(30, dtype=np.float64).reshape(5, 6)
    for v in (a.T, a[::2, ::-3], a[:, 1], np.broadcast_to(a[0], (3, 6))):
        t = dlcore.from_numpy(v)
        np.testing.assert_array_equal((t * 2.0).numpy(), v * 2)
        np.testing.assert_array_equal(t.sum(0).numpy(), v.sum(0))


def test_read_only_outputs_refused():
    ro = np.ones(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"fill: argument 'out' is a read-only array"):
        _C.fill(ro, 0.0)
    t = dlcore.ones(3).expand(2, 3)  # a broadcast view is read-only
    with pytest.raises(ValueError, match=r"read-only"):
        t[0, 0] = 5.0


def test_too_many_dims():
    with pytest.raises(ValueError, match=r"exp: argument 'x' has 9 dimensions; dlcore supports at most 8"):
        _C.unary(_C.Unary.exp, np.ones([1] * 9))
    with pytest.raises(ValueError, match=r"ones: shape \(1, 1, 1, 1, 1, 1, 1, 1, 1\) has 9 dimensions; dlcore supports at most 8"):
        dlcore.ones(*([1] * 9))


# ---- autograd misuse ---------------------------------------------------------------------------

def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dlcore.ones(2).sum().backward()
    x = dlcore.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2,\)"):
        (x * 2).backward()


# ---- NaN inputs behave like NumPy (no exception, NaN propagates) ---------------------------------

def test_nan_inputs_propagate():
    x = np.array([1.0, np.nan, -2.0])
    t = dlcore.tensor(x)
    assert np.isnan(t.max().item()) and np.isnan(t.min().item())
    assert t.argmax().item() == np.argmax(x) == 1
    assert t.argmin().item() == np.argmin(x) == 1
    np.testing.assert_array_equal(dlcore.maximum(t, 0.0).numpy(), np.maximum(x, 0.0))
    np.testing.assert_array_equal(dlcore.minimum(t, 0.0).numpy(), np.minimum(x, 0.0))
    np.testing.assert_array_equal(dlcore.clip(t, -1, 1).numpy(), np.clip(x, -1, 1))
    assert np.isnan(t.sum().item()) and np.isnan(t.var().item())


def test_threads_and_isa_arguments():
    with pytest.raises(ValueError, match=r"set_num_threads: n must be positive, got 0"):
        dlcore.set_num_threads(0)
    with pytest.raises(ValueError, match=r"unknown ISA 'sse9'"):
        _C.set_isa("sse9")


def test_integer_edge_cases_do_not_crash():
    # C++ integer division traps on / 0 and INT64_MIN / -1; the kernel must not
    a = np.array([7, -7, np.iinfo(np.int64).min, 5])
    b = np.array([0, 2, -1, -1])
    out = _C.binary(_C.Binary.div, a, b)
    np.testing.assert_array_equal(out, [0, -3, np.iinfo(np.int64).min, -5])
    with pytest.raises(ValueError, match=r"pow: integers to negative integer powers are not allowed \(tensor of shape \(3,\), exponent -1\)"):
        dlcore.arange(3) ** -1


def test_index_kernels_refuse_0d_inputs():
    # normalize_axis accepts axis 0 for a 0-d tensor; the index kernels must not (no crash)
    s = np.array(5.0)
    with pytest.raises(ValueError, match=r"index_select: argument 'input' is 0-d"):
        _C.index_select(s, 0, np.array([0]))
    with pytest.raises(ValueError, match=r"gather: argument 'input' is 0-d"):
        _C.gather(s, 0, np.array(0))
    with pytest.raises(ValueError, match=r"index_add_: argument 'out' is 0-d"):
        _C.index_add_(s, 0, np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"scatter_add_: argument 'out' is 0-d"):
        _C.scatter_add_(s, 0, np.array(0), np.array(1.0))
    with pytest.raises(ValueError, match=r"index_select: the input is 0-d"):
        dlcore.index_select(dlcore.tensor(1.0), 0, [0])


def test_reduce_over_dim_0_of_a_0d_array():
    s = np.array(2.5)
    assert _C.reduce(_C.Reduce.max, s, [0]).item() == 2.5
    assert _C.reduce(_C.Reduce.sum, s, [-1], True).shape == ()
    assert dlcore.tensor(2.5).sum(0).item() == 2.5


def test_kernel_entry_points_never_crash():
    """Every _C entry point over awkward arguments (0-d, empty, int, bool, transposed, bad
    indices, mismatched shapes) either works or raises ValueError / TypeError / IndexError."""
    arrs = {
        "0d": np.array(2.0), "e0": np.zeros((0,)), "e03": np.zeros((0, 3)), "v3": np.arange(3.0),
        "m23": np.ones((2, 3)), "i3": np.array([0, 1, 5]), "ineg": np.array([-1]), "i0d": np.array(1),
        "b3": np.array([True, False, True]), "f32": np.ones(3, np.float32),
        "i2x1": np.zeros((2, 1), np.int64), "T": np.ones((3, 2)).T,
    }
    calls = []
    for a in arrs.values():
        calls += [lambda a=a: _C.reduce(_C.Reduce.max, a, [0]), lambda a=a: _C.reduce(_C.Reduce.argmax, a),
                  lambda a=a: _C.unary(_C.Unary.exp, a), lambda a=a: _C.cast(a, "int64"),
                  lambda a=a: _C.one_hot(a, 3),
                  lambda a=a: _C.random_fill(_C.RandomDist.normal, a.copy(), 0.0, 1.0, 0, 0)]
        for b in arrs.values():
            calls += [lambda a=a, b=b: _C.binary(_C.Binary.add, a, b),
                      lambda a=a, b=b: _C.where(arrs["b3"], a, b),
                      lambda a=a, b=b: _C.copy(a, b.copy()), lambda a=a, b=b: _C.matmul(a, b)]
            for ax in (0, 1, -1):
                calls += [lambda a=a, b=b, ax=ax: _C.index_select(a, ax, b),
                          lambda a=a, b=b, ax=ax: _C.gather(a, ax, b),
                          lambda a=a, b=b, ax=ax: _C.index_add_(a.copy(), ax, b, a),
                          lambda a=a, b=b, ax=ax: _C.scatter_add_(a.copy(), ax, b, a)]
    ok = failed = 0
    for f in calls:
        try:
            f()
            ok += 1
        except (ValueError, TypeError, IndexError):
            failed += 1
    assert ok + failed == len(calls) and ok > 100 and failed > 100
