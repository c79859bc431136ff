"""Save / load: architecture + weights + optimizer in one safetensors file, no pickle, atomic
writes, resume == uninterrupted, and clear ValueErrors for truncated / edited / foreign files."""
import json
import os
import struct

import numpy as np
import pytest

import dlcore
from dlcore import callbacks as C
from dlcore import layers, nn, optim
from dlcore import serialization as S


def _blobs(n=160, d=5, k=3, seed=0):
    r = np.random.default_rng(seed)
    c = r.normal(0, 3, (k, d))
    y = r.integers(0, k, n)
    return (c[y] + r.normal(0, 1, (n, d))).astype(np.float32), y.astype(np.int64)


def _seq():
    return dlcore.Sequential([layers.Dense(12, activation="relu"), nn.Linear(12, 8), nn.Tanh(),
                              layers.Dense(3)], input_shape=(5,))


def test_sequential_roundtrip(tmp_path):
    x, y = _blobs()
    m = _seq()
    m.compile(optimizer=lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.safetensors"
    m.save(path)
    m2 = dlcore.load_model(path)
    assert type(m2) is dlcore.Sequential and [type(a).__name__ for a in m2] == ["Dense", "Linear", "Tanh", "Dense"]
    np.testing.assert_array_equal(m.predict(x), m2.predict(x))
    assert m2.evaluate(x, y) == pytest.approx(m.evaluate(x, y))
    assert type(m2.optimizer) is optim.SGD and m2.optimizer.param_groups[0]["momentum"] == 0.9
    # the momentum buffers came back: one more identical step on both gives identical weights
    m.train_on_batch(x[:32], y[:32])
    m2.train_on_batch(x[:32], y[:32])
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the file is a plain safetensors file
    from safetensors.numpy import load_file
    names = set(load_file(str(path)))
    assert "model/0.linear.weight" in names and "optimizer/0/momentum_buffer" in names


def test_graph_model_roundtrip(tmp_path):
    inp = dlcore.Input((5,), name="features")
    h = layers.Dense(8, activation="tanh")(inp)
    r = layers.Add()([layers.Dense(8)(h), h])
    out = layers.Dense(2)(layers.Concatenate()([r, h]))
    m = dlcore.Model(inp, out)
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    m.save(tmp_path / "g.safetensors")
    m2 = dlcore.load_model(tmp_path / "g.safetensors")
    assert isinstance(m2, dlcore.Model) and m2.inputs[0].name == "features"
    np.testing.assert_array_equal(m.predict(x), m2.predict(x))


def test_adam_state_roundtrip(tmp_path):
    x, y = _blobs()
    m = _seq()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, verbose=0)
    m.save(tmp_path / "a.safetensors")
    m2 = dlcore.load_model(tmp_path / "a.safetensors")
    s1, s2 = m.optimizer.state_dict(), m2.optimizer.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i in s1["state"]:
        for k, v in s1["state"][i].items():
            np.testing.assert_array_equal(np.asarray(v), np.asarray(s2["state"][i][k]))


def test_resume_equals_uninterrupted(tmp_path):
    """A seeded run checkpointed after epoch 2 and resumed (shuffling and dropout draw from
    dlcore's generator) ends bitwise equal to the run that never stopped."""
    x, y = _blobs(n=200)

    def make():
        m = dlcore.Sequential([layers.Dense(16, activation="relu"), layers.Dropout(0.3), layers.Dense(3)],
                              input_shape=(5,))
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m

    dlcore.manual_seed(7)
    full = make()
    h_full = full.fit(x, y, batch_size=32, epochs=4, verbose=0)

    dlcore.manual_seed(7)
    part = make()
    ck = str(tmp_path / "ck.safetensors")
    part.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[C.ModelCheckpoint(ck, save_best_only=False)])
    dlcore.manual_seed(12345)  # whatever happens in between
    resumed = dlcore.load_model(ck)
    assert resumed.completed_epochs == 2
    h_res = resumed.fit(x, y, batch_size=32, epochs=4, initial_epoch=resumed.completed_epochs, verbose=0)
    assert h_res.epoch == [2, 3]
    assert h_res.history["loss"] == h_full.history["loss"][2:]
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_state_dict_save_load(tmp_path):
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    p = tmp_path / "sd.safetensors"
    dlcore.save(m.state_dict(), p)
    sd = dlcore.load(p)
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"] and isinstance(sd["0.weight"], dlcore.Tensor)
    m2 = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    m2.load_state_dict(sd)
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(dlcore.ones(2, 4)).sum().backward()
    opt.step()
    blob = {"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "note": (1.5, None)}
    dlcore.save(blob, tmp_path / "all.safetensors")
    back = dlcore.load(tmp_path / "all.safetensors")
    assert back["epoch"] == 3 and back["note"] == (1.5, None)
    assert list(back["optimizer"]["state"]) == [0, 1, 2, 3]  # int keys survive
    np.testing.assert_array_equal(back["optimizer"]["state"][0]["momentum_buffer"].numpy(),
                                  opt.state_dict()["state"][0]["momentum_buffer"])
    opt2 = optim.SGD(m2.parameters(), lr=0.5)
    opt2.load_state_dict({"state": {k: {kk: vv.numpy() for kk, vv in v.items()} for k, v in back["optimizer"]["state"].items()},
                          "param_groups": back["optimizer"]["param_groups"]})
    assert opt2.param_groups[0]["lr"] == 0.1
    with pytest.raises(TypeError, match="cannot store"):
        dlcore.save({"f": lambda: 0}, tmp_path / "bad.safetensors")


# ---- corrupt files -----------------------------------------------------------------------------

def _saved(tmp_path):
    m = _seq()
    m.compile(optimizer="sgd", loss="mse")
    p = tmp_path / "m.safetensors"
    m.save(p)
    return p


def test_truncated_file_raises_value_error(tmp_path):
    p = _saved(tmp_path)
    raw = p.read_bytes()
    for cut in (3, 8 + 20, len(raw) // 2, len(raw) - 1):
        p.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|corrupt|JSON"):
            dlcore.load_model(p)
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="not a safetensors file"):
        dlcore.load_model(p)
    with pytest.raises(FileNotFoundError):
        dlcore.load_model(tmp_path / "missing.safetensors")


def test_tampered_file_raises_value_error(tmp_path):
    p = _saved(tmp_path)
    raw = bytearray(p.read_bytes())
    raw[-5] ^= 0x40  # a weight byte
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum"):
        dlcore.load_model(p)
    p2 = _saved(tmp_path)
    raw = p2.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    head = raw[8:8 + n].replace(b"Tanh", b"Tanx")  # edit the architecture, same length
    p2.write_bytes(raw[:8] + head + raw[8 + n:])
    with pytest.raises(ValueError, match="checksum"):
        dlcore.load_model(p2)
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ValueError, match="JSON"):
        dlcore.load_model(p)


def test_only_known_classes_are_built(tmp_path):
    """A well-formed file (valid checksum) naming an arbitrary class is refused."""
    p = tmp_path / "evil.safetensors"
    arch = {"class": "nn.__class__", "config": {}}
    S._write(p, {}, {"format": S.MODEL_FORMAT, "architecture": json.dumps(arch)})
    with pytest.raises(ValueError, match="unknown layer class"):
        dlcore.load_model(p)
    S._write(p, {}, {"format": S.MODEL_FORMAT, "architecture": json.dumps({"class": "os.system", "config": {}})})
    with pytest.raises(ValueError, match="unknown layer class"):
        dlcore.load_model(p)
    S._write(p, {}, {"format": S.STATE_FORMAT, "structure": "{}"})
    with pytest.raises(ValueError, match="not a dlcore model"):
        dlcore.load_model(p)


def test_atomic_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    p = _saved(tmp_path)
    before = p.read_bytes()

    def boom(src, dst):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(os, "replace", boom)
    m = _seq()
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(OSError, match="simulated"):
        m.save(p)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind
    dlcore.load_model(p)


def _zero_d_ok():
    """Whether nn.Module.load_state_dict handles 0-d buffers (the foundation's copy turned
    them 1-d; the normalization branch fixes it). Save/load of 0-d arrays is tested below."""
    m = nn.Module()
    m.register_buffer("n", dlcore.tensor(np.zeros((), np.int64)))
    try:
        m.load_state_dict({"n": np.ones((), np.int64)})
        return True
    except ValueError:
        return False


def test_zero_d_tensors_keep_their_shape(tmp_path):
    dlcore.save({"n": dlcore.tensor(np.full((), 3, np.int64)), "v": np.arange(3.0)}, tmp_path / "z.safetensors")
    back = dlcore.load(tmp_path / "z.safetensors")
    assert back["n"].shape == () and int(back["n"].item()) == 3 and back["v"].shape == (3,)


def test_unserialisable_model_says_what_to_do(tmp_path):
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x)

    m = dlcore.Sequential([Custom()])
    with pytest.raises(ValueError, match="register_serializable|state_dict"):
        m.save(tmp_path / "c.safetensors")

    @S.register_serializable
    class Scaled(nn.Module):
        def __init__(self, features, factor=2.0):
            super().__init__()
            self.features, self.factor = features, factor
            self.fc = nn.Linear(features, features)
            if _zero_d_ok():  # a 0-d buffer, like BatchNorm's num_batches_tracked
                self.register_buffer("calls", dlcore.tensor(np.full((), 7, np.int64)))

        def forward(self, x):
            return self.fc(x) * self.factor

    m = dlcore.Sequential([Scaled(3, factor=0.5)], input_shape=(3,))
    m.save(tmp_path / "s.safetensors")
    m2 = dlcore.load_model(tmp_path / "s.safetensors")
    assert m2[0].factor == 0.5
    if _zero_d_ok():
        assert m2[0].calls.shape == () and int(m2[0].calls.item()) == 7
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(m.predict(x), m2.predict(x))
