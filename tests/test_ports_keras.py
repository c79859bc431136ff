"""Ports of well-known Keras example scripts (tests/ports_keras/*.py), each run twice from one
source: as written, on Keras 3 (the PyTorch backend), and with only its import lines changed to
dlcore's (``import dlcore as keras``, ``from dlcore import layers``). Each asserts that dlcore
runs it and its loss falls, and, where the weights can be made the same (Keras's
get_weights / set_weights layouts, float64, dropout off, no shuffling), that the first epochs'
losses agree with Keras's. Keras is the reference only (the `test` extra): the comparisons skip
without it, the dlcore runs do not. docs/compatibility.md (its Keras section) lists the ports and the gaps."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

import dlcore

PORTS = Path(__file__).parent / "ports_keras"
BEGIN, END = "# --- imports ---", "# --- end imports ---"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Keras runs on PyTorch here: with both libraries' thread pools on the same cores, PyTorch's
    steps after dlcore's ran ~25x slower (measured, 2 cores), so PyTorch gets one thread."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _dlcore_import(line):
    """The dlcore form of one Keras-script import line (others unchanged)."""
    line = re.sub(r"^import (keras|torch)$", r"import dlcore as \1", line)
    line = re.sub(r"^import keras\.(\w+) as (\w+)$", r"from dlcore import \1 as \2", line)
    return re.sub(r"^from keras import ", "from dlcore import ", line)


def port_source(name, backend):
    """The port's source for ``backend`` ('keras' or 'dlcore'): the dlcore one differs from
    the file only inside its import block, and only in import lines."""
    text = (PORTS / f"{name}.py").read_text()
    head, rest = text.split(BEGIN + "\n", 1)
    block, tail = rest.split(END + "\n", 1)
    if backend == "dlcore":
        new = [_dlcore_import(line) for line in block.splitlines()]
        for old, line in zip(block.splitlines(), new):
            assert line == old or line.startswith(("import ", "from ")), line
        block = "\n".join(new) + "\n"
    return head + BEGIN + "\n" + block + END + "\n" + tail


def load_port(name, backend):
    """Executes the port as a module for ``backend``; returns its namespace."""
    if backend == "keras":
        os.environ["KERAS_BACKEND"] = "torch"
        pytest.importorskip("keras")
    ns = {"__name__": f"ports_keras_{name}_{backend}"}
    exec(compile(port_source(name, backend), str(PORTS / f"{name}.py"), "exec"), ns)
    return ns


def _seed(backend, seed):
    if backend == "keras":
        import keras  # (imported by load_port with the PyTorch backend)
        keras.utils.set_random_seed(seed)
    else:
        dlcore.utils.set_random_seed(seed)


def _falls(losses, factor):
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < factor * losses[0], losses


def test_only_import_lines_differ():
    for path in sorted(PORTS.glob("*.py")):
        a = port_source(path.stem, "keras").splitlines()
        b = port_source(path.stem, "dlcore").splitlines()
        assert len(a) == len(b)
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        assert diff, path.stem  # every port imports something of Keras's
        assert all(x.startswith(("import ", "from ")) and y.startswith(("import ", "from ")) for x, y in diff)


def _matches_keras(name, epochs=2, rtol=1e-5, atol=1e-7, optimizer=None, **build):
    """The port trained from Keras's initial weights (Keras's get_weights into dlcore's
    set_weights) in float64, with dropout off and no shuffling, with its own optimizer (or
    ``optimizer(namespace)``): both give the same per-epoch losses (Keras logs them in float32)."""
    ref, port = load_port(name, "keras"), load_port(name, "dlcore")
    import keras
    floatx, default = keras.config.floatx(), dlcore.get_default_dtype()
    keras.config.set_floatx("float64")
    dlcore.set_default_dtype(dlcore.float64)
    try:
        _seed("keras", 0)
        km = ref["build_model"](dropout=0.0, **build)
        m = port["build_model"](dropout=0.0, **build)
        m.set_weights(km.get_weights())
        want, want_more = ref["train"](km, optimizer and optimizer(ref), epochs=epochs, shuffle=False)
        got, got_more = port["train"](m, optimizer and optimizer(port), epochs=epochs, shuffle=False)
    finally:
        keras.config.set_floatx(floatx)
        dlcore.set_default_dtype(default)
    assert all(w.dtype == dlcore.float64 for w in m.trainable_weights)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    # and what the port reports besides (evaluate's scores, validation losses / accuracies)
    np.testing.assert_allclose(np.hstack(got_more).astype(float), np.hstack(want_more).astype(float),
                               rtol=rtol, atol=atol)
    return got


def _learns(name, seed=0, **build):
    """The port as written (dropout, shuffling) on dlcore: returns train's results."""
    port = load_port(name, "dlcore")
    _seed("dlcore", seed)
    return port["train"](port["build_model"](**build))


# ---- 1. keras.io "Simple MNIST convnet" -------------------------------------------------------

def test_mnist_convnet_learns():
    losses, ((test_loss, test_acc), val_losses) = _learns("mnist_convnet")
    _falls(losses, 0.5)
    assert test_acc > 0.8


def test_mnist_convnet_matches_keras():
    _matches_keras("mnist_convnet")


# ---- 2. the functional API guide: two inputs, Concatenate --------------------------------------

def test_functional_two_inputs_learns():
    losses, (test_loss, test_mae) = _learns("functional_two_inputs")
    _falls(losses, 0.6)


def test_functional_two_inputs_matches_keras():
    _matches_keras("functional_two_inputs")  # with the port's RMSprop: Keras's update rule


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax", "nadam", "adadelta"])
def test_optimizer_names_are_keras_optimizers(name):
    """compile(optimizer="adam") is Keras's Adam, defaults and update rule included (epsilon
    1e-7 before the bias correction; RMSprop's inside the root...): the same losses as Keras
    from the same weights."""
    _matches_keras("functional_two_inputs", optimizer=lambda ns: name, epochs=3)


def test_optimizer_names_take_keras_defaults():
    """Optimizer names take all of Keras's defaults, and Keras's update rules (the groups'
    'keras' option)."""
    m = dlcore.Sequential([dlcore.Input((3,)), dlcore.layers.Dense(1)])
    want = {"rmsprop": dict(lr=1e-3, alpha=0.9, eps=1e-7), "adadelta": dict(lr=1e-3, rho=0.95, eps=1e-7),
            "adam": dict(lr=1e-3, eps=1e-7), "sgd": dict(lr=1e-2, momentum=0.0),
            "adagrad": dict(lr=1e-3, initial_accumulator_value=0.1, eps=1e-7)}
    for opts in want.values():
        opts["keras"] = True
    for name, opts in want.items():
        m.compile(optimizer=name, loss="mse")
        group = m.optimizer.param_groups[0]
        assert {k: group[k] for k in opts} == pytest.approx(opts), name


# ---- 3. "Bidirectional LSTM on IMDB": Embedding(mask_zero) + Bidirectional(LSTM) -----------------

def test_text_bilstm_learns():
    losses, val_acc = _learns("text_bilstm", dropout=0.2)
    _falls(losses, 0.6)
    assert val_acc[-1] > 0.8


def test_text_bilstm_matches_keras():
    _matches_keras("text_bilstm")


# ---- 6. LSTM -> GRU -> TimeDistributed(Dense) ------------------------------------------------

def test_seq_rnn_learns():
    losses, acc = _learns("seq_rnn")
    _falls(losses, 0.7)
    assert acc[-1] > 0.8


def test_seq_rnn_matches_keras():
    _matches_keras("seq_rnn")


# ---- 7. "Timeseries classification from scratch": Conv1D + BatchNormalization ----------------

def test_conv1d_timeseries_learns():
    losses, (test_loss, test_acc) = _learns("conv1d_timeseries")
    _falls(losses, 0.6)
    assert test_acc > 0.8


def test_conv1d_timeseries_matches_keras():
    # Keras's BatchNormalization keeps float32 precision in its statistics under floatx float64
    # (its moving variance is 2.7e-7 off NumPy's float64 one, dlcore's 1e-15): evaluate's loss,
    # through the moving statistics, agrees to ~1e-5
    _matches_keras("conv1d_timeseries", rtol=5e-5)


# ---- 4a. "Customizing what happens in fit() with PyTorch": train_step / test_step overrides ------

def test_custom_fit_learns():
    losses, (test_loss, test_mae) = _learns("custom_fit")
    _falls(losses, 0.5)
    assert test_loss < losses[0]


def test_custom_fit_matches_keras():
    """The overridden steps (compute_loss, backward, v.value.grad, optimizer.apply, the metrics
    loop) give Keras's losses from Keras's weights, with compile(optimizer="adam")."""
    _matches_keras("custom_fit", epochs=3, optimizer=lambda ns: "adam")


# ---- 4. keras.io "Variational AutoEncoder": Sampling layer, sub-models, custom train_step -------
# Its Sampling noise comes from each library's own generator, so the two runs' losses differ
# by their draws: each is checked to learn (the same source, on both).

@pytest.mark.parametrize("backend", ["dlcore", "keras"])
def test_vae_train_step_learns(backend):
    port = load_port("vae", backend)
    _seed(backend, 0)
    history = port["train"](port["build_model"]())
    assert set(history) == {"total_loss", "reconstruction_loss", "kl_loss"}
    _falls(history["total_loss"], 0.6)
    _falls(history["reconstruction_loss"], 0.6)


# ---- 5. keras.io GAN with a train_step override and two optimizers ----------------------------

@pytest.mark.parametrize("backend", ["dlcore", "keras"])
def test_gan_train_step_two_optimizers(backend):
    port = load_port("gan", backend)
    _seed(backend, 0)
    gan = port["build_model"]()
    before = np.linalg.norm(port["sample"](gan).mean(0) - port["center"])
    history = port["train"](gan, epochs=16)
    after = np.linalg.norm(port["sample"](gan).mean(0) - port["center"])
    assert set(history) == {"d_loss", "g_loss"}
    assert np.all(np.isfinite(history["d_loss"])) and np.all(np.isfinite(history["g_loss"]))
    assert after < 0.5 * before, (before, after)  # the generator's samples moved to the data


# ---- 8. a train_step / test_step written with keras.ops only -------------------------------------

def test_ops_classifier_learns():
    losses, (accuracy, (test_loss, test_acc)) = _learns("ops_classifier", dropout=0.1)
    _falls(losses, 0.6)
    assert accuracy[-1] > 0.8 and test_acc > 0.8


def test_ops_classifier_matches_keras():
    """Every op of the steps (one_hot, log_softmax, take_along_axis, where, max, softmax, clip,
    norm, argmax, top_k, any...) and its gradient as Keras's: the same losses and accuracies
    from Keras's weights, float64."""
    _matches_keras("ops_classifier", epochs=3)


# ---- dlcore gaps the ports found (no Keras needed) ---------------------------------------------

def test_time_distributed_sigmoid_head_takes_probabilities():
    """compile's loss names read the last layer's activation through TimeDistributed: a
    TimeDistributed(Dense(2, activation="sigmoid")) head gives probabilities, not logits."""
    from dlcore import layers
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    y = (rng.random(size=(8, 5, 2)) > 0.5).astype("float32")
    m = dlcore.Sequential([dlcore.Input((5, 3)), layers.TimeDistributed(layers.Dense(2, activation="sigmoid"))])
    m.compile("sgd", "binary_crossentropy")
    p = np.asarray(m.predict(x), dtype=np.float64)
    want = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(m.evaluate(x, y, verbose=0), want, rtol=1e-5)


def test_input_and_build_follow_the_default_dtype():
    """Input() and Sequential / build without a dtype take dlcore's default float dtype (Keras's
    floatx), so a float64 model builds from set_default_dtype(float64) alone."""
    from dlcore import layers
    try:
        dlcore.set_default_dtype(dlcore.float64)
        inp = dlcore.Input((6, 1))
        assert inp.dtype == dlcore.float64
        f = dlcore.Model(inp, layers.Dense(2)(layers.Conv1D(3, 3)(inp)))
        s = dlcore.Sequential([dlcore.Input((6, 1)), layers.Conv1D(3, 3)])
        b = dlcore.Sequential([layers.Conv1D(3, 3)]).build((6, 1))
        for m in (f, s, b):
            assert all(w.dtype == dlcore.float64 for w in m.trainable_weights)
            assert np.asarray(m.predict(np.ones((2, 6, 1)))).dtype == np.float64
    finally:
        dlcore.set_default_dtype(dlcore.float32)
    assert dlcore.Input((3,)).dtype == dlcore.float32


def test_parameter_value_is_keras_variable_value():
    """A Keras variable's ``.value`` is its backend tensor: dlcore's Parameter is its own, so a
    Keras-on-PyTorch train_step's ``[v.value.grad for v in self.trainable_weights]`` runs."""
    m = dlcore.Sequential([dlcore.Input((3,)), dlcore.layers.Dense(2)])
    m(np.ones((4, 3), dtype="float32")).sum().backward()
    for v in m.trainable_weights:
        assert v.value is v and v.value.grad is v.grad and v.grad is not None


def test_compatibility_page_lists_every_port():
    """docs/compatibility.md's Keras table names every port, so the page cannot drift from the suite."""
    page = (Path(__file__).parent.parent / "docs" / "compatibility.md").read_text().split("\n## Keras\n", 1)[1]
    for path in sorted(PORTS.glob("*.py")):
        assert f"`{path.name}`" in page, path.name


def test_random_namespace_seeds_as_keras():
    """dlcore.random (keras.random): an int seed repeats its draws, a SeedGenerator advances
    and is reproducible from its seed, None follows dlcore.manual_seed; the draws have the
    asked distribution (moments of 20000 draws, several standard errors wide)."""
    r = dlcore.random
    a, b = r.normal((3, 4), seed=7).numpy(), r.normal((3, 4), seed=7).numpy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = r.SeedGenerator(3), r.SeedGenerator(3)
    x1, x2 = r.normal(5, seed=g1).numpy(), r.normal(5, seed=g1).numpy()
    assert not np.array_equal(x1, x2)
    np.testing.assert_array_equal(r.normal(5, seed=g2).numpy(), x1)
    dlcore.manual_seed(11)
    u1 = r.uniform((4,)).numpy()
    dlcore.manual_seed(11)
    np.testing.assert_array_equal(r.uniform((4,)).numpy(), u1)
    n = r.normal((20000,), mean=2.0, stddev=3.0, seed=1).numpy()
    assert abs(n.mean() - 2.0) < 4 * 3.0 / np.sqrt(n.size) and abs(n.std() - 3.0) < 0.1
    u = r.uniform((20000,), minval=-1.0, maxval=3.0, seed=2, dtype="float64").numpy()
    assert u.dtype == np.float64 and u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    k = r.randint((20000,), 2, 6, seed=3).numpy()
    assert set(np.unique(k)) == {2, 3, 4, 5}
    s = r.shuffle(dlcore.arange(10).reshape(5, 2), seed=4).numpy()
    assert sorted(map(tuple, s)) == [(2 * i, 2 * i + 1) for i in range(5)]
    with pytest.raises(TypeError, match="normal: seed"):
        r.normal(2, seed="x")


@pytest.mark.parametrize("config", [dict(), dict(amsgrad=True, weight_decay=0.1), dict(epsilon=1e-3)])
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("scale", [1e-5, 1.0])
def test_keras_adam_updates_as_keras(cls, config, scale):
    """dlcore.optimizers.Adam / AdamW update as Keras's (epsilon added to sqrt(v) before the bias
    correction, decoupled weight decay), float64, also with gradients near epsilon's size."""
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3))
    grads = [scale * rng.normal(size=(5, 3)) for _ in range(6)]
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")  # Keras's learning rate and step count variables too
    try:
        kv = keras.Variable(w0.copy(), dtype="float64")
        kopt = getattr(keras.optimizers, cls)(learning_rate=1e-2, **config)
        for g in grads:
            kopt.apply([torch.tensor(g)], [kv])
    finally:
        keras.config.set_floatx(floatx)
    dv = dlcore.nn.Parameter(dlcore.tensor(w0.copy()))
    dopt = getattr(dlcore.optimizers, cls)(learning_rate=1e-2, **config)
    for g in grads:
        dopt.apply([dlcore.tensor(g)], [dv])
    np.testing.assert_allclose(dv.detach().numpy(), np.asarray(kv.numpy()), rtol=1e-12, atol=1e-14)
    assert np.abs(dv.detach().numpy() - w0).max() > 1e-5  # it moved


def test_adam_eps_hat_is_epsilon_before_bias_correction():
    """optim.Adam(eps_hat=True): p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), NumPy's
    float64 loop as the reference; eps_hat=False stays PyTorch's rule."""
    rng = np.random.default_rng(1)
    w0, lr, (b1, b2), eps = rng.normal(size=4), 0.1, (0.9, 0.99), 1e-3
    grads = [1e-3 * rng.normal(size=4) for _ in range(5)]
    for hat in (True, False):
        p = dlcore.nn.Parameter(dlcore.tensor(w0.copy()))
        opt = dlcore.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, eps_hat=hat)
        w, m, v = w0.copy(), 0.0, 0.0
        for t, g in enumerate(grads, 1):
            p.grad = dlcore.tensor(g)
            opt.step()
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            if hat:
                w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
            else:
                w = w - lr / (1 - b1 ** t) * m / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-12)


def test_batch_normalization_moving_variance_is_keras_biased():
    """BatchNormalization's moving variance averages the batches' biased variances, as Keras's
    (PyTorch's running_var takes unbiased ones: a factor n / (n - 1) apart), float64 NumPy
    reference over three training batches, channels-last (N, T, C) input."""
    from dlcore import layers
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(4, 6, 3)) * 2 + 1 for _ in range(3)]
    bn = layers.BatchNormalization(momentum=0.8)
    bn(dlcore.tensor(xs[0]))  # builds it; then the statistics start afresh
    bn.set_weights([np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)])
    bn.train()
    mean, var = np.zeros(3), np.ones(3)
    for x in xs:
        y = bn(dlcore.tensor(x)).detach().numpy()
        flat = x.reshape(-1, 3)
        np.testing.assert_allclose(y, (x - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-3), rtol=1e-12, atol=1e-12)
        mean, var = 0.8 * mean + 0.2 * flat.mean(0), 0.8 * var + 0.2 * flat.var(0)
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(moving_var, var, rtol=1e-12)
