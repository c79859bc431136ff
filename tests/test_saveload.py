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


# ---- dlcore.save / dlcore.load as PyTorch users call them --------------------------------------

def _rewrite(raw, edit):
    """The file with its JSON header edited by edit(header dict) (digest left stale unless
    edit removes it)."""
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    edit(header)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + raw[8 + n:]


def test_save_load_file_objects_and_nested_structures(tmp_path):
    import io
    m = nn.Linear(3, 2)
    w = dlcore.arange(6, dtype=dlcore.float64).reshape(2, 3)
    obj = {"model": m.state_dict(), "nested": [w, (dlcore.tensor([True, False]), dlcore.tensor([1, 2]))],
           "scalars": {"lr": 0.1, "name": "run-1", "steps": 7, "none": None, "flag": True, "inf": float("inf")},
           "empty": [], "zero_d": dlcore.tensor(2.5)}
    buf = io.BytesIO()
    dlcore.save(obj, buf)
    buf.seek(0)
    back = dlcore.load(buf)
    with open(tmp_path / "ckpt.pt", "wb") as f:  # a real file object too, and torch's .pt name
        dlcore.save(obj, f)
    with open(tmp_path / "ckpt.pt", "rb") as f:
        back2 = dlcore.load(f, map_location="cpu", weights_only=True)
    for b in (back, back2):
        assert list(b) == list(obj) and b["scalars"] == obj["scalars"] and b["empty"] == []
        assert isinstance(b["nested"], list) and isinstance(b["nested"][1], tuple)
        np.testing.assert_array_equal(b["nested"][0].numpy(), w.numpy())
        assert b["nested"][0].dtype == dlcore.float64 and b["nested"][1][0].dtype == dlcore.bool_
        assert b["nested"][1][1].dtype == dlcore.int64 and b["zero_d"].shape == ()
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(b["model"][k].numpy(), v.numpy())
    m2 = nn.Linear(3, 2)
    m2.load_state_dict(back["model"])
    np.testing.assert_array_equal(m2.weight.detach().numpy(), m.weight.detach().numpy())
    # a lone tensor, and a file written after other bytes (read from the object's position)
    buf = io.BytesIO()
    buf.write(b"prefix")
    dlcore.save(w, buf)
    buf.seek(6)
    np.testing.assert_array_equal(dlcore.load(buf).numpy(), w.numpy())

    class Stream:  # not seekable, like a pipe or a socket
        def __init__(self, data):
            self._b = io.BytesIO(data)

        def read(self, n=-1):
            return self._b.read(n)

        def seekable(self):
            return False
    buf.seek(6)
    np.testing.assert_array_equal(dlcore.load(Stream(buf.read())).numpy(), w.numpy())


def test_save_keeps_names_apart_and_shared_tensors_shared(tmp_path):
    a, b, c = dlcore.ones(2), dlcore.zeros(2), dlcore.full((2,), 3.0)
    p = tmp_path / "x.safetensors"
    dlcore.save({"a/b": a, "a": {"b": b}, "__metadata__": c, "same": [a, a]}, p)
    back = dlcore.load(p)
    np.testing.assert_array_equal(back["a/b"].numpy(), [1, 1])
    np.testing.assert_array_equal(back["a"]["b"].numpy(), [0, 0])
    np.testing.assert_array_equal(back["__metadata__"].numpy(), [3, 3])
    assert back["same"][0] is back["same"][1] is back["a/b"]  # one tensor saved once, loaded once
    from safetensors.numpy import load_file  # the reference reader sees every tensor once
    assert len(load_file(str(p))) == 3


def test_save_keeps_parameters_and_requires_grad(tmp_path):
    m = nn.Linear(2, 2)
    x = dlcore.ones(3, requires_grad=True)
    p = tmp_path / "p.safetensors"
    dlcore.save({"params": list(m.parameters()), "x": x, "y": x.detach()}, p)
    back = dlcore.load(p)
    assert all(isinstance(q, nn.Parameter) and q.requires_grad for q in back["params"])
    assert back["x"].requires_grad and not back["y"].requires_grad
    back = dlcore.load(p, as_numpy=True)
    assert isinstance(back["x"], np.ndarray)


def test_torch_state_dict_loads_into_dlcore(tmp_path):
    """A torch module's state dict saved with dlcore.save loads into the same dlcore module."""
    import torch
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)).double()
    p = tmp_path / "t.safetensors"
    dlcore.save(tm.state_dict(), p)
    dm = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    dm.load_state_dict(dlcore.load(p))
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(dm(dlcore.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-14)


def test_load_refuses_pickle_and_bad_arguments(tmp_path):
    import torch
    p = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, p)
    with pytest.raises(ValueError, match="PyTorch pickle checkpoint.*never unpickles"):
        dlcore.load(p)
    import pickle
    q = tmp_path / "q.safetensors"
    dlcore.save({"w": dlcore.ones(2)}, q)
    with pytest.raises(ValueError, match="never unpickles"):
        dlcore.load(q, pickle_module=pickle)
    with pytest.raises(ValueError, match="map_location"):
        dlcore.load(q, map_location="tpu")
    with pytest.raises(TypeError, match="not readable"):
        dlcore.load(type("W", (), {"write": lambda self, b: None})())


def test_load_untrusted_state_files(tmp_path):
    """Truncated, edited and hostile state files raise ValueError before allocating more than
    the file holds; nothing in them is executed."""
    import io
    p = tmp_path / "s.safetensors"
    dlcore.save({"w": dlcore.ones(4, 4), "meta": {"step": 3}}, p)
    raw = p.read_bytes()
    for cut in (0, 5, 8 + 10, len(raw) // 2, len(raw) - 1):
        with pytest.raises(ValueError, match="truncated|corrupt|not a safetensors|JSON"):
            dlcore.load(io.BytesIO(raw[:cut]))

    def structure(tree):
        def edit(h):
            h["__metadata__"]["structure"] = tree
            del h["__metadata__"]["sha256"]
        return _rewrite(raw, edit)
    hostile = [
        json.dumps({"__tensor__": "missing"}),                      # names a tensor that is not there
        json.dumps({"__tensor__": "w", "device": 3}),               # bad reference entry
        json.dumps({"__object__": "os.system", "args": ["echo"]}),  # no such thing as an object entry
        json.dumps({"__dict__": [["k"]]}),
        json.dumps({"__dict__": [[["list"], 1]]}),                  # unhashable key
        "[" * 100000 + "]" * 100000,                                # nesting deeper than Python's stack
        "{not json",
    ]
    for tree in hostile:
        with pytest.raises(ValueError, match="field 'structure': corrupt"):
            dlcore.load(io.BytesIO(structure(tree)))
    # a header that claims a huge tensor: refused from the sizes, nothing allocated
    def huge(h):
        h["w"]["shape"] = [1 << 20, 1 << 20]
        h["w"]["data_offsets"] = [0, 8 << 40]
    with pytest.raises(ValueError, match="truncated or corrupt"):
        dlcore.load(io.BytesIO(_rewrite(raw, huge)))
    # a tensor's bytes changed: the digest catches it
    bad = bytearray(raw)
    bad[-3] ^= 0xFF
    with pytest.raises(ValueError, match="checksum mismatch"):
        dlcore.load(io.BytesIO(bytes(bad)))
    # many references to one stored tensor load as one tensor, not as many copies
    back = dlcore.load(io.BytesIO(structure(json.dumps([{"__tensor__": "w"}] * 10000))))
    assert len(back) == 10000 and all(t is back[0] for t in back)
