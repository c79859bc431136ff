"""Keras-style pooling layers: MaxPooling1D/2D, AveragePooling1D/2D (on the pool Functions via
nn.functional's max_pool2d / avg_pool2d), GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D.
Channels-last input by default (data_format="channels_last": (N, L, C) / (N, H, W, C)), or
"channels_first". padding 'same' is Keras's: ceil(size / strides) outputs, the odd extra pad at
the bottom / right; max pooling never picks a pad, average pooling counts only real inputs."""
from __future__ import annotations

from ..autograd import no_grad
from ..nn.pool import avg_pool2d, max_pool2d
from .._ops import conv as _conv_ops
from .._ops._args import integer, ntuple
from ..tensor import amax, ones, pad
from .base import Layer, data_format_arg, from_channels_first, image_input

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"]


class _Pooling(Layer):
    _rank = 2
    _max = True

    def __init__(self, pool_size, strides, padding, data_format, name):
        super().__init__(name)
        cls, n = type(self).__name__, self._rank
        self.pool_size = ntuple(pool_size, n, cls, "pool_size")
        self.strides = ntuple(strides, n, cls, "strides") if strides is not None else self.pool_size
        for arg, v in (("pool_size", self.pool_size), ("strides", self.strides)):
            if any(e < 1 for e in v):
                raise ValueError(f"{cls}: {arg} must be positive, got {v}")
        if isinstance(padding, str):
            if padding.lower() not in ("valid", "same"):
                raise ValueError(f"{cls}: padding must be 'valid' or 'same', got {padding!r}")
            padding = padding.lower()
        else:  # an int pads symmetrically, as PyTorch's pooling does (a dlcore extension)
            padding = integer(padding, cls, "padding", 0)
        self.padding = padding
        self.data_format = data_format_arg(data_format, cls)
        self.built = True

    def forward(self, x):
        x = image_input(self, x, self._rank)
        if self._rank == 1:
            x = x.unsqueeze(2)
        k, s = (1,) * (2 - self._rank) + self.pool_size, (1,) * (2 - self._rank) + self.strides
        if self.padding == "valid":
            y = self._pool(x, k, s, 0)
        elif self.padding != "same":
            y = self._pool(x, k, s, self.padding)
        else:
            pads = [_conv_ops.same_padding(n, kk, ss) for n, kk, ss in zip(x.shape[2:], k, s)]
            if all(lo == hi and lo <= kk // 2 for (lo, hi), kk in zip(pads, k)):
                # symmetric: the pool kernels pad themselves, ignoring pads as Keras does
                y = self._pool(x, k, s, tuple(lo for lo, _ in pads))
            else:
                y = self._pool_padded(x, k, s, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        if self._rank == 1:
            y = y.squeeze(2)
        return from_channels_first(y, self.data_format)

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class _MaxPool(_Pooling):
    def _pool(self, x, k, s, p):
        return max_pool2d(x, k, s, p)

    def _pool_padded(self, x, k, s, pads):
        return max_pool2d(pad(x, pads, value=float("-inf")), k, s)


class _AvgPool(_Pooling):
    def _pool(self, x, k, s, p):
        # 'same' (Keras) averages only real inputs; an int padding is PyTorch's, which counts pads
        return avg_pool2d(x, k, s, p, count_include_pad=isinstance(self.padding, int))

    def _pool_padded(self, x, k, s, pads):
        # sum over the real inputs of each window / their count
        with no_grad():
            count = avg_pool2d(pad(ones(1, 1, *x.shape[2:], dtype=x.dtype, device=x.device), pads), k, s)
        return avg_pool2d(pad(x, pads), k, s) / count


class MaxPooling2D(_MaxPool):
    """Max over pool_size windows (default 2x2; strides default pool_size) of (N, H, W, C)
    (channels_last, the default) or (N, C, H, W). padding 'valid' or 'same'."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None):
        super().__init__(pool_size, strides, padding, data_format, name)


class AveragePooling2D(_AvgPool):
    """Mean over pool_size windows (default 2x2; strides default pool_size) of (N, H, W, C)
    (channels_last, the default) or (N, C, H, W); with padding 'same' a border window averages
    only the inputs it covers, as Keras does."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None):
        super().__init__(pool_size, strides, padding, data_format, name)


class MaxPooling1D(_MaxPool):
    """Max over pool_size windows (default 2; strides default pool_size) of (N, L, C)
    (channels_last, the default) or (N, C, L). padding 'valid' or 'same'."""

    _rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None):
        super().__init__(pool_size, strides, padding, data_format, name)


class AveragePooling1D(_AvgPool):
    """Mean over pool_size windows (default 2; strides default pool_size) of (N, L, C)
    (channels_last, the default) or (N, C, L); 'same' windows average only real inputs."""

    _rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None):
        super().__init__(pool_size, strides, padding, data_format, name)


class _GlobalPooling(Layer):
    _rank = 2

    def __init__(self, data_format=None, keepdims=False, name=None):
        super().__init__(name)
        self.data_format = data_format_arg(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.built = True

    def forward(self, x):
        image_input(self, x, self._rank)
        first = 2 if self.data_format == "channels_first" else 1
        return self._reduce(x, tuple(range(first, first + self._rank)), self.keepdims)

    def get_config(self):
        return {"name": self.name, "data_format": self.data_format, "keepdims": self.keepdims}


class _GlobalAvg(_GlobalPooling):
    @staticmethod
    def _reduce(x, dims, keepdims):
        return x.mean(dims, keepdim=keepdims)


class _GlobalMax(_GlobalPooling):
    @staticmethod
    def _reduce(x, dims, keepdims):
        return amax(x, dims, keepdim=keepdims)


class GlobalAveragePooling2D(_GlobalAvg):
    """Mean over H and W: (N, H, W, C) (channels_last, the default) or (N, C, H, W) -> (N, C);
    keepdims=True keeps the pooled dims with size 1."""


class GlobalMaxPooling2D(_GlobalMax):
    """Max over H and W: (N, H, W, C) (channels_last, the default) or (N, C, H, W) -> (N, C);
    keepdims=True keeps the pooled dims with size 1."""


class GlobalAveragePooling1D(_GlobalAvg):
    """Mean over the steps: (N, L, C) (channels_last, the default) or (N, C, L) -> (N, C);
    keepdims=True keeps the pooled dim with size 1."""

    _rank = 1


class GlobalMaxPooling1D(_GlobalMax):
    """Max over the steps: (N, L, C) (channels_last, the default) or (N, C, L) -> (N, C);
    keepdims=True keeps the pooled dim with size 1."""

    _rank = 1
