"""dlcore.nn.functional (``import dlcore.nn.functional as F``): every differentiable op as a
function, PyTorch's torch.nn.functional names plus the tensor functions. This module only
gathers names: each function lives in its family's file (nn/<family>.py, or tensor.py for the
elementwise / reduce / shape / index functions)."""
from ..tensor import (abs, cat, clamp, clip, cos, exp, expm1, flatten, gather, index_select, log,  # noqa: F401
                      log1p, matmul, maximum, minimum, one_hot, pad, sin, sqrt, stack, where)
from .activation import (celu, elu, gelu, hard_sigmoid, hard_swish, hard_tanh, hardsigmoid, hardswish,  # noqa: F401
                         hardtanh, leaky_relu, log_sigmoid, log_softmax, logsigmoid, maxout, mish, prelu,
                         relu, relu6, selu, sigmoid, silu, softmax, softplus, softsign, swish, tanh)
from .attention import scaled_dot_product_attention  # noqa: F401
from .conv import conv1d, conv2d, conv_transpose2d  # noqa: F401
from .dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout  # noqa: F401
from .embedding import embedding  # noqa: F401
from .linear import linear  # noqa: F401
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_embedding_loss,  # noqa: F401
                   cosine_similarity, cross_entropy, hinge, hinge_embedding_loss, hinge_loss, huber_loss,
                   kl_div, l1_loss, mae_loss, mse_loss, multi_margin_loss, nll_loss, smooth_l1_loss,
                   squared_hinge, squared_hinge_loss)
from .norm import batch_norm, group_norm, instance_norm, layer_norm, rms_norm  # noqa: F401
from .reshaping import interpolate, pixel_shuffle, pixel_unshuffle, upsample  # noqa: F401
from .pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, max_pool1d,  # noqa: F401
                   max_pool2d)

__all__ = ["abs", "cat", "clamp", "clip", "cos", "exp", "expm1", "flatten", "gather",
           "index_select", "log", "log1p", "matmul", "maximum", "minimum", "one_hot", "pad", "sin",
           "sqrt", "stack", "where", "celu", "elu", "gelu", "hard_sigmoid", "hard_swish",
           "hard_tanh", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "log_sigmoid",
           "log_softmax", "logsigmoid", "maxout", "mish", "prelu", "relu", "relu6", "selu",
           "sigmoid", "silu", "softmax", "softplus", "softsign", "swish", "tanh", "conv1d",
           "conv2d", "conv_transpose2d", "alpha_dropout", "dropout", "dropout1d", "dropout2d",
           "dropout3d", "feature_alpha_dropout", "embedding", "linear", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cosine_similarity",
           "cross_entropy", "hinge", "hinge_embedding_loss", "hinge_loss", "huber_loss", "kl_div",
           "l1_loss", "mae_loss", "mse_loss", "multi_margin_loss", "nll_loss", "smooth_l1_loss",
           "squared_hinge", "squared_hinge_loss", "batch_norm", "group_norm", "instance_norm", "layer_norm", "rms_norm",
           "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "max_pool1d",
           "max_pool2d",
           "scaled_dot_product_attention", "interpolate", "pixel_shuffle", "pixel_unshuffle", "upsample"]
