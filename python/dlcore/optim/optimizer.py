"""Optimizer base: parameter groups with per-group options, zero_grad, state_dict (PyTorch's
layout: {'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}), and the
fused update driver shared by every optimizer.

A subclass of `FusedOptimizer` declares its C++ kernel (`_kind`), the names of its state
buffers for the three kernel slots (`_slots(group)`), the options the kernel reads
(`_options(group)`) and whether it counts steps; `step()` then makes ONE `_C.optim_step`
call per parameter group (per dtype), which updates every parameter of the group in place
with the GIL released (optim_math.h holds the per-element formulas). A group whose ``keras``
entry is True updates by Keras 3's rules instead of torch.optim's (the same kernels, their
Keras branch: dlcore.optimizers sets it)."""
from __future__ import annotations

import functools
import inspect
import numbers

from .. import _C
from ..autograd import enable_grad
from ..tensor import Tensor, tensor

__all__ = ["Optimizer", "FusedOptimizer"]


def _numbers_checked(init):
    """Wraps an optimizer's __init__: every option whose default is a number (or a tuple of
    numbers, like betas) must be given a number (tuple), else a TypeError names the optimizer,
    the option and the value - before the range checks, which would fail on a str with a raw
    comparison error."""
    sig = inspect.signature(init)
    numeric = {k: p.default for k, p in sig.parameters.items()
               if isinstance(p.default, (int, float, tuple)) and not isinstance(p.default, bool)}

    def ok(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        for k, v in bound.arguments.items():
            if k not in numeric:
                continue
            good = all(ok(e) for e in v) if isinstance(numeric[k], tuple) and isinstance(v, (tuple, list)) \
                else ok(v)
            if not good:
                raise TypeError(f"{type(self).__name__}: {k} must be "
                                f"{'a tuple of numbers' if isinstance(numeric[k], tuple) else 'a number'}, "
                                f"got {type(v).__name__} {v!r}")
        return init(self, *args, **kwargs)
    return checked


class Optimizer:
    # group options that no constructor takes, set on the groups by their owner (dlcore.optimizers
    # sets FusedOptimizer's 'keras'); a saved optimizer's are restored with it
    _group_flags = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _numbers_checked(cls.__dict__["__init__"])

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                            "got a single Tensor (wrap it in a list)")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for g in params:
            self.add_param_group(g)

    def add_param_group(self, group):
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: every parameter must be a Tensor that requires grad")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps) or len({id(p) for p in ps}) != len(ps):
            raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group")
        group["params"] = ps
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure=None):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- Keras 3's optimizer calls (a custom Model.train_step uses them) --
    def apply(self, grads, trainable_variables=None):
        """One update with the given gradients (Keras's ``optimizer.apply``): grads[i] is the
        gradient of trainable_variables[i] (default: every parameter, in group order); a None
        gradient skips its variable. Parameters of this optimizer that are not listed are not
        updated by this call; every parameter's ``.grad`` is left as it was."""
        mine = [p for g in self.param_groups for p in g["params"]]
        variables = mine if trainable_variables is None else list(trainable_variables)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for "
                             f"{len(variables)} variables")
        ids = {id(p) for p in mine}
        for i, v in enumerate(variables):
            if id(v) not in ids:
                raise ValueError(f"{type(self).__name__}.apply: variable {i} (shape {tuple(v.shape)}) is not "
                                 f"one of this optimizer's parameters")
        given = {id(v): g for v, g in zip(variables, grads)}
        saved = [p.grad for p in mine]
        try:
            for p in mine:
                g = given.get(id(p))
                p.grad = None if g is None else (g.detach() if isinstance(g, Tensor) else tensor(g, dtype=p.dtype))
            self.step()
        finally:
            for p, g in zip(mine, saved):
                p.grad = g

    def apply_gradients(self, grads_and_vars):
        """Keras's ``apply_gradients(zip(grads, vars))``: apply with (gradient, variable) pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    @property
    def learning_rate(self):
        """The first parameter group's lr (Keras's name); setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, lr):
        for g in self.param_groups:
            g["lr"] = float(lr)

    def state_dict(self):
        index = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if id(p) in self.state:
                    state[index[id(p)]] = {k: (Tensor._wrap(v.clone()) if isinstance(v, _C.Array) else v)
                                           for k, v in self.state[id(p)].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, sd):
        groups = sd["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError("load_state_dict: the saved optimizer has a different number of "
                             "parameter groups or parameters")
        for saved, g in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    g[k] = v
            for i, p in zip(saved["params"], g["params"]):
                st = sd["state"].get(i, sd["state"].get(str(i)))
                if st is None:
                    self.state.pop(id(p), None)
                    continue
                new = {}
                for k, v in st.items():
                    if hasattr(v, "shape") and len(v.shape) > 0:
                        if tuple(v.shape) != tuple(p.shape):
                            raise ValueError(f"load_state_dict: state '{k}' of parameter {i} has shape "
                                             f"{tuple(v.shape)}, the parameter has shape {tuple(p.shape)}")
                        # a copy cast to the parameter's dtype and device, like torch
                        v = tensor(v._data if isinstance(v, Tensor) else v, dtype=p.dtype, device=p.device)._data
                    elif hasattr(v, "item"):
                        v = float(v.item()) if hasattr(v, "ndim") else v
                    new[k] = v
                self.state[id(p)] = new

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in g if k != "params"):
                lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


class FusedOptimizer(Optimizer):
    """Base of the optimizers whose update is one fused C++ call per group (and dtype)."""

    _kind = ""           # the _C.optim_step kind
    _counts_steps = True  # keeps state['step'] (float) like torch
    _group_flags = ("keras",)

    def _slots(self, group):
        """Names of the state buffers passed as kernel slots 0..2 (None = unused slot)."""
        raise NotImplementedError

    def _options(self, group):
        """The options dict the kernel reads (names of OptimHyper in csrc/ops/optim_math.h)."""
        raise NotImplementedError

    def _initial_value(self, name, group):
        return 0.0

    def _state_for(self, p, group, slots):
        st = self.state.get(id(p))
        if st is None:
            st = self.state[id(p)] = {}
            if self._counts_steps:
                st["step"] = 0.0
            self._init_scalars(st, group)
        device = p._data.device
        for name in slots:
            if name is None:
                continue
            buf = st.get(name)
            if buf is None:  # on the parameter's device, like the parameter
                st[name] = _C.full(p.shape, float(self._initial_value(name, group)), p.dtype, device)
            elif buf.device != device:  # the model moved (Module.to) after the state was made
                st[name] = buf.to(device)
        return st

    def _init_scalars(self, st, group):
        pass

    def _extras(self, states):
        return []

    def _store_extras(self, states, extras):
        pass

    def _steps(self, states):
        for st in states:
            st["step"] = float(st["step"]) + 1.0
        return [st["step"] for st in states]

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            by_dtype = {}
            for p in group["params"]:
                if p.grad is not None:
                    if p.grad.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}: a gradient has shape {tuple(p.grad.shape)} "
                                         f"but its parameter has shape {tuple(p.shape)}")
                    by_dtype.setdefault(p.dtype, []).append(p)
            slots = self._slots(group)
            opts = self._options(group)
            if group.get("keras"):  # Keras 3's update rules (groups of dlcore.optimizers' optimizers)
                opts = {**opts, "keras": True}
            for ps in by_dtype.values():
                states = [self._state_for(p, group, slots) for p in ps]
                steps = self._steps(states)
                grads = []
                for p in ps:
                    g = p.grad._data
                    if g.dtype != p.dtype or not g.is_contiguous():
                        g = g.astype(p.dtype)
                    grads.append(g)
                state_lists = [[st[n] for st in states] if n is not None else [] for n in slots]
                extras = _C.optim_step(self._kind, opts, [p._data for p in ps], grads, state_lists,
                                       steps, self._extras(states))
                self._store_extras(states, extras)
        return loss


def _check(name, cond, msg):
    if not cond:
        raise ValueError(f"{name}: {msg}")
