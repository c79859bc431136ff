"""Issue 17, model files from strangers and saving: the format's rules checked before anything
is read, every metadata field validated by name, the architecture checked against the stored
tensors under an allocation budget, spec-valid files from other writers accepted; saves keep
open()'s file mode, take str / bytes / PathLike paths and long names, and never leave a
temporary file behind."""
import json
import os
import struct

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore import serialization as S


def _saved(tmp_path, name="m.safetensors", fit=True):
    dlcore.manual_seed(0)
    m = dlcore.Sequential([nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)])
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    if fit:
        m.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    p = tmp_path / name
    m.save(p)
    return p, m


def _rewrite(p, edit_meta=None, edit_arrays=None):
    """Re-writes a model file with edited metadata / arrays and a valid digest (a digest is no
    signature: whoever edits a file can recompute it)."""
    meta, arrays, _ = S._read_checked(p)
    meta = dict(meta)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    meta.pop("sha256")
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    S._write(p, arrays, meta)


def _json_edit(field, fn):
    def edit(meta):
        v = json.loads(meta[field])
        fn(v)
        meta[field] = json.dumps(v)
    return edit


# ---- the format -------------------------------------------------------------------------------

def _st_file(path, tensors, meta=None, pad=False):
    """A safetensors file written by hand (header not padded to 8 bytes unless pad)."""
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, (code, arr) in tensors.items():
        b = arr.tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return path


def test_spec_valid_files_from_other_writers_load(tmp_path):
    p = _st_file(tmp_path / "x.safetensors", {"a": ("F32", np.arange(3, dtype="<f4")),
                                             "b": ("I32", np.array([[1, -2]], "<i4")),
                                             "h": ("F16", np.array([0.5, 2.0], "<f2")),
                                             "z": ("F64", np.zeros((0, 2), "<f8"))})
    assert (len(p.read_bytes()) - 8) % 8 != 0  # the header really is unpadded
    d = dlcore.load(p)
    assert d["a"].tolist() == [0.0, 1.0, 2.0] and d["b"].dtype == dlcore.int64 and d["b"].tolist() == [[1, -2]]
    assert d["h"].dtype == dlcore.float32 and d["h"].tolist() == [0.5, 2.0] and d["z"].shape == (0, 2)
    bf = np.array([1.5, -2.0], np.float32).view(np.uint32) >> 16
    _st_file(p, {"w": ("BF16", bf.astype("<u2"))})
    assert dlcore.load(p)["w"].tolist() == [1.5, -2.0]
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"q": np.arange(4, dtype=np.int16)}, str(p))  # the reference writer
    assert dlcore.load(p)["q"].tolist() == [0, 1, 2, 3]


def test_dlcore_files_are_read_by_the_reference_reader(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    p, m = _saved(tmp_path)
    ref = st.load_file(str(p))
    np.testing.assert_array_equal(ref["model/0.weight"], m[0].weight.detach().numpy())
    dlcore.save({"x": np.arange(5.0), "k": np.array(True)}, tmp_path / "s.safetensors")
    assert st.load_file(str(tmp_path / "s.safetensors"))["x"].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("bad,msg", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, r"has byte range \[0, 4\)"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, r"without gaps or overlaps"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, r"non-negative integers"),
    ({"a": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}, r"dtype 'F8_E4M3', which dlcore cannot read"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}, r"bad header entry"),
    ({"__metadata__": {"k": 1}}, r"field '__metadata__' must map strings to strings"),
])
def test_format_rules_are_checked_before_reading(tmp_path, bad, msg):
    h = json.dumps(bad).encode()
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 4)
    with pytest.raises(ValueError, match=msg):
        dlcore.load(p)


def test_duplicate_keys_and_huge_claims_are_refused(tmp_path):
    p = tmp_path / "d.safetensors"
    h = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 4)
    with pytest.raises(ValueError, match="appears twice"):
        dlcore.load(p)
    h = b'{"a": {"dtype": "F64", "shape": [100000, 100000, 100000], "data_offsets": [0, 8000000000000000]}}'
    p.write_bytes(struct.pack("<Q", len(h)) + h)
    with pytest.raises(ValueError, match="data section has 0 bytes"):
        dlcore.load(p)


# ---- model files: every field, and the architecture against the tensors ---------------------

def test_a_small_file_cannot_make_the_loader_allocate_gigabytes(tmp_path):
    p, _ = _saved(tmp_path, fit=False)

    def huge(arch):
        arch["layers"][0][1]["config"]["in_features"] = 200_000
        arch["layers"][0][1]["config"]["out_features"] = 200_000  # 160 GB of float32
    _rewrite(p, _json_edit("architecture", huge))
    assert os.path.getsize(p) < 10_000
    with pytest.raises(ValueError, match=r"field 'architecture'.*allocation budget"):
        dlcore.load_model(p)
    assert dlcore._C.alloc_budget() == -1  # the budget ends with the load


def test_weights_must_match_the_architecture(tmp_path):
    p, _ = _saved(tmp_path)

    def wider(arch):
        arch["layers"][2][1]["config"]["out_features"] = 3
    _rewrite(p, _json_edit("architecture", wider))
    with pytest.raises(ValueError, match=r"tensor 'model/2.weight' has shape \(2, 4\) but the architecture's 2.weight has shape \(3, 4\)"):
        dlcore.load_model(p)
    p, _ = _saved(tmp_path)
    _rewrite(p, edit_arrays=lambda a: a.update({"model/0.bias": np.zeros(4, np.int64)}))
    with pytest.raises(ValueError, match=r"'model/0.bias' is int64 but the architecture's 0.bias is float32"):
        dlcore.load_model(p)
    p, _ = _saved(tmp_path)
    _rewrite(p, edit_arrays=lambda a: a.pop("model/0.bias"))
    with pytest.raises(ValueError, match=r"missing \['0.bias'\]"):
        dlcore.load_model(p)


@pytest.mark.parametrize("field,edit,msg", [
    ("training", lambda t: t.update(epoch=-3), r"field 'training': epoch must be a non-negative integer"),
    ("training", lambda t: t.update(rng_state=[1, -1]), r"field 'training': rng_state must be \[seed, counter\]"),
    ("training", lambda t: t.update(rng_state="x"), r"field 'training': rng_state"),
    ("training", lambda t: t.update(extra=1), r"field 'training': unknown entries \['extra'\]"),
    ("compile", lambda c: c.update(optimizer="adamm"), r"field 'compile': optimizer must be one of"),
    ("compile", lambda c: c.update(metrics=[3]), r"field 'compile': metrics must be a list of names"),
    ("compile", lambda c: c.update(loss="msee"), r"field 'compile': unknown loss 'msee'"),
    ("optimizer", lambda o: o.update({"class": "Optimizer"}), r"field 'optimizer': class must be one of"),
    ("optimizer", lambda o: o.update({"class": "os"}), r"field 'optimizer': class must be one of"),
    ("optimizer", lambda o: o["defaults"].update(lr=-1.0), r"field 'optimizer': Adam: invalid learning rate -1\.0"),
    ("optimizer", lambda o: o["defaults"].update(evil=1), r"field 'optimizer': defaults must be a dict of Adam's options"),
    ("optimizer", lambda o: o["param_groups"][0].update(params=[0, 1, 2, 9]), r"params must list parameter indices in \[0, 4\)"),
    ("optimizer", lambda o: o["param_groups"][0].update(params=[0, 0, 1, 2]), r"param_groups index parameters \[0, 0, 1, 2\]"),
    ("optimizer", lambda o: o["param_groups"][0].update(bogus=1), r"param_groups\[0\] has unknown options \['bogus'\]"),
    ("optimizer", lambda o: o["state"].update({"7": {}}), r"state has an entry for parameter '7'"),
    ("optimizer", lambda o: o["state"]["0"].update(exp_avg={"__array__": "model/0.weight"}), r"state\[0\].exp_avg names a tensor"),
    ("optimizer", lambda o: o["state"]["0"].update(step="x"), r"state\[0\].step must be a number"),
    ("architecture", lambda a: a.update({"class": "os.system"}), r"unknown layer class 'os.system'"),
    ("architecture", lambda a: a["layers"][0][1]["config"].update(in_features=2.5), r"field 'architecture': .*Linear: in_features must be an integer, got 2.5"),
    ("architecture", lambda a: a["layers"][0][1]["config"].update(bogus=1), r"field 'architecture': cannot rebuild nn.Linear"),
])
def test_every_field_is_validated_by_name(tmp_path, field, edit, msg):
    p, _ = _saved(tmp_path)
    _rewrite(p, _json_edit(field, edit))
    with pytest.raises(ValueError, match=msg):
        dlcore.load_model(p)


def test_a_model_file_needs_its_digest(tmp_path):
    p, _ = _saved(tmp_path)
    meta, arrays, _ = S._read_checked(p)
    meta = dict(meta)
    meta.pop("sha256")
    p.write_bytes(b"".join(bytes(c) for c in S._st_chunks({k: np.array(v) for k, v in arrays.items()}, meta)))
    with pytest.raises(ValueError, match=r"field 'sha256': missing"):
        dlcore.load_model(p)


def test_float64_models_stay_float64(tmp_path):
    m = dlcore.Sequential([nn.Linear(2, 2, dtype="float64")])
    m.save(tmp_path / "d.safetensors")
    m2 = dlcore.load_model(tmp_path / "d.safetensors")
    assert m2[0].weight.dtype == dlcore.float64
    np.testing.assert_array_equal(m2[0].weight.detach().numpy(), m[0].weight.detach().numpy())


def test_the_model_generator_is_saved_and_restored(tmp_path):
    p, m = _saved(tmp_path, fit=False)
    m.generator = 11
    m.generator.take(dlcore.float32, 1000)
    m.save(p)
    m2 = dlcore.load_model(p)
    assert m2.generator.get_state() == m.generator.get_state()


# ---- saving -------------------------------------------------------------------------------------

def test_saved_files_get_the_mode_open_gives(tmp_path):
    old = os.umask(0o022)
    try:
        p, m = _saved(tmp_path)
        assert oct(os.stat(p).st_mode & 0o777) == oct(0o644)
        os.chmod(p, 0o600)
        m.save(p)  # replacing a file keeps its mode, as open(p, "wb") would
        assert oct(os.stat(p).st_mode & 0o777) == oct(0o600)
        dlcore.save({"a": dlcore.ones(2)}, tmp_path / "s.safetensors")
        assert oct(os.stat(tmp_path / "s.safetensors").st_mode & 0o777) == oct(0o644)
    finally:
        os.umask(old)


def test_bytes_and_pathlike_paths_and_long_names(tmp_path):
    _, m = _saved(tmp_path)
    long_name = "x" * 240 + ".safetensors"  # 252 bytes: the temporary file's name must stay short
    for p in (str(tmp_path / "a.safetensors"), os.fsencode(tmp_path / "b.safetensors"), tmp_path / long_name):
        m.save(p)
        dlcore.load_model(p)
        dlcore.save({"w": dlcore.ones(2)}, p)
        assert dlcore.load(p)["w"].tolist() == [1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == sorted(["a.safetensors", "b.safetensors", "m.safetensors", long_name])
    with pytest.raises(TypeError, match=r"save: path must be a str, bytes or os.PathLike, got int"):
        dlcore.save({"w": dlcore.ones(2)}, 3)


@pytest.mark.parametrize("where", ["fsync", "write", "replace"])
def test_an_interrupted_save_leaves_no_temporary_file(tmp_path, monkeypatch, where):
    p, m = _saved(tmp_path)
    before = p.read_bytes()

    def interrupt(*a, **k):
        raise KeyboardInterrupt
    if where == "write":
        monkeypatch.setattr(S, "_st_chunks", lambda arrays, meta: iter([b"x", *iter(interrupt, None)]))
    else:
        monkeypatch.setattr(os, where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        m.save(p)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert p.read_bytes() == before
