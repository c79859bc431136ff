"""Tensor's C operator methods (csrc/bindings/autograd.cpp: +, -, * with a tensor of the same
dtype or a Python number, and relu / sigmoid / tanh) against the Python methods they shortcut:
the same values bit for bit, the same graph (gradients bit for bit), the same errors, and the
Python path whenever Function.apply is wrapped or a dlcore.compile recording runs."""
import numpy as np
import pytest

import dlcore
from dlcore import _C

OPS = {
    "add": lambda a, b: a + b, "radd": lambda a, b: b + a, "sub": lambda a, b: a - b,
    "rsub": lambda a, b: b - a, "mul": lambda a, b: a * b, "rmul": lambda a, b: b * a,
}
ACTS = ("relu", "sigmoid", "tanh")


class python_path:
    """The Tensor operators' Python methods only, for the duration."""

    def __enter__(self):
        _C.set_fast_operators(False)

    def __exit__(self, *exc):
        _C.set_fast_operators(True)


def _leaf(a, grad):
    return dlcore.tensor(a, requires_grad=grad)


def _run(fn, arrays, grad, no_grad):
    xs = [_leaf(a, grad) if isinstance(a, np.ndarray) else a for a in arrays]
    if no_grad:
        with dlcore.no_grad():
            y = fn(*xs)
        assert y._node is None and not y.requires_grad
        return y.numpy(), []
    y = fn(*xs)
    if not grad:
        return y.numpy(), []
    (y * y).sum().backward()
    return y.detach().numpy(), [x.grad.numpy() for x in xs if isinstance(x, dlcore.Tensor)]


def _same(fn, arrays, grad=True, no_grad=False):
    fast = _run(fn, arrays, grad, no_grad)
    with python_path():
        ref = _run(fn, arrays, grad, no_grad)
    np.testing.assert_array_equal(fast[0], ref[0])
    assert fast[0].dtype == ref[0].dtype
    assert len(fast[1]) == len(ref[1])
    for g, r in zip(fast[1], ref[1]):
        np.testing.assert_array_equal(g, r)
    return fast[0]


R = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["graph", "no_grad", "constants"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_tensor_operands_match_the_python_path(name, mode, dtype):
    a, b = R.standard_normal((3, 4)).astype(dtype), R.standard_normal((4,)).astype(dtype)  # broadcast too
    out = _same(OPS[name], [a, b], grad=mode != "constants", no_grad=mode == "no_grad")
    want = {"add": a + b, "radd": b + a, "sub": a - b, "rsub": b - a, "mul": a * b, "rmul": b * a}[name]
    np.testing.assert_allclose(out, want, rtol=1e-6)


@pytest.mark.parametrize("scalar", [0.5, -3, 2 ** 60, 1e300])
@pytest.mark.parametrize("mode", ["graph", "no_grad"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_python_numbers_match_the_python_path(name, mode, scalar):
    a = R.standard_normal((5, 3))
    with np.errstate(over="ignore", invalid="ignore"):
        _same(OPS[name], [a, scalar], no_grad=mode == "no_grad")


@pytest.mark.parametrize("mode", ["graph", "no_grad", "strided"])
@pytest.mark.parametrize("act", ACTS)
def test_activation_methods_match_the_python_path(act, mode):
    a = R.standard_normal((6, 7)).astype(np.float32)
    if mode == "strided":  # a transposed view: not contiguous
        out = _same(lambda x: getattr(x.t(), act)(), [a], no_grad=True)
        a = a.T
    else:
        out = _same(lambda x: getattr(x, act)(), [a], no_grad=mode == "no_grad")
    ref = {"relu": np.maximum(a, 0), "sigmoid": 1 / (1 + np.exp(-a)), "tanh": np.tanh(a)}[act]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_other_operands_take_the_python_path():
    f = dlcore.tensor([1.0, 2.0])
    i = dlcore.tensor([1, 2])
    # mixed dtypes promote, bool and NumPy scalars, ints with int tensors: as the Python methods
    assert (f + i).dtype == dlcore.float32 and (f + i).tolist() == [2.0, 4.0]
    assert (i * 2).dtype == dlcore.int64 and (i * 2).tolist() == [2, 4]
    assert (i * 0.5).dtype == dlcore.float32
    assert (f + True).tolist() == [2.0, 3.0]
    assert (f * np.float64(2)).tolist() == [2.0, 4.0]
    assert (f - dlcore.tensor([1.0, 1.0], dtype=dlcore.float64)).dtype == dlcore.float64
    assert (i - dlcore.tensor([1.0, 1.0])).dtype == dlcore.float32
    assert (3 - f).tolist() == [2.0, 1.0] and ([1.0, 1.0] - f).tolist() == [0.0, -1.0]


def test_errors_are_the_python_paths():
    a, b = dlcore.ones(2, 3), dlcore.ones(4, 3)
    with python_path(), pytest.raises(ValueError) as ref:
        a * b
    with pytest.raises(ValueError) as fast:
        a * b
    assert str(fast.value) == str(ref.value) and "(2, 3)" in str(fast.value)
    with pytest.raises(TypeError) as fast:
        a + "x"
    with python_path(), pytest.raises(TypeError) as ref:
        a + "x"
    assert str(fast.value) == str(ref.value)
    with pytest.raises(OverflowError):
        a * 2 ** 2000
    with pytest.raises(TypeError, match="tanh"):
        dlcore.tensor([1, 2]).tanh()


def test_a_wrapped_function_apply_sees_every_op():
    seen = []
    cls = dlcore.autograd.Function
    plain = cls.__dict__["apply"]

    def spy(c, *args):
        seen.append(c.__name__)
        return plain.__func__(c, *args)
    cls.apply = classmethod(spy)
    try:
        x = dlcore.tensor([1.0, 2.0], requires_grad=True)
        with dlcore.no_grad():
            ((x * x + 1.0).tanh() - x).relu()
    finally:
        cls.apply = plain
    assert seen == ["Mul", "Affine", "Activation", "Sub", "Activation"]
    with dlcore.autograd.detect_anomaly():
        x = dlcore.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
    assert hasattr(y._node, "_forward_site")  # anomaly mode's apply made the node


def test_compiled_step_records_the_operators():
    """A dlcore.compile recording sees the operators' kernels (the graph's and a no_grad part's):
    replayed on new inputs, the step equals the eager one bit for bit."""
    def train(compiled):
        w = dlcore.tensor(np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4), requires_grad=True)
        opt = dlcore.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            with dlcore.no_grad():
                z = (x * 2.0 + x).tanh() - x  # recorded as kernels, no graph
            loss = ((x * w - 0.5).sigmoid() * z + 1.0).relu().sum()
            loss.backward()
            opt.step()
            return loss
        fn = dlcore.compile(step, strict=True) if compiled else step
        xs = [dlcore.tensor(np.random.default_rng(i).standard_normal((4, 4)).astype(np.float32)) for i in range(4)]
        return [fn(x).item() for x in xs], w.detach().numpy().tobytes(), fn

    eager, w_eager, _ = train(False)
    replayed, w_replayed, fn = train(True)
    assert len(fn.records) == 1 and not fn.eager
    assert replayed == eager and w_replayed == w_eager
    assert len(set(eager)) == 4
    y = dlcore.tensor([1.0]) * 2.0  # the shortcut is back after the recording
    assert y.tolist() == [2.0]
