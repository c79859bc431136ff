"""Activations as differentiable functions (PyTorch's torch.nn.functional names and defaults,
plus Keras aliases). Each is one fused C++ kernel forward and one fused kernel backward
(dlcore._C.act_forward / act_backward, softmax, prelu, maxout); no NumPy math here.

``inplace=True`` is accepted for PyTorch compatibility and returns a new tensor.
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..ops.activation import Activation, LogSoftmax, Maxout, Prelu, Softmax
from ..tensor import Tensor, _float

A = _C.Act

__all__ = ["sigmoid", "tanh", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu",
           "swish", "mish", "softplus", "softsign", "hardsigmoid", "hard_sigmoid", "hardswish",
           "hard_swish", "hardtanh", "hard_tanh", "logsigmoid", "log_sigmoid", "prelu", "softmax",
           "log_softmax", "maxout"]


def _act(x, op, name, p0=0.0, p1=0.0):
    return Activation.apply(_float(x, name), op, float(p0), float(p1))


def sigmoid(input):
    return _act(input, A.sigmoid, "sigmoid")


def tanh(input):
    return _act(input, A.tanh, "tanh")


def relu(input, inplace=False):
    return _act(input, A.relu, "relu")


def relu6(input, inplace=False):
    return _act(input, A.relu6, "relu6")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _act(input, A.leaky_relu, "leaky_relu", negative_slope)


def elu(input, alpha=1.0, inplace=False):
    return _act(input, A.elu, "elu", alpha)


def selu(input, inplace=False):
    return _act(input, A.selu, "selu")


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError in the formula)")
    return _act(input, A.celu, "celu", alpha)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act(input, A.gelu if approximate == "none" else A.gelu_tanh, "gelu")


def silu(input, inplace=False):
    return _act(input, A.silu, "silu", 1.0)


def swish(input, beta=1.0):
    """x * sigmoid(beta * x) (Keras 'swish'; beta=1 is SiLU). For a learnable beta use
    dlcore.nn.Swish(learnable=True)."""
    if isinstance(beta, Tensor):
        x = _float(input, "swish")
        return x * sigmoid(x * beta)
    return _act(input, A.silu, "swish", beta)


def mish(input, inplace=False):
    return _act(input, A.mish, "mish")


def softplus(input, beta=1.0, threshold=20.0):
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return _act(input, A.softplus, "softplus", beta, threshold)


def softsign(input):
    return _act(input, A.softsign, "softsign")


def hardsigmoid(input, inplace=False):
    return _act(input, A.hard_sigmoid, "hardsigmoid")


def hardswish(input, inplace=False):
    return _act(input, A.hard_swish, "hardswish")


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _act(input, A.hard_tanh, "hardtanh", min_val, max_val)


def logsigmoid(input):
    return _act(input, A.log_sigmoid, "logsigmoid")


hard_sigmoid = hardsigmoid
hard_swish = hardswish
hard_tanh = hardtanh
log_sigmoid = logsigmoid


def prelu(input, weight):
    x = _float(input, "prelu")
    if not isinstance(weight, Tensor):
        weight = Tensor(np.asarray(weight, dtype=x.dtype))
    if weight.ndim == 0:
        weight = weight.reshape(1)
    return Prelu.apply(x, weight)


def _softmax_dim(ndim, name):
    # PyTorch's legacy implicit choice when dim is None
    return 0 if ndim in (0, 1, 3) else 1


def _softmax(input, dim, dtype, log, name):
    x = _float(input, name)
    if dtype is not None:
        x = x.to(dtype=dtype)
    if dim is None:
        dim = _softmax_dim(x.ndim, name)
    return (LogSoftmax if log else Softmax).apply(x, int(dim))


def softmax(input, dim=None, dtype=None):
    """exp(x - max) / sum exp(x - max) along dim (stable for inputs of any magnitude)."""
    return _softmax(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, dtype=None):
    return _softmax(input, dim, dtype, True, "log_softmax")


def maxout(input, pieces, dim=1):
    """Max over groups of `pieces` consecutive channels of dim: (N, C*pieces, ...) -> (N, C, ...)."""
    return Maxout.apply(_float(input, "maxout"), int(pieces), int(dim))


# dlcore.functional imports this module with one line; the loss functions ride along.
from .functional_loss import *  # noqa: F401,F403,E402
from . import functional_loss as _fl  # noqa: E402

__all__ = __all__ + list(_fl.__all__)
