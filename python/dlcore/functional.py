"""dlcore.functional: every differentiable op as a function (PyTorch's torch.nn.functional
plus the tensor functions). Each op family adds its own import line below."""
from .tensor import (abs, cat, clip, clamp, cos, exp, expm1, flatten, gather, index_select, log,  # noqa: F401
                     log1p, matmul, maximum, minimum, one_hot, relu, sigmoid, sin, sqrt, stack,
                     tanh, where)
from .norm_ops import alpha_dropout, batch_norm, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout, group_norm, layer_norm  # noqa: F401
from .tensor import Tensor as _Tensor
from .nn.functional_activation import *  # noqa: F401,F403,E402  activations + softmax, and the losses


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, with weight (out_features, in_features) as in PyTorch: one GEMM
    with the bias fused into its epilogue."""
    from . import ops
    from .tensor import _t
    x, weight = _t(x), _t(weight)
    if x.dtype != weight.dtype or (bias is not None and _t(bias).dtype != x.dtype):
        raise TypeError(f"linear: x ({x.dtype}), weight ({weight.dtype}) and bias must share a dtype")
    return ops.Linear.apply(x, weight, _t(bias) if bias is not None else None)
from .nn.functional_conv import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv_transpose2d, max_pool1d, max_pool2d)  # noqa: F401,E501
from .nn.embedding import embedding  # noqa: E402,F401
