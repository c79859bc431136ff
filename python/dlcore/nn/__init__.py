"""dlcore.nn: PyTorch-style modules. Each op family adds its modules' import line here."""
from . import init  # noqa: F401
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential  # noqa: F401
from .linear import Flatten, Identity, Linear, Reshape  # noqa: F401
from .activation import ReLU, Sigmoid, Tanh  # noqa: F401
from .normalization import (AlphaDropout, Add, Average, BatchNorm1d, BatchNorm2d, BatchNorm3d, Concatenate, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout, GroupNorm, LayerNorm, Maximum, Minimum, Multiply, Residual, Subtract)  # noqa: F401
from .. import functional  # noqa: F401
