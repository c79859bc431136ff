"""Saving and loading without pickle: everything goes into one .safetensors file.

File layout (safetensors: 8-byte header length, JSON header, raw little-endian tensor bytes):
- tensors: ``model/<state_dict key>`` (parameters and buffers) and
  ``optimizer/<param index>/<state key>`` (e.g. Adam's exp_avg);
- header ``__metadata__`` (strings): ``format`` = 'dlcore.model/1' (or 'dlcore.state/1' for
  dlcore.save), ``architecture`` (JSON: layer class names + constructor configs),
  ``optimizer`` (JSON: class, constructor defaults, param groups, non-array state),
  ``compile`` (JSON: loss / metric names), ``training`` (JSON: epoch, dlcore generator state),
  ``sha256`` (digest of every other metadata field and of every tensor's name, dtype, shape
  and bytes).

dlcore reads and writes the format itself (no dependency; tests check files against the
reference ``safetensors`` package both ways). Loading checks the header by the format's rules
(sizes against the file's byte count, offsets covering the data exactly, dtypes, no duplicate
keys) before reading any tensor, then the digest, then every metadata field (a ValueError names
the field), then the weights against the architecture (names, shapes, dtypes); the architecture
is built under an allocation budget sized from the file (load_model's ``max_bytes``). Class
names are looked up only in the registry of module classes (every public class of dlcore.nn,
dlcore.layers and dlcore.models registers itself; ``register_serializable`` adds yours), so
loading an untrusted file can never run code.

Writes are atomic: a temporary file in the same directory (mode as open() would give it, or the
replaced file's), fsync, os.replace, fsync of the directory - an interrupted save leaves the
previous checkpoint intact and no temporary file. Paths may be str, bytes or os.PathLike.
"""
from __future__ import annotations

import hashlib
import inspect
import io
import json
import math
import os
import secrets
import stat
import struct
from collections import OrderedDict

import numpy as np

from . import _C, nn, optim
from .graph import Input, KerasTensor
from .device import device
from .nn.module import Module, register, registered, serial_name
from .tensor import Generator, Tensor, default_generator, from_numpy

__all__ = ["save", "load", "save_model", "load_model", "register_serializable", "module_to_spec",
           "module_from_spec"]

MODEL_FORMAT = "dlcore.model/1"
STATE_FORMAT = "dlcore.state/1"


def register_serializable(cls=None, *, name=None):
    """Class decorator: lets model.save / load_model rebuild your own layer class from its
    constructor config (``get_config()`` if it has one, else constructor arguments read back
    from same-named attributes)."""
    def deco(c):
        return register(c, name or f"custom.{c.__name__}")
    return deco(cls) if cls is not None else deco


# ---- atomic file writes ------------------------------------------------------------------------

def _fspath(path, op):
    """A str path from a str, bytes or os.PathLike one (TypeError naming op otherwise)."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"{op}: path must be a str, bytes or os.PathLike, got {type(path).__name__}") from None


def _atomic_write(path, chunks, op="save"):
    """Writes the byte chunks to path atomically: a temporary file beside it (created with mode
    0o666 minus the umask, as open() would, or with the mode of the file it replaces), fsync,
    os.replace, fsync of the directory. Whatever interrupts it (an exception, KeyboardInterrupt)
    the temporary file is removed and the previous file is left intact. The temporary name is
    short whatever the length of the target's name."""
    path = _fspath(path, op)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    prefix = "." + os.path.basename(path)[:40] + "."
    tmp = None
    try:
        for _ in range(100):
            tmp = os.path.join(d, prefix + secrets.token_hex(8) + ".tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
                break
            except FileExistsError:
                tmp = None
        else:  # pragma: no cover - 100 collisions of 64 random bits
            raise FileExistsError(f"{op}: could not create a temporary file in {d}")
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# ---- the safetensors format, read and written here ---------------------------------------------
# 8 bytes: little-endian u64 N; N bytes: a JSON object {name: {"dtype", "shape", "data_offsets":
# [begin, end]}, "__metadata__": {str: str}} (padding with spaces allowed, none required); then
# the tensors' bytes, little-endian, C order, offsets relative to the end of the header, covering
# the data section exactly with no gap or overlap. dlcore reads and writes it itself (no
# dependency): the checks below are the format's own rules, applied before anything is read.

_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_ST_CODES = {"<f8": "F64", "<f4": "F32", "<i8": "I64", "|b1": "BOOL"}
_MAX_HEADER = 100_000_000  # the reference implementation's limit


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {k!r} appears twice")
        out[k] = v
    return out


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_header(path, f, size):
    """(metadata, [(name, dtype code, shape, begin, end)] in header order, data length) of an
    open safetensors file of `size` bytes, validated before any tensor byte is read."""
    if size < 8:
        raise ValueError(f"{path}: not a safetensors file (only {size} bytes; truncated?)")
    (hlen,) = struct.unpack("<Q", f.read(8))
    if hlen > size - 8 or hlen > _MAX_HEADER:
        raise ValueError(f"{path}: the header claims {hlen} bytes but the file has {size - 8} "
                         f"after the length field: the file is truncated or not a safetensors file")
    raw = f.read(hlen)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: the safetensors header is not valid JSON ({e}): the file is "
                         f"corrupt") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError(f"{path}: field '__metadata__' must map strings to strings")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{path}: bad header entry for tensor {name!r}: {info!r} (expected "
                             f"exactly dtype, shape and data_offsets)")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {code!r}, which dlcore cannot read "
                             f"(it reads {', '.join(_ST_DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise ValueError(f"{path}: tensor {name!r} has shape {shape!r}: expected a list of "
                             f"non-negative integers")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_int(o) for o in offs)):
            raise ValueError(f"{path}: tensor {name!r} has data_offsets {offs!r}: expected [begin, end]")
        entries.append((name, code, tuple(shape), offs[0], offs[1]))
    data_len = size - 8 - hlen
    pos = 0
    for name, code, shape, b, e in sorted(entries, key=lambda e: (e[3], e[4])):
        need = math.prod(shape) * np.dtype(_ST_DTYPES[code]).itemsize
        if b != pos or e - b != need or e > data_len:
            raise ValueError(f"{path}: tensor {name!r} ({code} {list(shape)}, {need} bytes) has byte "
                             f"range [{b}, {e}) but the data section has {data_len} bytes and the "
                             f"previous tensor ends at {pos}: the file is truncated or corrupt "
                             f"(tensors must cover the data section in order, without gaps or overlaps)")
        pos = e
    if pos != data_len:
        raise ValueError(f"{path}: {data_len - pos} unexpected bytes after the last tensor")
    return meta, entries, data_len


def _is_file(f):
    return hasattr(f, "read") or hasattr(f, "write")


def _source_name(f, op):
    """How messages name a path or a file object."""
    if _is_file(f):
        name = getattr(f, "name", None)
        return name if isinstance(name, str) else f"<{type(f).__name__}>"
    return _fspath(f, op)


_PICKLE_ZIP = b"PK\x03\x04"


def _read_checked(path, op="load"):
    """Reads a safetensors file (a path, or a binary file object read from its current
    position), validating its structure first; returns (metadata, {name: NumPy array in the
    file's dtype}, data bytes). A digest in the metadata is checked. Nothing larger than the
    file itself is allocated: sizes in the header are checked against the bytes there are."""
    if _is_file(path):
        f, name = path, _source_name(path, op)
        if not hasattr(f, "read"):
            raise TypeError(f"{op}: the file object {name} is not readable")
        try:
            seekable = f.seekable()
        except (AttributeError, OSError, ValueError):
            seekable = False
        if not seekable:  # a stream: its bytes are what it holds
            f = io.BytesIO(f.read())
        start = f.tell()
        size = f.seek(0, io.SEEK_END) - start
        f.seek(start)
        meta, arrays, data_len = _read_from(name, f, size)
        return meta, arrays, data_len
    path = _fspath(path, op)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{op}: no file at {path}")
    with open(path, "rb") as f:
        return _read_from(path, f, os.fstat(f.fileno()).st_size)


def _read_from(path, f, size):
    start = f.tell()
    if size >= 4 and f.read(4) == _PICKLE_ZIP:
        raise ValueError(f"{path}: this is a PyTorch pickle checkpoint (a zip archive); dlcore never "
                         f"unpickles files (unpickling runs code). Convert it where you trust it, e.g. "
                         f"safetensors.torch.save_file(torch.load(path), 'model.safetensors'), and load that")
    f.seek(start)
    meta, entries, data_len = _parse_header(path, f, size)
    body = f.read(data_len)  # the size is the file's own: checked above
    if len(body) != data_len:
        raise ValueError(f"{path}: the file changed while it was read")
    arrays = OrderedDict()
    for name, code, shape, b, e in entries:
        arrays[name] = np.frombuffer(body, dtype=_ST_DTYPES[code], count=math.prod(shape), offset=b).reshape(shape)
    codes = {name: code for name, code, *_ in entries}
    digest = meta.get("sha256")
    if digest is not None and digest != _digest(meta, arrays):
        raise ValueError(f"{path}: checksum mismatch - the file was modified or corrupted after it "
                         f"was saved")
    return meta, _Arrays(arrays, codes), data_len


class _Arrays(OrderedDict):
    """The file's arrays by name, with the file's dtype codes (BF16 stays raw uint16 here)."""

    def __init__(self, arrays, codes):
        super().__init__(arrays)
        self.codes = codes

    def dlcore(self, name):
        """The array in the dtype dlcore holds it in: float16 / bfloat16 -> float32 and the
        integer types -> int64, exactly; copied, so no tensor shares the file's buffer."""
        a, code = self[name], self.codes[name]
        if code == "BF16":
            return (a.astype(np.uint32) << 16).view(np.float32)
        if code == "F16":
            return a.astype(np.float32)
        if code == "U64" and a.size and int(a.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"tensor {name!r}: uint64 value {int(a.max())} does not fit in int64")
        if a.dtype.kind in "iu" and a.dtype != np.int64:
            return a.astype(np.int64)
        return np.array(a, copy=True)


def _st_chunks(arrays, meta):
    """The byte chunks of a safetensors file holding arrays (name -> C-contiguous little-endian
    NumPy array of float64 / float32 / int64 / bool) and string metadata."""
    header = {"__metadata__": meta} if meta else {}
    off = 0
    for name, a in arrays.items():
        header[name] = {"dtype": _ST_CODES[a.dtype.str], "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # aligned like the reference writer's output (not required)
    return [struct.pack("<Q", len(h)), h] + [memoryview(a).cast("B") for a in arrays.values() if a.nbytes]


def _digest(meta, arrays):
    h = hashlib.sha256()
    for k in sorted(meta):
        if k != "sha256":
            h.update(f"{len(k)}:{k}{len(meta[k])}:".encode())
            h.update(meta[k].encode())
    for name in sorted(arrays):
        a = _contig(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{list(a.shape)}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _contig(a):
    """C-contiguous without changing the shape (np.ascontiguousarray turns 0-d into 1-d)."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous else a.copy(order="C")


def _storable(name, a):
    """a as a C-contiguous little-endian array of a dtype dlcore stores (float64, float32,
    int64, bool)."""
    a = _contig(a)
    if a.dtype.str not in _ST_CODES:
        if a.dtype.kind == "f" and a.dtype.itemsize <= 4:
            a = a.astype("<f4")
        elif a.dtype.kind == "f":
            a = a.astype("<f8")
        elif a.dtype.kind in "iu":
            a = a.astype("<i8")
        else:
            raise TypeError(f"save: tensor {name!r} has dtype {a.dtype}, which cannot be stored")
    return a


def _write(path, arrays, meta, op="save"):
    """Writes a safetensors file to a path (atomically) or to a binary file object (at its
    current position)."""
    if not _is_file(path):
        path = _fspath(path, op)
    elif not hasattr(path, "write"):
        raise TypeError(f"{op}: the file object {_source_name(path, op)} is not writable")
    arrays = OrderedDict((k, _storable(k, v)) for k, v in arrays.items())
    meta = {k: str(v) for k, v in meta.items()}
    meta["sha256"] = _digest(meta, arrays)
    if _is_file(path):
        for c in _st_chunks(arrays, meta):
            path.write(c)
        if hasattr(path, "flush"):
            path.flush()
    else:
        _atomic_write(path, _st_chunks(arrays, meta), op)


# ---- PyTorch-style state dicts -----------------------------------------------------------------

def _np_of(v):
    if isinstance(v, Tensor):
        return v.detach().cpu().numpy()  # bytes for the file: the NumPy edge
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "detach") and hasattr(v, "numpy"):  # torch tensor
        return v.detach().cpu().numpy()
    return None


def _encode(obj, arrays, path, memo):
    """JSON-able structure; arrays become {'__tensor__': name} and go into ``arrays`` under a
    unique name (their key path, made unique). A tensor met twice is stored once and loads as
    one tensor (memo: id -> name). A Parameter or a tensor that requires grad says so."""
    a = _np_of(obj)
    if a is not None:
        if id(obj) in memo:
            return memo[id(obj)][1]
        base = "/".join(path) or "tensor"
        name, i = base, 0
        while name in arrays or name == "__metadata__":
            i += 1
            name = f"{base}~{i}"
        arrays[name] = a
        ref = {"__tensor__": name}
        if isinstance(obj, nn.Parameter):
            ref["parameter"] = True
        if isinstance(obj, Tensor) and obj.requires_grad:
            ref["requires_grad"] = True
        if isinstance(obj, Tensor) and obj.device != "cpu":
            ref["device"] = str(obj.device)
        memo[id(obj)] = (obj, ref)  # obj kept alive so that its id is not reused
        return ref
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": [[k, _encode(v, arrays, path + [k], memo)] for k, v in obj.items()]}
        return {"__dict__": [[k if isinstance(k, (str, int)) else str(k), _encode(v, arrays, path + [str(k)], memo)]
                             for k, v in obj.items()], "__intkeys__": True}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, path + [str(i)], memo) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, path + [str(i)], memo) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    raise TypeError(f"dlcore.save: cannot store a {type(obj).__name__} at {'/'.join(path) or 'top level'} "
                    f"(only tensors / arrays, numbers, strings, None, lists, tuples and dicts)")


_REF_KEYS = {"__tensor__", "parameter", "requires_grad", "device"}


def _decode(obj, arrays, conv):
    """The structure _encode made; conv(ref) gives the value of a stored array. Anything that
    does not fit the structure's rules raises ValueError."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            name = obj["__tensor__"]
            if not isinstance(name, str) or name not in arrays:
                raise ValueError(f"it names a tensor {name!r} that the file does not hold")
            flags_ok = all(isinstance(obj.get(k, False), bool) for k in ("parameter", "requires_grad"))
            if set(obj) - _REF_KEYS or not flags_ok or not isinstance(obj.get("device", ""), str):
                raise ValueError(f"bad tensor reference {obj!r}")
            return conv(obj)
        if "__tuple__" in obj:
            if set(obj) != {"__tuple__"} or not isinstance(obj["__tuple__"], list):
                raise ValueError("a __tuple__ entry is not a list")
            return tuple(_decode(v, arrays, conv) for v in obj["__tuple__"])
        if "__float__" in obj:
            if obj["__float__"] not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad non-finite float {obj['__float__']!r}")
            return float(obj["__float__"])
        if "__dict__" in obj:
            items = obj["__dict__"]
            if not isinstance(items, list) or not all(isinstance(kv, list) and len(kv) == 2 for kv in items):
                raise ValueError("a __dict__ entry is not a list of [key, value] pairs")
            if not all(isinstance(kv[0], (str, int)) for kv in items):
                raise ValueError("a __dict__ key is not a string or an integer")
            return OrderedDict((k, _decode(v, arrays, conv)) for k, v in items)
        raise ValueError(f"unknown entry {sorted(obj)[:3]}")
    if isinstance(obj, list):
        return [_decode(v, arrays, conv) for v in obj]
    if obj is not None and not isinstance(obj, (bool, int, float, str)):
        raise ValueError(f"unexpected value {obj!r}")
    return obj


def save(obj, f):
    """Saves a state dict (name -> Tensor / array), a tensor, or any nesting of dicts / lists /
    tuples of tensors and plain values (numbers, strings, None) - e.g. {'model':
    m.state_dict(), 'optimizer': opt.state_dict(), 'epoch': 3} - as torch.save is used.

    ``f`` is a path (str, bytes, os.PathLike: written atomically) or a binary file object
    (written at its position, e.g. io.BytesIO). The file is safetensors: tensors under their key
    path ('fc1.weight', 'optimizer/state/0/exp_avg'), so other safetensors readers see them, and
    the structure as JSON in the metadata; never pickle. A tensor referenced twice is stored
    once; Parameters and requires_grad are kept."""
    arrays = OrderedDict()
    tree = _encode(obj, arrays, [], {})
    _write(f, arrays, {"format": STATE_FORMAT, "structure": json.dumps(tree)})


def _target_device(ref, map_location):
    """Where a stored tensor goes: map_location (a device / name, or a {saved: target} dict)
    else the device it was saved from."""
    saved = ref.get("device", "cpu")
    if map_location is None:
        return saved
    if isinstance(map_location, dict):
        return map_location.get(saved, saved)
    return map_location


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, as_numpy=False):
    """Loads what ``save`` wrote, from a path or a binary file object (as torch.load is used).
    Tensors come back as dlcore Tensors (Parameters and requires_grad as saved; NumPy arrays
    with as_numpy=True), on the device they were saved from or on ``map_location`` (a device,
    a device name, or a {saved device: device} dict). A plain safetensors file written by
    another tool loads as an ordered {name: Tensor} dict (float16 / bfloat16 become float32 and
    the integer types int64, exactly).

    Loading never runs code from the file: there is no pickle (``weights_only`` is accepted for
    compatibility and makes no difference; ``pickle_module`` is refused). The header is checked
    against the file's size before anything is read, so a file makes dlcore allocate no more
    than the file holds; a truncated, edited or foreign file raises ValueError."""
    if pickle_module is not None:
        raise ValueError("load: dlcore never unpickles (unpickling a file runs its code); pickle_module "
                         "must be None")
    if map_location is not None and not isinstance(map_location, dict):
        map_location = str(_device_arg(map_location))
    meta, arrays, _ = _read_checked(f, "load")
    made = {}

    def conv(ref):  # each stored tensor is made once, however often the structure names it
        name = ref["__tensor__"]
        if name in made:
            return made[name]
        if as_numpy:
            made[name] = arrays.dlcore(name)
        else:
            t = from_numpy(arrays.dlcore(name))
            dev = _target_device(ref, map_location)
            if dev != "cpu":
                t = t.to(str(_device_arg(dev)))
            if ref.get("parameter"):
                t = nn.Parameter(t, requires_grad=ref.get("requires_grad", False))
            elif ref.get("requires_grad"):
                t.requires_grad_(True)
            made[name] = t
        return made[name]
    if meta.get("format") == STATE_FORMAT:
        try:
            tree = json.loads(meta["structure"], object_pairs_hook=_no_duplicates)
            return _decode(tree, arrays, conv)
        except (KeyError, TypeError, ValueError, RecursionError) as e:
            raise ValueError(f"{_source_name(f, 'load')}: field 'structure': corrupt "
                             f"({type(e).__name__}: {str(e)[:200]})") from None
    if meta.get("format") == MODEL_FORMAT:
        return OrderedDict((k[len("model/"):], conv({"__tensor__": k})) for k in arrays if k.startswith("model/"))
    return OrderedDict((k, conv({"__tensor__": k})) for k in arrays)


def _device_arg(d):
    try:
        return device(d)
    except (TypeError, ValueError) as e:
        raise ValueError(f"load: map_location must be a device, a device name or a dict of them ({e})") from None


# ---- architecture specs ------------------------------------------------------------------------

def _serial_name(m):
    name = serial_name(type(m))
    if name is None:
        cls = type(m)
        raise ValueError(f"model.save: {cls.__module__}.{cls.__name__} is not a serialisable layer; "
                         f"use layers from dlcore.nn / dlcore.layers, decorate your class with "
                         f"@dlcore.serialization.register_serializable, or save only the weights "
                         f"(dlcore.save(model.state_dict(), path))")
    return name


def _resolve(name):
    cls = registered(name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise ValueError(f"checkpoint names an unknown layer class {name!r} (only dlcore.nn, "
                         f"dlcore.layers and registered classes can be loaded)")
    return cls


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True, v
    if isinstance(v, Module):  # a wrapped layer (Bidirectional, TimeDistributed): its own spec
        return True, {"__layer__": module_to_spec(v)}
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return True, v.item()
    if isinstance(v, (tuple, list)):
        out = []
        for x in v:
            ok, y = _jsonable(x)
            if not ok:
                return False, None
            out.append(y)
        return True, {"__tuple__": out} if isinstance(v, tuple) else out
    return False, None


def _unjson(v):
    if isinstance(v, dict) and "__layer__" in v:
        return module_from_spec(v["__layer__"])
    if isinstance(v, dict) and "__tuple__" in v:
        return tuple(_unjson(x) for x in v["__tuple__"])
    if isinstance(v, list):
        return [_unjson(x) for x in v]
    return v


def _config(m):
    """Constructor arguments of m: get_config() for dlcore.layers, otherwise the __init__
    parameters read back from same-named attributes (PyTorch modules keep them)."""
    if hasattr(m, "get_config"):
        return {k: _jsonable(v)[1] for k, v in m.get_config().items()}
    cfg = {}
    sig = inspect.signature(type(m).__init__)
    for pname, p in list(sig.parameters.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or pname in ("dtype", "device", "generator"):
            continue
        if pname in m.__dict__ or pname in m._parameters or pname in m._buffers:
            v = getattr(m, pname)
            if isinstance(v, Tensor) or (v is None and pname in m._parameters):
                v = v is not None  # e.g. bias=True/False
            ok, j = _jsonable(v)
            if not ok:
                raise ValueError(f"model.save: {type(m).__name__}.{pname} = {v!r} cannot be stored as JSON")
            cfg[pname] = j
        elif p.default is p.empty:
            raise ValueError(f"model.save: cannot recover the constructor argument '{pname}' of "
                             f"{type(m).__name__} (no attribute of that name)")
    return cfg


def module_to_spec(m):
    """JSON-able architecture description of a module tree."""
    name = _serial_name(m)
    if name == "Model":
        return _graph_spec(m)
    if isinstance(m, nn.Sequential):
        spec = {"class": name, "layers": [[k, module_to_spec(c)] for k, c in m._modules.items()]}
        if name == "Sequential":
            spec["input_spec"] = m.__dict__.get("_input_spec")
        return spec
    if name in ("nn.ModuleList", "nn.ModuleDict"):
        return {"class": name, "layers": [[k, module_to_spec(c)] for k, c in m._modules.items()]}
    spec = {"class": name, "config": _config(m)}
    if m.__dict__.get("_input_spec") is not None:  # a built model (trainer.TrainingMixin)
        spec["input_spec"] = m.__dict__["_input_spec"]
    return spec


def _graph_spec(model):
    g = model._graph
    if g is None:
        raise ValueError("model.save: a subclassed dlcore.Model (custom forward) cannot be saved "
                         "as JSON; register it with register_serializable or save its weights")
    names = {id(layer): k for k, layer in model._modules.items()}
    tensor_ref = {}
    for i, t in enumerate(g["inputs"]):
        tensor_ref[id(t)] = ["input", i]
    nodes = []
    for ni, node in enumerate(g["nodes"]):
        for oi, o in enumerate(node.outputs):
            tensor_ref[id(o)] = ["node", ni, oi]

        def ref(a):
            if isinstance(a, KerasTensor):
                return {"ref": tensor_ref[id(a)]}
            if isinstance(a, (list, tuple)):
                return {"list": [ref(b) for b in a]}
            ok, j = _jsonable(a)
            if not ok:
                raise ValueError(f"model.save: a layer call argument {a!r} cannot be stored as JSON")
            return {"value": j}
        entry = {"layer": names[id(node.layer)], "args": [ref(a) for a in node.args],
                 "n_out": len(node.outputs), "multi": len(node.outputs) > 1}
        if node.kwargs:  # e.g. use_causal_mask=True: JSON values or graph tensors, as the args
            entry["kwargs"] = {str(k): ref(v) for k, v in node.kwargs.items()}
        nodes.append(entry)
    return {"class": "Model",
            "layers": [[k, module_to_spec(c)] for k, c in model._modules.items()],
            "inputs": [{"shape": list(t.shape[1:]), "dtype": str(t.dtype), "name": t.name} for t in g["inputs"]],
            "nodes": nodes,
            "outputs": [tensor_ref[id(t)] for t in g["outputs"]],
            "single_output": g["single_output"]}


# Files written before the Keras layers took Keras's image layout (channels-last) hold configs
# without these keys; their models were channels-first, and load as they were saved.
_CHANNELS_FIRST_DEFAULTS = {
    "layers.Conv2D": ("data_format", "channels_first"),
    "layers.MaxPooling2D": ("data_format", "channels_first"),
    "layers.AveragePooling2D": ("data_format", "channels_first"),
    "layers.GlobalAveragePooling2D": ("data_format", "channels_first"),
    "layers.BatchNormalization": ("axis", 1),
}


def module_from_spec(spec):
    cls_name = spec.get("class") if isinstance(spec, dict) else None
    if not isinstance(cls_name, str):
        raise ValueError("corrupt architecture: a layer entry has no class name")
    if cls_name == "Model":
        return _graph_from_spec(spec)
    cls = _resolve(cls_name)
    if "layers" in spec:
        children = OrderedDict((k, module_from_spec(s)) for k, s in spec["layers"])
        if cls_name == "nn.ModuleDict":
            return cls(children)
        if cls_name == "nn.ModuleList":
            return cls(list(children.values()))
        m = cls(children)
    else:
        cfg = {k: _unjson(v) for k, v in spec.get("config", {}).items()}
        if cls_name in _CHANNELS_FIRST_DEFAULTS:
            key, old = _CHANNELS_FIRST_DEFAULTS[cls_name]
            cfg.setdefault(key, old)
        try:
            m = cls(**cfg)
        except TypeError as e:
            raise ValueError(f"cannot rebuild {cls_name} from config {cfg}: {e}") from None
    ispec = spec.get("input_spec")
    if ispec:  # a model saved after it was built: build it the same way
        m.build([tuple(s) for s, _ in ispec], dtype=ispec[0][1])
    return m


def _graph_from_spec(spec):
    layers = OrderedDict((k, module_from_spec(s)) for k, s in spec["layers"])
    ins = [Input(tuple(i["shape"]), dtype=i["dtype"], name=i.get("name")) for i in spec["inputs"]]
    outs_of = []

    def deref(a):
        if "ref" in a:
            r = a["ref"]
            return ins[r[1]] if r[0] == "input" else outs_of[r[1]][r[2]]
        if "list" in a:
            return [deref(b) for b in a["list"]]
        return _unjson(a["value"])

    for node in spec["nodes"]:
        layer = layers[node["layer"]]
        kwargs = node.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ValueError("corrupt architecture: a node's kwargs is not a mapping")
        out = layer(*[deref(a) for a in node["args"]], **{str(k): deref(v) for k, v in kwargs.items()})
        outs_of.append(list(out) if node.get("multi") else [out])
    outputs = [outs_of[r[1]][r[2]] if r[0] == "node" else ins[r[1]] for r in spec["outputs"]]
    return _resolve("Model")(ins, outputs[0] if spec.get("single_output", True) else outputs)


# ---- whole models ------------------------------------------------------------------------------

def _opt_meta(opt, arrays):
    sd = opt.state_dict()
    state = {}
    for idx, st in sd["state"].items():
        entry = {}
        for k, v in st.items():
            a = _np_of(v)
            if a is not None:
                arrays[f"optimizer/{idx}/{k}"] = a
                entry[k] = {"__array__": f"optimizer/{idx}/{k}"}
            else:
                ok, j = _jsonable(v)
                if not ok:
                    raise ValueError(f"model.save: optimizer state {k!r} = {v!r} cannot be stored")
                entry[k] = j
        state[str(idx)] = entry
    groups = []
    for g in sd["param_groups"]:
        gg = {}
        for k, v in g.items():
            ok, j = _jsonable(v)
            if not ok:
                raise ValueError(f"model.save: optimizer option {k!r} = {v!r} cannot be stored")
            gg[k] = j
        groups.append(gg)
    defaults = {k: _jsonable(v)[1] for k, v in opt.defaults.items() if _jsonable(v)[0]}
    return {"class": type(opt).__name__, "defaults": defaults, "param_groups": groups, "state": state}


def save_model(model, path, include_optimizer=True):
    """Writes the architecture, weights, optimizer state, compile settings, the last finished
    epoch and dlcore's generator state to ``path`` (one .safetensors file), atomically."""
    arch = module_to_spec(model)
    arrays = OrderedDict(("model/" + k, t.detach().cpu().numpy()) for k, t in model.state_dict().items())
    meta = {"format": MODEL_FORMAT, "architecture": json.dumps(arch)}
    c = model.__dict__.get("_compiled")
    if c is not None:
        loss = c.loss.spec if c.loss is not None else None
        if isinstance(loss, Module):
            try:
                loss = {"module": module_to_spec(loss)}
            except ValueError:
                loss = None
        elif not isinstance(loss, str):
            loss = None
        mets = [m if isinstance(m, str) else None for m in c.metric_specs]
        comp = {"loss": loss, "metrics": [m for m in mets if m], "from_logits": c.from_logits,
                "optimizer": c.optimizer_spec if isinstance(c.optimizer_spec, str) else None}
        if c.jit_compile:  # written only when on: files without it read as before
            comp["jit_compile"] = True
        meta["compile"] = json.dumps(comp)
        if include_optimizer and c.optimizer is not None:
            meta["optimizer"] = json.dumps(_opt_meta(c.optimizer, arrays))
    own = model.__dict__.get("_generator")
    meta["training"] = json.dumps({"epoch": model.__dict__.get("_epoch"),
                                   "rng_state": list(default_generator.get_state()),
                                   "model_rng_state": list(own.get_state()) if own is not None else None})
    _write(path, arrays, meta, "model.save")


class _Field:
    """Validation of one metadata field of a model file: every problem is a ValueError naming
    the file and the field."""

    def __init__(self, path, field):
        self.path, self.field = path, field

    def fail(self, msg):
        raise ValueError(f"{self.path}: field '{self.field}': {msg}")

    def json(self, meta, required=True, kind=dict):
        if self.field not in meta:
            if required:
                self.fail("missing")
            return None
        try:
            v = json.loads(meta[self.field], object_pairs_hook=_no_duplicates)
        except ValueError as e:
            self.fail(f"not valid JSON ({e})")
        if not isinstance(v, kind):
            self.fail(f"expected a JSON {kind.__name__}, got {type(v).__name__}")
        return v

    def __enter__(self):
        return self

    def __exit__(self, typ, e, tb):  # a layer or optimizer refusing its stored arguments
        if typ is not None and issubclass(typ, (TypeError, ValueError, KeyError, IndexError, AttributeError)) \
                and not str(e).startswith(self.path + ":"):
            raise ValueError(f"{self.path}: field '{self.field}': {e}") from None
        return False


def _rng_state(f, v, name):
    if v is None:
        return None
    if not (isinstance(v, list) and len(v) == 2 and all(_is_int(x) and 0 <= x < 1 << 64 for x in v)):
        f.fail(f"{name} must be [seed, counter], two integers in [0, 2**64), got {v!r}")
    return v


def _checked_training(path, meta):
    f = _Field(path, "training")
    t = f.json(meta, required=False) or {}
    unknown = set(t) - {"epoch", "rng_state", "model_rng_state"}
    if unknown:
        f.fail(f"unknown entries {sorted(unknown)}")
    epoch = t.get("epoch")
    if epoch is not None and not (_is_int(epoch) and epoch >= 0):
        f.fail(f"epoch must be a non-negative integer or null, got {epoch!r}")
    return epoch, _rng_state(f, t.get("rng_state"), "rng_state"), _rng_state(f, t.get("model_rng_state"), "model_rng_state")


def _checked_compile(path, meta):
    f = _Field(path, "compile")
    c = f.json(meta, required=False)
    if c is None:
        return None
    unknown = set(c) - {"loss", "metrics", "from_logits", "optimizer", "jit_compile"}
    if unknown:
        f.fail(f"unknown entries {sorted(unknown)}")
    loss = c.get("loss")
    if not (loss is None or isinstance(loss, str) or (isinstance(loss, dict) and set(loss) == {"module"})):
        f.fail(f"loss must be a name, {{'module': spec}} or null, got {loss!r}")
    mets = c.get("metrics") or []
    if not (isinstance(mets, list) and all(isinstance(m, str) for m in mets)):
        f.fail(f"metrics must be a list of names, got {mets!r}")
    for k in ("from_logits", "jit_compile"):
        if not isinstance(c.get(k, True), bool):
            f.fail(f"{k} must be true or false, got {c.get(k)!r}")
    opt = c.get("optimizer")
    if opt is not None and not (isinstance(opt, str) and opt.lower() in _optimizer_names()):
        f.fail(f"optimizer must be one of {sorted(_optimizer_names())} or null, got {opt!r}")
    return c


def _optimizer_names():
    return {n.lower(): getattr(optim, n) for n in dir(optim)
            if isinstance(getattr(optim, n), type) and issubclass(getattr(optim, n), optim.Optimizer)
            and getattr(optim, n) not in (optim.Optimizer, optim.optimizer.FusedOptimizer)}


_SCHEDULER_KEYS = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}  # lr_scheduler's


def _checked_optimizer(path, meta, arrays, params):
    """The optimizer the file describes, built over params with its state loaded; every entry
    (class, defaults, param groups, state indices and arrays) checked first."""
    f = _Field(path, "optimizer")
    o = f.json(meta, required=False)
    if o is None:
        return None
    if set(o) != {"class", "defaults", "param_groups", "state"}:
        f.fail(f"expected entries class, defaults, param_groups and state, got {sorted(o)}")
    names = {cls.__name__: cls for cls in _optimizer_names().values()}
    cls = names.get(o["class"]) if isinstance(o["class"], str) else None
    if cls is None:
        f.fail(f"class must be one of {sorted(names)}, got {o['class']!r}")
    sig = inspect.signature(cls.__init__)
    flags = set(cls._group_flags)  # group options no constructor takes (dlcore.optimizers' 'keras')
    options = {k for k in sig.parameters if k not in ("self", "params")} | flags
    defaults, groups, state = o["defaults"], o["param_groups"], o["state"]
    if not isinstance(defaults, dict) or set(defaults) - options:
        f.fail(f"defaults must be a dict of {cls.__name__}'s options {sorted(options)}, got {defaults!r}")
    defaults = {k: _unjson(v) for k, v in defaults.items()}
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
        f.fail("param_groups must be a non-empty list of dicts")
    n = len(params)
    seen = []
    for i, g in enumerate(groups):
        idx = g.get("params")
        if not (isinstance(idx, list) and all(_is_int(j) and 0 <= j < n for j in idx)):
            f.fail(f"param_groups[{i}].params must list parameter indices in [0, {n}), got {idx!r}")
        seen += idx
        extra = set(g) - options - {"params"} - _SCHEDULER_KEYS
        if extra:
            f.fail(f"param_groups[{i}] has unknown options {sorted(extra)}")
    if sorted(seen) != list(range(n)):
        f.fail(f"param_groups index parameters {sorted(seen)}, but the model has {n} trainable parameters")
    if not isinstance(state, dict):
        f.fail("state must be a dict")
    loaded = {}
    for key, entry in state.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < n):
            f.fail(f"state has an entry for parameter {key!r}, not an index in [0, {n})")
        if not isinstance(entry, dict):
            f.fail(f"state[{key}] must be a dict")
        st = {}
        for k, v in entry.items():
            if isinstance(v, dict) and "__array__" in v:
                name = v["__array__"]
                if name != f"optimizer/{key}/{k}" or name not in arrays:
                    f.fail(f"state[{key}].{k} names a tensor {name!r} that the file does not hold")
                st[k] = arrays.dlcore(name)
            elif v is None or isinstance(v, (bool, int, float)):
                st[k] = v
            else:
                f.fail(f"state[{key}].{k} must be a number or a stored tensor, got {v!r}")
        loaded[int(key)] = st
    with f:
        set_flags = {k: defaults.pop(k) for k in flags & set(defaults)}
        opt = cls(params, **defaults)
        opt.defaults.update(set_flags)
        opt.load_state_dict({"state": loaded, "param_groups": [{k: _unjson(v) for k, v in g.items()} for g in groups]})
    return opt


def _load_weights(path, model, arrays):
    """Copies the file's model/ tensors into model: the same names, shapes and dtypes as the
    architecture built (a float tensor stored in another float dtype gives its parameter that
    dtype back: a float64 model stays float64)."""
    stored = OrderedDict((k[len("model/"):], k) for k in arrays if k.startswith("model/"))
    own = OrderedDict()
    for mp, m in model.named_modules():
        skip = m.__dict__.get("_non_persistent", set())
        for store in (m._parameters, m._buffers):
            for name, t in store.items():
                if t is not None and name not in skip:
                    own[mp + ("." if mp else "") + name] = t
    missing = [k for k in own if k not in stored]
    unexpected = [k for k in stored if k not in own]
    if missing or unexpected:
        raise ValueError(f"{path}: the weights do not match the architecture: missing {missing}, "
                         f"unexpected {unexpected}")
    for k, t in own.items():
        a = arrays.dlcore(stored[k])
        if tuple(a.shape) != tuple(t.shape):
            raise ValueError(f"{path}: tensor 'model/{k}' has shape {tuple(a.shape)} but the "
                             f"architecture's {k} has shape {tuple(t.shape)}")
        src = from_numpy(a)
        if src.dtype != t.dtype:
            if not (src.dtype.is_floating_point and t.dtype.is_floating_point):
                raise ValueError(f"{path}: tensor 'model/{k}' is {src.dtype} but the architecture's "
                                 f"{k} is {t.dtype}")
            t._data = src._data.to(t._data.device)
        else:
            t._data.copy_(src._data)


def load_model(path, compile=True, restore_rng=True, max_bytes=None):
    """Rebuilds a model saved by model.save: architecture, weights, and (compile=True) the loss,
    metrics and optimizer with its state, ready to continue with fit(..., initial_epoch=...).
    restore_rng=True also restores dlcore's generator to its state at save time, so a seeded
    run resumed from a checkpoint continues exactly like the uninterrupted run.

    The file is checked before it is trusted: its structure (safetensors rules, sizes against the
    file's byte count), its digest, every metadata field (a ValueError names the field), and the
    weights against the architecture (names, shapes, dtypes). Building the architecture runs
    under an allocation budget of ``max_bytes`` (default: 4 times the file's tensor bytes plus
    256 MiB), so a small file cannot make the loader allocate gigabytes; raise it for a trusted
    file whose layers need more memory to build than that.
    Raises ValueError for a truncated, edited or foreign file."""
    meta, arrays, data_len = _read_checked(path, "load_model")
    path = _fspath(path, "load_model")
    if meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a dlcore model file (format {meta.get('format')!r}); "
                         f"use dlcore.load for state dicts")
    if "sha256" not in meta:
        raise ValueError(f"{path}: field 'sha256': missing (dlcore always writes it: the file was "
                         f"edited or written by another tool)")
    arch = _Field(path, "architecture").json(meta)
    epoch, rng, model_rng = _checked_training(path, meta)
    comp = _checked_compile(path, meta) if compile else None
    budget = int(max_bytes) if max_bytes is not None else 4 * data_len + (256 << 20)
    prev = _C.set_alloc_budget(budget)
    try:
        with _Field(path, "architecture"):
            model = module_from_spec(arch)
        _load_weights(path, model, arrays)
        if comp is not None and hasattr(model, "compile"):
            loss = comp.get("loss")
            if isinstance(loss, dict):
                with _Field(path, "compile"):
                    loss = module_from_spec(loss["module"])
            params = [p for p in model.parameters() if p.requires_grad]
            opt = _checked_optimizer(path, meta, arrays, params) or comp.get("optimizer") or "adam"
            with _Field(path, "compile"):
                model.compile(optimizer=opt, loss=loss, metrics=comp.get("metrics") or None,
                              from_logits=comp.get("from_logits"), jit_compile=comp.get("jit_compile", False))
    finally:
        _C.set_alloc_budget(prev)
    if epoch is not None:
        model.__dict__["_epoch"] = epoch
    if model_rng is not None and hasattr(model, "compile"):
        model.generator = Generator(0)
        model.generator.set_state(model_rng)
    if restore_rng and rng is not None:
        default_generator.set_state(rng)
    return model
