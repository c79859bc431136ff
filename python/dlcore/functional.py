"""dlcore.functional: every differentiable op as a function (PyTorch's torch.nn.functional
plus the tensor functions). Each op family adds its own import line below."""
from .tensor import (abs, cat, clip, clamp, cos, exp, expm1, flatten, gather, index_select, log,  # noqa: F401
                     log1p, matmul, maximum, minimum, one_hot, relu, sigmoid, sin, sqrt, stack,
                     tanh, where)
from .tensor import Tensor as _Tensor


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, with weight (out_features, in_features) as in PyTorch."""
    y = matmul(x, weight.mT)
    return y + bias if bias is not None else y
from .nn.embedding import embedding  # noqa: E402,F401
