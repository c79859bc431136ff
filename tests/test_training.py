"""Keras-style training API: fit / evaluate / predict / train_on_batch, callbacks, progress
output, functional graphs, and a few hundred real Fashion-MNIST images trained well above chance."""
import io
import math
import os
import sys
import tracemalloc

import numpy as np
import pytest

import dlcore
from dlcore import callbacks as C
from dlcore import layers, nn, optim

from conftest import requires_torch

FMNIST = "/usr/share/datasets/fashion-mnist"


def _blobs(n=240, d=6, k=3, seed=0):
    r = np.random.default_rng(seed)
    centers = r.normal(0, 3, (k, d))
    y = r.integers(0, k, n)
    x = (centers[y] + r.normal(0, 1, (n, d))).astype(np.float32)
    return x, y.astype(np.int64)


def _mlp(d=6, k=3, hidden=16):
    return dlcore.Sequential([nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, k)])


def _sgd(lr=0.1, momentum=0.0):
    return lambda p: optim.SGD(p, lr=lr, momentum=momentum)


# ---- the real data -----------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_subset_trains_well_above_chance():
    (x, y), (xt, yt) = dlcore.datasets.fashion_mnist(FMNIST, flatten=True)
    x, y, xt, yt = x[:800], y[:800], xt[:500], yt[:500]
    model = dlcore.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)], input_shape=(784,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    loss, acc = model.evaluate(xt, yt, batch_size=250)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert acc > 0.65, acc  # chance is 0.10


# ---- fit / evaluate / predict ------------------------------------------------------------------

def test_fit_history_and_validation_split_uses_last_fraction():
    x, y = _blobs()
    m = _mlp()
    m.compile(optimizer=_sgd(), loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
    h = m.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in h.history.values()) and h.epoch == [0, 1, 2]
    vl, va = m.evaluate(x[180:], y[180:])
    assert vl == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert va == pytest.approx(h.history["val_accuracy"][-1])
    assert h.history["accuracy"][-1] > 0.8
    d = m.evaluate(x, y, return_dict=True)
    assert set(d) == {"loss", "accuracy"}


def test_fit_accepts_validation_data_and_loader():
    x, y = _blobs()
    m = _mlp()
    m.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loader = dlcore.data.DataLoader((x, y), batch_size=40, shuffle=True, seed=0)
    h = m.fit(loader, epochs=2, validation_data=(x[:50], y[:50]), verbose=0)
    assert len(h.history["val_accuracy"]) == 2
    with pytest.raises(ValueError, match="y=None"):
        m.fit(loader, y, verbose=0)
    ds = dlcore.data.TensorDataset(x, y)  # a Dataset is batched with fit's batch_size
    h2 = m.fit(ds, epochs=1, batch_size=60, verbose=0)
    assert len(h2.history["loss"]) == 1
    assert m.evaluate(ds, return_dict=True)["loss"] == pytest.approx(m.evaluate(x, y)[0])
    np.testing.assert_allclose(m.predict(ds), m.predict(x), rtol=1e-6)


def test_predict_batched_no_grad_no_memory_growth():
    x, y = _blobs(n=300)
    m = _mlp()
    with dlcore.no_grad():
        full = m(dlcore.tensor(x)).numpy()
    p = m.predict(x, batch_size=64)
    assert isinstance(p, np.ndarray) and p.shape == (300, 3)
    np.testing.assert_allclose(p, full, rtol=1e-5, atol=1e-6)
    assert all(q.grad is None for q in m.parameters()) and m.training  # mode restored
    m.predict(x, batch_size=64)
    tracemalloc.start()
    m.predict(x, batch_size=64)
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(30):
        m.predict(x, batch_size=64)
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 200_000, grown


def test_train_on_batch_and_test_on_batch():
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer=_sgd(0.2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = [w.copy() for w in m.get_weights()]
    l0 = m.test_on_batch(x, y)[0]
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    losses = [m.train_on_batch(x, y)[0] for _ in range(15)]
    assert losses[0] == pytest.approx(l0, rel=1e-5)  # loss reported before the step
    assert losses[-1] < 0.5 * losses[0]
    assert set(m.train_on_batch(x, y, return_dict=True)) == {"loss", "accuracy"}


def test_class_weight_scales_per_sample_loss():
    r = np.random.default_rng(0)
    x = r.normal(size=(40, 3)).astype(np.float32)
    y = (r.random(40) > 0.5).astype(np.float32)
    m = dlcore.Sequential([nn.Linear(3, 1), nn.Sigmoid()])  # probabilities -> from_logits=False
    m.compile(optimizer=_sgd(0.0), loss="binary_crossentropy")
    p = m.predict(x).reshape(-1).astype(np.float64)
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    w = np.where(y > 0.5, 3.0, 0.5)
    got = m.train_on_batch(x, y, class_weight={0: 0.5, 1: 3.0})
    assert got == pytest.approx(np.mean(per * w), rel=1e-5)
    assert m.train_on_batch(x, y) == pytest.approx(per.mean(), rel=1e-5)
    h = m.fit(x, y, batch_size=40, epochs=1, class_weight={0: 0.5, 1: 3.0}, shuffle=False, verbose=0)
    assert h.history["loss"][0] == pytest.approx(np.mean(per * w), rel=1e-5)


def test_string_names_resolve():
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=1, verbose=0)
    assert type(m.optimizer) is optim.Adam and m.optimizer.param_groups[0]["lr"] == 1e-3
    m2 = _mlp()
    m2.compile(optimizer={"name": "sgd", "learning_rate": 0.05}, loss="mse")
    m2.fit(x, np.zeros((64, 3), np.float32), verbose=0)
    assert type(m2.optimizer) is optim.SGD and m2.optimizer.param_groups[0]["lr"] == 0.05
    m3 = _mlp()
    with pytest.raises(ValueError, match=r"compile: unknown optimizer 'adamm' \(did you mean 'adam'\?\); known: \["):
        m3.compile(optimizer="adamm", loss="mse")  # at compile, not when fit starts
    with pytest.raises(ValueError, match="unknown loss"):
        _mlp().compile(optimizer="sgd", loss="sparse_categorical_crosentropy")
    with pytest.raises(RuntimeError, match="compile"):
        _mlp().fit(x, y, verbose=0)


def test_keras_style_softmax_output_and_categorical_targets():
    x, y = _blobs()
    m = dlcore.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=_sgd(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    assert not m._compiled.from_logits
    onehot = dlcore.data.to_categorical(y, 3)
    h = m.fit(x, onehot, epochs=5, batch_size=16, verbose=0)
    assert h.history["accuracy"][-1] > 0.8
    p = m.predict(x[:5])
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="not built"):
        dlcore.Sequential([layers.Dense(4)]).compile(optimizer=optim.SGD([dlcore.zeros(1, requires_grad=True)]))


def test_matches_hand_written_pytorch_style_loop():
    """fit(shuffle=False) does exactly what the plain loop does."""
    x, y = _blobs(n=96)
    dlcore.manual_seed(3)
    a = _mlp()
    dlcore.manual_seed(3)
    b = _mlp()
    a.compile(optimizer=_sgd(0.1, 0.9), loss=nn.CrossEntropyLoss())
    a.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    opt = optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    ce = nn.CrossEntropyLoss()
    for _ in range(2):
        for s in range(0, 96, 32):
            opt.zero_grad()
            ce(b(dlcore.tensor(x[s:s + 32])), dlcore.tensor(y[s:s + 32])).backward()
            opt.step()
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("kind", ["float32", "float64-readonly", "uint8", "bool"])
def test_fit_batches_are_the_arrays_rows(kind):
    """fit's loader shares float / int64 NumPy columns with dlcore (batches gathered by
    index_select, read-only arrays included) and keeps other dtypes as NumPy; either way each
    batch holds the shuffled rows of the arrays, converted as _arr converts them."""
    from dlcore.trainer import _array_loader, _arr
    r = np.random.default_rng(5)
    dtype = kind.split("-")[0]
    x = (r.random((50, 7)) > 0.5) if dtype == "bool" else (r.random((50, 7)) * 100).astype(dtype)
    if kind.endswith("readonly"):
        x.setflags(write=False)
    y = r.integers(0, 3, 50)
    xa, ya = _arr(x), _arr(y)
    dlcore.manual_seed(4)
    batches = list(_array_loader([xa], ya, None, batch_size=16, shuffle=True))
    rows = np.concatenate([np.asarray(b[0].numpy() if isinstance(b[0], dlcore.Tensor) else b[0]) for b in batches])
    labels = np.concatenate([np.asarray(b[1].numpy() if isinstance(b[1], dlcore.Tensor) else b[1]) for b in batches])
    assert rows.dtype == xa.dtype and sorted(map(tuple, rows.tolist())) == sorted(map(tuple, xa.tolist()))
    order = [int(np.flatnonzero((xa == row).all(1))[0]) for row in rows] if dtype != "bool" else None
    if order is not None:  # each label travels with its row
        np.testing.assert_array_equal(labels, y[order])
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2]


@requires_torch
def test_golden_losses_match_pytorch():
    import torch
    x, y = _blobs(n=128)
    x = x.astype(np.float64)
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    m = dlcore.Sequential([nn.Linear(6, 16, dtype="float64"), nn.Tanh(), nn.Linear(16, 3, dtype="float64")])
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    m.compile(optimizer=_sgd(0.05, 0.9), loss="sparse_categorical_crossentropy")
    got = []
    m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
          callbacks=[C.LambdaCallback(on_batch_end=lambda b, logs: got.append(logs["batch_loss"]))])
    topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    ref = []
    for _ in range(2):
        for s in range(0, 128, 16):
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x[s:s + 16])), torch.from_numpy(y[s:s + 16]))
            loss.backward()
            topt.step()
            ref.append(loss.item())
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


# ---- callbacks ---------------------------------------------------------------------------------

class _Recorder(C.Callback):
    def on_train_begin(self, logs=None):
        self.weights, self.val = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])
        self.val.append(logs["val_loss"])


def test_early_stopping_restores_best_weights():
    x, y = _blobs(n=200, seed=4)
    m = _mlp()
    m.compile(optimizer=_sgd(0.3, 0.9), loss="sparse_categorical_crossentropy")  # noisy on purpose
    rec = _Recorder()
    es = C.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(x[:150], y[:150], batch_size=16, epochs=12, validation_data=(x[150:], y[150:]),
              callbacks=[rec, es], verbose=0)
    best = int(np.argmin(rec.val))
    assert es.best_epoch == best
    for a, b in zip(m.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)
    if es.stopped_epoch is not None:
        assert len(h.epoch) == es.stopped_epoch + 1 and es.stopped_epoch - best == 2


def test_early_stopping_stops_on_plateau():
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer=_sgd(0.0), loss="sparse_categorical_crossentropy")  # nothing changes
    es = C.EarlyStopping(monitor="loss", patience=2)
    # no shuffling: a reordered float32 mean could "improve" by an ulp and reset the patience
    h = m.fit(x, y, epochs=20, shuffle=False, callbacks=[es], verbose=0)
    assert len(h.epoch) == 3 and m.stop_training


def test_model_checkpoint_best_only(tmp_path):
    x, y = _blobs(n=200, seed=3)
    m = _mlp()
    m.compile(optimizer=_sgd(1.5, 0.9), loss="sparse_categorical_crossentropy")
    path = str(tmp_path / "ck-{epoch:02d}.safetensors")
    mc = C.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    rec = _Recorder()
    m.fit(x[:150], y[:150], batch_size=16, epochs=6, validation_data=(x[150:], y[150:]),
          callbacks=[rec, mc], verbose=0)
    expect, best = [], math.inf
    for e, v in enumerate(rec.val):
        if v < best:
            best = v
            expect.append(str(tmp_path / f"ck-{e + 1:02d}.safetensors"))
    assert mc.saved == expect
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in expect)
    loaded = dlcore.load_model(expect[-1])
    assert loaded.evaluate(x[150:], y[150:]) == pytest.approx(min(rec.val), rel=1e-5)


def test_terminate_on_nan(capsys):
    x, y = _blobs(n=64)
    x[20] = np.nan  # in the first batch
    m = _mlp()
    m.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy")
    t = C.TerminateOnNaN()
    h = m.fit(x, y, batch_size=32, epochs=5, shuffle=False, callbacks=[t], verbose=0)
    assert t.stopped == (1, 1, 1) and len(h.epoch) == 1 and math.isnan(h.history["loss"][0])
    err = capsys.readouterr().err
    assert "TerminateOnNaN: step 1 (epoch 1, batch 1)" in err and "nan" in err and "stopped" in err
    y2 = np.full((64, 3), np.inf, np.float32)
    m2 = _mlp()
    m2.compile(optimizer=_sgd(), loss="mse")
    h2 = m2.fit(x[32:], y2[32:], batch_size=16, epochs=3, callbacks=[C.TerminateOnNaN()], verbose=0)
    assert len(h2.epoch) == 1 and math.isinf(h2.history["loss"][0])


def test_csv_logger(tmp_path):
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f = tmp_path / "log.csv"
    h = m.fit(x, y, epochs=3, validation_split=0.25, callbacks=[C.CSVLogger(f)], verbose=0)
    rows = f.read_text().strip().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 4
    last = rows[-1].split(",")
    assert int(last[0]) == 2 and float(last[2]) == pytest.approx(h.history["loss"][-1])
    m.fit(x, y, epochs=5, initial_epoch=3, validation_split=0.25, callbacks=[C.CSVLogger(f, append=True)], verbose=0)
    assert len(f.read_text().strip().splitlines()) == 6


def test_lr_scheduler_and_reduce_on_plateau():
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer=_sgd(0.1), loss="sparse_categorical_crossentropy")
    seen = []
    h = m.fit(x, y, epochs=4, verbose=0, callbacks=[
        C.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch),
        C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(m.optimizer.param_groups[0]["lr"]))])
    assert seen == pytest.approx([0.1, 0.05, 0.025, 0.0125]) and h.history["lr"] == pytest.approx(seen)
    m2 = _mlp()
    m2.compile(optimizer=_sgd(0.8), loss="sparse_categorical_crossentropy")
    lrs = []

    def const(e, logs):
        logs["const"] = 1.0
    m2.fit(x, y, epochs=6, verbose=0, callbacks=[
        C.LambdaCallback(on_epoch_end=const),
        C.ReduceLROnPlateau(monitor="const", factor=0.5, patience=2, min_lr=0.15),
        C.LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(m2.optimizer.param_groups[0]["lr"]))])
    # epoch 0 sets best; no improvement at 1, 2 -> halve; 3, 4 -> halve; 5: floor at min_lr
    assert lrs == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2, 0.2])


def test_lambda_callback_sees_every_hook():
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy")
    ev = []
    cb = C.LambdaCallback(on_train_begin=lambda logs: ev.append("tb"), on_train_end=lambda logs: ev.append("te"),
                          on_epoch_begin=lambda e, logs: ev.append(f"eb{e}"),
                          on_epoch_end=lambda e, logs: ev.append(f"ee{e}"),
                          on_batch_begin=lambda b, logs: ev.append("bb"), on_batch_end=lambda b, logs: ev.append("be"))
    m.fit(x, y, batch_size=32, epochs=2, callbacks=[cb], verbose=0)
    assert ev == ["tb", "eb0", "bb", "be", "bb", "be", "ee0", "eb1", "bb", "be", "bb", "be", "ee1", "te"]


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = _blobs(n=64)
    m = _mlp()
    m.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    p = h.plot(str(tmp_path / "curves.png"))
    assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# ---- progress output ---------------------------------------------------------------------------

def test_progress_non_tty_prints_once_per_epoch(capsys):
    x, y = _blobs(n=256)
    m = _mlp()
    m.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for verbose in (1, 2):
        m.fit(x, y, batch_size=8, epochs=2, verbose=verbose)
        out = capsys.readouterr().out
        lines = out.strip().split("\n")
        assert len(lines) == 2 and "\r" not in out, out
        assert lines[1].startswith("Epoch 2/2") and "samples/s" in lines[1] and "accuracy:" in lines[1]
    m.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_tty_single_line_bar(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # force the built-in bar
    s = _TTY()
    bar = C.ProgbarLogger(1, stream=s, min_interval=0.0)
    bar.set_params({"epochs": 1, "steps": 5})
    bar.on_epoch_begin(0)
    for i in range(5):
        bar.on_train_batch_end(i, {"loss": 1.0 / (i + 1), "size": 10})
    assert "\n" not in s.getvalue() and s.getvalue().count("\r") == 5
    assert "ETA" in s.getvalue() and "5/5" in s.getvalue()
    bar.on_epoch_end(0, {"loss": 0.2})
    assert s.getvalue().endswith("\n") and s.getvalue().count("\n") == 1


# ---- functional graphs and summary -------------------------------------------------------------

def test_functional_residual_graph_and_shared_layer():
    x, y = _blobs()
    inp = dlcore.Input((6,))
    h = layers.Dense(16, activation="relu")(inp)
    shared = layers.Dense(16, activation="tanh")
    r = shared(h) + h                       # residual merge via +
    r2 = layers.Add()([shared(r), r])       # the same layer again: shared weights
    c = layers.Concatenate(axis=1)([r2, h])
    out = layers.Dense(3)(c)
    model = dlcore.Model(inp, out)
    assert out.shape == (None, 3) and c.shape == (None, 32)
    assert len([n for n in model.layers if n is shared]) == 1
    assert model.count_params() == (6 * 16 + 16) + (16 * 16 + 16) + (32 * 3 + 3)
    xt = dlcore.tensor(x[:5])
    hh = model._modules[h.node.layer.name](xt)
    rr = shared(hh) + hh
    ref = model._modules[out.node.layer.name](dlcore.cat([shared(rr) + rr, hh], 1))
    np.testing.assert_allclose(model(xt).detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    model.compile(optimizer=_sgd(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=4, verbose=0)
    assert hist.history["accuracy"][-1] > 0.8
    with pytest.raises(ValueError, match="per-sample shape"):
        model(dlcore.zeros(2, 5))


def test_multi_input_model():
    a, b = dlcore.Input((3,)), dlcore.Input((2,))
    out = layers.Dense(1)(layers.Concatenate()([layers.Dense(4)(a), b]))
    m = dlcore.Model([a, b], out)
    xa = np.ones((10, 3), np.float32)
    xb = np.ones((10, 2), np.float32)
    m.compile(optimizer=_sgd(0.01), loss="mse")
    m.fit([xa, xb], np.zeros((10, 1), np.float32), epochs=1, verbose=0)
    assert m.predict([xa, xb]).shape == (10, 1)


def test_summary_prints_shapes_and_counts(capsys):
    m = dlcore.Sequential([layers.Flatten(), layers.Dense(32, activation="relu", name="hidden"),
                           layers.Dense(10, name="logits")], input_shape=(1, 28, 28))
    m.summary()
    out = capsys.readouterr().out
    assert "hidden" in out and "(None, 32)" in out and "(None, 784)" in out and "25,120" in out
    assert "Total params: 25,450" in out


@pytest.mark.skipif(not os.path.exists(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_main_job_smoke(capsys, tmp_path):
    from dlcore.examples import cli
    assert cli.main(["fashion-mnist", "--limit", "600", "--epochs", "1", "--verbose", "0",
                     "--save", str(tmp_path / "fm.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist mlp: test accuracy" in out and "s per epoch" in out
    assert dlcore.load_model(tmp_path / "fm.safetensors").count_params() == 235146
    assert cli.main([]) == 2 and "fashion-mnist" in capsys.readouterr().out


def test_float64_numpy_data_meets_a_float32_model_as_float32():
    """Keras casts inputs to the model's float dtype: float64 NumPy data trains a float32 model
    (it neither errors nor builds a 4x slower float64 model); a float64 model keeps float64."""
    r = np.random.default_rng(0)
    x, y = r.standard_normal((64, 5)), r.integers(0, 3, 64)
    m = dlcore.Sequential([dlcore.layers.Dense(8, activation="relu"), dlcore.layers.Dense(3)])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert m.predict(x[:4]).dtype == np.float32
    m64 = dlcore.Sequential([nn.Linear(5, 3, dtype="float64")])
    m64.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m64.fit(x.astype(np.float32), y, epochs=1, batch_size=16, verbose=0)
    assert m64.predict(x[:4]).dtype == np.float64


def test_summary_of_an_unbuilt_model_says_so():
    m = dlcore.Sequential([layers.Dense(8, activation="relu"), layers.Dense(2)])
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "The model is not built yet: 2 layer(s)" in text and "model.build(input_shape)" in text
    m.build((5,))
    lines.clear()
    m.summary(print_fn=lines.append)
    assert "not built" not in "\n".join(lines) and "Total params: 66" in "\n".join(lines)


@pytest.mark.parametrize("use_tqdm", [False, True])
def test_progress_bar_fits_80_columns(monkeypatch, use_tqdm):
    if not use_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    else:
        pytest.importorskip("tqdm")
    monkeypatch.setenv("COLUMNS", "80")
    s = _TTY()
    bar = C.ProgbarLogger(1, stream=s, min_interval=0.0)
    bar.set_params({"epochs": 15, "steps": 469})
    bar.on_epoch_begin(0)
    for i in range(0, 469, 50):
        bar.on_train_batch_end(i, {"loss": 0.51234, "accuracy": 0.81234, "size": 128})
    bar.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.55, "val_accuracy": 0.79})
    segments = [seg for seg in s.getvalue().replace("\r", "\n").split("\n") if seg.strip()]
    assert all(len(seg) < 80 for seg in segments), [len(seg) for seg in segments]
    assert any("loss" in seg and "accuracy" in seg and "469" in seg for seg in segments[:-2])  # numbers kept
    assert "val_accuracy: 0.7900" in s.getvalue()
