"""Pool family: the functions max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool2d,
adaptive_max_pool2d (PyTorch's torch.nn.functional names and semantics) and the modules
MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, and the Keras-named
GlobalAveragePooling2D / GlobalMaxPooling2D (on NCHW input, output (N, C), or (N, C, 1, 1) with
keepdims=True). The Functions are in _ops/pool.py; 1-D pooling runs as 2-D with H = 1 (views)."""
from __future__ import annotations

from .._ops import pool as _ops
from .._ops._args import integer, ntuple
from .conv import _batched
from .module import Module

__all__ = ["max_pool2d", "max_pool1d", "avg_pool2d", "avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "GlobalAvgPool2d", "GlobalMaxPool2d"]


# ---- functions ---------------------------------------------------------------------------------

def _pool_args(kernel_size, stride, padding, dilation, n, op):
    k = ntuple(kernel_size, n, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(stride, n, op, "stride")
    return k, s, ntuple(padding, n, op, "padding"), ntuple(dilation, n, op, "dilation")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling over (N, C, H, W) or (C, H, W); indices (flat positions in each H*W plane) are kept
    for backward and returned with return_indices=True."""
    op = "max_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation, 2, op)
    y, idx = _ops.MaxPool2d.apply(x, k, s, p, d, bool(ceil_mode))
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    op = "max_pool1d"
    x, unbatched = _batched(input, 3, op, "(N, C, L)")
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation, 1, op)
    n, c, length = x.shape
    y, idx = _ops.MaxPool2d.apply(x.reshape(n, c, 1, length), (1,) + k, (1,) + s, (0,) + p, (1,) + d, bool(ceil_mode))
    y, idx = y.reshape(n, c, y.shape[3]), idx.reshape(n, c, idx.shape[3])
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    op = "avg_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, 2, op)
    div = 0 if divisor_override is None else integer(divisor_override, op, "divisor_override", 1)
    y = _ops.AvgPool2d.apply(x, k, s, p, bool(ceil_mode), bool(count_include_pad), div)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    op = "avg_pool1d"
    x, unbatched = _batched(input, 3, op, "(N, C, L)")
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, 1, op)
    n, c, length = x.shape
    y = _ops.AvgPool2d.apply(x.reshape(n, c, 1, length), (1,) + k, (1,) + s, (0,) + p, bool(ceil_mode),
                          bool(count_include_pad), 0)
    y = y.reshape(n, c, y.shape[3])
    return y.squeeze(0) if unbatched else y


def _adaptive_size(output_size, x, op):
    if output_size is None or not isinstance(output_size, (tuple, list)):
        out = (output_size, output_size)
    else:
        out = tuple(output_size)
        if len(out) == 1:
            out = out * 2
        if len(out) != 2:
            raise ValueError(f"{op}: output_size must be an int or a tuple of 2, got {output_size!r}")
    out = tuple(int(x.shape[2 + i]) if o is None else integer(o, op, "output_size") for i, o in enumerate(out))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def adaptive_avg_pool2d(input, output_size):
    op = "adaptive_avg_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    y = _ops.AdaptiveAvgPool2d.apply(x, _adaptive_size(output_size, x, op))
    return y.squeeze(0) if unbatched else y


def adaptive_max_pool2d(input, output_size, return_indices=False):
    op = "adaptive_max_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    y, idx = _ops.AdaptiveMaxPool2d.apply(x, _adaptive_size(output_size, x, op))
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


# ---- modules -----------------------------------------------------------------------------------

class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    def forward(self, x):
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class MaxPool2d(_MaxPoolNd):
    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class GlobalAveragePooling2D(Module):
    """Mean over H and W of an (N, C, H, W) input: (N, C), or (N, C, 1, 1) with keepdims=True."""

    def __init__(self, keepdims=False):
        super().__init__()
        self.keepdims = keepdims

    def forward(self, x):
        y = adaptive_avg_pool2d(x, 1)
        return y if self.keepdims else y.reshape(y.shape[0], y.shape[1])


class GlobalMaxPooling2D(Module):
    """Max over H and W of an (N, C, H, W) input: (N, C), or (N, C, 1, 1) with keepdims=True."""

    def __init__(self, keepdims=False):
        super().__init__()
        self.keepdims = keepdims

    def forward(self, x):
        y = adaptive_max_pool2d(x, 1)
        return y if self.keepdims else y.reshape(y.shape[0], y.shape[1])


GlobalAvgPool2d = GlobalAveragePooling2D
GlobalMaxPool2d = GlobalMaxPooling2D
