"""NumPy only at the edges: a full training step of an MLP, a CNN and an LSTM model (the
PyTorch-style loop, and Keras-style fit on tensors) hands no tensor memory to NumPy, passes no
NumPy array to a kernel, and calls no NumPy function at all.

Two instruments: dlcore._C.numpy_crossings() counts every Array exported to NumPy (buffer
protocol, numpy()) and every NumPy array a kernel receives; a profile hook records any call
into NumPy's Python or C functions while the step runs."""
import sys

import numpy as np
import pytest

import dlcore
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore import _C, optim


class _NumpyCalls:
    """Records the NumPy functions called while active (sys.setprofile sees Python and C calls)."""

    def __init__(self):
        self.calls = []

    def _hook(self, frame, event, arg):
        if event == "call" and "/numpy/" in frame.f_code.co_filename:
            self.calls.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
        elif event == "c_call" and (getattr(arg, "__module__", None) or "").startswith("numpy"):
            self.calls.append(f"{arg.__module__}.{arg.__name__}")

    def __enter__(self):
        self.before = _C.numpy_crossings()
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        self.crossings = tuple(b - a for a, b in zip(self.before, _C.numpy_crossings()))
        return False

    def check(self):
        assert self.crossings == (0, 0), f"NumPy arrays into kernels / Arrays out to NumPy: {self.crossings}"
        assert not self.calls, f"NumPy called during the step: {sorted(set(self.calls))[:10]}"


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


class _LSTMModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.out = nn.Linear(16, 20)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h)


def _batch(kind):
    dlcore.manual_seed(0)
    if kind == "lstm":
        x = dlcore.randint(0, 20, (4, 6))
        return x, dlcore.randint(0, 20, (4, 6))
    x = dlcore.randn(8, 1, 8, 8)
    return x, dlcore.randint(0, 10, (8,))


def _loss(kind, out, y):
    if kind == "lstm":
        return F.cross_entropy(out.reshape(-1, 20), y.reshape(-1))
    return F.cross_entropy(out, y)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
@pytest.mark.parametrize("opt_name", ["Adam", "SGD"])
def test_training_step_touches_no_numpy(kind, opt_name):
    model = {"mlp": _mlp, "cnn": _cnn, "lstm": _LSTMModel}[kind]()
    opt = getattr(optim, opt_name)(model.parameters(), lr=0.01)
    x, y = _batch(kind)

    def step():
        opt.zero_grad()
        loss = _loss(kind, model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    step()  # warm-up: optimizer state, lazy calibration
    with _NumpyCalls() as probe:
        loss = step()
        loss.item()
    probe.check()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_keras_fit_on_tensors_touches_no_numpy(kind):
    dlcore.manual_seed(0)
    net = {"mlp": _mlp, "cnn": _cnn}[kind]()
    model = dlcore.Sequential(list(net.children()))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = dlcore.randn(32, 1, 8, 8)
    y = dlcore.randint(0, 10, (32,))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # warm-up
    with _NumpyCalls() as probe:
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        model.evaluate(x, y, batch_size=8, verbose=0)
    probe.check()


def test_the_probe_sees_numpy():
    """The instruments fire: a NumPy call and a crossing inside the block are caught."""
    t = dlcore.ones(3)
    with _NumpyCalls() as probe:
        np.asarray(t)
    assert probe.crossings == (0, 1) and probe.calls
    with pytest.raises(AssertionError):
        probe.check()
