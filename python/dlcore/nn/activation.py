"""Activation family: the functions (PyTorch's torch.nn.functional names and defaults, plus
Keras aliases) and the modules (PyTorch names; Keras-style aliases where Keras users look).
Every function is one fused C++ kernel forward and one fused kernel backward (_ops/activation.py:
dlcore._C.act_forward / act_backward, softmax, prelu, maxout); no NumPy math here.

``inplace=True`` writes the result into the input and returns the input, recorded in the graph
as PyTorch records in-place ops (Tensor._inplace): a leaf that requires grad is refused, and a
backward that saved the input's old value raises.
"""
from __future__ import annotations


from .. import _C
from .._ops import _args
from .._ops import activation as _ops
from ..dtype import float32
from ..tensor import Tensor, _float, full, tensor
from ..tensor import _softmax as _softmax_along
from .module import Module, Parameter

__all__ = ["sigmoid", "tanh", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu",
           "swish", "mish", "softplus", "softsign", "hardsigmoid", "hardswish", "hardtanh",
           "logsigmoid", "hard_sigmoid", "hard_swish", "hard_tanh", "log_sigmoid", "prelu",
           "softmax", "log_softmax", "maxout", "ReLU", "ReLU6", "Sigmoid", "Tanh", "SELU", "SiLU",
           "Mish", "Hardsigmoid", "Hardswish", "Softsign", "LogSigmoid", "LeakyReLU", "ELU",
           "CELU", "GELU", "Swish", "Softplus", "Hardtanh", "PReLU", "Softmax", "LogSoftmax",
           "Maxout", "HardSigmoid", "HardSwish", "HardTanh"]

A = _C.Act


# ---- functions ---------------------------------------------------------------------------------

def _act(x, op, name, p0=0.0, p1=0.0, inplace=False):
    if type(p0) is not float:  # (the defaults are floats: no per-call cost for them)
        p0 = _args.real(p0, name, "parameter")
    if type(p1) is not float:
        p1 = _args.real(p1, name, "parameter")
    y = _ops.Activation.apply(_float(x, name), op, p0, p1)
    return x._inplace(f"{name}(inplace=True)", y) if inplace else y


def sigmoid(input):
    return _act(input, A.sigmoid, "sigmoid")


def tanh(input):
    return _act(input, A.tanh, "tanh")


def relu(input, inplace=False):
    return _act(input, A.relu, "relu", inplace=inplace)


def relu6(input, inplace=False):
    return _act(input, A.relu6, "relu6", inplace=inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _act(input, A.leaky_relu, "leaky_relu", negative_slope, inplace=inplace)


def elu(input, alpha=1.0, inplace=False):
    return _act(input, A.elu, "elu", alpha, inplace=inplace)


def selu(input, inplace=False):
    return _act(input, A.selu, "selu", inplace=inplace)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError in the formula)")
    return _act(input, A.celu, "celu", alpha, inplace=inplace)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act(input, A.gelu if approximate == "none" else A.gelu_tanh, "gelu")


def silu(input, inplace=False):
    return _act(input, A.silu, "silu", 1.0, inplace=inplace)


def swish(input, beta=1.0):
    """x * sigmoid(beta * x) (Keras 'swish'; beta=1 is SiLU). For a learnable beta use
    dlcore.nn.Swish(learnable=True)."""
    if isinstance(beta, Tensor):
        x = _float(input, "swish")
        return x * sigmoid(x * beta)
    return _act(input, A.silu, "swish", beta)


def mish(input, inplace=False):
    return _act(input, A.mish, "mish", inplace=inplace)


def softplus(input, beta=1.0, threshold=20.0):
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return _act(input, A.softplus, "softplus", beta, threshold)


def softsign(input):
    return _act(input, A.softsign, "softsign")


def hardsigmoid(input, inplace=False):
    return _act(input, A.hard_sigmoid, "hardsigmoid", inplace=inplace)


def hardswish(input, inplace=False):
    return _act(input, A.hard_swish, "hardswish", inplace=inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    min_val, max_val = _args.real(min_val, "hardtanh", "min_val"), _args.real(max_val, "hardtanh", "max_val")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _act(input, A.hard_tanh, "hardtanh", min_val, max_val, inplace=inplace)


def logsigmoid(input):
    return _act(input, A.log_sigmoid, "logsigmoid")


hard_sigmoid = hardsigmoid
hard_swish = hardswish
hard_tanh = hardtanh
log_sigmoid = logsigmoid


def prelu(input, weight):
    x = _float(input, "prelu")
    if not isinstance(weight, Tensor):
        weight = tensor(weight, dtype=x.dtype)
    if weight.ndim == 0:
        weight = weight.reshape(1)
    return _ops.Prelu.apply(x, weight)


def _softmax_dim(ndim, name):
    # PyTorch's legacy implicit choice when dim is None
    return 0 if ndim in (0, 1, 3) else 1


def _softmax(input, dim, dtype, log, name):
    if dim is None:
        dim = _softmax_dim(_float(input, name).ndim, name)
    return _softmax_along(input, dim, dtype, log, name)


def softmax(input, dim=None, dtype=None):
    """exp(x - max) / sum exp(x - max) along dim (stable for inputs of any magnitude)."""
    return _softmax(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, dtype=None):
    return _softmax(input, dim, dtype, True, "log_softmax")


def maxout(input, pieces, dim=1):
    """Max over groups of `pieces` consecutive channels of dim: (N, C*pieces, ...) -> (N, C, ...)."""
    x = _float(input, "maxout")
    return _ops.Maxout.apply(x, _args.integer(pieces, "maxout", "pieces", 1), _args.dim(dim, x.ndim, "maxout", x.shape))


# ---- modules -----------------------------------------------------------------------------------

class _Simple(Module):
    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Simple):
    _fn = staticmethod(relu)


class ReLU6(_Simple):
    _fn = staticmethod(relu6)


class Sigmoid(Module):
    def forward(self, input):
        return sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return tanh(input)


class SELU(_Simple):
    _fn = staticmethod(selu)


class SiLU(_Simple):
    _fn = staticmethod(silu)


class Mish(_Simple):
    _fn = staticmethod(mish)


class Hardsigmoid(_Simple):
    _fn = staticmethod(hardsigmoid)


class Hardswish(_Simple):
    _fn = staticmethod(hardswish)


class Softsign(Module):
    def forward(self, input):
        return softsign(input)


class LogSigmoid(Module):
    def forward(self, input):
        return logsigmoid(input)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(ELU):
    def forward(self, input):
        return celu(input, self.alpha)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Swish(Module):
    """x * sigmoid(beta x). beta fixed (default 1 = SiLU) or a learnable scalar Parameter."""

    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        if learnable:
            self.beta = Parameter(tensor([beta], dtype=float32))
        else:
            self.beta = float(beta)

    def forward(self, input):
        return swish(input, self.beta)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        min_val, max_val = _args.real(min_val, "Hardtanh", "min_val"), _args.real(max_val, "Hardtanh", "max_val")
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class PReLU(Module):
    """y = x > 0 ? x : a x with a learnable a: one shared (num_parameters=1) or one per channel
    (dim 1). Initialised to `init` like PyTorch."""

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        self.num_parameters = _args.integer(num_parameters, "PReLU", "num_parameters", 1)
        self.init = init
        self.weight = Parameter(full((self.num_parameters,), float(init), dtype=dtype))

    def reset_parameters(self):
        self.weight._data[...] = self.init

    def forward(self, input):
        return prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):
        return log_softmax(input, self.dim)


class Maxout(Module):
    """Max over groups of `pieces` consecutive channels of `dim` (default 1):
    (N, C * pieces, ...) -> (N, C, ...). Put a Linear / Conv with C * pieces outputs before it."""

    def __init__(self, pieces, dim=1):
        super().__init__()
        self.pieces = _args.integer(pieces, "Maxout", "pieces", 1)
        self.dim = _args.integer(dim, "Maxout", "dim")

    def forward(self, input):
        return maxout(input, self.pieces, self.dim)

    def extra_repr(self):
        return f"pieces={self.pieces}, dim={self.dim}"


# Keras-style aliases
HardSigmoid = Hardsigmoid
HardSwish = Hardswish
HardTanh = Hardtanh
