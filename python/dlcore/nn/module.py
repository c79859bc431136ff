"""Module, Parameter and the containers (Sequential, ModuleList, ModuleDict, ParameterList,
ParameterDict) (PyTorch semantics: registration by attribute,
named_parameters / state_dict key names, train() / eval(), strict loading)."""
from __future__ import annotations

import operator
import threading
from collections import OrderedDict, namedtuple

from .. import _C
from ..autograd import RemovableHandle, Variable
from ..dtype import get_default_dtype
from ..tensor import Tensor, tensor

__all__ = ["Parameter", "register", "registered", "serial_name", "eval_mode", "Module",
           "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (requires_grad by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:  # Parameter() is an empty float tensor, like PyTorch
            arr = _C.empty((0,), get_default_dtype())
        else:  # shares a Tensor's storage, like PyTorch; other data is copied
            arr = data._data if isinstance(data, Tensor) else tensor(data)._data
        Variable.__init__(self, arr, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    @property
    def value(self):
        """The parameter itself, as Keras's ``variable.value`` (the backend tensor behind a
        Keras variable): a Keras-on-PyTorch ``train_step``'s ``[v.value.grad for v in
        self.trainable_weights]`` runs unchanged."""
        return self


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# Serialisable module classes by name: every public Module subclass defined in dlcore.nn
# ("nn.Linear"), dlcore.layers ("layers.Dense") or dlcore.models ("Sequential", "Model")
# registers itself when its class statement runs; register() adds user classes. A checkpoint
# can name only these classes, so loading an untrusted file never reaches other code.
_REGISTRY = {}
_PREFIXES = (("dlcore.nn", "nn."), ("dlcore.layers", "layers."), ("dlcore.models", ""))


def register(cls, name):
    """Makes cls loadable from a checkpoint under `name` (dlcore.serialization.register_serializable)."""
    _REGISTRY[name] = cls
    cls._dlcore_serial_name = name
    return cls


def registered(name):
    """The module class registered under `name`, or None."""
    return _REGISTRY.get(name)


def serial_name(cls):
    """The name under which cls is registered, or None."""
    name = cls.__dict__.get("_dlcore_serial_name")
    return name if name is not None and _REGISTRY.get(name) is cls else None


# A per-thread override of every module's train/eval flag (see eval_mode): inference from
# several threads at once must not flip the flag that a model's other users see.
_mode = threading.local()


class eval_mode:
    """Context manager: on this thread only, every module behaves as in eval() (dropout off,
    batch norm on its running statistics) while its ``training`` flag, which other threads see,
    is left alone. Model.predict / evaluate run in it, so they are safe to call from several
    threads at once and leave the model in the mode it was in."""

    def __init__(self, training=False):
        self.mode = bool(training)

    def __enter__(self):
        self._prev = getattr(_mode, "training", None)
        _mode.training = self.mode
        return self

    def __exit__(self, *exc):
        _mode.training = self._prev
        return False


class Module:
    @property
    def training(self):
        """Whether the module is in training mode (train() / eval()); inside eval_mode() on
        this thread, False."""
        o = getattr(_mode, "training", None)
        return self.__dict__["_training"] if o is None else o

    @training.setter
    def training(self, mode):
        self.__dict__["_training"] = bool(mode)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):
            return
        for package, prefix in _PREFIXES:
            if cls.__module__ == package or cls.__module__.startswith(package + "."):
                register(cls, prefix + cls.__name__)
                return

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before assigning attributes")
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """A non-learnable tensor saved in state_dict (e.g. BatchNorm's running_mean)."""
        self._buffers[name] = tensor
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name, module):
        self._modules[name] = module

    register_module = add_module

    # ---- calling ----
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not d.get("_forward_pre_hooks") and not d.get("_forward_hooks"):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _has_forward_hooks(self):
        d = self.__dict__
        return bool(d.get("_forward_pre_hooks") or d.get("_forward_hooks"))

    # A module whose _forward_fused(x, next_module) may run itself and the next module of a
    # Sequential in one call (returns the pair's output, or None to run them one by one).
    _forward_fused = None

    def _call_with_hooks(self, args, kwargs):
        for hook, with_kwargs, _ in list(self.__dict__.get("_forward_pre_hooks", {}).values()):
            if with_kwargs:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"forward pre-hook {hook!r} with with_kwargs=True must return None or "
                                           f"a tuple (args, kwargs), got {type(r).__name__}")
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        post = list(self.__dict__.get("_forward_hooks", {}).values())
        try:
            out = self.forward(*args, **kwargs)
        except BaseException:
            for hook, with_kwargs, always in post:
                if always:
                    try:
                        hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
                    except Exception:  # the forward's own error is the one to report
                        pass
            raise
        for hook, with_kwargs, _ in post:
            r = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if r is not None:
                out = r
        return out

    def _add_hook(self, table, entry, prepend):
        hooks = self.__dict__.get(table)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, table, hooks)
        handle = RemovableHandle(hooks, entry)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Calls ``hook(module, args)`` before each forward; a non-None result replaces the
        positional arguments (a single value is wrapped in a tuple). With ``with_kwargs=True``
        the hook is ``hook(module, args, kwargs)`` and may return a new ``(args, kwargs)``.
        Hooks run in registration order (``prepend=True`` puts this one first). Returns a
        handle whose ``remove()`` takes the hook out."""
        return self._add_hook("_forward_pre_hooks", (hook, bool(with_kwargs), False), prepend)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Calls ``hook(module, args, output)`` after each forward (``hook(module, args,
        kwargs, output)`` with ``with_kwargs=True``); a non-None result replaces the output.
        ``always_call=True`` also calls it, with output None, when forward raises. Returns a
        handle whose ``remove()`` takes the hook out."""
        return self._add_hook("_forward_hooks", (hook, bool(with_kwargs), bool(always_call)), prepend)

    # ---- traversal ----
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield mp + ("." if mp else "") + name, p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield mp + ("." if mp else "") + name, b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes ----
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, device=None, dtype=None):
        """Moves / casts parameters and buffers in place (the Parameter objects stay the same,
        so optimizers built before keep working: their state follows each parameter to its
        device at their next step). The device is remembered, so weights a Keras-style model
        creates later (lazy layers built on the first batch) are moved there too."""
        if device is not None:
            object.__setattr__(self, "_placed_on", device if isinstance(device, str) else str(device))
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for k, t in store.items():
                    if t is None:
                        continue
                    if dtype is not None and not t.dtype.is_floating_point:
                        nt = t.to(device=device)
                    else:
                        nt = t.to(device=device, dtype=dtype)
                    if nt is not t:
                        t._data = nt._data
                        if t.grad is not None:
                            t.grad = t.grad.to(device=device, dtype=dtype)
        return self

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ---- state ----
    def state_dict(self, prefix=""):
        """Ordered name -> Tensor (parameters, then persistent buffers, per module), sharing
        memory with the module like PyTorch's."""
        out = OrderedDict()
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            skip = m.__dict__.get("_non_persistent", set())
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is not None and name not in skip:
                        out[mp + ("." if mp else "") + name] = Tensor._wrap(t._data)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies values into the existing parameters and buffers. Shapes must match; with
        strict=True, missing or unexpected keys raise a KeyError listing them."""
        own = OrderedDict()
        for mp, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", set())
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is not None and name not in skip:
                        own[mp + ("." if mp else "") + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if hasattr(v, "detach") and not isinstance(v, Tensor):  # a torch tensor
                v = v.detach().cpu().numpy()
            arr = v._data if isinstance(v, Tensor) else tensor(v)._data
            if arr.shape != tuple(t.shape):
                raise ValueError(f"load_state_dict: '{k}' has shape {arr.shape} in the "
                                 f"state dict but {tuple(t.shape)} in the model")
            t._data.copy_(arr)  # converts dtype and device
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing ----
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            r = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {r}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _fused_pair(mods, i, x):
    """The output of mods[i] and mods[i + 1] run as one call when mods[i] fuses with its successor
    (BatchNorm + ReLU: nn.norm), the same result as the two calls; None when they do not fuse."""
    m = mods[i]
    return m._forward_fused(x, mods[i + 1]) if m._forward_fused is not None and i + 1 < len(mods) else None


def _run_in_order(mods, x):
    """x through the modules in turn, fusing pairs where _fused_pair can."""
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
        if m._forward_fused is not None:  # (checked here first: no extra call per plain module)
            y = _fused_pair(mods, i, x)
            if y is not None:
                x, i = y, i + 2
                continue
        x = m(x)
        i += 1
    return x


class Sequential(Module):
    """Modules applied in order: Sequential(m1, m2, ...) or Sequential(OrderedDict(...)) or
    Sequential([m1, m2, ...])."""

    def __init__(self, *mods):
        super().__init__()
        if len(mods) == 1 and isinstance(mods[0], OrderedDict):
            for k, m in mods[0].items():
                self.add_module(k, m)
            return
        if len(mods) == 1 and isinstance(mods[0], (list, tuple)):
            mods = tuple(mods[0])
        for i, m in enumerate(mods):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
            self.add_module(str(i), m)

    def forward(self, x):
        return _run_in_order(tuple(self._modules.values()), x)

    def __getitem__(self, i):
        items = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*items[i])
        return items[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        for m in modules or []:
            self.append(m)

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, ms):
        for m in ms:
            self.append(m)
        return self

    def __getitem__(self, i):
        items = list(self._modules.values())
        return ModuleList(items[i]) if isinstance(i, slice) else items[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, k):
        return self._modules[k]

    def __setitem__(self, k, m):
        self.add_module(k, m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, k):
        return k in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


def _as_parameter(value, op):
    """A Parameter stays itself; another Tensor becomes a Parameter sharing its memory (as
    PyTorch's parameter containers do); anything else is refused."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{op}: items must be Parameters or Tensors, got {type(value).__name__}")


def _parameters_repr(self):
    """One line per parameter (key, dtype, size), for the parameter containers' repr."""
    if not self._parameters:
        return ""
    return "\n  " + "\n  ".join(f"({k}): Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"
                                for k, p in self._parameters.items()) + "\n"


class ParameterList(Module):
    """A list of Parameters registered under the names "0", "1", ... so that parameters(),
    state_dict(), load_state_dict() and to() see them (torch.nn.ParameterList). A plain
    Tensor put in is made a Parameter over the same memory."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, i):
        n = len(self._parameters)
        try:
            j = operator.index(i)
        except TypeError:
            raise TypeError(f"ParameterList: indices must be integers or slices, got {type(i).__name__}") from None
        if not -n <= j < n:
            raise IndexError(f"ParameterList: index {j} is out of range for a list of {n}")
        return str(j % n)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ParameterList(list(self._parameters.values())[i])
        return self._parameters[self._index(i)]

    def __setitem__(self, i, value):
        self._parameters[self._index(i)] = _as_parameter(value, "ParameterList")  # keeps its place

    def append(self, value):
        self._parameters[str(len(self._parameters))] = _as_parameter(value, "ParameterList")
        return self

    def extend(self, values):
        if isinstance(values, (str, bytes, Tensor)) or not hasattr(values, "__iter__"):
            raise TypeError(f"ParameterList.extend: expects an iterable of Parameters, got {type(values).__name__}")
        for v in values:
            self.append(v)
        return self

    def __iadd__(self, values):
        return self.extend(values)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    extra_repr = _parameters_repr


class ParameterDict(Module):
    """An ordered dict of Parameters registered under their keys (strings), so that
    parameters(), state_dict(), load_state_dict() and to() see them (torch.nn.ParameterDict).
    Built from a mapping or from (key, value) pairs; a plain Tensor put in is made a Parameter
    over the same memory."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _key(k):
        if not isinstance(k, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {type(k).__name__} {k!r}")
        if "." in k or not k:
            raise KeyError(f"ParameterDict: key {k!r} must be a non-empty string without '.'")
        return k

    def __getitem__(self, k):
        return self._parameters[k]

    def __setitem__(self, k, value):
        self._parameters[self._key(k)] = _as_parameter(value, "ParameterDict")  # a key kept keeps its place

    def __delitem__(self, k):
        del self._parameters[k]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, k):
        return k in self._parameters

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, k, default=None):
        return self._parameters.get(k, default)

    def pop(self, k):
        return self._parameters.pop(k)

    def setdefault(self, k, default=None):
        if k not in self._parameters:
            self[k] = default
        return self._parameters[k]

    def clear(self):
        self._parameters.clear()

    def copy(self):
        return ParameterDict(OrderedDict(self._parameters))

    def update(self, parameters):
        """Adds the items of a mapping (or of an iterable of (key, value) pairs)."""
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for pair in items:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"ParameterDict.update: expects a mapping or (key, value) pairs, got item {pair!r}")
            self[pair[0]] = pair[1]

    extra_repr = _parameters_repr
