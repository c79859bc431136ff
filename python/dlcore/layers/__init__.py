"""dlcore.layers: Keras-style layers over dlcore.nn modules, one file per family (the op family
names; core.py holds Dense, Activation, Flatten, Reshape, Lambda). Each layer is an nn.Module
that builds itself on its first input and can be called on symbolic tensors (dlcore.Input) to
build a functional dlcore.Model."""
from .base import Layer, get_activation
from .conv import Conv2D
from .core import Activation, Dense, Flatten, Lambda, Reshape
from .dropout import Dropout
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .norm import BatchNormalization
from .pool import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from .attention import Attention, MultiHeadAttention

__all__ = ["Layer", "get_activation", "Dense", "Activation", "Flatten", "Reshape", "Lambda", "Conv2D",
           "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "BatchNormalization", "Dropout",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "MultiHeadAttention", "Attention"]
