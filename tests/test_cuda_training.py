"""Whole training runs on CUDA against the same runs on the CPU: the Fashion-MNIST MLP and CNN
and a row-LSTM classifier, 50 steps each from the same initial weights with the same dropout
masks (the generator is reseeded before every step on both devices, and both devices draw
Philox masks from the same counters), PyTorch-style loop and Keras-style fit. The losses must
agree to float32 tolerance (they differ only in summation order, which 50 SGD steps amplify a
little), and a steady training step must not call cudaMalloc (the caching allocator).
Skipped without a CUDA device; DLCORE_CUDA_TEST_DEVICE=cpu runs them with the CPU as the
second device (to check the tests themselves). Uses the Debian Fashion-MNIST files when
installed, else seeded random images of the same shape."""
import copy
import os

import numpy as np
import pytest

import dlcore
import dlcore.nn as nn
import dlcore.nn.functional as F
from conftest import requires_cuda

DEV = os.environ.get("DLCORE_CUDA_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.cuda] + ([requires_cuda] if DEV == "cuda" else [])

STEPS, BATCH = 50, 64
LOSS_TOL = dict(rtol=2e-3, atol=2e-4)


def _data(n=STEPS * BATCH):
    try:
        (x, y), _ = dlcore.datasets.fashion_mnist()
        return x[:n], y[:n]
    except FileNotFoundError:
        r = np.random.default_rng(0)
        return r.random((n, 1, 28, 28), dtype=np.float32), r.integers(0, 10, n).astype(np.int64)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10))


class RowLSTM(nn.Module):
    """Reads an image's 28 rows as a sequence: a 2-layer LSTM, dropout, a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 64, num_layers=2, batch_first=True, dropout=0.1)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
        return self.head(out[:, -1])


def _twin(make):
    dlcore.manual_seed(0)
    cpu = make()
    dev = copy.deepcopy(cpu).to(DEV)
    return cpu, dev


def _train(model, device, x, y, allocs=None):
    opt = dlcore.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for step in range(STEPS):
        xb = dlcore.tensor(x[step * BATCH:(step + 1) * BATCH], device=device)
        yb = dlcore.tensor(y[step * BATCH:(step + 1) * BATCH], device=device)
        dlcore.manual_seed(1000 + step)  # the same dropout masks on both devices
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if allocs is not None and step in (10, STEPS - 1):
            allocs.append(dlcore.cuda.memory_stats()["device_allocs"])
    return np.array(losses)


@pytest.mark.parametrize("make", [mlp, cnn, RowLSTM], ids=["mlp", "cnn", "lstm"])
def test_training_run_matches_cpu(make):
    x, y = _data()
    cpu, dev = _twin(make)
    lc = _train(cpu, "cpu", x, y)
    allocs = []
    lg = _train(dev, DEV, x, y, allocs)
    np.testing.assert_allclose(lg, lc, **LOSS_TOL)
    assert lc[-5:].mean() < lc[:5].mean()  # it learns
    if DEV == "cuda":
        assert allocs[0] == allocs[1], "steady training steps called cudaMalloc"
    for (name, pc), (_, pg) in zip(cpu.named_parameters(), dev.named_parameters()):
        assert str(pg.device).startswith(DEV)
        np.testing.assert_allclose(pg.detach().cpu().numpy(), pc.detach().numpy(), rtol=2e-2, atol=2e-3,
                                   err_msg=name)


def test_keras_fit_on_the_model_device_matches_cpu():
    x, y = _data(20 * 32)
    x = x.reshape(len(x), -1)

    def build():
        m = dlcore.Sequential([dlcore.layers.Dense(64, activation="relu", input_shape=(784,)),
                               dlcore.layers.Dropout(0.2), dlcore.layers.Dense(10)])
        m.compile(optimizer=dlcore.optim.SGD, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m

    dlcore.manual_seed(0)
    cpu = build()
    dev = build()
    dev.set_weights(cpu.get_weights())
    dev.to(DEV)
    hist = []
    for m in (cpu, dev):
        m.generator = 5  # shuffling and dropout from the model's own generator, seeded alike
        hist.append(m.fit(x, y, batch_size=32, epochs=2, verbose=0).history)
    np.testing.assert_allclose(hist[1]["loss"], hist[0]["loss"], **LOSS_TOL)
    np.testing.assert_allclose(hist[1]["accuracy"], hist[0]["accuracy"], atol=1e-6)
    assert all(str(p.device).startswith(DEV) for p in dev.parameters())
    np.testing.assert_allclose(dev.evaluate(x, y, verbose=0), cpu.evaluate(x, y, verbose=0), **LOSS_TOL)
    pc, pg = cpu.predict(x[:50]), dev.predict(x[:50])
    assert isinstance(pg, np.ndarray)
    np.testing.assert_allclose(pg, pc, rtol=1e-3, atol=1e-4)
