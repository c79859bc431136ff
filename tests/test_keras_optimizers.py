"""dlcore.optimizers (Keras code's keras.optimizers) against Keras 3 itself (the PyTorch backend):
the same weights and the same gradient sequence (float32, and float64 to rounding), ten
``apply`` calls each, every Keras optimizer with and without weight_decay and the options Keras
has (momentum, nesterov, centered, amsgrad). Keras is the reference only (the `test` extra): the file skips without it."""
import os

import numpy as np
import pytest

import dlcore

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":  # pragma: no cover - another test imported Keras first
    pytest.skip("Keras runs on another backend in this process", allow_module_level=True)

STEPS = 10
SHAPES = [(5, 3), (4,)]

CASES = [
    ("SGD", dict(learning_rate=0.05)),
    ("SGD", dict(learning_rate=0.05, weight_decay=0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("RMSprop", dict(learning_rate=0.01)),
    ("RMSprop", dict(learning_rate=0.01, weight_decay=0.1)),
    ("RMSprop", dict(learning_rate=0.01, centered=True)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.8)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.8, centered=True, weight_decay=0.05, epsilon=1e-3)),
    ("Adagrad", dict(learning_rate=0.1)),
    ("Adagrad", dict(learning_rate=0.1, weight_decay=0.1, initial_accumulator_value=0.5, epsilon=1e-3)),
    ("Adam", dict(learning_rate=0.01)),
    ("Adam", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True, epsilon=1e-3)),
    ("AdamW", dict(learning_rate=0.01)),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.2, amsgrad=True)),
    ("Adamax", dict(learning_rate=0.01)),
    ("Adamax", dict(learning_rate=0.01, weight_decay=0.1, epsilon=1e-3)),
    ("Nadam", dict(learning_rate=0.01)),
    ("Nadam", dict(learning_rate=0.01, weight_decay=0.1, epsilon=1e-3)),
    ("Adadelta", dict(learning_rate=1.0)),
    ("Adadelta", dict(learning_rate=1.0, weight_decay=0.1)),
    ("Lion", dict(learning_rate=0.01)),
    ("Lion", dict(learning_rate=0.01, weight_decay=0.1)),
]


def _run(make, variable, values, grads, apply):
    opt = make()
    vs = [variable(w) for w in values]
    for step in grads:
        apply(opt, step, vs)
    return opt, vs


@pytest.mark.parametrize("dtype,rtol,atol", [("float32", 2e-6, 2e-7), ("float64", 1e-12, 1e-14)])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{'-'.join(k for k in kw if k != 'learning_rate') or 'plain'}"
                                               for n, kw in CASES])
def test_keras_optimizer_matches_keras(name, kw, dtype, rtol, atol):
    rng = np.random.default_rng(7)
    values = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    # gradients that change sign and scale between steps (and include exact zeros)
    grads = [[(rng.normal(size=s) * rng.uniform(0.1, 3.0)).astype(dtype) for s in SHAPES]
             for _ in range(STEPS)]
    for g in grads[3]:
        g.reshape(-1)[0] = 0.0

    floatx = keras.config.floatx()
    keras.config.set_floatx(dtype)  # Keras's learning-rate variable and scalars in that dtype too
    try:
        _, kvs = _run(lambda: getattr(keras.optimizers, name)(**kw), lambda w: keras.Variable(w.copy()), values,
                      grads, lambda o, g, vs: o.apply([torch.tensor(x) for x in g], vs))
    finally:
        keras.config.set_floatx(floatx)
    _, dvs = _run(lambda: getattr(dlcore.optimizers, name)(**kw),
                  lambda w: dlcore.tensor(w.copy(), requires_grad=True), values, grads,
                  lambda o, g, vs: o.apply([dlcore.tensor(x) for x in g], vs))
    for k, d, w0 in zip(kvs, dvs, values):
        want = keras.ops.convert_to_numpy(k.value)
        got = d.detach().numpy()
        assert got.dtype == want.dtype == dtype
        assert not np.allclose(want, w0)  # the optimizer moved the weights
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_keras_rules_stay_in_the_keras_classes():
    """dlcore.optim keeps PyTorch's rules: RMSprop's epsilon outside the root, L2 weight decay."""
    w = np.linspace(-1, 1, 6).astype(np.float64)
    g = np.cos(np.arange(6.0))
    p = dlcore.tensor(w.copy(), requires_grad=True)
    tp = torch.tensor(w.copy(), requires_grad=True)
    o = dlcore.optim.RMSprop([p], lr=0.01, eps=1e-3, weight_decay=0.1, centered=True, momentum=0.5)
    to = torch.optim.RMSprop([tp], lr=0.01, eps=1e-3, weight_decay=0.1, centered=True, momentum=0.5)
    for _ in range(3):
        p.grad = dlcore.tensor(g)
        tp.grad = torch.tensor(g)
        o.step()
        to.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12)
    assert "keras" not in o.param_groups[0]
