"""Reverse-mode automatic differentiation.

:class:`Variable` is the part of a tensor the engine uses: its array (``_data``),
``requires_grad``, ``grad``, the graph node that produced it (``_node``, ``_out_index``) and
gradient accumulation. ``dlcore.Tensor`` derives from it; this module never imports tensor.py.

A differentiable op is a subclass of :class:`Function` with ``forward(ctx, *args)`` and
``backward(ctx, *grad_outputs)``, both working on raw arrays (``dlcore._C.Array``, on any
device) and calling only bound kernels (``dlcore._C``). ``Function.apply`` (C++, once per op)
wraps the results as plain Tensors (through the first Variable argument's ``_wrap`` when that is
not a Tensor) and, when grad mode is on and an input requires grad, records the call as a node
of the graph.

``Variable.backward`` walks the graph once in reverse topological order, summing the gradient
of every node output and every leaf over all its uses (fan-out), and accumulates into each
leaf's ``.grad`` once, after the last node that uses it. The walk is C++
(``_C.backward_walk``, csrc/bindings/autograd.cpp); ``_walk`` below is the same walk in Python,
its reference, which :func:`grad` takes over only the nodes that lead to the tensors asked for,
returning their gradients instead of accumulating them.
Saved arrays are freed after use unless ``retain_graph=True``; walking a freed node again
raises a RuntimeError like PyTorch's.

``leaf.register_post_accumulate_grad_hook(hook)`` (PyTorch's name and contract) runs
``hook(leaf)`` each time the engine has accumulated a gradient into ``leaf.grad``, in the order
the backward walk reaches the leaves: data-parallel training starts reducing a bucket of
gradients while the rest of the backward still runs (dlcore.distributed).
"""
from __future__ import annotations

import functools
import itertools
import sys
import traceback
import weakref

from . import _C

__all__ = ["is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad", "inference_mode", "wrapper", "Variable",
           "detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly", "Function", "unshared",
           "backward", "grad", "RemovableHandle", "replayed_as_python"]

# Grad mode is per thread and lives in C++, next to Function.apply (csrc/bindings/autograd.cpp)
is_grad_enabled = _C.is_grad_enabled


class no_grad:
    """Context manager (and decorator) that disables graph recording."""

    def __enter__(self):
        self._prev = is_grad_enabled()
        _C.set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self._prev)
        return False

    def _again(self):
        """A fresh manager like this one (each decorated call enters its own)."""
        return type(self)()

    def __call__(self, fn):
        def wrapper(*a, **k):
            with self._again():
                return fn(*a, **k)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class enable_grad(no_grad):
    """Context manager (and decorator) that enables graph recording (inside no_grad)."""

    def __enter__(self):
        self._prev = is_grad_enabled()
        _C.set_grad_enabled(True)
        return self


class set_grad_enabled(no_grad):
    """set_grad_enabled(mode): turns graph recording on or off on this thread - at once when
    called as a function, and back to the previous mode at the end of a ``with`` block (as
    PyTorch: ``with dlcore.set_grad_enabled(phase == 'train'):``)."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = is_grad_enabled()
        _C.set_grad_enabled(self.mode)

    def __enter__(self):
        return self

    def __call__(self, fn):  # as a decorator: the mode applies inside fn only
        _C.set_grad_enabled(self._prev)
        return super().__call__(fn)

    def _again(self):
        return _Mode(self.mode)


class inference_mode(no_grad):
    """inference_mode(mode=True): PyTorch's faster no_grad; in dlcore the same as no_grad (a
    context manager and decorator; mode=False records as usual)."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = is_grad_enabled()
        if self.mode:
            _C.set_grad_enabled(False)
        return self

    def _again(self):
        return inference_mode(self.mode)


class _Mode(no_grad):
    """Grad mode set to ``mode`` on entry (the decorator form of set_grad_enabled)."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self._prev = is_grad_enabled()
        _C.set_grad_enabled(self.mode)
        return self

    def _again(self):
        return _Mode(self.mode)


def wrapper(cls):
    """The ``_wrap`` staticmethod of a Variable class: a new cls over an array with no grad and
    no graph node (every op output goes through it, so it sets the slots inline)."""
    new = cls.__new__

    def _wrap(arr):
        v = new(cls)
        v._data = arr
        v.requires_grad = False
        v.grad = None
        v._node = None
        v._out_index = 0
        v._base = None
        v._views = None
        return v
    return staticmethod(_wrap)


class Variable:
    """A node input / output of the autograd graph: an array plus its gradient state."""

    # _post_acc_hooks / _grad_hooks are set only by register_post_accumulate_grad_hook /
    # register_hook on a leaf (never by Function.apply, which fills the other slots of its
    # outputs), so they are read with getattr(..., None). _base: the tensor whose memory a view
    # op's result views, _views: weak references to a tensor's views (tensor.py's in-place
    # recording; None otherwise)
    __slots__ = ("_data", "requires_grad", "grad", "_node", "_out_index", "_post_acc_hooks", "_grad_hooks",
                 "_base", "_views", "__weakref__")

    def __init__(self, data, requires_grad=False):
        self._data = data
        self.requires_grad = False
        self.grad = None
        self._node = None
        self._out_index = 0
        self._base = None
        self._views = None
        if requires_grad:
            self.requires_grad_(True)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def requires_grad_(self, flag=True):
        if flag and not self._data.dtype.is_floating_point:
            raise RuntimeError(f"only floating point tensors can require gradients, got {self._data.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach()")
        self.requires_grad = bool(flag)
        return self

    def backward(self, gradient=None, retain_graph=False):
        backward(self, gradient, retain_graph)

    def _accumulate_grad(self, g, stealable=False):
        """Adds g into .grad. ``stealable``: g comes from the backward engine's loop, so when
        nothing else references it (unshared) it becomes .grad without a copy, as PyTorch's
        AccumulateGrad does. The leaf's register_hook hooks see g first."""
        hooks = getattr(self, "_grad_hooks", None)
        if hooks:
            h = _run_hooks(hooks, g)
            if h is not g:
                g, stealable = h, False
        if g.dtype != self._data.dtype:
            g = g.astype(self._data.dtype)
            stealable = True
        if self.grad is None:
            if not (stealable and unshared(g, sys.getrefcount(g))):
                g = g.clone()  # an owned, contiguous copy (g may be shared with other inputs or the caller)
            self.grad = self._wrap(g)
        else:
            _C.binary(_C.Binary.add, self.grad._data, g, out=self.grad._data)
        hooks = getattr(self, "_post_acc_hooks", None)
        if hooks:
            for hook in tuple(hooks.values()):
                hook(self)

    def register_hook(self, hook):
        """Calls ``hook(grad)`` each time backward computes this tensor's gradient: a non-leaf's
        once per backward, with the sum over all its uses; a leaf's before it is added to
        ``.grad``. A non-None result (a tensor of the same shape) replaces the gradient from
        there on. Hooks run in registration order; returns a handle whose ``remove()``
        unregisters the hook."""
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        entry = (hook, type(self)._wrap)
        if self._node is None:
            hooks = getattr(self, "_grad_hooks", None)
            if hooks is None:
                hooks = self._grad_hooks = {}
            return RemovableHandle(hooks, entry)
        node = self._node
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        return RemovableHandle(node._tensor_hooks.setdefault(self._out_index, {}), entry)

    def retain_grad(self):
        """Keeps this non-leaf tensor's gradient in ``.grad`` after backward (accumulated over
        backward calls, after its hooks ran), as a leaf's is kept."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain the gradient of a tensor that doesn't require gradient")
        if self._node is None:
            return
        if self._node._retained is None:
            self._node._retained = {}
        self._node._retained[self._out_index] = weakref.ref(self)

    @property
    def retains_grad(self):
        """True for a non-leaf tensor whose retain_grad() was called."""
        retained = self._node._retained if self._node is not None else None
        ref = retained.get(self._out_index) if retained else None
        return ref is not None and ref() is self

    def register_post_accumulate_grad_hook(self, hook):
        """Calls ``hook(self)`` after every accumulation of a gradient into this leaf's ``.grad``
        by backward (the gradient is complete for this backward call when it runs). Returns a
        handle whose ``remove()`` unregisters it. Only leaves that require grad have one."""
        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got {type(hook).__name__}")
        if self._node is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = getattr(self, "_post_acc_hooks", None)
        if hooks is None:
            hooks = self._post_acc_hooks = {}
        return RemovableHandle(hooks, hook)


def _run_hooks(hooks, g):
    """g (an array) passed through the (hook, wrap) pairs of ``hooks`` in order."""
    for hook, wrap in tuple(hooks.values()):
        r = hook(wrap(g))
        if r is not None:
            r = getattr(r, "_data", r)
            if not isinstance(r, _C.Array) or r.shape != g.shape:
                raise RuntimeError(f"hook {hook!r} returned {type(r).__name__} of shape "
                                   f"{getattr(r, 'shape', None)} for a gradient of shape {g.shape}: "
                                   f"a hook must return None or a tensor of the gradient's shape")
            g = r if r.dtype == g.dtype else r.astype(g.dtype)
    return g


def _node_grads(node, grads, retain=True):
    """A node's output gradients after the hooks and (with ``retain``: backward, not grad)
    retain_grad of its output tensors."""
    hooks, retained = node._tensor_hooks, node._retained
    grads = list(grads)
    for i, g in enumerate(grads):
        if g is None:
            continue
        if hooks and hooks.get(i):
            g = grads[i] = _run_hooks(hooks[i], g)
        t = retained[i]() if retain and retained and i in retained else None
        if t is not None:
            if t.grad is None:
                t.grad = t._wrap(g.clone())
            else:
                t.grad = t._wrap(_C.binary(_C.Binary.add, t.grad._data, g))
    return grads


# Set by dlcore.replay while it records a step: calls of functions marked replayed_as_python go
# through it (it records them as calls to run again at each replay, with their kernels unrecorded)
replay_hook = None


def replayed_as_python(fn):
    """Marks a function that computes with values read from tensor data (gradient clipping's
    norm) as one that a replayed training step (dlcore.compile) runs again as Python each time,
    on that replay's tensors, instead of recording its kernel calls; elsewhere it runs as it is."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        hook = replay_hook
        return fn(*args, **kwargs) if hook is None else hook(fn, args, kwargs)
    return run


class RemovableHandle:
    """Returned by hook registrations: ``remove()`` takes the hook out again (idempotent)."""

    _ids = itertools.count(1)

    def __init__(self, hooks, hook):
        self.id = next(RemovableHandle._ids)
        self._hooks = hooks
        hooks[self.id] = hook

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


Variable._wrap = wrapper(Variable)  # Tensor replaces it with its own (Function.apply uses it)
_C.set_variable_type(Variable)  # how Function.apply tells tensor arguments from the others


class detect_anomaly:
    """Context manager (and decorator) for debugging NaN / Inf: while on, every backward checks
    the gradients each op's backward returns and raises a RuntimeError naming the first op
    whose backward produced NaN or Inf from finite gradients, with the line of user code that
    ran the op's forward (recorded while the mode is on). Slow: for debugging only.
    ``check_nan=False`` turns it off, like PyTorch's."""

    def __init__(self, check_nan=True):
        self.mode = bool(check_nan)

    def __enter__(self):
        self._prev = is_anomaly_enabled()
        set_detect_anomaly(self.mode)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(self._prev)
        return False

    def __call__(self, fn):
        def wrapper(*a, **k):
            with detect_anomaly(self.mode):
                return fn(*a, **k)
        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


_anomaly = False


def is_anomaly_enabled():
    return _anomaly


def set_detect_anomaly(mode):
    """Turns anomaly detection on or off for the whole process (see detect_anomaly)."""
    global _anomaly
    _anomaly = bool(mode)
    # the plain apply is put back as the same object: Tensor's C operators take their shortcut to
    # it only while Function.apply is that object (autograd.cpp)
    Function.apply = classmethod(_anomaly_apply) if _anomaly else _PLAIN_APPLY


def _anomaly_apply(cls, *args):
    """Function.apply while anomaly detection is on: the node remembers where its forward ran."""
    out = _C.function_apply(cls, *args)
    for o in (out if isinstance(out, tuple) else (out,)):
        node = getattr(o, "_node", None)
        if node is not None and not hasattr(node, "_forward_site"):
            node._forward_site = _user_frame()
    return out


def _user_frame():
    """'file:line in function' of the innermost frame outside dlcore's own package."""
    pkg = __file__.rsplit("/", 1)[0]
    for fr in reversed(traceback.extract_stack()[:-2]):
        if not fr.filename.startswith(pkg):
            return f"{fr.filename}:{fr.lineno} in {fr.name}: {fr.line}"
    return "(inside dlcore)"


def _nonfinite(a):
    """Whether the float array a holds a NaN or an Inf."""
    if not a.dtype.is_floating_point or a.size == 0:
        return False
    bad = _C.binary(_C.Binary.logical_or, _C.unary(_C.Unary.isnan, a), _C.unary(_C.Unary.isinf, a))
    return _C.reduce(_C.Reduce.sum, bad.astype(a.dtype), None, False).item() > 0


def _check_anomaly(node, grads, in_grads):
    if any(g is not None and _nonfinite(g) for g in grads):
        return  # already non-finite coming in: the op that made it was reported before
    for i, g in enumerate(in_grads):
        if g is not None and _nonfinite(g):
            site = getattr(node, "_forward_site", None)
            raise RuntimeError(
                f"detect_anomaly: Function '{type(node).__name__}Backward' returned NaN or Inf values "
                f"in its {i}th output (the gradient for input {i}) from finite incoming gradients"
                + (f"; its forward ran at {site}" if site else ""))


class Function:
    """Base class of differentiable ops. Instances are the graph's nodes (``ctx``)."""

    __slots__ = ("inputs", "needs_input_grad", "saved", "saved_versions", "freed", "n_outputs", "__dict__")
    # set on a node by register_hook / retain_grad of one of its output tensors (rarely: read as
    # class attributes otherwise, so the engine's check costs one lookup)
    _tensor_hooks = None
    _retained = None

    def save_for_backward(self, *arrays):
        """Keeps arrays (or None) for backward, with their storages' versions: backward raises if
        one was changed in place in between. Nothing is kept when the call is not recorded."""
        if self.needs_input_grad is None:
            return
        self.saved = arrays
        self.saved_versions = tuple(None if a is None else a.version for a in arrays)

    @property
    def saved_tensors(self):
        if self.freed:
            raise RuntimeError(
                f"{type(self).__name__}.backward: trying to backward through the graph a second "
                "time (or directly access saved tensors after they have already been freed). "
                "Saved intermediate values of the graph are freed when you call .backward(). "
                "Specify retain_graph=True if you need to backward through the graph a second time.")
        for i, (a, v) in enumerate(zip(self.saved, self.saved_versions)):
            if a is not None and a.version != v:
                raise RuntimeError(
                    f"{type(self).__name__}.backward: one of the tensors saved for the gradient (number {i}, "
                    f"shape {a.shape}) was modified by an in-place operation after it was saved (its version "
                    f"is {a.version}, expected {v}); make that change out of place, or on a clone()")
        return self.saved

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):  # pragma: no cover - abstract
        raise NotImplementedError

    # Function.apply(*args): forward(ctx, *raw arrays of the tensor arguments); the outputs are
    # wrapped as plain Tensors and, when grad mode is on and an input requires grad, float outputs
    # get ctx as their node (ctx.needs_input_grad, ctx.n_outputs, ctx.inputs: per argument the
    # edge to its history at the time of the call - the leaf Variable itself, a non-leaf's
    # (node, output index) pair, or None where no gradient is needed; an in-place op that later
    # gives the tensor a new node leaves this node's edge on the history it read).
    # It runs once per op, so it is C++ (csrc/bindings/autograd.cpp).
    apply = classmethod(_C.function_apply)


_C.set_function_type(Function)  # the node slots Function.apply fills
_PLAIN_APPLY = Function.__dict__["apply"]


def _topo_order(roots):
    """Nodes reachable from the nodes ``roots``, each after every node that consumes its outputs."""
    order, seen = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for e in node.inputs or ():
            if type(e) is tuple and id(e[0]) not in seen:
                stack.append((e[0], False))
    order.reverse()
    return order


def _accumulate(a, b):
    if a is None:
        return b
    return _C.binary(_C.Binary.add, a, b)


# Gradient stealing: the reference count an unshared gradient array has inside
# Variable._accumulate_grad when it arrives from the engine loop below. Measured once on a probe
# graph through the same code path (so it holds for any CPython version); any extra holder of
# the array (another slot, a saved tensor, a user variable, a view) raises the count above it.
_steal_refs = None
_probe_counts = None


def unshared(arr, refcount):
    """True when ``arr`` (seen with ``refcount`` in _accumulate_grad) may be adopted as .grad."""
    if _probe_counts is not None:
        _probe_counts.append(refcount)
        return False
    if _steal_refs is None:
        _calibrate_stealing()
    # the array must also be the only user of its storage, and cover all of it, contiguously
    return (refcount <= _steal_refs and arr.storage_refs() == 1 and arr.is_contiguous()
            and arr.writable and arr.offset == 0 and arr.nbytes == arr.storage_nbytes)


class _FreshGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return _C.full(g.shape, 1.0, g.dtype, g.device)


_steal_counts = None  # what each walk's probe saw: (C++, Python)


def _calibrate_stealing():
    """Sets _steal_refs from a probe walk through each engine (the C++ walk mirrors _walk's
    references, so both should see the same count; were they to differ, the smaller one holds
    for both, which only costs copies)."""
    global _steal_refs, _probe_counts, _steal_counts
    _steal_refs = -1  # never steal while (or if) probing fails
    seen = []
    try:
        for cpp in (True, False):
            _probe_counts = []
            leaf = Variable._wrap(_C.zeros((1,), _C.float64))
            leaf.requires_grad = True
            with enable_grad():
                out = _FreshGrad.apply(leaf)
            g = _C.full((1,), 1.0, _C.float64, out._data.device)
            if cpp:
                _C.backward_walk(out._node, out._out_index, g, False, _node_grads)
            else:
                _walk([(out, g)], False)
            seen.append(_probe_counts)
    finally:
        _probe_counts = None
    if all(len(c) == 1 for c in seen):
        _steal_counts = tuple(c[0] for c in seen)
        if min(_steal_counts) >= 2:
            _steal_refs = min(_steal_counts)


def _seed_grad(tensor, grad, op):
    """The gradient a backward walk starts from at ``tensor``: ``grad`` (a tensor or data of its
    shape) or, for a one-element tensor, ones."""
    if grad is None:
        if tensor._data.size != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs; "
                               f"this tensor has shape {tensor._data.shape}: pass gradient=")
        return _C.full(tensor._data.shape, 1.0, tensor._data.dtype, tensor._data.device)
    g = (grad._data if isinstance(grad, Variable)
         else _C.from_object(grad, tensor._data.dtype, device=tensor._data.device, op=op))
    if g.shape != tensor._data.shape:
        raise ValueError(f"{op}: gradient has shape {g.shape} but the tensor has "
                         f"shape {tensor._data.shape}")
    return g if g.dtype == tensor._data.dtype else g.astype(tensor._data.dtype)


def backward(tensor, grad=None, retain_graph=False):
    """Computes d(tensor)/d(leaf) for every leaf that requires grad, into ``leaf.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                           "(did you create it under no_grad, or forget requires_grad=True?)")
    g = _seed_grad(tensor, grad, "backward")
    if tensor._node is None:  # a leaf
        tensor._accumulate_grad(g)
        return
    if _cpp_engine and not _anomaly and replay_hook is None:
        _C.backward_walk(tensor._node, tensor._out_index, g, bool(retain_graph), _node_grads)
    else:
        _walk([(tensor, g)], retain_graph)


# backward's walk runs in C++ (_C.backward_walk, csrc/bindings/autograd.cpp): the same walk as
# _walk with wanted=None, bitwise (same order, same sums), tensor hooks and retain_grad through
# _node_grads. _walk stays the reference and runs what the C++ walk does not: autograd.grad,
# anomaly mode (its per-node checks) and a dlcore.compile recording (which records the engine's
# gradient sums as _C.binary calls). False sends every backward through _walk (benchmarks, tests).
_cpp_engine = True


def _walk(roots, retain_graph, wanted=None):
    """The backward engine: one walk of the graph from the (non-leaf tensor, gradient array)
    pairs ``roots`` in reverse topological order. With ``wanted=None``, every leaf's gradient is
    summed over its uses and accumulated into .grad once, after the last node using it
    (PyTorch's AccumulateGrad): its post-accumulate hooks see it complete. Otherwise ``wanted``
    maps the keys of the tensors whose gradients are asked for - id(leaf), or (id(node), output
    index) for a non-leaf - to None; the walk fills in their summed gradient arrays instead,
    runs only the nodes that lead to them and touches no .grad."""
    pending = {}
    for t, g in roots:
        slot = pending.setdefault(id(t._node), [None] * t._node.n_outputs)
        slot[t._out_index] = _accumulate(slot[t._out_index], g)
    order = _topo_order([t._node for t, _ in roots])
    uses, needed = {}, None
    if wanted is None:
        for node in order:
            for inp, need in zip(node.inputs or (), node.needs_input_grad):
                if need and type(inp) is not tuple:
                    uses[id(inp)] = uses.get(id(inp), 0) + 1
    else:  # the nodes with a path to a wanted tensor, producers first
        needed = set()
        for node in reversed(order):
            for inp, need in zip(node.inputs or (), node.needs_input_grad):
                if need and (id(inp) in wanted if type(inp) is not tuple
                             else id(inp[0]) in needed or (id(inp[0]), inp[1]) in wanted):
                    needed.add(id(node))
                    break
    leaf_grads = {}
    for node in order:
        grads = pending.pop(id(node), None)
        if grads is not None and (node._tensor_hooks or node._retained):
            grads = _node_grads(node, grads, retain=wanted is None)
        if wanted is not None:
            for i, g in enumerate(grads or ()):
                if g is not None and (id(node), i) in wanted:
                    wanted[id(node), i] = g
            if id(node) not in needed:
                continue
        if grads is None or all(x is None for x in grads):
            in_grads = ()
        else:
            in_grads = type(node).backward(node, *grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if _anomaly:
                _check_anomaly(node, grads, in_grads)
        for k, (inp, need) in enumerate(zip(node.inputs or (), node.needs_input_grad)):
            if not need:
                continue
            ig = in_grads[k] if k < len(in_grads) else None
            if type(inp) is not tuple:  # a leaf
                if wanted is not None:
                    if ig is not None and id(inp) in wanted:
                        wanted[id(inp)] = _accumulate(wanted[id(inp)], ig)
                    continue
                if ig is not None:
                    leaf_grads[id(inp)] = _accumulate(leaf_grads.get(id(inp)), ig)
                uses[id(inp)] -= 1
                if not uses[id(inp)] and id(inp) in leaf_grads:
                    inp._accumulate_grad(leaf_grads.pop(id(inp)), True)
            elif ig is not None:  # (node, output index)
                src, i = inp
                slot = pending.setdefault(id(src), [None] * src.n_outputs)
                slot[i] = _accumulate(slot[i], ig)
        if not retain_graph and in_grads:
            node.saved = ()
            node.freed = True
    return wanted


def _as_tuple(v, op, name):
    if isinstance(v, Variable):
        return (v,)
    try:
        out = tuple(v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a Tensor or a sequence of Tensors, got {type(v).__name__}") from None
    for i, t in enumerate(out):
        if not isinstance(t, Variable):
            raise TypeError(f"{op}: {name}[{i}] must be a Tensor, got {type(t).__name__}")
    return out


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` (a tensor or a sequence) with respect to ``inputs`` (a tensor
    or a sequence, leaves or not), returned as a tuple in the order of ``inputs``; nothing is
    accumulated into any ``.grad`` (torch.autograd.grad). grad_outputs: the vector(s) of the
    vector-Jacobian product, one per output (None: ones, for one-element outputs). An input the
    outputs do not depend on is an error unless allow_unused=True (then its gradient is None,
    or zeros with materialize_grads=True). The graph is freed unless retain_graph=True.
    create_graph=True (higher-order gradients) is refused: dlcore's backward functions compute
    on raw arrays, so their results have no graph."""
    op = "autograd.grad"
    if create_graph:
        raise NotImplementedError(f"{op}: create_graph=True is not supported: dlcore's backward functions "
                                  f"work on raw arrays, so gradients have no graph of their own (no "
                                  f"higher-order gradients)")
    if is_grads_batched:
        raise NotImplementedError(f"{op}: is_grads_batched=True is not supported (call grad once per vector)")
    if materialize_grads and allow_unused is False:
        raise ValueError(f"{op}: materialize_grads=True needs allow_unused to be True or None")
    allow_unused = bool(materialize_grads or allow_unused)
    outputs, inputs = _as_tuple(outputs, op, "outputs"), _as_tuple(inputs, op, "inputs")
    if not inputs:
        raise ValueError(f"{op}: inputs must not be empty")
    if grad_outputs is None or isinstance(grad_outputs, Variable):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    else:
        grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{op}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: inputs[{i}] (shape {t._data.shape}) does not require grad")
    keys = [id(t) if t._node is None else (id(t._node), t._out_index) for t in inputs]
    wanted = dict.fromkeys(keys)
    roots = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: outputs[{i}] (shape {t._data.shape}) does not require grad and has "
                               f"no grad_fn")
        g = _seed_grad(t, g, op)
        if t._node is None:  # an output that is itself a leaf
            if id(t) in wanted:
                wanted[id(t)] = _accumulate(wanted[id(t)], g)
        else:
            roots.append((t, g))
    if roots:
        _walk(roots, bool(retain_graph), wanted)
    result = []
    for i, (t, k) in enumerate(zip(inputs, keys)):
        g = wanted[k]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"{op}: inputs[{i}] (shape {t._data.shape}) was not used to compute the "
                                   f"outputs; pass allow_unused=True to get None for it")
            result.append(t._wrap(_C.zeros(t._data.shape, t._data.dtype, t._data.device))
                          if materialize_grads else None)
            continue
        hooks = getattr(t, "_grad_hooks", None) if t._node is None else None
        if hooks:  # a leaf's register_hook hooks see its gradient, as in backward
            g = _run_hooks(hooks, g)
        result.append(t._wrap(g.astype(t._data.dtype) if g.dtype != t._data.dtype else g.clone()))
    return tuple(result)
