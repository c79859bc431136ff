"""Every foundation backward against float64 central differences (tests/gradcheck.py), and the
autograd engine's edge cases: accumulation, no_grad, detach, fan-out, shared leaves, gradient
arguments, freed graphs and retain_graph, int tensors, views."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlcore
from conftest import requires_torch
from gradcheck import gradcheck


def r(*shape, seed=0, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def away_from_zero(*shape, seed=0):
    x = r(*shape, seed=seed)
    return np.where(np.abs(x) < 0.2, 0.5, x)


# ---- elementwise -----------------------------------------------------------------------------

BCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 1), (1, 4)), ((), (2, 3)), ((3, 1), (1,))]


@pytest.mark.parametrize("sa,sb", BCAST, ids=str)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_binary_gradients_broadcast(op, sa, sb):
    a = r(*sa, seed=1, lo=0.5, hi=2.0)
    b = r(*sb, seed=2, lo=0.5, hi=2.0)
    if op in ("maximum", "minimum"):
        b = b + 0.05  # no ties
    f = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
         "div": lambda x, y: x / y, "pow": lambda x, y: x ** y,
         "maximum": dlcore.maximum, "minimum": dlcore.minimum}[op]
    gradcheck(f, [a, b])


@given(st.data())
@settings(max_examples=25, deadline=None, derandomize=True)
def test_broadcast_gradients_reduce_to_operand_shapes(data):
    """Random broadcast shapes: each gradient has its operand's shape and matches differences."""
    nd = data.draw(st.integers(0, 3))
    base = data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))

    def variant():
        k = data.draw(st.integers(0, nd))
        return tuple(d if data.draw(st.booleans()) else 1 for d in base[nd - k:])

    sa, sb = variant(), variant()
    a = r(*sa, seed=3, lo=0.5, hi=1.5)
    b = r(*sb, seed=4, lo=0.5, hi=1.5)
    gradcheck(lambda x, y: x * y + x / y - y, [a, b])


UNARY = [
    ("exp", dlcore.exp, r(3, 4)), ("log", dlcore.log, r(3, 4, lo=0.3, hi=3)),
    ("sqrt", dlcore.sqrt, r(3, 4, lo=0.3, hi=3)), ("abs", dlcore.abs, away_from_zero(3, 4)),
    ("relu", dlcore.relu, away_from_zero(3, 4)), ("sigmoid", dlcore.sigmoid, r(3, 4)),
    ("tanh", dlcore.tanh, r(3, 4)), ("sin", dlcore.sin, r(3, 4)), ("cos", dlcore.cos, r(3, 4)),
    ("log1p", dlcore.log1p, r(3, 4, lo=-0.5, hi=2)), ("expm1", dlcore.expm1, r(3, 4)),
    ("neg", lambda x: -x, r(3, 4)), ("clip", lambda x: dlcore.clip(x, -1.0, 1.0), away_from_zero(3, 4) * 1.1),
    ("clip_min", lambda x: x.clamp(min=0.3), r(3, 4) + 0.01),
    ("pow2", lambda x: x ** 2, r(3, 4)), ("pow_half", lambda x: x ** 0.5, r(3, 4, lo=0.3, hi=2)),
    ("pow_neg", lambda x: x ** -1.5, r(3, 4, lo=0.3, hi=2)), ("rpow", lambda x: 2.0 ** x, r(3, 4)),
    ("affine", lambda x: 3.0 - x * 2.0 + 1.0 - x / 4.0, r(3, 4)), ("rdiv", lambda x: 1.0 / x, away_from_zero(3, 4)),
]


@pytest.mark.parametrize("name,f,x", UNARY, ids=[u[0] for u in UNARY])
def test_unary_gradients(name, f, x):
    gradcheck(f, [x])


def test_unary_gradients_on_non_contiguous_input():
    x = r(4, 6, seed=5)
    gradcheck(lambda t: dlcore.tanh(t.T[::2]) * dlcore.exp(t[:, ::2].T), [x])


def test_where_gradient():
    c = r(3, 1, seed=6) > 0
    a, b = r(3, 4, seed=7), r(4, seed=8)
    gradcheck(lambda x, y: dlcore.where(dlcore.tensor(c), x, y), [a, b])


def test_maximum_tie_splits_gradient():
    a = dlcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = dlcore.tensor([1.0, 5.0, 0.0], requires_grad=True)
    dlcore.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1, 0])


# ---- reductions ------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (1,), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduction_gradients(dim, keepdim):
    x = r(3, 4, 2, seed=9)
    gradcheck(lambda t: t.sum(dim, keepdim=keepdim), [x])
    gradcheck(lambda t: t.mean(dim, keepdim=keepdim), [x])
    gradcheck(lambda t: dlcore.amax(t, dim, keepdim=keepdim), [x])
    gradcheck(lambda t: dlcore.amin(t, dim, keepdim=keepdim), [x])
    if isinstance(dim, int):  # PyTorch's max(dim): (values, indices), gradient to the index
        gradcheck(lambda t: t.max(dim, keepdim=keepdim).values, [x])
        gradcheck(lambda t: t.min(dim, keepdim=keepdim)[0], [x])
    gradcheck(lambda t: t.var(dim, keepdim=keepdim), [x])
    gradcheck(lambda t: t.var(dim, keepdim=keepdim, correction=0), [x])
    gradcheck(lambda t: t.std(dim, keepdim=keepdim), [x])


def test_reduction_gradient_of_non_contiguous_input():
    x = r(5, 6, seed=10)
    gradcheck(lambda t: t.T[1:, ::2].sum(0) * t[::2].max(1).values.sum(), [x])


def test_amax_tie_shares_gradient():
    x = dlcore.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    dlcore.amax(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


def test_max_dim_returns_values_and_indices_like_pytorch():
    x = dlcore.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    values, indices = x.max(1)
    np.testing.assert_array_equal(values.detach().numpy(), [3.0, 2.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])  # first of tied maxima, like torch
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(dlcore.max(x.detach(), dlcore.zeros(2, 3) + 2).numpy(),
                                  [[2, 3, 3], [2, 2, 2]])


# ---- matmul and layout -----------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((2, 3, 4), (2, 4, 2)), ((2, 3, 4), (4, 2)),
                                   ((3, 4), (2, 4, 2)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4,)),
                                   ((4,), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))],
                         ids=str)
def test_matmul_gradients(sa, sb):
    gradcheck(lambda a, b: a @ b, [r(*sa, seed=11), r(*sb, seed=12)])


def test_matmul_gradient_transposed_operands():
    gradcheck(lambda a, b: a.T @ b[::2].T, [r(4, 3, seed=13), r(10, 4, seed=14)])


def test_layout_gradients():
    x = r(2, 3, 4, seed=15)
    gradcheck(lambda t: t.reshape(6, 4) * dlcore.arange(4).double(), [x])
    gradcheck(lambda t: t.permute(2, 0, 1) * dlcore.arange(2).double().reshape(2, 1), [x])
    gradcheck(lambda t: t.transpose(0, 2).flatten() * dlcore.arange(24).double(), [x])
    gradcheck(lambda t: t[:, :1].expand(2, 5, 4) * dlcore.arange(4).double(), [x])
    gradcheck(lambda t: t.unsqueeze(1).squeeze(1) ** 2, [x])
    gradcheck(lambda t: t.contiguous() * t.T.contiguous().T, [x])
    gradcheck(lambda t: t.float().double() * 2.0, [x], eps=1e-2, rtol=1e-4)  # linear: a big step is exact


def test_cat_stack_split_gradients():
    a, b = r(2, 3, seed=16), r(2, 5, seed=17)
    gradcheck(lambda x, y: dlcore.cat([x, y, x], 1) * dlcore.arange(11).double(), [a, b])
    gradcheck(lambda x, y: dlcore.stack([x, y[:, :3]], -1) ** 2, [a, b])
    gradcheck(lambda x: x.split(2, dim=1)[1] * 3.0, [b])
    gradcheck(lambda x: dlcore.cat([p * (i + 1.0) for i, p in enumerate(x.split([1, 3, 1], 1))], 1), [b])
    gradcheck(lambda x: x.chunk(2, 0)[0] - x.chunk(2, 0)[1], [a])


def test_composite_mlp_gradient():
    x, w1, b1, w2 = r(5, 3, seed=18), r(4, 3, seed=19), r(4, seed=20), r(2, 4, seed=21)

    def f(x, w1, b1, w2):
        h = dlcore.tanh(x @ w1.T + b1)
        y = h @ w2.T
        return (y - y.mean(1, keepdim=True)).pow(2).mean()

    gradcheck(f, [x, w1, b1, w2])


# ---- engine edge cases -----------------------------------------------------------------------

def test_grad_accumulates_across_backward_calls():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 4])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5, 7])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_grad_is_owned_not_aliasing_the_graph():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = x.sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * g1)
    x.grad.numpy()[0] = 100  # writing into .grad must not touch anything else
    assert x.detach().numpy()[0] == 1


def test_no_grad():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with dlcore.no_grad():
        y = x * 2
        assert not dlcore.is_grad_enabled()
    assert dlcore.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @dlcore.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    with dlcore.no_grad():
        with dlcore.enable_grad():
            assert (x * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_detach():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 4])  # no gradient flows through d


def test_fan_out():
    x = dlcore.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2.0
    z = y * y + y + dlcore.exp(y) * 0.0 + y.sum()
    z.sum().backward()
    # dz/dx = 2 * (2y + 1 + 3)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * (2 * np.array([1, -2, 3.0])) + 4), rtol=1e-6)
    gradcheck(lambda t: (t * t) * t + t.sum() * t - dlcore.exp(t) * t, [r(3, seed=22)])


def test_graphs_sharing_leaves():
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    a = dlcore.tensor([3.0, 4.0], requires_grad=True)
    l1 = (w * a).sum()
    l2 = (w * w).sum()
    l1.backward()
    l2.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3 + 2, 4 + 4])
    np.testing.assert_array_equal(a.grad.numpy(), [1, 2])


def test_backward_with_gradient_argument():
    x = dlcore.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(dlcore.tensor([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0], [3, 16]])
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs.*\(2, 2\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\).*shape \(2, 2\)"):
        (x * 2).backward(dlcore.ones(3))
    # numpy gradient and a float64 gradient for a float32 tensor are accepted
    x.grad = None
    (x * 2).backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 2))
    assert x.grad.dtype == np.float32
    (x * 1.0).backward([[1.0, 1.0], [1.0, 1.0]])  # a nested list works too
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 3))


def test_backward_on_leaf_and_multi_output():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    x.backward(dlcore.tensor([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3, 4])
    x.grad = None
    a, b = x.split(1)
    (a * 5.0).sum().backward()  # one output of a multi-output node unused
    np.testing.assert_array_equal(x.grad.numpy(), [5, 0])


def test_backward_twice_through_freed_graph_raises():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = (dlcore.exp(x) * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = (dlcore.exp(x) * x).sum()
    y.backward(retain_graph=True)
    g = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g)
    np.testing.assert_allclose(g, np.exp([1, 2]) * (1 + np.array([1, 2])), rtol=1e-6)


def test_requires_grad_refused_on_int_and_bool():
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients.*int64"):
        dlcore.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        dlcore.arange(3).requires_grad_()
    with pytest.raises(RuntimeError, match="bool"):
        dlcore.tensor([True]).requires_grad_()
    with pytest.raises(RuntimeError, match="int64"):
        dlcore.zeros(2, dtype=dlcore.int64, requires_grad=True)


def test_int_outputs_are_not_differentiable():
    x = dlcore.tensor([1.5, -2.0], requires_grad=True)
    i = x.argmax()
    assert not i.requires_grad
    c = x > 0
    assert not c.requires_grad and c.dtype == np.bool_
    n = x.long()
    assert not n.requires_grad


def test_grad_through_views_into_base():
    x = dlcore.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = x[1]          # a view
    w = x.T[:, 0]     # another view of the same memory
    (v * 2.0 + w * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 3, 3], [2, 2, 2]])


def test_leaf_properties():
    x = dlcore.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy()[0] == 1.0


# ---- gradient stealing: .grad adopts an unshared gradient array, never a shared one ----------

def test_grad_stealing_is_calibrated_on_this_interpreter():
    x = dlcore.tensor(np.ones((3, 4)), requires_grad=True)
    (x * 2.0).sum().backward()
    from dlcore import autograd
    assert autograd._steal_refs is not None and autograd._steal_refs >= 2


def test_stealing_never_aliases_grads_of_one_node():
    a = dlcore.tensor(np.ones((5, 3)), requires_grad=True)
    b = dlcore.tensor(np.ones((5, 3)), requires_grad=True)
    (a + b).backward(dlcore.tensor(np.full((5, 3), 2.0)))  # Add returns the same g for both
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[...] = 7.0
    np.testing.assert_array_equal(b.grad.numpy(), np.full((5, 3), 2.0))


def test_stealing_never_adopts_the_callers_gradient():
    x = dlcore.tensor(np.ones(4), requires_grad=True)
    g = np.arange(4.0)
    (x + 0.0).backward(dlcore.from_numpy(g))
    g[...] = -1.0
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(4.0))


def test_stolen_grads_accumulate_like_copied_ones():
    w = dlcore.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x = dlcore.tensor(np.ones((4, 3)))
    for _ in range(3):
        (x @ w.T).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 12.0))
    shared = dlcore.tensor(np.ones(3), requires_grad=True)
    y = shared * 3.0
    (y + y).sum().backward()  # fan-out inside the graph, then a steal into the leaf
    np.testing.assert_array_equal(shared.grad.numpy(), np.full(3, 6.0))


def test_both_walks_calibrate_stealing_alike():
    """The C++ walk holds the references _walk holds when it hands a leaf its gradient, so the
    probe sees the same count through both (else stealing would be tuned for one walk only)."""
    from dlcore import autograd
    autograd._steal_refs = None
    autograd._calibrate_stealing()
    assert autograd._steal_counts[0] == autograd._steal_counts[1] == autograd._steal_refs >= 2


# ---- the C++ walk (_C.backward_walk) against the Python reference (autograd._walk) ------------

def _mixed_graph(record):
    """A float32 graph with shared leaves, fan-out and fan-in, multi-output nodes, views, in-place
    ops on non-leaves and views of them, an unused output and a post-accumulate hook; backward
    twice (the second accumulating into .grad). Returns every leaf's .grad bytes and what the
    hooks saw, in order."""
    rng = np.random.default_rng(11)
    mk = lambda *s: dlcore.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)  # noqa: E731
    w, v, b, c = mk(6, 8), mk(8, 6), mk(8), mk(4, 6)
    x = dlcore.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    for name, t in (("w", w), ("v", v), ("b", b)):
        t.register_post_accumulate_grad_hook(lambda t, name=name: record.append((name, t.grad.numpy().tobytes())))
    for _ in range(2):
        h = (x @ w + b).tanh()                # (5, 8)
        p, q = h.chunk(2, 1)                  # one node, two outputs
        y = h @ v                             # h used three times: fan-in of three gradients
        y = y + (p * q).sum(1, keepdim=True) * 0.25
        z = y.T.reshape(6, 5)[1:]             # views
        z = z * 1.5
        z.add_(c[:, 1:].T @ (w[:4, :5] * 0.5))  # in place on a non-leaf; w and c used again
        z[0].mul_(3.0)                        # in place through a view of a non-leaf
        m, idx = (y * b[:6]).max(1)           # values and (non-differentiable) indices
        loss = (z * z).sum() + m.sum() * w.sum() + h.split([3, 5], 1)[0].exp().mean()
        loss.backward()
    return [t.grad.numpy().tobytes() for t in (w, v, b, c)]


def test_cpp_walk_is_bitwise_the_python_walk(monkeypatch):
    from dlcore import autograd
    runs = []
    for cpp in (True, False):
        monkeypatch.setattr(autograd, "_cpp_engine", cpp)
        record = []
        grads = _mixed_graph(record)
        runs.append((grads, record))
    assert runs[0][0] == runs[1][0]
    assert [n for n, _ in runs[0][1]] == [n for n, _ in runs[1][1]] and len(runs[0][1]) == 6
    assert runs[0][1] == runs[1][1]


def test_cpp_walk_runs_tensor_hooks_as_the_python_walk(monkeypatch):
    from dlcore import autograd
    runs = [None, None]
    for cpp in (True, False):
        monkeypatch.setattr(autograd, "_cpp_engine", cpp)
        seen, grads, _, _ = _tensor_hook_scenario(dlcore)
        runs[cpp] = ([(k, g.tobytes()) for k, g in seen], [g.tobytes() for g in grads])
    assert runs[0] == runs[1]


def test_backward_takes_the_cpp_walk_by_default(monkeypatch):
    """(so that the comparisons above compare two walks)"""
    from dlcore import autograd

    def refuse(*a, **k):
        raise AssertionError("backward went through _walk")
    monkeypatch.setattr(autograd, "_walk", refuse)
    x = dlcore.tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 8.0))
    np.testing.assert_array_equal(y.grad.numpy(), np.full(3, 4.0))


# ---- post-accumulate-grad hooks (PyTorch's register_post_accumulate_grad_hook) ----------------

def test_post_accumulate_grad_hook_sees_the_finished_grad_in_backward_order():
    """Each leaf's hook runs once per backward, after its .grad holds this backward's sum (fan-out
    included), and leaves nearer the loss come first (the order data parallelism relies on)."""
    w1 = dlcore.tensor(np.full((4, 3), 0.5), requires_grad=True)
    w2 = dlcore.tensor(np.full((3, 2), 0.25), requires_grad=True)
    x = dlcore.tensor(np.ones((5, 4)))
    seen = []
    for name, w in (("w1", w1), ("w2", w2)):
        w.register_post_accumulate_grad_hook(lambda t, name=name: seen.append((name, t.grad.numpy().copy())))
    h = x @ w1
    y = (h @ w2) + (h * 2.0) @ w2  # w2 used twice: one hook call, after both uses are summed
    y.sum().backward()
    assert [n for n, _ in seen] == ["w2", "w1"]
    np.testing.assert_array_equal(seen[0][1], w2.grad.numpy())
    np.testing.assert_array_equal(seen[0][1], np.full((3, 2), 3 * 5 * 0.5 * 4))
    np.testing.assert_array_equal(seen[1][1], w1.grad.numpy())
    y2 = (x @ w1) @ w2
    y2.sum().backward()  # accumulation: the hook sees the running sum
    assert [n for n, _ in seen] == ["w2", "w1", "w2", "w1"]
    np.testing.assert_array_equal(seen[2][1], w2.grad.numpy())


def test_post_accumulate_grad_hook_remove_and_order_of_several():
    w = dlcore.tensor(np.ones(3), requires_grad=True)
    calls = []
    h1 = w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    h2 = w.register_post_accumulate_grad_hook(lambda t: calls.append(2))
    (w * 2.0).sum().backward()
    assert calls == [1, 2]
    h1.remove()
    h1.remove()  # idempotent
    (w * 2.0).sum().backward()
    assert calls == [1, 2, 2]
    with h2:
        pass  # a handle is also a context manager that removes on exit
    (w * 2.0).sum().backward()
    assert calls == [1, 2, 2]
    w.backward(dlcore.tensor(np.ones(3)))  # backward on the leaf itself accumulates too
    assert calls == [1, 2, 2]


def test_post_accumulate_grad_hook_on_parameters_and_leaf_backward():
    lin = dlcore.nn.Linear(4, 2)
    ready = []
    for n, p in lin.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, n=n: ready.append(n))
    lin(dlcore.ones(3, 4)).sum().backward()
    assert sorted(ready) == ["bias", "weight"]
    x = dlcore.tensor(np.ones(2), requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: ready.append("x"))
    x.backward(dlcore.tensor(np.ones(2)))
    assert ready[-1] == "x"


def test_post_accumulate_grad_hook_refused_where_pytorch_refuses():
    x = dlcore.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2.0).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        dlcore.tensor(np.ones(2)).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        x.register_post_accumulate_grad_hook(3)


def test_detect_anomaly_names_the_op_whose_backward_made_nan():
    x = dlcore.tensor([0.0, 1.0], requires_grad=True)
    y = (dlcore.sqrt(x) * 0.0).sum()  # finite forward; sqrt's backward at 0 gives inf * 0 = nan
    y.backward()
    assert np.isnan(x.grad.numpy()[0])  # silent without anomaly mode
    x.grad = None
    with dlcore.autograd.detect_anomaly():
        y = (dlcore.sqrt(x) * 0.0).sum()
        with pytest.raises(RuntimeError, match=r"detect_anomaly: Function 'SqrtBackward' returned NaN or Inf.*"
                                               r"forward ran at .*test_autograd.py:\d+ in test_detect_anomaly"):
            y.backward()
    assert not dlcore.autograd.is_anomaly_enabled()
    y = (dlcore.sqrt(x + 1.0) * 2.0).sum()  # finite everywhere: no error, same gradient
    with dlcore.autograd.detect_anomaly():
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0 / np.sqrt([1.0, 2.0]), rtol=1e-6)


def _tensor_hook_scenario(lib):
    """register_hook and retain_grad as gradient-inspecting scripts use them, on `lib`
    (dlcore or torch); returns everything the hooks saw and the gradients."""
    a = np.random.default_rng(7).standard_normal((3, 4))
    seen = []
    x = lib.tensor(a, requires_grad=True)
    x.register_hook(lambda g: seen.append(("x", g.numpy().copy())))  # a leaf: once, the total
    y = x * 2                       # a non-leaf used twice: its hooks see the summed gradient
    y.retain_grad()
    y.register_hook(lambda g: seen.append(("y", g.numpy().copy())))
    y.register_hook(lambda g: g * 3)  # replaces the gradient for the hooks after it and the graph
    y.register_hook(lambda g: seen.append(("y3", g.numpy().copy())))
    parts = y.chunk(2, 1)           # a node with two outputs: a hook on the second only
    parts[1].register_hook(lambda g: g * 0.5)
    z = (parts[0] * parts[1]).sum() + (y.exp() * x).sum()
    z.register_hook(lambda g: g * 2)  # on the root
    z.backward(retain_graph=True)
    grads = [x.grad.numpy().copy(), y.grad.numpy().copy()]
    z.backward()                    # the retained gradient accumulates, as .grad does
    grads += [x.grad.numpy().copy(), y.grad.numpy().copy()]
    w = lib.tensor(a, requires_grad=True)
    h = w.register_hook(lambda g: g * 100)
    h.remove()
    (w * w).sum().backward()
    grads.append(w.grad.numpy().copy())
    return seen, grads, bool(y.retains_grad), bool(x.retains_grad)


@requires_torch
def test_register_hook_and_retain_grad_as_torch():
    import torch
    (seen, grads, ry, rx), (tseen, tgrads, try_, trx) = _tensor_hook_scenario(dlcore), _tensor_hook_scenario(torch)
    assert [k for k, _ in seen] == [k for k, _ in tseen] == ["y", "y3", "x"] * 2
    for (_, a), (_, b) in zip(seen, tseen):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    for a, b in zip(grads, tgrads):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    assert (ry, rx) == (try_, trx) == (True, False)


def test_register_hook_errors():
    x = dlcore.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor that doesn't require"):
        dlcore.ones(3).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="register_hook: hook must be callable, got int"):
        x.register_hook(3)
    y = x * 2
    y.register_hook(lambda g: g[:2])
    with pytest.raises(RuntimeError, match=r"a hook must return None or a tensor of the gradient's shape"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_grad: can't retain"):
        dlcore.ones(2).retain_grad()


# ---- autograd.grad ------------------------------------------------------------------------------

def _grad_graph(lib, xs):
    """The same small graph in both libraries: leaves a (3, 4), b (4,), c (2,); a non-leaf h
    used twice, two outputs; c unused."""
    a, b, c = (lib.tensor(v, requires_grad=True) for v in xs)
    h = (a * b).tanh()
    y1 = (h * h).sum(1)
    y2 = (h.exp() + a).mean()
    return (a, b, c, h), (y1, y2)


@requires_torch
def test_autograd_grad_matches_torch_and_leaves_grad_alone():
    import torch
    r = np.random.default_rng(21)
    xs = [r.normal(size=(3, 4)), r.normal(size=4), r.normal(size=2)]
    v = r.normal(size=3)
    (a, b, c, h), (y1, y2) = _grad_graph(dlcore, xs)
    (ta, tb, tc, th), (ty1, ty2) = _grad_graph(torch, xs)
    got = dlcore.autograd.grad([y1, y2], [a, h, b, c], grad_outputs=[dlcore.tensor(v), None],
                               retain_graph=True, allow_unused=True)
    want = torch.autograd.grad([ty1, ty2], [ta, th, tb, tc], grad_outputs=[torch.tensor(v), None],
                               retain_graph=True, allow_unused=True)
    assert got[3] is None and want[3] is None
    for g, w in zip(got[:3], want[:3]):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-13, atol=1e-14)
    assert a.grad is None and b.grad is None and c.grad is None  # returned, not accumulated
    # a single tensor in, a tuple out; the retained graph serves a later backward, which agrees
    (gb,) = dlcore.autograd.grad(y2, b, retain_graph=True)
    np.testing.assert_allclose(gb.numpy(), torch.autograd.grad(ty2, tb, retain_graph=True)[0].numpy(), rtol=1e-13)
    (y1 * dlcore.tensor(v)).sum().backward(retain_graph=True)
    np.testing.assert_allclose(a.grad.numpy(), torch.autograd.grad((ty1 * torch.tensor(v)).sum(), ta)[0].numpy(),
                               rtol=1e-13, atol=1e-14)
    # materialize_grads gives zeros for the unused input
    z = dlcore.autograd.grad(y2, [c], materialize_grads=True)[0]
    assert z.shape == (2,) and not z.numpy().any()
    # without retain_graph the walked nodes are freed, as in backward
    dlcore.autograd.grad(y2, [a])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        dlcore.autograd.grad(y2, [a])


def test_autograd_grad_hooks_and_leaf_outputs():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
    y = (x * x).sum()
    (g,) = dlcore.autograd.grad(y, x)
    np.testing.assert_allclose(g.numpy(), [4.0, 8.0])  # 2x, doubled by the hook
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    (g,) = dlcore.autograd.grad(x, x, grad_outputs=dlcore.tensor([3.0, 5.0]))
    np.testing.assert_allclose(g.numpy(), [6.0, 10.0])
    assert x.grad is None


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x, y: dlcore.autograd.grad(y, x, create_graph=True), NotImplementedError,
     "create_graph=True is not supported"),
    (lambda x, y: dlcore.autograd.grad(y, dlcore.zeros(2)), RuntimeError, r"inputs\[0\] .*does not require grad"),
    (lambda x, y: dlcore.autograd.grad(dlcore.zeros(2).sum(), x), RuntimeError,
     r"outputs\[0\] .*does not require grad"),
    (lambda x, y: dlcore.autograd.grad(y, [x, dlcore.zeros(1, requires_grad=True)]), RuntimeError,
     r"inputs\[1\] .*was not used .*allow_unused=True"),
    (lambda x, y: dlcore.autograd.grad(x * 2, x), RuntimeError, "implicitly created only for scalar outputs"),
    (lambda x, y: dlcore.autograd.grad(y, x, grad_outputs=[None, None]), ValueError, "2 grad_outputs for 1 outputs"),
    (lambda x, y: dlcore.autograd.grad(y, 3.0), TypeError, "inputs must be a Tensor or a sequence"),
    (lambda x, y: dlcore.autograd.grad(y, x, grad_outputs=dlcore.zeros(3)), ValueError, "gradient has shape"),
])
def test_autograd_grad_errors(call, exc, msg):
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(exc, match=msg):
        call(x, (x * x).sum())
