"""Convolution and pooling as differentiable functions (PyTorch's torch.nn.functional names and
semantics: NCHW, cross-correlation, weight (C_out, C_in/groups, kH, kW); conv_transpose2d weight
(C_in, C_out/groups, kH, kW)).

Each op is a :class:`Function` whose forward and backward call only ``_C`` kernels
(csrc/ops/conv.cpp, csrc/ops/pool.cpp). 1-D ops reshape to 2-D with H = 1 (views, no copies);
conv_transpose2d reuses conv2d's kernels with the roles of forward and backward-data swapped.
"""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool2d", "adaptive_max_pool2d"]


# ---- argument normalisation (the C++ side re-checks every value) ------------------------------

def _tuple(v, n, op, name):
    if isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, int):
        return (int(v),) * n
    try:
        t = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(t) == 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _conv_padding(padding, kernel, stride, dilation, op):
    """Padding as (top, bottom, left, right) for 2-D kernels; 'same' puts any odd extra row/column at
    the bottom/right, like PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={tuple(stride)}); pass an explicit padding instead")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    p = _tuple(padding, len(kernel), op, "padding")
    if any(e < 0 for e in p):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (p[0], p[0], p[1], p[1])


def _contig(a):
    flags = getattr(a, "flags", None)  # device arrays are always contiguous
    return a if flags is None or flags.c_contiguous else _C.cast(a, str(a.dtype))


def _batched(x, dims, op, what):
    """(x with a batch dim, whether one was added). Accepts dims-D batched or (dims-1)-D unbatched."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a dlcore Tensor, got {type(x).__name__}")
    if x.ndim == dims:
        return x, False
    if x.ndim == dims - 1:
        return x.unsqueeze(0), True
    raise ValueError(f"{op}: expected a {dims - 1}-D ({what[4:]} or {dims}-D {what} input, got shape {tuple(x.shape)}")


# ---- convolution -----------------------------------------------------------------------------

class Conv2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dilation, groups):
        x, w = _contig(x), _contig(w)
        ctx.save_for_backward(x, w)
        ctx.args = (stride, pad, dilation, groups)
        ctx.has_bias = b is not None
        return _C.conv2d(x, w, None if b is None else _contig(b), stride, pad, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g = _contig(g)
        stride, pad, dil, groups = ctx.args
        need = ctx.needs_input_grad
        gx = _C.conv2d_backward_data(g, w, x.shape[2:], stride, pad, dil, groups) if need[0] else None
        gw = _C.conv2d_backward_weight(x, g, w.shape[2:], stride, pad, dil, groups) if need[1] else None
        gb = _C.conv_backward_bias(g) if ctx.has_bias and need[2] else None
        return gx, gw, gb, None, None, None, None


def _check_weight(w, dims, op):
    if not isinstance(w, Tensor):
        raise TypeError(f"{op}: weight must be a dlcore Tensor, got {type(w).__name__}")
    if w.ndim != dims:
        raise ValueError(f"{op}: weight must be {dims}-D, got shape {tuple(w.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution: input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kH, kW)."""
    op = "conv2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    _check_weight(weight, 4, op)
    stride = _tuple(stride, 2, op, "stride")
    dilation = _tuple(dilation, 2, op, "dilation")
    pad = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, op)
    y = Conv2dFn.apply(x, weight, bias, stride, pad, dilation, int(groups))
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k); runs as
    conv2d with H = 1."""
    op = "conv1d"
    x, unbatched = _batched(input, 3, op, "(N, C, L)")
    _check_weight(weight, 3, op)
    s = _tuple(stride, 1, op, "stride")[0]
    d = _tuple(dilation, 1, op, "dilation")[0]
    if isinstance(padding, str):
        pad = _conv_padding(padding, (1, weight.shape[2]), (1, s), (1, d), op)
    else:
        p = _tuple(padding, 1, op, "padding")[0]
        if p < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
        pad = (0, 0, p, p)
    n, c, length = x.shape
    x4 = x.reshape(n, c, 1, length)
    w4 = weight.reshape(weight.shape[0], weight.shape[1], 1, weight.shape[2])
    y = Conv2dFn.apply(x4, w4, bias, (1, s), pad, (1, d), int(groups))
    y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    return y.squeeze(0) if unbatched else y


class ConvTranspose2dFn(Function):
    """y = conv_transpose2d(x, w): conv2d's backward-data of x; its backward-data is conv2d's forward
    and its backward-weight is conv2d's backward-weight with input and grad_output swapped."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, out_hw, dilation, groups):
        x, w = _contig(x), _contig(w)
        ctx.save_for_backward(x, w)
        ctx.args = (stride, pad, dilation, groups)
        ctx.has_bias = b is not None
        y = _C.conv2d_backward_data(x, w, out_hw, stride, pad, dilation, groups)
        if b is not None:
            _C.binary(_C.Binary.add, y, b.reshape(1, -1, 1, 1), out=y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g = _contig(g)
        stride, pad, dil, groups = ctx.args
        need = ctx.needs_input_grad
        if need[0] and need[1]:  # one unfold of g serves both
            gx, gw = _C.conv2d_forward_and_weight(g, w, x, stride, pad, dil, groups)
        else:
            gx = _C.conv2d(g, w, None, stride, pad, dil, groups) if need[0] else None
            gw = _C.conv2d_backward_weight(g, x, w.shape[2:], stride, pad, dil, groups) if need[1] else None
        gb = _C.conv_backward_bias(g) if ctx.has_bias and need[2] else None
        return gx, gw, gb, None, None, None, None, None


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (PyTorch argument order): input (N, C_in, H, W), weight
    (C_in, C_out/groups, kH, kW); output size (H-1)*stride - 2*padding + dilation*(kH-1) +
    output_padding + 1."""
    op = "conv_transpose2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    _check_weight(weight, 4, op)
    stride = _tuple(stride, 2, op, "stride")
    dilation = _tuple(dilation, 2, op, "dilation")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of 2 ints, got {padding!r}")
    p = _tuple(padding, 2, op, "padding")
    op_ = _tuple(output_padding, 2, op, "output_padding")
    if any(e < 0 for e in p) or any(e < 0 for e in op_):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got {padding!r}, {output_padding!r}")
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"{op}: stride and dilation must be positive, got {stride}, {dilation}")
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
    y = ConvTranspose2dFn.apply(x, weight, bias, stride, (p[0], p[0], p[1], p[1]), out_hw, dilation, int(groups))
    return y.squeeze(0) if unbatched else y


# ---- pooling ---------------------------------------------------------------------------------

class MaxPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, k, s, p, d, ceil_mode):
        y, idx = _C.max_pool2d(_contig(x), k, s, p, d, ceil_mode)
        ctx.idx, ctx.in_hw = idx, x.shape[2:]
        return y, idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        return _C.max_pool2d_backward(_contig(g), ctx.idx, ctx.in_hw), None, None, None, None, None


class AdaptiveMaxPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, out):
        y, idx = _C.adaptive_max_pool2d(_contig(x), out)
        ctx.idx, ctx.in_hw = idx, x.shape[2:]
        return y, idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        return _C.max_pool2d_backward(_contig(g), ctx.idx, ctx.in_hw), None


class AvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, k, s, p, ceil_mode, count_include_pad, div):
        ctx.args = (x.shape[2:], k, s, p, ceil_mode, count_include_pad, div)
        return _C.avg_pool2d(_contig(x), k, s, p, ceil_mode, count_include_pad, div)

    @staticmethod
    def backward(ctx, g):
        return (_C.avg_pool2d_backward(_contig(g), *ctx.args),) + (None,) * 6


class AdaptiveAvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, out):
        ctx.in_hw = x.shape[2:]
        return _C.adaptive_avg_pool2d(_contig(x), out)

    @staticmethod
    def backward(ctx, g):
        return _C.adaptive_avg_pool2d_backward(_contig(g), ctx.in_hw), None


def _pool_args(kernel_size, stride, padding, dilation, n, op):
    k = _tuple(kernel_size, n, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _tuple(stride, n, op, "stride")
    return k, s, _tuple(padding, n, op, "padding"), _tuple(dilation, n, op, "dilation")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling over (N, C, H, W) or (C, H, W); indices (flat positions in each H*W plane) are kept
    for backward and returned with return_indices=True."""
    op = "max_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation, 2, op)
    y, idx = MaxPool2dFn.apply(x, k, s, p, d, bool(ceil_mode))
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    op = "max_pool1d"
    x, unbatched = _batched(input, 3, op, "(N, C, L)")
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation, 1, op)
    n, c, length = x.shape
    y, idx = MaxPool2dFn.apply(x.reshape(n, c, 1, length), (1,) + k, (1,) + s, (0,) + p, (1,) + d, bool(ceil_mode))
    y, idx = y.reshape(n, c, y.shape[3]), idx.reshape(n, c, idx.shape[3])
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    op = "avg_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, 2, op)
    div = 0 if divisor_override is None else int(divisor_override)
    if divisor_override is not None and div <= 0:
        raise ValueError(f"{op}: divisor_override must be positive, got {divisor_override!r}")
    y = AvgPool2dFn.apply(x, k, s, p, bool(ceil_mode), bool(count_include_pad), div)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    op = "avg_pool1d"
    x, unbatched = _batched(input, 3, op, "(N, C, L)")
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, 1, op)
    n, c, length = x.shape
    y = AvgPool2dFn.apply(x.reshape(n, c, 1, length), (1,) + k, (1,) + s, (0,) + p, bool(ceil_mode),
                          bool(count_include_pad), 0)
    y = y.reshape(n, c, y.shape[3])
    return y.squeeze(0) if unbatched else y


def _adaptive_size(output_size, x, op):
    if output_size is None or isinstance(output_size, int):
        out = (output_size, output_size)
    else:
        out = tuple(output_size)
        if len(out) == 1:
            out = out * 2
        if len(out) != 2:
            raise ValueError(f"{op}: output_size must be an int or a tuple of 2, got {output_size!r}")
    out = tuple(int(x.shape[2 + i]) if o is None else int(o) for i, o in enumerate(out))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def adaptive_avg_pool2d(input, output_size):
    op = "adaptive_avg_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    y = AdaptiveAvgPool2dFn.apply(x, _adaptive_size(output_size, x, op))
    return y.squeeze(0) if unbatched else y


def adaptive_max_pool2d(input, output_size, return_indices=False):
    op = "adaptive_max_pool2d"
    x, unbatched = _batched(input, 4, op, "(N, C, H, W)")
    y, idx = AdaptiveMaxPool2dFn.apply(x, _adaptive_size(output_size, x, op))
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y
