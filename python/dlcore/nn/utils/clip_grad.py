"""dlcore.nn.utils.clip_grad: gradient clipping (torch.nn.utils names and semantics).

clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False) -> total norm
    The norm of all gradients together (as if concatenated into one vector), computed by one
    C++ kernel over all grads (double accumulation in fixed blocks: the same result for any
    thread count). Every gradient is then multiplied by min(1, max_norm / (total + 1e-6)).
clip_grad_value_(parameters, clip_value)
    Clamps every gradient element into [-clip_value, clip_value] in place.
The norm is a host value, so a step replayed by dlcore.compile runs these functions again as
Python (autograd.replayed_as_python).
"""
from __future__ import annotations

import math

from ... import _C
from ...autograd import replayed_as_python
from ...tensor import Tensor

__all__ = ["get_total_norm", "clip_grads_with_norm_", "clip_grad_norm_", "clip_grad_value_"]


def _params(parameters, op):
    """parameters (a Tensor, or any iterable of Tensors: a list, model.parameters()'s
    generator...) as a list, read once: a generator is consumed by its first pass."""
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        ps = list(parameters)
    except TypeError:
        raise TypeError(f"{op}: parameters must be a Tensor or an iterable of Tensors, got "
                        f"{type(parameters).__name__}") from None
    ps = [p for p in ps if p is not None]
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameters must be Tensors, got a {type(p).__name__}")
    return ps


def _grads(ps):
    return [p.grad for p in ps if p.grad is not None]


def _by_dtype(grads):
    out = {}
    for g in grads:
        out.setdefault(g.dtype, []).append(g._data)
    return out


@replayed_as_python
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """Norm of the given tensors taken together (torch.nn.utils.get_total_norm)."""
    tensors = _params(tensors, "get_total_norm")
    norm_type = float(norm_type)
    groups = _by_dtype(tensors)
    if not groups:
        return Tensor(0.0)
    if math.isinf(norm_type):
        vals = [_C.multi_norm_power(ts, math.inf) for ts in groups.values()]
        total = math.nan if any(math.isnan(v) for v in vals) else max(vals)
    else:
        s = sum(_C.multi_norm_power(ts, norm_type) for ts in groups.values())
        total = s ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
                           "by the non-finite norm anyway, set `error_if_nonfinite=False`")
    dtype = next(iter(groups)) if len(groups) == 1 else None
    return Tensor(total, dtype=dtype)


@replayed_as_python
def clip_grads_with_norm_(parameters, max_norm, total_norm):
    """Scales the gradients by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(_params(parameters, "clip_grads_with_norm_"))
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    coef = min(coef, 1.0) if not math.isnan(coef) else coef
    for ts in _by_dtype(grads).values():
        _C.multi_scale(ts, coef)


@replayed_as_python
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Clips the gradients' global norm to max_norm in place; returns the norm before clipping.
    ``parameters`` may be a generator (model.parameters()): it is read once."""
    ps = _params(parameters, "clip_grad_norm_")
    grads = _grads(ps)
    if not grads:
        return Tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(ps, max_norm, total)
    return total


@replayed_as_python
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element into [-clip_value, clip_value] in place."""
    v = float(clip_value)
    if v < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for ts in _by_dtype(_grads(_params(parameters, "clip_grad_value_"))).values():
        _C.multi_clamp(ts, -v, v)
