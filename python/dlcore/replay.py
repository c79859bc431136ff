"""Capture and replay of a training step: ``step = dlcore.compile(step_fn)``.

The first call for a given input signature (shapes, dtypes, strides and devices of the tensor
arguments, the values of the other arguments, grad mode, the current generator) runs
``step_fn`` eagerly while recording every ``_C`` kernel call it makes - module functions and
the compute methods of ``_C.Array`` - with the arrays each call reads and writes. The record
becomes a straight-line Python function (one line per kernel call, arrays as local variables,
everything else bound as constants), so a replay makes the same kernel calls on the new batch
without Tensor construction, ``Function.apply``, graph building, the backward engine's walk or
argument normalisation. What must be re-evaluated each step is re-run for real:

- random draws (dropout masks): each recorded draw calls the same ``Generator`` method again,
  so the generator advances exactly as the eager step would and the masks are identical;
- ``Optimizer.step`` / ``zero_grad`` / ``apply``, ``Module.zero_grad``, ``LRScheduler.step``
  and the functions marked ``autograd.replayed_as_python`` (gradient clipping, the range
  checks of embedding indices and RNN lengths) run as Python (their kernels are not recorded):
  Adam's step counts, learning rates set by schedules or by hand and every other Python scalar
  of the update are read at each replay;
- the gradients backward leaves in ``.grad`` are set as the eager step sets them.

Replay is bitwise equal to the eager step because it issues the same kernels with the same
arguments in the same order. A replay checks (cheaply) that what the record took as fixed still
holds - each module's training flag, each parameter's array, each generator's seed - and
records again when not. A recording fails, and the step runs eagerly from then on with a
warning (or raises :class:`ReplayError` with ``strict=True``), when the step depends on
values (``.item()``, ``.tolist()``, ``.numpy()``, ``bool(tensor)``, ``nonzero``: Python control
flow on data), uses gradient hooks or ``retain_grad``, or leaves an array it made referenced
after it returns (state rebound instead of updated in place: the next replay would not see
it). See docs/compile.md for the design, the limits and the measured gains.
"""
from __future__ import annotations

import copy
import gc
import sys
import threading
import types
import warnings
import weakref

from . import _C
from . import autograd
from .nn.module import Module
from .optim.lr_scheduler import LRScheduler
from .optim.optimizer import Optimizer
from .tensor import Generator, Tensor, current_generator

__all__ = ["compile_step", "CompiledStep", "ReplayError"]


class ReplayError(RuntimeError):
    """A step that cannot be recorded for replay (raised with ``strict=True``)."""


class _Stale(Exception):
    """Raised by a replay's guards: something the record took as fixed has changed."""


# _C functions that never touch tensor data (queries, settings, Function.apply itself, whose
# forward's kernel calls are what is recorded) and Array methods that compute
_NOT_RECORDED = {"function_apply", "is_grad_enabled", "set_grad_enabled", "get_num_threads", "set_num_threads",
                 "isa", "set_isa", "supported_isas", "set_tensor_type", "set_variable_type", "set_function_type",
                 "install_fast_operator", "set_fast_operators", "numpy_crossings",
                 "cuda_device_count", "cuda_synchronize", "alloc_budget", "set_alloc_budget", "empty_cache",
                 "fma_peak_gflops", "gemm_blocking", "random_blocks", "dropout_blocks", "dropout_grad_scale",
                 "broadcast_shapes", "act_backward_uses_output"}
_ARRAY_METHODS = ("as_strided", "astype", "clone", "contiguous", "copy_", "expand", "fill_", "narrow", "permute",
                  "reshape", "select", "squeeze", "to", "transpose", "unsqueeze", "view", "__getitem__",
                  "__setitem__", "item", "tolist", "numpy", "__dlpack__")
_BUILTIN = type(_C.is_grad_enabled)  # a pybind11 function
_DATA_SHAPED = {"nonzero": "its result's shape depends on the values"}

MAX_RECORDS = 16  # input signatures a compiled step keeps records for
_lock = threading.Lock()  # one recording at a time (the patches are process-wide)
_active = None            # the _Recorder of the recording thread


class _Counter(int):
    """A Philox counter drawn while recording: an int that knows the replay variable holding
    the draw, so the kernel call it is passed to reads that variable."""

    def __new__(cls, value, var):
        self = super().__new__(cls, value)
        self.var = var
        return self


def _recording():
    """The recorder when this thread is recording outside an opaque call, else None."""
    r = _active
    if r is None or r.thread != threading.get_ident() or r.depth:
        return None
    return r


class _Recorder:
    def __init__(self, fn_name):
        self.fn_name = fn_name
        self.thread = threading.get_ident()
        self.depth = 0          # > 0 inside an opaque call (optimizer step, ...): nothing recorded
        self.names = {}         # id(array) -> (variable, weakref)
        self.consts = {}        # constant name -> object (the generated function's globals)
        self.const_ids = {}     # id(object) -> constant name
        self.lines = []
        self.guards = []
        self.guarded = set()
        self.results = []       # (variable, weakref) of every array a recorded call made
        self.counters = {}      # variable -> used by a kernel call
        self.problems = []
        self.n = 0
        self.leaves = []        # the leaf tensors whose .grad the step sets
        self.inputs = []        # the step's arguments

    # -- names --
    def var(self, prefix="v"):
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, obj, prefix="k"):
        name = self.const_ids.get(id(obj))
        if name is None or self.consts[name] is not obj:
            name = self.var(prefix)
            self.consts[name] = obj
            self.const_ids[id(obj)] = name
        return name

    def lookup(self, a):
        entry = self.names.get(id(a))
        return entry[0] if entry is not None and entry[1]() is a else None

    def bind(self, a, var):
        self.names[id(a)] = (var, weakref.ref(a))

    def problem(self, what):
        if what not in self.problems:
            self.problems.append(what)

    def guard(self, key, code):
        if key not in self.guarded:
            self.guarded.add(key)
            self.guards.append(code)

    # -- expressions --
    def expr(self, a):
        if isinstance(a, _C.Array):
            return self.lookup(a) or self.const(a, "e")
        if type(a) is _Counter:
            self.counters[a.var] = True
            return a.var
        if type(a) in (list, tuple):
            inner = ", ".join(self.expr(x) for x in a)
            return f"[{inner}]" if type(a) is list else f"({inner}{',' if len(a) == 1 else ''})"
        if type(a) is dict and all(type(k) is str for k in a):
            return "{" + ", ".join(f"{k!r}: {self.expr(v)}" for k, v in a.items()) + "}"
        return self.const(a)

    def tensor_expr(self, a):
        """An argument of an opaque call: a tensor over an array the step made is wrapped anew
        from that replay's array; other tensors (parameters) and values are passed as they are."""
        if isinstance(a, Tensor):
            v = self.lookup(a._data)
            return f"{self.const(Tensor._wrap, 'w')}({v})" if v is not None else self.const(a, "t")
        if type(a) in (list, tuple):
            inner = ", ".join(self.tensor_expr(x) for x in a)
            return f"[{inner}]" if type(a) is list else f"({inner}{',' if len(a) == 1 else ''})"
        return self.expr(a)

    # -- a kernel call --
    def call(self, name, fn, args, kwargs, method=False):
        self.depth += 1  # what the kernel calls back into Python (a C++ reshape of its result) is its own part
        try:
            res = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        if not (_has_array(args) or _has_array(kwargs) or _has_array(res)):
            return res  # no tensor data in or out: a constant of the record
        what = f"Array.{name}" if method else f"_C.{name}"
        if name in _DATA_SHAPED:
            self.problem(f"{what}: {_DATA_SHAPED[name]}")
        elif not _plain_result(res):
            self.problem(f"{what} returned {type(res).__name__} computed from tensor data (a value the step "
                         "depends on: Python control flow or a Python number)")
        call = f"{self.const(fn, 'f')}(" + ", ".join(
            [self.expr(a) for a in args] + [f"{k}={self.expr(v)}" for k, v in kwargs.items()]) + ")"
        if isinstance(res, _C.Array):
            v = self.new_result(res, args, kwargs)
            self.lines.append(call if v == "_" else f"{v} = {call}")
        elif res is None or not _has_array(res):
            self.lines.append(call)
        elif type(res) in (list, tuple) and all(e is None or isinstance(e, _C.Array) for e in res):
            names = [self.new_result(e, args, kwargs) if e is not None else "_" for e in res]
            self.lines.append(", ".join(names) + ("," if len(names) == 1 else "") + f" = {call}")
        else:  # nested results: bound whole, then each array by its index path
            v = self.var("r")
            self.lines.append(f"{v} = {call}")
            for path, arr in _arrays_with_paths(res):
                self.lines.append(f"{self.new_result(arr, args, kwargs)} = {v}{path}")
        return res

    def new_result(self, a, args, kwargs):
        """The variable a result is assigned to: a new one, or '_' for an array the record
        already knows (an in-place call returning its argument, a view returning itself)."""
        if self.lookup(a) is not None or any(a is x for x in _flat(args)) or any(a is x for x in _flat(kwargs)):
            return "_"
        v = self.var()
        self.bind(a, v)
        self.results.append((v, weakref.ref(a)))
        return v

    # -- the generated function --
    def build(self, n_inputs, out_code):
        args = ", ".join(["_a"] + [f"x{i}" for i in range(n_inputs)])  # _a: the arguments as given
        body = [f"    if not ({g}): raise _Stale" for g in self.guards]
        body += [f"    {ln}" for ln in self.lines]
        body.append(f"    return {out_code}")
        src = f"def _replay({args}):\n" + "\n".join(body) + "\n"
        glb = dict(self.consts)
        glb["_Stale"] = _Stale
        exec(compile(src, f"<dlcore.compile replay of {self.fn_name}>", "exec"), glb)  # noqa: S102
        return glb["_replay"], src


def _flat(x):
    if type(x) in (list, tuple):
        for e in x:
            yield from _flat(e)
    elif type(x) is dict:
        for e in x.values():
            yield from _flat(e)
    else:
        yield x


def _has_array(x):
    return any(isinstance(e, _C.Array) for e in _flat(x))


def _plain_result(res):
    return all(e is None or isinstance(e, _C.Array) for e in _flat(res))


def _arrays_with_paths(res, path=""):
    out = []
    if type(res) in (list, tuple):
        for i, e in enumerate(res):
            out += _arrays_with_paths(e, f"{path}[{i}]")
    elif isinstance(res, _C.Array):
        out.append((path, res))
    return out


# ---- the patches put in place while recording ----

def _fn_patch(name, fn):
    def recorded(*args, **kwargs):
        r = _recording()
        if r is None:
            return fn(*args, **kwargs)
        return r.call(name, fn, args, kwargs)
    recorded.__name__ = name
    return recorded


def _method_patch(name, fn):
    def recorded(self, *args, **kwargs):
        r = _recording()
        if r is None:
            return fn(self, *args, **kwargs)
        return r.call(name, fn, (self,) + args, kwargs, method=True)
    recorded.__name__ = name
    return recorded


def _t_patch(prop):
    fget = prop.fget

    def T(self):
        r = _recording()
        return fget(self) if r is None else r.call("T", fget, (self,), {}, method=True)
    return property(T)


def _draw_patch(method):
    """Generator.advance / take_batch: the drawn counter becomes a variable of the replay, drawn
    again at each replay by the same call."""
    def draw(self, *args):
        r = _recording()
        if r is None:
            return method(self, *args)
        c = method(self, *args)
        v = r.var("c")
        g = r.const(self, "g")
        r.guard(("seed", id(self)), f"{g}.seed == {r.const(self.seed)}")
        r.lines.append(f"{v} = {r.const(method, 'f')}({g}, " + ", ".join(r.const(a) for a in args) + ")")
        r.counters[v] = False
        return _Counter(c, v)
    return draw


def _opaque_patch(fn):
    """Optimizer.step / zero_grad / apply, Module.zero_grad, LRScheduler.step: re-run as Python
    at every replay (see _opaque)."""
    def opaque(self, *args, **kwargs):
        r = _recording()
        if r is None:
            return fn(self, *args, **kwargs)
        return _opaque(r, fn, (self,) + args, kwargs)
    return opaque


def _python_hook(fn, args, kwargs):
    """autograd.replay_hook while recording: functions marked replayed_as_python."""
    r = _recording()
    if r is None:
        return fn(*args, **kwargs)
    return _opaque(r, fn, args, kwargs)


def _is_iterator(a):
    try:
        return iter(a) is a
    except TypeError:
        return False


def _opaque(r, fn, args, kwargs):
    """Records a call that every replay makes again as Python (its kernels run then and are
    not recorded). Tensors made by the step among its arguments (the gradients given to
    ``Optimizer.apply``) are passed as that replay's; a tensor it returns is one the rest of
    the replay reads."""
    # an iterator argument (model.parameters()) would be spent by the first call: its items are
    # passed as a list, now and at every replay
    args = tuple(list(a) if _is_iterator(a) else a for a in args)
    kwargs = {k: list(v) if _is_iterator(v) else v for k, v in kwargs.items()}
    call = f"{r.const(fn, 'f')}(" + ", ".join(
        [r.tensor_expr(a) for a in args] + [f"{k}={r.tensor_expr(v)}" for k, v in kwargs.items()]) + ")"
    r.depth += 1
    try:
        res = fn(*args, **kwargs)
    finally:
        r.depth -= 1
    if isinstance(res, Tensor) and r.lookup(res._data) is None:
        v, a = r.var(), res._data
        r.lines.append(f"{v} = {call}._data")
        r.bind(a, v)
        r.results.append((v, weakref.ref(a)))
    else:
        r.lines.append(call)
    return res


def _accumulate_patch(fn):
    """Variable._accumulate_grad: its kernels are recorded; a new .grad is set at replay too."""
    def accumulate(self, g, stealable=False):
        r = _recording()
        if r is None:
            return fn(self, g, stealable)
        if getattr(self, "_grad_hooks", None) or getattr(self, "_post_acc_hooks", None):
            r.problem("a gradient hook on a leaf tensor (register_hook / register_post_accumulate_grad_hook)")
        before = self.grad
        box = [g]
        del g  # the eager step's reference counts, so a gradient is stolen as it would be there
        out = fn(self, box.pop(), stealable)
        given = [i for i, a in enumerate(r.inputs) if a is self]
        leaf = f"_a[{given[0]}]" if given else r.const(self, "p")  # an argument: that call's tensor
        if before is None:
            src = r.lookup(self.grad._data)
            if src is None:
                r.problem("a gradient that is not made by the step's kernels")
            else:  # as _accumulate_grad: the first gradient becomes .grad, a later one is added to it
                r.lines.append(f"{leaf}.grad = {r.const(self._wrap, 'w')}({src}) if {leaf}.grad is None "
                               f"else {r.const(_add_grad, 'f')}({leaf}.grad, {src})")
        else:  # added in place into the .grad the step found: it must find that one again
            r.guard(("grad", id(self)), f"{leaf}.grad is not None and {leaf}.grad._data is "
                                        f"{r.const(before._data, 'e')}")
        if not given:
            r.guard(("leaf", id(self)), f"{leaf}._data is {r.const(self._data, 'e')}")
        r.leaves.append(self)
        return out
    return accumulate


def _add_grad(grad, g):
    """A replayed gradient added into an existing .grad (Variable._accumulate_grad's second case)."""
    _C.binary(_C.Binary.add, grad._data, g, out=grad._data)
    return grad


def _node_grads_patch(fn):
    def node_grads(node, grads, **kwargs):
        r = _recording()
        if r is not None:
            r.problem("a hook or retain_grad on a non-leaf tensor")
        return fn(node, grads, **kwargs)
    return node_grads


def _call_patch(fn):
    """Module.__call__: each module the step calls has its training flag guarded."""
    def call(self, *args, **kwargs):
        r = _recording()
        if r is not None:
            m = r.const(self, "m")
            r.guard(("training", id(self)), f"{m}.training is {bool(self.training)}")
        return fn(self, *args, **kwargs)
    return call


def _subclasses(cls):
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


class _Patches:
    """Installs the recording patches on entry and restores every original on exit."""

    def __enter__(self):
        self.saved = []
        try:
            self.install()
        except BaseException:
            self.__exit__()
            raise
        return self

    def install(self):
        _C.set_fast_operators(False)  # Tensor's C operators would call kernels past the patches below
        patched = {}
        for name in dir(_C):
            f = _C.__dict__[name]
            if type(f) is _BUILTIN and name not in _NOT_RECORDED:
                patched[id(f)] = _fn_patch(name, f)
                self.put(_C, name, patched[id(f)])
        for cls in _subclasses(autograd.Function):  # kernels an op class holds (LayerNorm._forward)
            for name, f in list(cls.__dict__.items()):
                if type(f) is _BUILTIN and id(f) in patched:
                    self.put(cls, name, staticmethod(patched[id(f)]))
        for name in _ARRAY_METHODS:
            self.put(_C.Array, name, _method_patch(name, getattr(_C.Array, name)))
        self.put(_C.Array, "T", _t_patch(_C.Array.__dict__["T"]))
        for name in ("advance", "take_batch"):
            self.put(Generator, name, _draw_patch(Generator.__dict__[name]))
        for base, names in ((Optimizer, ("step", "zero_grad", "apply")), (LRScheduler, ("step",)),
                            (Module, ("zero_grad",))):
            for cls in _subclasses(base):
                for name in names:
                    if isinstance(cls.__dict__.get(name), types.FunctionType):
                        self.put(cls, name, _opaque_patch(cls.__dict__[name]))
        for cls in _subclasses(Module):
            if isinstance(cls.__dict__.get("__call__"), types.FunctionType):
                self.put(cls, "__call__", _call_patch(cls.__dict__["__call__"]))
        self.put(autograd.Variable, "_accumulate_grad", _accumulate_patch(autograd.Variable._accumulate_grad))
        self.put(autograd, "_node_grads", _node_grads_patch(autograd._node_grads))
        self.put(autograd, "replay_hook", _python_hook)

    def put(self, owner, name, value):
        self.saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def __exit__(self, *exc):
        for owner, name, value in reversed(self.saved):
            setattr(owner, name, value)
        _C.set_fast_operators(True)
        return False


# ---- the compiled step ----

def _signature(args, kwargs):
    """The cache key of a call: what a record depends on in the arguments."""
    key = []
    for a in list(args) + [kwargs[k] for k in sorted(kwargs)]:
        d = a._data if isinstance(a, Tensor) else a
        if isinstance(d, _C.Array):
            key.append((d.shape, d.dtype, d.strides, d.device, getattr(a, "requires_grad", False)))
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"dlcore.compile: step arguments must be tensors or hashable values, got "
                                f"{type(a).__name__}") from None
            key.append((type(a), a))
    return (tuple(key), tuple(sorted(kwargs)), _C.is_grad_enabled(), id(current_generator()))


class _Record:
    __slots__ = ("fn", "source", "calls")


class CompiledStep:
    """A training step recorded once per input signature and replayed (see the module's
    docstring). Call it as the step function; ``records`` holds the recorded signatures,
    ``source()`` shows the replay code of the last record, ``reset()`` drops every record,
    ``eager`` is True once a recording failed (the step then runs eagerly)."""

    def __init__(self, fn, strict=False):
        if not callable(fn):
            raise TypeError(f"dlcore.compile: expected a step function, got {type(fn).__name__}")
        self.fn = fn
        self.strict = bool(strict)
        self.eager = False
        self.records = {}
        self.last_source = None
        self.__name__ = getattr(fn, "__name__", "step")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __get__(self, obj, objtype=None):
        """As a method decorator: the instance is the first argument (part of the signature)."""
        return self if obj is None else types.MethodType(self, obj)

    def __deepcopy__(self, memo):
        """A copy (of a model that holds it) records its own steps: records refer to the
        original's tensors, so they are not copied."""
        return CompiledStep(copy.deepcopy(self.fn, memo), self.strict)

    def reset(self):
        """Forgets every record (the next call records again)."""
        self.records.clear()

    def __call__(self, *args, **kwargs):
        if self.eager or (_active is not None and _active.thread == threading.get_ident()):
            return self.fn(*args, **kwargs)  # inside another step's recording: recorded as part of it
        key = _signature(args, kwargs)
        rec = self.records.get(key)
        if rec is not None:
            try:
                values = list(args) + [kwargs[k] for k in sorted(kwargs)]
                out = rec.fn(values, *[_arg_data(a) for a in values])
            except _Stale:
                del self.records[key]
            else:
                return out
        return self._record(key, args, kwargs)

    def _record(self, key, args, kwargs):
        global _active
        autograd.unshared(_C.zeros((1,), _C.float32), 1 << 30)  # the stealing probe runs before recording
        r = _Recorder(self.__name__)
        values = list(args) + [kwargs[k] for k in sorted(kwargs)]
        for i, a in enumerate(values):
            d = _arg_data(a)
            if isinstance(d, _C.Array):
                r.bind(d, f"x{i}")
        r.inputs = values
        with _lock:
            _active = r
            try:
                with _Patches():
                    out = self.fn(*args, **kwargs)
            finally:
                _active = None
        out_code, result = _output(r, out)
        if not r.problems:
            # the eager result's graph goes (what it held is not state the step passes on); a refused
            # step returns the eager result itself, graph and all
            out = result
            self._check_escapes(r, result)
            self._check_temporaries(r)
            unused = [v for v, used in r.counters.items() if not used]
            if unused:
                r.problem("a random draw's counter did not reach a kernel unchanged")
        if r.problems:
            msg = (f"dlcore.compile: {self.__name__} cannot be replayed: " + "; ".join(r.problems)
                   + ". This call ran eagerly")
            if self.strict:
                raise ReplayError(msg + ".")
            warnings.warn(msg + "; the step runs eagerly from now on.", RuntimeWarning, stacklevel=3)
            self.eager = True
            return out
        rec = _Record()
        rec.fn, rec.source = r.build(len(values), out_code)
        rec.calls = sum(1 for ln in r.lines if "(" in ln)
        if len(self.records) >= MAX_RECORDS:
            del self.records[next(iter(self.records))]  # the oldest signature goes
        self.records[key] = rec
        self.last_source = rec.source
        return result

    def _check_temporaries(self, r):
        """An array the record reads by reference (as state that outlives a step) that nothing
        but the record holds after the step was made during the step by a kernel call the
        recorder did not see (a _C function bound where the recorder cannot wrap it): a replay
        would read that step's values."""
        n = len(_only_held_by(r.consts))
        if n:
            gc.collect()
            n = len(_only_held_by(r.consts))
        if n:
            r.problem(f"{n} array(s) the step read were made during it by kernel calls the recorder did not see "
                      "(a _C function kept under another name)")

    def _check_escapes(self, r, result):
        keep = {id(t._data) for t in _flat_out(result)} | {id(p.grad._data) for p in r.leaves if p.grad is not None}
        escaped = [v for v, ref in r.results if ref() is not None and id(ref()) not in keep]
        if escaped:
            gc.collect()
            escaped = [v for v, ref in r.results if ref() is not None and id(ref()) not in keep]
        if escaped:
            r.problem(f"{len(escaped)} array(s) made during the step are still referenced after it (Python "
                      "state rebound to a new tensor, or a tensor kept in a list or attribute): a replay would "
                      "not pass them on")

    def source(self):
        """The replay code of the last record (for reading; None before the first record)."""
        return self.last_source


def _only_held_by(consts):
    """The arrays among consts' values that nothing else references."""
    arrays = [v for v in consts.values() if isinstance(v, _C.Array)]
    # references: consts, the list, the comprehension's variable, getrefcount's argument
    return [a for a in arrays if sys.getrefcount(a) <= 4]


def _arg_data(a):
    return a._data if isinstance(a, Tensor) else a


def _flat_out(x):
    return [t for t in _flat(x) if isinstance(t, Tensor)]


def _output(r, out):
    """(replay expression of the step's result, the result this recording call returns: its
    tensors detached, as a replay returns them)."""
    if isinstance(out, Tensor):
        if out._node is not None and not out._node.freed:
            r.problem("it returns a tensor whose graph has not been through backward (dlcore.compile replays "
                      "whole training steps: zero_grad, forward, loss, backward and optimizer step)")
        v = r.lookup(out._data)
        if v is None:
            if out._data is not None and any(out._data is r.consts.get(k) for k in r.consts):
                v = r.expr(out._data)
            else:
                r.problem("the step returns a tensor that its kernels did not make")
                return "None", out
        return f"{r.const(Tensor._wrap, 'w')}({v})", Tensor._wrap(out._data)
    if type(out) in (list, tuple):
        parts = [_output(r, o) for o in out]
        code = ", ".join(p[0] for p in parts)
        code = f"[{code}]" if type(out) is list else f"({code}{',' if len(parts) == 1 else ''})"
        return code, type(out)(p[1] for p in parts)
    if type(out) is dict:
        parts = {k: _output(r, o) for k, o in out.items()}
        return "{" + ", ".join(f"{r.const(k)}: {p[0]}" for k, p in parts.items()) + "}", \
            {k: p[1] for k, p in parts.items()}
    if out is None:
        return "None", None
    if isinstance(out, (int, float)):
        r.problem(f"the step returns a Python {type(out).__name__} (computed from tensor data): return the "
                  "tensor and call .item() outside the step")
    else:
        r.problem(f"the step returns a {type(out).__name__}; return tensors (or tuples / dicts of them)")
    return "None", out


def compile_step(fn=None, *, strict=False):
    """``dlcore.compile(step_fn)``: a :class:`CompiledStep` that records ``step_fn`` once per
    input signature and replays it (usable as a decorator, with or without ``strict=``)."""
    if fn is None:
        return lambda f: CompiledStep(f, strict=strict)
    return CompiledStep(fn, strict=strict)
