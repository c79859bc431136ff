"""Conv family: conv2d and conv_transpose2d Functions (conv1d runs as conv2d with H = 1;
conv_transpose2d reuses conv2d's kernels with the roles of forward and backward-data swapped)
and the padding rule (written once: the functions and the modules use it)."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig as _contig
from ._args import ntuple

__all__ = ["conv_padding", "same_padding", "Conv2d", "ConvTranspose2d"]


def conv_padding(padding, kernel, stride, dilation, op):
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
    p = ntuple(padding, len(kernel), op, "padding")
    if any(e < 0 for e in p):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (p[0], p[0], p[1], p[1])


def same_padding(size, kernel, stride, dilation=1):
    """Keras / TensorFlow 'same' padding of one spatial dim for any stride: (before, after), the
    output has ceil(size / stride) positions and an odd extra goes after (bottom / right). With
    stride 1 this is conv_padding's 'same'."""
    span = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def _save(ctx, x, w, b, *args):
    """Saves contiguous x, w and the conv arguments (stride, pad, dilation, groups) for the
    backward; returns x, w."""
    x, w = _contig(x), _contig(w)
    ctx.save_for_backward(x, w)
    ctx.args = args
    ctx.has_bias = b is not None
    return x, w


def _saved(ctx, g):
    """The backward's inputs: x, w, contiguous g, the conv arguments, needs_input_grad, and the
    bias gradient (None when there is no bias or it needs none)."""
    x, w = ctx.saved_tensors
    g = _contig(g)
    need = ctx.needs_input_grad
    gb = _C.conv_backward_bias(g) if ctx.has_bias and need[2] else None
    return x, w, g, ctx.args, need, gb


class Conv2d(Function):
    """conv2d: x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW), padding (top, bottom, left, right)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dilation, groups):
        x, w = _save(ctx, x, w, b, stride, pad, dilation, groups)
        return _C.conv2d(x, w, None if b is None else _contig(b), stride, pad, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        x, w, g, (stride, pad, dil, groups), need, gb = _saved(ctx, g)
        gx = _C.conv2d_backward_data(g, w, x.shape[2:], stride, pad, dil, groups) if need[0] else None
        gw = _C.conv2d_backward_weight(x, g, w.shape[2:], stride, pad, dil, groups) if need[1] else None
        return gx, gw, gb, None, None, None, None


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w): conv2d's backward-data of x; its backward-data is conv2d's forward
    and its backward-weight is conv2d's backward-weight with input and grad_output swapped."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, out_hw, dilation, groups):
        x, w = _save(ctx, x, w, b, stride, pad, dilation, groups)
        y = _C.conv2d_backward_data(x, w, out_hw, stride, pad, dilation, groups)
        if b is not None:
            _C.binary(_C.Binary.add, y, b.reshape(1, -1, 1, 1), out=y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, g, (stride, pad, dil, groups), need, gb = _saved(ctx, g)
        if need[0] and need[1]:  # one unfold of g serves both
            gx, gw = _C.conv2d_forward_and_weight(g, w, x, stride, pad, dil, groups)
        else:
            gx = _C.conv2d(g, w, None, stride, pad, dil, groups) if need[0] else None
            gw = _C.conv2d_backward_weight(g, x, w.shape[2:], stride, pad, dil, groups) if need[1] else None
        return gx, gw, gb, None, None, None, None, None
