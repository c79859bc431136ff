"""Weight regularizers (penalties added to the loss) and weight constraints (applied after
the optimizer step), Keras-style, for dlcore modules.

Penalties (callable on a weight tensor, return a differentiable scalar Tensor):
    L1(l1=0.01)          l1 * sum(|w|)
    L2(l2=0.01)          l2 * sum(w^2)      (Keras' convention: no factor 1/2)
    L1L2(l1=0.0, l2=0.0) both

Attach them to a module's parameter and add them to the loss:
    attach(model.fc1, "weight", L2(1e-4))
    loss = criterion(model(x), y) + regularization_loss(model)

Constraints (applied in place, outside autograd, usually right after optimizer.step()):
    MaxNorm(max_value=2.0, axis=None)  rescales each output unit's weight vector so that its
        L2 norm is at most max_value. axis=None means "every dim but 0", i.e. the incoming
        weights of one output unit in dlcore's (out, in, *kernel) layout (Keras' MaxNorm on a
        (in, out) kernel uses axis=0 for the same thing). w *= clip(n, 0, max) / (1e-7 + n).
    NonNeg()                           w = max(w, 0)
    constrain(model.fc1, "weight", MaxNorm(3.0)); ...; optimizer.step(); apply_constraints(model)
"""
from __future__ import annotations

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["Regularizer", "L1L2", "L1", "L2", "l1", "l2", "l1_l2", "attach", "detach",
           "regularization_loss", "Constraint", "MaxNorm", "NonNeg", "max_norm", "non_neg",
           "constrain", "apply_constraints"]


class Regularizer:
    def __call__(self, w):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return dict(self.__dict__)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"{type(self).__name__}: factors must be non-negative, got l1={l1}, l2={l2}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w):
        if not isinstance(w, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(w).__name__}")
        out = None
        if self.l1:
            out = w.abs().sum() * self.l1
        if self.l2:
            t = (w * w).sum() * self.l2
            out = t if out is None else out + t
        if out is None:
            out = (w * 0.0).sum()
        return out

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def __repr__(self):
        return f"L1({self.l1})"


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def __repr__(self):
        return f"L2({self.l2})"


# Keras names
l1, l2, l1_l2 = L1, L2, L1L2


def _table(module, key):
    d = module.__dict__.get(key)
    if d is None:
        d = {}
        object.__setattr__(module, key, d)
    return d


def _param(module, name, who):
    p = getattr(module, name, None)
    if not isinstance(p, Tensor):
        raise ValueError(f"{who}: {type(module).__name__} has no tensor parameter '{name}'")
    return p


def attach(module, name, regularizer):
    """Registers `regularizer` on module.<name>; regularization_loss(model) then includes it.
    Attaching again to the same name replaces the previous regularizer. Returns the module."""
    if not callable(regularizer):
        raise TypeError(f"attach: regularizer must be callable, got {type(regularizer).__name__}")
    _param(module, name, "attach")
    _table(module, "_dlcore_regularizers")[name] = regularizer
    return module


def detach(module, name):
    _table(module, "_dlcore_regularizers").pop(name, None)
    return module


def regularization_loss(model):
    """Sum of every attached penalty in model (and its submodules), a differentiable scalar
    Tensor; a 0-d zero tensor when nothing is attached."""
    total = None
    for m in model.modules():
        for name, reg in m.__dict__.get("_dlcore_regularizers", {}).items():
            p = getattr(m, name, None)
            if p is None:
                continue
            v = reg(p)
            total = v if total is None else total + v
    return total if total is not None else Tensor(0.0)


class Constraint:
    def __call__(self, w):  # pragma: no cover - abstract
        raise NotImplementedError


class MaxNorm(Constraint):
    def __init__(self, max_value=2.0, axis=None):
        if max_value <= 0:
            raise ValueError(f"MaxNorm: max_value must be positive, got {max_value}")
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        axes = tuple(range(1, w.ndim)) if self.axis is None else self.axis
        if w.ndim == 1 and self.axis is None:
            axes = (0,)
        norms = (w * w).sum(axes, keepdim=True).sqrt()
        desired = norms.clip(0.0, self.max_value)
        return w * (desired / (norms + 1e-7))


class NonNeg(Constraint):
    def __call__(self, w):
        return w.clip(0.0, None)


max_norm, non_neg = MaxNorm, NonNeg


def constrain(module, name, constraint):
    """Registers a constraint on module.<name>; apply_constraints(model) enforces it."""
    if not callable(constraint):
        raise TypeError(f"constrain: constraint must be callable, got {type(constraint).__name__}")
    _param(module, name, "constrain")
    _table(module, "_dlcore_constraints")[name] = constraint
    return module


def apply_constraints(model):
    """Applies every registered constraint in place (call after optimizer.step())."""
    with no_grad():
        for m in model.modules():
            for name, c in m.__dict__.get("_dlcore_constraints", {}).items():
                p = getattr(m, name, None)
                if p is not None:
                    p.copy_(c(p.detach()))
    return model
