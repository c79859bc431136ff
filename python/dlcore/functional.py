"""dlcore.functional: every differentiable op as a function (PyTorch's torch.nn.functional
plus the tensor functions). Each op family adds its own import line below."""
from .tensor import (abs, cat, clip, clamp, cos, exp, expm1, flatten, gather, index_select, log,  # noqa: F401
                     log1p, matmul, maximum, minimum, one_hot, relu, sigmoid, sin, sqrt, stack,
                     tanh, where)
from .norm_ops import alpha_dropout, batch_norm, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout, group_norm, layer_norm  # noqa: F401
from .tensor import Tensor as _Tensor
from .nn.functional_activation import *  # noqa: F401,F403,E402  activations + softmax, and the losses

from .nn.linear import linear  # noqa: E402,F401
from .nn.functional_conv import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv_transpose2d, max_pool1d, max_pool2d)  # noqa: F401,E501
from .nn.embedding import embedding  # noqa: E402,F401
