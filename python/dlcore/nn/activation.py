"""Activation modules (PyTorch names and defaults; Keras-style aliases where Keras users look).
Each calls one fused kernel forward and one backward (nn/functional_activation.py)."""
import numpy as np

from ..tensor import Tensor, full
from . import functional_activation as FA
from .module import Module, Parameter


class _Simple(Module):
    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Simple):
    _fn = staticmethod(FA.relu)


class ReLU6(_Simple):
    _fn = staticmethod(FA.relu6)


class Sigmoid(Module):
    def forward(self, input):
        return FA.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return FA.tanh(input)


class SELU(_Simple):
    _fn = staticmethod(FA.selu)


class SiLU(_Simple):
    _fn = staticmethod(FA.silu)


class Mish(_Simple):
    _fn = staticmethod(FA.mish)


class Hardsigmoid(_Simple):
    _fn = staticmethod(FA.hardsigmoid)


class Hardswish(_Simple):
    _fn = staticmethod(FA.hardswish)


class Softsign(Module):
    def forward(self, input):
        return FA.softsign(input)


class LogSigmoid(Module):
    def forward(self, input):
        return FA.logsigmoid(input)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return FA.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return FA.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(ELU):
    def forward(self, input):
        return FA.celu(input, self.alpha)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return FA.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Swish(Module):
    """x * sigmoid(beta x). beta fixed (default 1 = SiLU) or a learnable scalar Parameter."""

    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        if learnable:
            self.beta = Parameter(np.asarray([beta], dtype=np.float32))
        else:
            self.beta = float(beta)

    def forward(self, input):
        return FA.swish(input, self.beta)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return FA.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return FA.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class PReLU(Module):
    """y = x > 0 ? x : a x with a learnable a: one shared (num_parameters=1) or one per channel
    (dim 1). Initialised to `init` like PyTorch."""

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.num_parameters = int(num_parameters)
        self.init = init
        self.weight = Parameter(full((self.num_parameters,), float(init), dtype=dtype))

    def reset_parameters(self):
        self.weight._data[...] = self.init

    def forward(self, input):
        return FA.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return FA.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):
        return FA.log_softmax(input, self.dim)


class Maxout(Module):
    """Max over groups of `pieces` consecutive channels of `dim` (default 1):
    (N, C * pieces, ...) -> (N, C, ...). Put a Linear / Conv with C * pieces outputs before it."""

    def __init__(self, pieces, dim=1):
        super().__init__()
        if int(pieces) < 1:
            raise ValueError(f"Maxout: pieces must be >= 1, got {pieces}")
        self.pieces, self.dim = int(pieces), int(dim)

    def forward(self, input):
        return FA.maxout(input, self.pieces, self.dim)

    def extra_repr(self):
        return f"pieces={self.pieces}, dim={self.dim}"


# Keras-style aliases
HardSigmoid = Hardsigmoid
HardSwish = Hardswish
HardTanh = Hardtanh

__all__ = ['ReLU', 'ReLU6', 'Sigmoid', 'Tanh', 'SELU', 'SiLU', 'Mish', 'Hardsigmoid', 'Hardswish', 'Softsign', 'LogSigmoid', 'LeakyReLU', 'ELU', 'CELU', 'GELU', 'Swish', 'Softplus', 'Hardtanh', 'PReLU', 'Softmax', 'LogSoftmax', 'Maxout', 'HardSigmoid', 'HardSwish', 'HardTanh']
