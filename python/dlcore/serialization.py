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

Loading parses and checks the header itself (sizes, offsets, digest) before handing the file
to safetensors, so a truncated or edited file raises ValueError naming the problem; class
names are looked up only in the registry of module classes (every public class of dlcore.nn,
dlcore.layers and dlcore.models registers itself; ``register_serializable`` adds yours), so
loading an untrusted file can never run code.

Writes are atomic: a temporary file in the same directory, fsync, os.replace, fsync of the
directory - an interrupted save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

from . import nn, optim
from .graph import Input, KerasTensor
from .nn.module import Module, register, registered, serial_name
from .tensor import Tensor, default_generator, from_numpy

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


def _st():
    try:
        import safetensors.numpy as stn
    except ImportError as e:
        raise ImportError("saving and loading need the 'safetensors' package: pip install "
                          "safetensors (or pip install 'dlcore[io]')") from e
    return stn


# ---- atomic file writes ------------------------------------------------------------------------

def _atomic_write(path, data):
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# ---- header parsing and integrity --------------------------------------------------------------

_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
              "I8": "i1", "U8": "u1", "BOOL": "?", "U16": "<u2", "U32": "<u4", "U64": "<u8"}


def _read_checked(path):
    """Reads a safetensors file, validating its structure; returns (metadata, {name: array})."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a dlcore checkpoint (only {len(raw)} bytes; truncated?)")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > len(raw) - 8 or hlen > 100_000_000:
        raise ValueError(f"{path}: the header claims {hlen} bytes but the file has {len(raw) - 8} "
                         f"after the length field: the file is truncated or not a safetensors file")
    try:
        header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: the safetensors header is not valid JSON ({e}): the file is "
                         f"corrupt") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    body = memoryview(raw)[8 + hlen:]
    arrays = OrderedDict()
    end_max = 0
    for name, info in header.items():
        try:
            dt = np.dtype(_ST_DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            b, e = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: bad header entry for tensor {name!r}: {info!r}") from None
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if b < 0 or e < b or e > len(body) or e - b != n * dt.itemsize:
            raise ValueError(f"{path}: tensor {name!r} ({info['dtype']} {list(shape)}) has byte range "
                             f"[{b}, {e}) but the data section has {len(body)} bytes: the file is "
                             f"truncated or corrupt")
        end_max = max(end_max, e)
        arrays[name] = np.frombuffer(body[b:e], dtype=dt).reshape(shape)
    if end_max != len(body):
        raise ValueError(f"{path}: {len(body) - end_max} unexpected bytes after the last tensor")
    digest = meta.get("sha256")
    if digest is not None and digest != _digest(meta, arrays):
        raise ValueError(f"{path}: checksum mismatch - the file was modified or corrupted after it "
                         f"was saved")
    # safetensors itself must accept the file too (it is the format's reference reader)
    try:
        _st().load(raw)
    except ImportError:
        raise
    except Exception as e:
        raise ValueError(f"{path}: safetensors rejected the file: {e}") from None
    return meta, arrays


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


def _write(path, arrays, meta):
    arrays = OrderedDict((k, _contig(v)) for k, v in arrays.items())
    meta = {k: str(v) for k, v in meta.items()}
    meta["sha256"] = _digest(meta, arrays)
    data = _st().save(dict(arrays), metadata=meta)
    _atomic_write(path, data)


# ---- PyTorch-style state dicts -----------------------------------------------------------------

def _np_of(v):
    if isinstance(v, Tensor):
        return v.detach().cpu().numpy()  # bytes for the file: the NumPy edge
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "detach") and hasattr(v, "numpy"):  # torch tensor
        return v.detach().cpu().numpy()
    return None


def _encode(obj, arrays, path):
    """JSON-able structure; arrays become {'__tensor__': name} and go into ``arrays``."""
    a = _np_of(obj)
    if a is not None:
        name = "/".join(path) or "tensor"
        arrays[name] = a
        return {"__tensor__": name}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": [[k, _encode(v, arrays, path + [k])] for k, v in obj.items()]}
        return {"__dict__": [[k if isinstance(k, (str, int)) else str(k), _encode(v, arrays, path + [str(k)])]
                             for k, v in obj.items()], "__intkeys__": True}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, path + [str(i)]) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, path + [str(i)]) for i, v in enumerate(obj)]
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


def _decode(obj, arrays, as_tensor):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            a = np.array(arrays[obj["__tensor__"]], copy=True)
            return from_numpy(a) if as_tensor else a
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays, as_tensor) for v in obj["__tuple__"])
        if "__float__" in obj:
            return float(obj["__float__"])
        if "__dict__" in obj:
            return OrderedDict((k, _decode(v, arrays, as_tensor)) for k, v in obj["__dict__"])
        raise ValueError("corrupt structure in the checkpoint metadata")
    if isinstance(obj, list):
        return [_decode(v, arrays, as_tensor) for v in obj]
    return obj


def save(obj, path):
    """Saves a state dict (name -> Tensor / array), or any nesting of dicts / lists / tuples of
    tensors and plain values (e.g. {'model': m.state_dict(), 'optimizer': opt.state_dict(),
    'epoch': 3}), to a .safetensors file, atomically. Tensors are stored under their key path
    ('fc1.weight', 'optimizer/state/0/exp_avg'), so other safetensors readers see them."""
    arrays = OrderedDict()
    tree = _encode(obj, arrays, [])
    _write(path, arrays, {"format": STATE_FORMAT, "structure": json.dumps(tree)})


def load(path, as_numpy=False):
    """Loads what ``save`` wrote (dlcore Tensors, or NumPy arrays with as_numpy=True). A plain
    safetensors file written by another tool loads as an ordered {name: Tensor} dict."""
    meta, arrays = _read_checked(path)
    if meta.get("format") == STATE_FORMAT:
        try:
            tree = json.loads(meta["structure"])
        except (KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: corrupt structure metadata ({e})") from None
        return _decode(tree, arrays, not as_numpy)
    if meta.get("format") == MODEL_FORMAT:
        return OrderedDict((k[len("model/"):], from_numpy(np.array(v, copy=True)) if not as_numpy
                            else np.array(v, copy=True)) for k, v in arrays.items() if k.startswith("model/"))
    return OrderedDict((k, np.array(v, copy=True) if as_numpy else from_numpy(np.array(v, copy=True)))
                       for k, v in arrays.items())


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
        if node.kwargs:
            raise ValueError("model.save: keyword arguments in graph layer calls are not supported")
        nodes.append({"layer": names[id(node.layer)], "args": [ref(a) for a in node.args],
                      "n_out": len(node.outputs), "multi": len(node.outputs) > 1})
    return {"class": "Model",
            "layers": [[k, module_to_spec(c)] for k, c in model._modules.items()],
            "inputs": [{"shape": list(t.shape[1:]), "dtype": str(t.dtype), "name": t.name} for t in g["inputs"]],
            "nodes": nodes,
            "outputs": [tensor_ref[id(t)] for t in g["outputs"]],
            "single_output": g["single_output"]}


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
        out = layer(*[deref(a) for a in node["args"]])
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
        meta["compile"] = json.dumps({"loss": loss, "metrics": [m for m in mets if m],
                                      "from_logits": c.from_logits,
                                      "optimizer": c.optimizer_spec if isinstance(c.optimizer_spec, str) else None})
        if include_optimizer and c.optimizer is not None:
            meta["optimizer"] = json.dumps(_opt_meta(c.optimizer, arrays))
    meta["training"] = json.dumps({"epoch": model.__dict__.get("_epoch"),
                                   "rng_state": list(default_generator.get_state())})
    _write(path, arrays, meta)


def load_model(path, compile=True, restore_rng=True):
    """Rebuilds a model saved by model.save: architecture, weights, and (compile=True) the loss,
    metrics and optimizer with its state, ready to continue with fit(..., initial_epoch=...).
    restore_rng=True also restores dlcore's generator to its state at save time, so a seeded
    run resumed from a checkpoint continues exactly like the uninterrupted run.
    Raises ValueError for a truncated, edited or foreign file."""
    meta, arrays = _read_checked(path)
    if meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a dlcore model file (format {meta.get('format')!r}); "
                         f"use dlcore.load for state dicts")
    try:
        arch = json.loads(meta["architecture"])
        training = json.loads(meta.get("training", "{}"))
        comp = json.loads(meta["compile"]) if "compile" in meta else None
        optm = json.loads(meta["optimizer"]) if "optimizer" in meta else None
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: corrupt metadata ({e})") from None
    model = module_from_spec(arch)
    sd = OrderedDict((k[len("model/"):], v) for k, v in arrays.items() if k.startswith("model/"))
    try:
        model.load_state_dict(sd, strict=True)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: weights do not match the architecture: {e}") from None
    if training.get("epoch") is not None:
        model.__dict__["_epoch"] = training["epoch"]
    if compile and comp is not None and hasattr(model, "compile"):
        loss = comp.get("loss")
        if isinstance(loss, dict) and "module" in loss:
            loss = module_from_spec(loss["module"])
        opt = comp.get("optimizer") or "adam"
        if optm is not None:
            cls = getattr(optim, optm["class"], None)
            if not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)):
                raise ValueError(f"{path}: optimizer class {optm['class']!r} is not in dlcore.optim")
            defaults = {k: _unjson(v) for k, v in optm["defaults"].items()}
            params = [p for p in model.parameters() if p.requires_grad]
            opt = cls(params, **defaults)
            state = {}
            for idx, entry in optm["state"].items():
                state[int(idx)] = {k: (np.array(arrays[v["__array__"]], copy=True)
                                       if isinstance(v, dict) and "__array__" in v else _unjson(v))
                                   for k, v in entry.items()}
            groups = [{k: _unjson(v) for k, v in g.items()} for g in optm["param_groups"]]
            try:
                opt.load_state_dict({"state": state, "param_groups": groups})
            except (KeyError, ValueError) as e:
                raise ValueError(f"{path}: optimizer state does not match the model: {e}") from None
        model.compile(optimizer=opt, loss=loss, metrics=comp.get("metrics") or None,
                      from_logits=comp.get("from_logits"))
    if restore_rng and training.get("rng_state"):
        default_generator.set_state(training["rng_state"])
    return model
