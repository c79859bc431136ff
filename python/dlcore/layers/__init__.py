"""dlcore.layers: Keras-style layers over dlcore.nn modules, one file per family (the op family
names; core.py holds Dense, Activation, Flatten, Reshape, Lambda; reshaping.py UpSampling2D,
ZeroPadding2D, Cropping2D). Image layers take Keras's channels-last layout by default. Each
layer is an nn.Module that builds itself on its first input and can be called on symbolic
tensors (dlcore.Input) to build a functional dlcore.Model."""
from .base import Layer, get_activation, get_initializer
from .conv import Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .core import Activation, Dense, Flatten, Lambda, Reshape
from .dropout import Dropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .norm import BatchNormalization, GroupNormalization, LayerNormalization
from .pool import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                   GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from .attention import Attention, MultiHeadAttention
from .activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .embedding import Embedding, Masking
from .recurrent import GRU, LSTM, SimpleRNN
from .wrappers import Bidirectional, Permute, RepeatVector, TimeDistributed
from ..graph import Input

__all__ = ["Layer", "get_activation", "Dense", "Activation", "Flatten", "Reshape", "Lambda", "Conv2D",
           "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "BatchNormalization", "Dropout",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           # issue 14, Keras side: sequences, activations, noise, normalization
           "Input", "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
           "RepeatVector", "Permute", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "GaussianNoise",
           "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D", "LayerNormalization",
           "GroupNormalization",
           # image layers (keras-image)
           "get_initializer", "Conv1D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D",
           "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "UpSampling2D", "ZeroPadding2D", "Cropping2D",
           "MultiHeadAttention", "Attention"]
