"""Conv family: the functions conv1d, conv2d, conv_transpose2d (PyTorch's torch.nn.functional
names and semantics: NCHW, cross-correlation, weight (C_out, C_in/groups, kH, kW);
conv_transpose2d weight (C_in, C_out/groups, kH, kW)) and the modules Conv1d, Conv2d,
ConvTranspose2d (PyTorch names, argument order, weight layouts and default init:
kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias U(-1/sqrt(fan_in),
1/sqrt(fan_in)), fan_in from the weight as PyTorch computes it (for ConvTranspose2d that is
weight.shape[1] * kH * kW)). The Functions (_ops/conv.py) call only _C kernels; the C++ side
re-checks every value."""
from __future__ import annotations

import math

from .._ops import conv as _ops
from .._ops._args import integer, ntuple
from ..tensor import Tensor, empty
from . import init
from .module import Module, Parameter

__all__ = ["conv2d", "conv1d", "conv_transpose2d", "Conv1d", "Conv2d", "ConvTranspose2d"]


def _batched(x, dims, op, what):
    """(x with a batch dim, whether one was added). Accepts dims-D batched or (dims-1)-D unbatched."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a dlcore Tensor, got {type(x).__name__}")
    if x.ndim == dims:
        return x, False
    if x.ndim == dims - 1:
        return x.unsqueeze(0), True
    raise ValueError(f"{op}: expected a {dims - 1}-D ({what[4:]} or {dims}-D {what} input, got shape {tuple(x.shape)}")


def _channels_last_hint(x, want, spatial):
    """A hint for a channels-last input into a channels-first layer, when the shapes say so."""
    if x.ndim >= 3 and x.shape[-1] == want and x.shape[1] != want:
        order = "(N, H, W, C)" if spatial == "HW" else "(N, L, C)"
        perm = "x.permute(0, 3, 1, 2)" if spatial == "HW" else "x.permute(0, 2, 1)"
        return (f"; the input looks channels-last {order}, but dlcore (like PyTorch) is channels-first: "
                f"use {perm}")
    return ""


def _check_weight(w, dims, op, bias=None):
    if not isinstance(w, Tensor):
        raise TypeError(f"{op}: weight must be a dlcore Tensor, got {type(w).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a dlcore Tensor or None, got {type(bias).__name__}")
    if w.ndim != dims:
        raise ValueError(f"{op}: weight must be {dims}-D, got shape {tuple(w.shape)}")


# ---- functions ---------------------------------------------------------------------------------

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution: input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kH, kW)."""
    op = "conv2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    _check_weight(weight, 4, op, bias)
    stride = ntuple(stride, 2, op, "stride")
    dilation = ntuple(dilation, 2, op, "dilation")
    pad = _ops.conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, op)
    groups = integer(groups, op, "groups", 1)
    if x.shape[1] != weight.shape[1] * groups and _channels_last_hint(x, weight.shape[1] * groups, "HW"):
        raise ValueError(f"{op}: weight {tuple(weight.shape)} expects {weight.shape[1] * groups} input channels "
                         f"but the input {tuple(x.shape)} has {x.shape[1]}"
                         f"{_channels_last_hint(x, weight.shape[1] * groups, 'HW')}")
    y = _ops.Conv2d.apply(x, weight, bias, stride, pad, dilation, groups)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k); runs as
    conv2d with H = 1."""
    op = "conv1d"
    x, unbatched = _batched(input, 3, op, "(N, C, L)")
    _check_weight(weight, 3, op, bias)
    s = ntuple(stride, 1, op, "stride")[0]
    d = ntuple(dilation, 1, op, "dilation")[0]
    groups = integer(groups, op, "groups", 1)
    if s < 1 or d < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride={s}, dilation={d}")
    if isinstance(padding, str):
        pad = _ops.conv_padding(padding, (1, weight.shape[2]), (1, s), (1, d), op)
    else:
        p = ntuple(padding, 1, op, "padding")[0]
        if p < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
        pad = (0, 0, p, p)
    n, c, length = x.shape
    # checked here so that the errors speak of conv1d's shapes, not of the conv2d it runs as
    if c != weight.shape[1] * groups:
        raise ValueError(f"{op}: weight {tuple(weight.shape)} expects {weight.shape[1] * groups} input channels "
                         f"(in_channels/groups={weight.shape[1]}, groups={groups}) but the input "
                         f"{tuple(x.shape)} has {c}{_channels_last_hint(x, weight.shape[1] * groups, 'L')}")
    span = (weight.shape[2] - 1) * d + 1
    if span > length + pad[2] + pad[3]:
        raise ValueError(f"{op}: kernel size {weight.shape[2]} with dilation {d} spans {span}, which is larger "
                         f"than the padded input length {length + pad[2] + pad[3]} (input shape {tuple(x.shape)})")
    x4 = x.reshape(n, c, 1, length)
    w4 = weight.reshape(weight.shape[0], weight.shape[1], 1, weight.shape[2])
    y = _ops.Conv2d.apply(x4, w4, bias, (1, s), pad, (1, d), groups)
    y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (PyTorch argument order): input (N, C_in, H, W), weight
    (C_in, C_out/groups, kH, kW); output size (H-1)*stride - 2*padding + dilation*(kH-1) +
    output_padding + 1."""
    op = "conv_transpose2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    _check_weight(weight, 4, op, bias)
    stride = ntuple(stride, 2, op, "stride")
    dilation = ntuple(dilation, 2, op, "dilation")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of 2 ints, got {padding!r}")
    p = ntuple(padding, 2, op, "padding")
    op_ = ntuple(output_padding, 2, op, "output_padding")
    if any(e < 0 for e in p) or any(e < 0 for e in op_):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got {padding!r}, {output_padding!r}")
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"{op}: stride and dilation must be positive, got {stride}, {dilation}")
    groups = integer(groups, op, "groups", 1)
    for o, s, d in zip(op_, stride, dilation):
        if o >= s and o >= d:
            raise ValueError(f"{op}: output_padding {op_} must be smaller than either stride {stride} "
                             f"or dilation {dilation}")
    if groups < 1 or x.shape[1] != weight.shape[0] or x.shape[1] % groups:
        raise ValueError(f"{op}: input {tuple(x.shape)} has {x.shape[1]} channels but weight "
                         f"{tuple(weight.shape)} expects {weight.shape[0]} (divisible by groups={groups})")
    out_hw = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * p[i] + dilation[i] * (weight.shape[2 + i] - 1)
                   + op_[i] + 1 for i in range(2))
    if any(o < 1 for o in out_hw):
        raise ValueError(f"{op}: output size {out_hw} is not positive (input {tuple(x.shape)}, kernel "
                         f"{tuple(weight.shape[2:])}, stride {stride}, padding {p})")
    if bias is not None and tuple(bias.shape) != (weight.shape[1] * groups,):
        raise ValueError(f"{op}: bias has shape {tuple(bias.shape)}, expected ({weight.shape[1] * groups},)")
    y = _ops.ConvTranspose2d.apply(x, weight, bias, stride, (p[0], p[0], p[1], p[1]), out_hw, dilation, groups)
    return y.squeeze(0) if unbatched else y


# ---- modules -----------------------------------------------------------------------------------

class _ConvNd(Module):
    _dims = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, dtype, output_padding=0):
        super().__init__()
        cls, n = type(self).__name__, self._dims
        in_channels = integer(in_channels, cls, "in_channels", 1)
        out_channels = integer(out_channels, cls, "out_channels", 1)
        groups = integer(groups, cls, "groups", 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{cls}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{cls}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = ntuple(kernel_size, n, cls, "kernel_size")
        self.stride = ntuple(stride, n, cls, "stride")
        self.dilation = ntuple(dilation, n, cls, "dilation")
        for arg, v in (("kernel_size", self.kernel_size), ("stride", self.stride), ("dilation", self.dilation)):
            if any(e < 1 for e in v):
                raise ValueError(f"{cls}: {arg} must be positive, got {v}")
        if isinstance(padding, str):  # checked now, applied by the function at each call
            _ops.conv_padding(padding, self.kernel_size, self.stride, self.dilation, cls)
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, cls, "padding")
            if any(e < 0 for e in self.padding):
                raise ValueError(f"{cls}: padding must be non-negative, got {self.padding}")
        self.output_padding = ntuple(output_padding, n, cls, "output_padding")
        self.padding_mode = padding_mode
        if self._transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*wshape, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """y = conv1d(x): x (N, C_in, L), weight (C_out, C_in/groups, k)."""
    _dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype)

    def forward(self, x):
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """y = conv2d(x): x (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype)

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """y = conv_transpose2d(x): x (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW)."""
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a tuple of 2 ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype, output_padding)

    def forward(self, x):
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)
