"""dlcore.ops against Keras 3's keras.ops (PyTorch backend) on the same inputs: values, shapes
and dtypes (Keras's int32 is dlcore's int64, its one integer dtype), axis / keepdims variants;
gradients against float64 central differences (gradcheck); errors that name ops.<name>, the
argument and the shapes; and the loss expressions Keras users write in a train_step. Keras is
the reference only: its comparisons skip without it, the gradient and error tests do not."""
import math
import os

import numpy as np
import pytest

import dlcore
from dlcore import ops
from gradcheck import gradcheck

rng = np.random.default_rng(0)
F = rng.normal(size=(3, 4)).astype("float32")           # float32 matrix
F3 = rng.normal(size=(2, 3, 4)).astype("float32")       # 3-D
D = rng.normal(size=(3, 4))                             # float64
P = rng.uniform(0.05, 0.95, size=(3, 4)).astype("float32")  # probabilities
POS = rng.uniform(0.5, 2.0, size=(3, 4)).astype("float32")
I = np.array([[3, -1, 2, 0], [5, 2, -4, 1], [0, 7, 1, 1]], dtype="int64")
B = F > 0
T = (rng.random(size=(3, 4)) > 0.5).astype("float32")  # binary targets
ONEHOT = np.eye(4, dtype="float32")[[1, 3, 0]]
LABELS = np.array([1, 3, 0])
IDX = np.array([[2, 0], [1, 1]])

# (name, args, kwargs): each is called as ops.name(*args, **kwargs) in Keras and in dlcore
CASES = [
    ("convert_to_tensor", ([1, 2, 3],), {}), ("convert_to_tensor", ([1.5, 2.0],), {}),
    ("convert_to_tensor", (D,), {}), ("convert_to_tensor", (I,), {"dtype": "float32"}),
    ("cast", (F,), {"dtype": "int32"}), ("cast", (I,), {"dtype": "float32"}), ("cast", (F,), {"dtype": "float64"}),
    ("cast", (B,), {"dtype": "float32"}),
    ("reshape", (F,), {"newshape": (2, -1)}), ("reshape", (F3,), {"newshape": 24}),
    ("transpose", (F3,), {}), ("transpose", (F3,), {"axes": (1, 0, 2)}), ("transpose", (F3,), {"axes": (-1, 0, 1)}),
    ("expand_dims", (F,), {"axis": 0}), ("expand_dims", (F,), {"axis": -1}), ("expand_dims", (F,), {"axis": (0, 3)}),
    ("squeeze", (np.ones((1, 3, 1), "float32"),), {}), ("squeeze", (np.ones((1, 3, 1), "float32"),), {"axis": -1}),
    ("squeeze", (np.ones((1, 3, 1), "float32"),), {"axis": (0, 2)}),
    ("concatenate", ([F, F],), {}), ("concatenate", ([F, F[:, :2]],), {"axis": 1}),
    ("concatenate", ([F, I],), {"axis": -1}),
    ("stack", ([F, F],), {}), ("stack", ([F, F, F],), {"axis": -1}),
    ("split", (F,), {"indices_or_sections": 2, "axis": 1}), ("split", (F,), {"indices_or_sections": [1, 3], "axis": 1}),
    ("split", (F,), {"indices_or_sections": 3}),
    ("tile", (F,), {"repeats": (2, 1)}), ("tile", (F,), {"repeats": 3}), ("tile", (F,), {"repeats": (2, 1, 2)}),
    ("repeat", (F,), {"repeats": 2}), ("repeat", (F,), {"repeats": 2, "axis": 0}),
    ("repeat", (F,), {"repeats": np.array([1, 0, 2, 1]), "axis": 1}),
    ("zeros", ((2, 3),), {}), ("ones", (3,), {}), ("ones", ((2,),), {"dtype": "int32"}),
    ("zeros_like", (I,), {}), ("ones_like", (F,), {}), ("zeros_like", (F,), {"dtype": "float64"}),
    ("full", ((2, 2), 3), {}), ("full", ((2,), 1.5), {}), ("full_like", (F, 7), {}),
    ("arange", (5,), {}), ("arange", (1, 7, 2), {}), ("arange", (0.0, 1.0, 0.25), {}), ("arange", (5,), {"dtype": "float32"}),
    ("linspace", (0, 1, 5), {}), ("linspace", (-2.0, 3.0, 7), {"endpoint": False}), ("linspace", (0, 10, 6), {"dtype": "float64"}),
    ("eye", (3,), {}), ("eye", (3, 4), {}), ("eye", (4, 3), {"k": -1}), ("eye", (3,), {"k": 2, "dtype": "int32"}),
    ("tril", (F,), {}), ("triu", (F,), {"k": 1}),
    ("sum", (F,), {}), ("sum", (F,), {"axis": 0}), ("sum", (F3,), {"axis": (1, 2)}), ("sum", (F3,), {"axis": -1, "keepdims": True}),
    ("sum", (B,), {}), ("sum", (I,), {"axis": 1}), ("sum", (D,), {"axis": 1}),
    ("mean", (F,), {}), ("mean", (F3,), {"axis": (0, 2), "keepdims": True}), ("mean", (B,), {}), ("mean", (I,), {"axis": 0}),
    ("max", (F,), {}), ("max", (F3,), {"axis": 1}), ("max", (I,), {"axis": -1, "keepdims": True}),
    ("max", (F,), {"axis": 1, "initial": 0.5}), ("min", (F3,), {"axis": (0, 1)}), ("min", (I,), {}),
    ("prod", (F,), {}), ("prod", (F3,), {"axis": 1}), ("prod", (I,), {"axis": 0}), ("prod", (F,), {"axis": -1, "keepdims": True}),
    ("std", (F,), {}), ("std", (F3,), {"axis": 1}), ("var", (F3,), {"axis": (0, 2), "keepdims": True}), ("var", (I,), {}),
    ("argmax", (F,), {}), ("argmax", (F3,), {"axis": 1}), ("argmax", (F,), {"axis": -1, "keepdims": True}),
    ("argmin", (I,), {"axis": 0}), ("argmin", (F3,), {}),
    ("cumsum", (F,), {}), ("cumsum", (F3,), {"axis": 1}), ("cumsum", (I,), {"axis": -1}),
    ("any", (B,), {}), ("any", (B,), {"axis": 0}), ("all", (B,), {"axis": 1, "keepdims": True}), ("all", (I,), {}),
    ("count_nonzero", (I,), {}), ("count_nonzero", (I,), {"axis": 0}),
    ("logsumexp", (F,), {}), ("logsumexp", (F3,), {"axis": -1}), ("logsumexp", (F3,), {"axis": (0, 2), "keepdims": True}),
    ("moments", (F3,), {"axes": [0, 1]}), ("moments", (F3,), {"axes": -1, "keepdims": True}),
    ("norm", (F,), {}), ("norm", (F3,), {"axis": -1}), ("norm", (F,), {"ord": 1, "axis": 1}),
    ("norm", (F,), {"ord": np.inf, "axis": 0}), ("norm", (F,), {"ord": -np.inf, "axis": 0}),
    ("norm", (F,), {"ord": 3, "axis": 1, "keepdims": True}), ("norm", (F,), {"ord": 0, "axis": 1}),
    ("norm", (F,), {"ord": "fro"}), ("norm", (F,), {"ord": 1}), ("norm", (F,), {"ord": -1}), ("norm", (F,), {"ord": np.inf}),
    ("norm", (F3,), {"ord": "fro", "axis": (1, 2)}), ("norm", (F3,), {"ord": np.inf, "axis": (2, 0), "keepdims": True}),
    ("norm", (I,), {}), ("norm", (F[0],), {"ord": 1}),
    ("abs", (F,), {}), ("abs", (I,), {}), ("absolute", (F,), {}), ("exp", (F,), {}), ("exp", (I,), {}), ("expm1", (F,), {}),
    ("log", (POS,), {}), ("log1p", (POS,), {}), ("log1p", (np.abs(I),), {}), ("sqrt", (POS,), {}), ("sqrt", (np.abs(I),), {}),
    ("rsqrt", (POS,), {}), ("square", (F,), {}), ("square", (I,), {}), ("reciprocal", (POS,), {}),
    ("power", (F, 2), {}), ("power", (I, 2), {}), ("power", (POS, F), {}), ("power", (I, 0.5), {}), ("power", (POS, 1.5), {}),
    ("sin", (F,), {}), ("cos", (F,), {}), ("tanh", (F,), {}),
    ("floor", (F * 3,), {}), ("ceil", (F * 3,), {}), ("floor", (I,), {}), ("round", (F * 3,), {}),
    ("round", (F,), {"decimals": 2}), ("round", (np.array([0.5, 1.5, 2.5, -0.5], "float32"),), {}),
    ("sign", (F,), {}), ("sign", (I,), {}), ("erf", (F,), {}), ("erf", (D,), {}),
    ("maximum", (F, 0.0), {}), ("maximum", (I, 2.5), {}), ("maximum", (F, F[0]), {}), ("minimum", (F3, F), {}),
    ("clip", (F, -0.5, 0.5), {}), ("clip", (I, 0, 2), {}),
    ("where", (B, F, 0.0), {}), ("where", (B, I, F), {}), ("where", (F > 0.5, 1.0, -1.0), {}),
    ("add", (F, F3), {}), ("add", (I, 1.5), {}), ("add", (I, F), {}), ("add", (D, 1.0), {}), ("add", (2, F), {}),
    ("subtract", (F, F[:, :1]), {}), ("subtract", (1, I), {}), ("multiply", (F, I), {}), ("multiply", (B, F), {}),
    ("divide", (F, POS), {}), ("divide", (I, 2), {}), ("true_divide", (I, I + 10), {}), ("negative", (F,), {}),
    ("negative", (I,), {}),
    ("equal", (I, 2), {}), ("not_equal", (F, F[0]), {}), ("greater", (F, 0), {}), ("greater_equal", (I, 1), {}),
    ("less", (F, F3), {}), ("less_equal", (I, 0.5), {}),
    ("logical_and", (B, F > 0.5), {}), ("logical_or", (B, I), {}), ("logical_not", (B,), {}), ("logical_xor", (B, I > 1), {}),
    ("isnan", (np.array([1.0, np.nan, np.inf], "float32"),), {}), ("isinf", (np.array([1.0, np.nan, -np.inf], "float32"),), {}),
    ("isfinite", (np.array([1.0, np.nan, -np.inf], "float32"),), {}),
    ("matmul", (F, F.T), {}), ("matmul", (F3, F.T), {}), ("matmul", (F[0], F.T), {}), ("matmul", (F[0], F[0]), {}),
    ("matmul", (I, I.T), {}),
    ("dot", (F, F.T), {}), ("dot", (F3, F.T), {}), ("dot", (F, F[0]), {}), ("dot", (F[0], F[0]), {}), ("dot", (2.0, F), {}),
    ("einsum", ("ij,kj->ik", F, F), {}), ("einsum", ("bij,jk->bik", F3, F.T), {}), ("einsum", ("...ij->...ji", F3), {}),
    ("einsum", ("ij->", F), {}),
    ("outer", (F[0], F[1, :3]), {}),
    ("relu", (F,), {}), ("relu", (I,), {}), ("relu6", (F * 5,), {}), ("sigmoid", (F,), {}), ("softmax", (F,), {}),
    ("softmax", (F3,), {"axis": 0}), ("softmax", (F3,), {"axis": (1, 2)}), ("log_softmax", (F,), {}),
    ("log_softmax", (F3,), {"axis": 1}), ("softplus", (F * 20,), {}), ("softsign", (F,), {}), ("gelu", (F,), {}),
    ("gelu", (F,), {"approximate": False}), ("silu", (F,), {}), ("swish", (F,), {}), ("elu", (F,), {}),
    ("elu", (F,), {"alpha": 0.5}), ("selu", (F,), {}), ("leaky_relu", (F,), {}), ("leaky_relu", (F,), {"negative_slope": 0.1}),
    ("hard_sigmoid", (F * 4,), {}), ("log_sigmoid", (F * 10,), {}),
    ("one_hot", (LABELS, 4), {}), ("one_hot", (np.array([[0, 2], [1, 0]]), 3), {}), ("one_hot", (LABELS, 4), {"axis": 0}),
    ("one_hot", (LABELS, 4), {"dtype": "int32"}),
    ("binary_crossentropy", (T, P), {}), ("binary_crossentropy", (T, F * 5), {"from_logits": True}),
    ("binary_crossentropy", (T, np.where(T > 0, 1.0, 0.0).astype("float32")), {}),
    ("categorical_crossentropy", (ONEHOT, P), {}), ("categorical_crossentropy", (ONEHOT, F), {"from_logits": True}),
    ("categorical_crossentropy", (ONEHOT.T, F.T), {"from_logits": True, "axis": 0}),
    ("sparse_categorical_crossentropy", (LABELS, P), {}), ("sparse_categorical_crossentropy", (LABELS, F), {"from_logits": True}),
    ("sparse_categorical_crossentropy", (LABELS[:, None], F), {"from_logits": True}),
    ("sparse_categorical_crossentropy", (np.array([1, 0, 2, 1]), F), {"from_logits": True, "axis": 0}),
    ("take", (F, np.array([0, 2])), {"axis": 1}), ("take", (F, np.array([0, 5, 11])), {}), ("take", (F, IDX), {"axis": 0}),
    ("take", (F3, np.array([3, 0])), {"axis": -1}),
    ("take_along_axis", (F, np.array([[0], [2], [3]])), {"axis": 1}), ("take_along_axis", (F, np.array([[0, 1, 2, 0]])), {"axis": 0}),
    ("take_along_axis", (F, np.array([3, 0, 11])), {"axis": None}),
    ("top_k", (F, 2), {}), ("top_k", (F3, 1), {}), ("sort", (F,), {}), ("sort", (F3,), {"axis": 0}), ("sort", (F,), {"axis": None}),
    ("argsort", (F,), {}), ("argsort", (F3,), {"axis": 1}),
    ("flip", (F,), {}), ("flip", (F3,), {"axis": 1}), ("flip", (F3,), {"axis": (0, 2)}),
    ("pad", (F, ((1, 0), (0, 2))), {}), ("pad", (F3, ((0, 0), (1, 1), (2, 0))), {"constant_values": 9}),
    ("slice", (F3, (0, 1, 1), (2, 2, 3)), {}), ("slice_update", (F, (1, 2), np.zeros((2, 2), "float32")), {}),
    ("broadcast_to", (F[0], (2, 3, 4)), {}), ("ravel", (F3,), {}),
    ("convert_to_numpy", (F,), {}),
]


@pytest.fixture(scope="module")
def keras_ops():
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # both libraries' pools on 2 cores: see tests/test_ports_keras.py
    yield keras
    torch.set_num_threads(n)


def _outputs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _dtype_name(keras, x):
    name = keras.backend.standardize_dtype(x.dtype)
    return "int64" if name.startswith(("int", "uint")) else name


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras(keras_ops, name, args, kwargs):
    keras = keras_ops
    want = _outputs(getattr(keras.ops, name)(*args, **kwargs))
    got = _outputs(getattr(ops, name)(*args, **kwargs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        wn = np.asarray(keras.ops.convert_to_numpy(w))
        gn = g if isinstance(g, np.ndarray) else np.asarray(g.numpy() if isinstance(g, dlcore.Tensor) else g)
        assert gn.shape == wn.shape, (gn.shape, wn.shape)
        assert (str(gn.dtype) if isinstance(g, np.ndarray) else str(g.dtype)) == (
            str(wn.dtype) if isinstance(g, np.ndarray) else _dtype_name(keras, w)), (g.dtype, w.dtype)
        if wn.dtype == bool or np.issubdtype(wn.dtype, np.integer):
            np.testing.assert_array_equal(gn, wn)
        else:
            tol = 1e-12 if wn.dtype == np.float64 else 2e-6
            np.testing.assert_allclose(gn, wn, rtol=tol * 3, atol=tol)


# NumPy's semantics where Keras's PyTorch backend departs from its own documented (NumPy) ones:
# negative indices in take / take_along_axis, dot with a >2-D second operand, pad_width given
# once for every axis; and the float64 mean (Keras's PyTorch backend rounds it through float32)
NUMPY_CASES = [
    (lambda: ops.take(F, np.array([0, 5, -1])), lambda: np.take(F, [0, 5, -1])),
    (lambda: ops.take(F3, np.array([[-1, 0]]), axis=-1), lambda: np.take(F3, [[-1, 0]], axis=-1)),
    (lambda: ops.take_along_axis(F, np.array([[-1], [0], [-2]]), axis=1),
     lambda: np.take_along_axis(F, np.array([[-1], [0], [-2]]), axis=1)),
    (lambda: ops.dot(F, np.transpose(F3, (0, 2, 1))), lambda: np.dot(F, np.transpose(F3, (0, 2, 1)))),
    (lambda: ops.dot(F3, np.ones((2, 4, 5), "float32")), lambda: np.dot(F3, np.ones((2, 4, 5), "float32"))),
    (lambda: ops.pad(F, 1), lambda: np.pad(F, 1)),
    (lambda: ops.pad(F, ((1, 2),)), lambda: np.pad(F, ((1, 2),))),
    (lambda: ops.pad(F3, (2, 1), constant_values=-1.0), lambda: np.pad(F3, (2, 1), constant_values=-1.0)),
    (lambda: ops.pad(F, (2, 1)), lambda: np.pad(F, (2, 1))),
    (lambda: ops.pad(F, ((1,), (2,))), lambda: np.pad(F, ((1,), (2,)))),
    (lambda: ops.concatenate([F, F3[0]], axis=None), lambda: np.concatenate([F, F3[0]], axis=None)),
    (lambda: ops.mean(D, axis=0), lambda: np.mean(D, axis=0)),
    (lambda: ops.one_hot(np.array([0, 5, -1]), 3), lambda: np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0]], "float32")),
    (lambda: ops.repeat(F, [1, 0, 2, 1], axis=1), lambda: np.repeat(F, [1, 0, 2, 1], axis=1)),
    (lambda: ops.stop_gradient(F), lambda: F),
    (lambda: ops.split(F, [-3, 3], axis=1)[1], lambda: np.split(F, [-3, 3], axis=1)[1]),
    (lambda: ops.split(F3, [0, 5], axis=-1)[2], lambda: np.split(F3, [0, 5], axis=-1)[2]),
]


@pytest.mark.parametrize("i", range(len(NUMPY_CASES)))
def test_matches_numpy(i):
    got, want = NUMPY_CASES[i][0](), np.asarray(NUMPY_CASES[i][1]())
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)


def test_shape_is_a_tuple_of_ints():
    x = dlcore.zeros(4, 3, 2)
    s = ops.shape(x)
    assert s == (4, 3, 2) and type(s) is tuple and all(type(v) is int for v in s)
    assert ops.shape(np.zeros((5, 1))) == (5, 1) and ops.shape([1, 2, 3]) == (3,)
    assert ops.cast(F, np.int32).dtype == dlcore.int64 and ops.cast(I, np.float64).dtype == dlcore.float64
    assert ops.ndim(x) == 3 and ops.size(x) == 24 and ops.is_tensor(x) and not ops.is_tensor(np.zeros(2))


def test_where_of_condition_only_and_mean_of_a_mask():
    m = np.array([[True, False, True], [False, False, True]])
    rows, cols = ops.where(m)
    np.testing.assert_array_equal(rows.numpy(), np.nonzero(m)[0])
    np.testing.assert_array_equal(cols.numpy(), np.nonzero(m)[1])
    acc = ops.mean(ops.equal(ops.argmax(F, axis=1), np.array([0, 1, 2])))
    assert acc.dtype == dlcore.float32
    assert float(acc) == pytest.approx(np.mean(np.argmax(F, 1) == [0, 1, 2]))


def test_top_k_values_indices_and_linspace_retstep():
    values, indices = ops.top_k(F, 3)
    order = np.argsort(-F, axis=1)[:, :3]
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(F, order, 1))
    out, step = ops.linspace(0.0, 2.0, 5, retstep=True)
    assert step == 0.5 and out.dtype == dlcore.float32
    np.testing.assert_allclose(out.numpy(), np.linspace(0, 2, 5))


def test_control_flow_and_vectorized_map():
    assert float(ops.cond(ops.sum(F) > 1e9, lambda: ops.ones(()), lambda: ops.zeros(()))) == 0.0
    out = ops.vectorized_map(lambda row: ops.sum(row * row), F)
    np.testing.assert_allclose(out.numpy(), (F * F).sum(1), rtol=1e-6)
    a, b = ops.vectorized_map(lambda xy: (xy[0] + xy[1], xy[0] * xy[1]), (F, F3[0]))
    np.testing.assert_allclose(a.numpy(), F + F3[0], rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), F * F3[0], rtol=1e-6)


def test_float64_stays_float64_and_ints_go_to_float32():
    d = dlcore.tensor(D)
    for y in (ops.add(d, 1.5), ops.mean(d), ops.exp(d), ops.softmax(d), ops.erf(d), ops.norm(d), ops.moments(d, 0)[1]):
        assert y.dtype == dlcore.float64
    for y in (ops.mean(I), ops.sqrt(I), ops.divide(I, 3), ops.std(I), ops.exp(I), ops.norm(I), ops.add(I, 0.5)):
        assert y.dtype == dlcore.float32
    for y in (ops.sum(I), ops.argmax(F), ops.arange(3), ops.cast(F, "int32"), ops.add(I, 2), ops.matmul(I, I.T)):
        assert y.dtype == dlcore.int64


# ---- gradients: float64 central differences ------------------------------------------------

# (C-contiguous arrays: gradcheck perturbs its inputs through reshape(-1) views)
A3 = rng.normal(size=(2, 3, 4))
A2 = rng.normal(size=(3, 4))
PROB = rng.uniform(0.1, 0.9, size=(3, 4))
GRADS = [
    ("sum axis", lambda x: ops.sum(x, axis=(1, 2)), [A3]),
    ("mean keepdims", lambda x: ops.mean(x, axis=0, keepdims=True), [A3]),
    ("max", lambda x: ops.max(x, axis=1), [A3]),
    ("min initial", lambda x: ops.min(x, axis=-1, initial=0.0), [A2]),
    ("prod", lambda x: ops.prod(x, axis=1), [A3]),
    ("prod all", lambda x: ops.prod(x), [A2]),
    ("std", lambda x: ops.std(x, axis=-1), [A3]),
    ("var", lambda x: ops.var(x, axis=(0, 2)), [A3]),
    ("moments", lambda x: ops.add(*ops.moments(x, axes=[0])), [A2]),
    ("cumsum", lambda x: ops.cumsum(x, axis=1), [A3]),
    ("logsumexp", lambda x: ops.logsumexp(x, axis=(0, 2)), [A3]),
    ("norm", lambda x: ops.norm(x, axis=-1), [A3]),
    ("norm ord 3", lambda x: ops.norm(x, ord=3, axis=0), [A2]),
    ("norm ord inf matrix", lambda x: ops.norm(x, ord=np.inf), [A2]),
    ("norm fro", lambda x: ops.norm(x, ord="fro", axis=(0, 1)), [A2]),
    ("exp log1p sqrt", lambda x: ops.exp(x) + ops.log1p(ops.square(x)) + ops.sqrt(ops.abs(x) + 1), [A2]),
    ("power", lambda x, y: ops.power(ops.abs(x) + 0.5, y), [A2, A2[0]]),
    ("erf", lambda x: ops.erf(x), [A2]),
    ("maximum minimum", lambda x, y: ops.maximum(x, y) * ops.minimum(x, 0.1), [A2, A2[::-1]]),
    ("clip", lambda x: ops.clip(x, -0.5, 0.5), [A2]),
    ("where", lambda x, y: ops.where(x > 0, x, y * 2), [A2, A2[0]]),
    ("divide", lambda x, y: ops.divide(x, ops.abs(y) + 1), [A3, A2]),
    ("matmul", lambda x, y: ops.matmul(x, y), [A3, np.ascontiguousarray(A2.T)]),
    ("dot 3-d", lambda x, y: ops.dot(x, y), [A2, np.ascontiguousarray(A3.transpose(0, 2, 1))]),
    ("einsum", lambda x, y: ops.einsum("bij,kj->bik", x, y), [A3, A2]),
    ("softmax", lambda x: ops.softmax(x, axis=1), [A3]),
    ("softmax axes", lambda x: ops.softmax(x, axis=(0, 2)), [A3]),
    ("log_softmax", lambda x: ops.log_softmax(x), [A3]),
    ("activations", lambda x: ops.gelu(x) + ops.silu(x) + ops.softplus(x) + ops.sigmoid(x) + ops.tanh(x) + ops.elu(x), [A2]),
    ("leaky relu6 selu", lambda x: ops.leaky_relu(x) + ops.relu6(3 * x) + ops.selu(x) + ops.log_sigmoid(x), [A2]),
    ("bce", lambda p: ops.binary_crossentropy(T, p), [PROB]),
    ("bce logits", lambda z: ops.binary_crossentropy(T, z, from_logits=True), [A2]),
    ("cce", lambda p: ops.categorical_crossentropy(ONEHOT, p), [PROB]),
    ("cce logits axis 0", lambda z: ops.categorical_crossentropy(ONEHOT.T, z, from_logits=True, axis=0), [np.ascontiguousarray(A2.T)]),
    ("scce", lambda p: ops.sparse_categorical_crossentropy(LABELS, p), [PROB]),
    ("scce logits", lambda z: ops.sparse_categorical_crossentropy(LABELS, z, from_logits=True), [A2]),
    ("take", lambda x: ops.take(x, IDX, axis=1), [A2]),
    ("take_along_axis", lambda x: ops.take_along_axis(x, np.array([[0], [2], [3]]), axis=1), [A2]),
    ("top_k", lambda x: ops.top_k(x, 2)[0], [A2]),
    ("sort", lambda x: ops.sort(x, axis=0), [A2]),
    ("shapes", lambda x: ops.transpose(ops.expand_dims(ops.reshape(x, (4, 3)), 0), (2, 0, 1)), [A2]),
    ("concatenate stack split", lambda x: ops.stack(ops.split(ops.concatenate([x, x * 2], axis=1), 4, axis=1), -1), [A2]),
    ("tile repeat flip", lambda x: ops.flip(ops.tile(x, (2, 1)), 0) + ops.repeat(x, 2, axis=0), [A2]),
    ("repeat counts", lambda x: ops.repeat(x, [2, 0, 1, 1], axis=1), [A2]),
    ("pad slice", lambda x: ops.slice(ops.pad(x, ((1, 1), (0, 2))), (1, 1), (3, 4)), [A2]),
    ("slice_update", lambda x, u: ops.slice_update(x, (1, 1), u), [A2, A2[:2, :2]]),
    ("squeeze broadcast", lambda x: ops.squeeze(ops.broadcast_to(x[:1], (2, 4)) + x[:2], axis=None), [A2]),
    ("vectorized_map", lambda x: ops.vectorized_map(lambda r: ops.sum(r * r), x), [A2]),
]


@pytest.mark.parametrize("name,fn,inputs", GRADS, ids=[g[0] for g in GRADS])
def test_gradients(name, fn, inputs):
    gradcheck(fn, inputs)


def test_stop_gradient_and_floor_have_no_gradient():
    x = dlcore.tensor(A2, requires_grad=True)
    y = ops.sum(ops.stop_gradient(x) * x) + ops.sum(ops.floor(x)) + ops.sum(ops.round(x)) + ops.sum(ops.sign(x))
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), A2)


def test_vae_train_step_loss_with_gradient_tape():
    """The loss lines of keras.io's VAE train_step on ops, differentiated with GradientTape,
    against the same loss written in NumPy (value) and its hand-derived gradient."""
    data = (rng.random(size=(4, 3, 3)) > 0.5).astype("float64")
    recon = rng.uniform(0.1, 0.9, size=(4, 3, 3))
    mean_np, logvar_np = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)) * 0.3
    z_mean, z_log_var = dlcore.tensor(mean_np, requires_grad=True), dlcore.tensor(logvar_np, requires_grad=True)
    r = dlcore.tensor(recon, requires_grad=True)
    with dlcore.GradientTape() as tape:
        rec = ops.mean(ops.sum(ops.binary_crossentropy(data, r), axis=(1, 2)))
        kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl = ops.mean(ops.sum(kl, axis=1))
        total = rec + kl
    g_mean, g_logvar, g_r = tape.gradient(total, [z_mean, z_log_var, r])
    bce = -(data * np.log(recon) + (1 - data) * np.log(1 - recon))
    klnp = -0.5 * (1 + logvar_np - mean_np ** 2 - np.exp(logvar_np))
    assert ops.shape(data)[0] == 4
    np.testing.assert_allclose(float(total), bce.sum((1, 2)).mean() + klnp.sum(1).mean(), rtol=1e-12)
    np.testing.assert_allclose(g_mean.numpy(), mean_np / 4, rtol=1e-12)
    np.testing.assert_allclose(g_logvar.numpy(), 0.5 * (np.exp(logvar_np) - 1) / 4, rtol=1e-12)
    np.testing.assert_allclose(g_r.numpy(), (-(data / recon) + (1 - data) / (1 - recon)) / 4, rtol=1e-10)


# ---- errors name ops.<name>, the argument and the shapes ---------------------------------------

ERRORS = [
    (lambda: ops.sum(F, axis=2), IndexError, r"ops\.sum: axis 2 is out of range for a tensor of shape \(3, 4\)"),
    (lambda: ops.mean(F3, axis=(0, -4)), IndexError, r"ops\.mean: axis -4 .*shape \(2, 3, 4\)"),
    (lambda: ops.argmax(F, axis=1.0), TypeError, r"ops\.argmax: axis must be an int"),
    (lambda: ops.softmax(F, axis=5), IndexError, r"ops\.softmax: axis 5 .*\(3, 4\)"),
    (lambda: ops.add(F, np.ones(3)), ValueError, r"ops\.add: shapes \(3, 4\) and \(3,\) cannot be broadcast"),
    (lambda: ops.where(B, F, np.ones((2, 4))), ValueError, r"ops\.where: shapes \(3, 4\) and \(2, 4\)"),
    (lambda: ops.matmul(F, F), ValueError, r"ops\.matmul: .*\(3, 4\) and \(3, 4\)"),
    (lambda: ops.dot(F, F3), ValueError, r"ops\.dot: shapes \(3, 4\) and \(2, 3, 4\) are not aligned"),
    (lambda: ops.concatenate([F, F3[0, :2, :3]], axis=0), ValueError, r"ops\.concatenate: .*\(2, 3\).*\(3, 4\)"),
    (lambda: ops.stack([F, F.T]), ValueError, r"ops\.stack: .*\(4, 3\)"),
    (lambda: ops.reshape(F, (5, -1)), ValueError, r"ops\.reshape: .*cannot reshape a tensor of shape \(3, 4\)"),
    (lambda: ops.split(F, 3, axis=1), ValueError, r"ops\.split: axis 1 of shape \(3, 4\)"),
    (lambda: ops.squeeze(F, axis=0), ValueError, r"ops\.squeeze: axis 0 of shape \(3, 4\) has size 3"),
    (lambda: ops.transpose(F3, (0, 1)), ValueError, r"ops\.transpose: .*\(0, 1\) .*\(2, 3, 4\)"),
    (lambda: ops.binary_crossentropy(T, P[:2]), ValueError,
     r"ops\.binary_crossentropy: target and output must have the same shape.*\(3, 4\).*\(2, 4\)"),
    (lambda: ops.sparse_categorical_crossentropy(LABELS[:2], F), ValueError,
     r"ops\.sparse_categorical_crossentropy: target\.shape=\(2,\).*\(3, 4\)"),
    (lambda: ops.slice(F, (2, 0), (2, 4)), ValueError, r"ops\.slice: .*\(3, 4\)"),
    (lambda: ops.take_along_axis(F, np.array([0, 1]), axis=1), ValueError, r"ops\.take_along_axis: .*\(2,\).*\(3, 4\)"),
    (lambda: ops.top_k(F, 5), ValueError, r"ops\.top_k: k=5 .*\(3, 4\)"),
    (lambda: ops.norm(F, ord="nuc"), ValueError, r"ops\.norm: matrix ord='nuc'"),
    (lambda: ops.pad(F, ((1, 1), (1, 1), (1, 1))), ValueError, r"ops\.pad: pad_width .*\(3, 4\)"),
    (lambda: ops.cast(F, "complex64"), TypeError, r"ops\.cast: dtype"),
    (lambda: ops.one_hot(LABELS, 2.5), TypeError, r"ops\.one_hot: num_classes must be an integer"),
    (lambda: ops.expand_dims(F, 3), IndexError, r"ops\.expand_dims: axis 3 .*\(3, 4\)"),
    (lambda: ops.repeat(F, [1, 2], axis=1), ValueError, r"ops\.repeat: 2 repeats for axis 1 of shape \(3, 4\)"),
]


@pytest.mark.parametrize("call,exc,pattern", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_name_the_op_argument_and_shapes(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---- dlcore.random: what keras.random code calls ---------------------------------------------

def test_random_dropout_and_truncated_normal():
    r = dlcore.random
    x = dlcore.ones(200, 50)
    y = r.dropout(x, 0.25, seed=1).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02 and np.allclose(y[kept], 1 / 0.75)
    np.testing.assert_array_equal(r.dropout(x, 0.25, seed=1).numpy(), y)
    cols = r.dropout(x, 0.5, noise_shape=(1, 50), seed=2).numpy()
    assert np.all(cols == cols[:1])  # one mask row shared down the batch
    t = r.truncated_normal((20000,), mean=1.0, stddev=2.0, seed=3).numpy()
    assert t.min() >= 1.0 - 4.0 - 1e-6 and t.max() <= 1.0 + 4.0 + 1e-6 and abs(t.mean() - 1.0) < 0.05
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\)"):
        r.dropout(x, 1.0)
    g = dlcore.tensor(A2, requires_grad=True)
    r.dropout(g, 0.5, seed=4).sum().backward()
    mask = r.dropout(dlcore.ones(3, 4, dtype=dlcore.float64), 0.5, seed=4).numpy()
    np.testing.assert_allclose(g.grad.numpy(), mask)
