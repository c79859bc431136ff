"""dlcore.nn: PyTorch-style modules, one file per op family (nn/<family>.py holds the family's
functional forms and its modules), and dlcore.nn.functional, the namespace of the functions."""
from . import init  # noqa: F401
from .module import (Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential,  # noqa: F401
                     eval_mode)
from .conv import Conv1d, Conv2d, ConvTranspose2d  # noqa: F401
from .pool import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, GlobalAveragePooling2D,  # noqa: F401
                   GlobalAvgPool2d, GlobalMaxPool2d, GlobalMaxPooling2D, MaxPool1d, MaxPool2d)
from .linear import Flatten, Identity, Linear, Reshape  # noqa: F401
from .activation import (CELU, ELU, GELU, SELU, HardSigmoid, Hardsigmoid, HardSwish, Hardswish, HardTanh,  # noqa: F401
                         Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Maxout, Mish, PReLU, ReLU, ReLU6,
                         Sigmoid, SiLU, Softmax, Softplus, Softsign, Swish, Tanh)
from .loss import (BCELoss, BCEWithLogitsLoss, BinaryCrossentropy, CosineEmbeddingLoss, CosineSimilarity,  # noqa: F401
                   CrossEntropyLoss, HingeEmbeddingLoss, HingeLoss, Huber, HuberLoss, KLDivergence, KLDivLoss,
                   L1Loss, MAELoss, MeanAbsoluteError, MeanSquaredError, MSELoss, MultiMarginLoss, NLLLoss,
                   SmoothL1Loss, SquaredHingeLoss)
from .norm import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,  # noqa: F401
                   LayerNorm, RMSNorm)
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout  # noqa: F401
from . import functional  # noqa: F401
from . import regularizers, utils  # noqa: F401  (optim family: clipping, regularizers)
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .reshaping import PixelShuffle, PixelUnshuffle, Upsample  # noqa: F401
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,  # noqa: F401
                          TransformerEncoder, TransformerEncoderLayer)

__all__ = ["init", "Module", "ModuleDict", "ModuleList", "Parameter", "ParameterDict", "ParameterList",
           "Sequential", "eval_mode",
           "Conv1d", "Conv2d", "ConvTranspose2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
           "AvgPool1d", "AvgPool2d", "GlobalAveragePooling2D", "GlobalAvgPool2d",
           "GlobalMaxPool2d", "GlobalMaxPooling2D", "MaxPool1d", "MaxPool2d", "Flatten",
           "Identity", "Linear", "Reshape", "CELU", "ELU", "GELU", "SELU", "HardSigmoid",
           "Hardsigmoid", "HardSwish", "Hardswish", "HardTanh", "Hardtanh", "LeakyReLU",
           "LogSigmoid", "LogSoftmax", "Maxout", "Mish", "PReLU", "ReLU", "ReLU6", "Sigmoid",
           "SiLU", "Softmax", "Softplus", "Softsign", "Swish", "Tanh", "BCELoss",
           "BCEWithLogitsLoss", "BinaryCrossentropy", "CosineEmbeddingLoss", "CosineSimilarity",
           "CrossEntropyLoss", "HingeEmbeddingLoss", "HingeLoss", "Huber", "HuberLoss",
           "KLDivergence", "KLDivLoss", "L1Loss", "MAELoss", "MeanAbsoluteError",
           "MeanSquaredError", "MSELoss", "MultiMarginLoss", "NLLLoss", "SmoothL1Loss",
           "SquaredHingeLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm",
           "LayerNorm", "InstanceNorm1d", "InstanceNorm2d", "RMSNorm", "AlphaDropout", "Dropout",
           "Dropout1d", "Dropout2d", "Dropout3d",
           "FeatureAlphaDropout", "functional", "regularizers", "utils", "GRU", "GRUCell", "LSTM",
           "LSTMCell", "RNN", "RNNBase", "RNNCell", "Embedding",
           "MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerEncoderLayer", "PixelShuffle", "PixelUnshuffle", "Upsample"]
