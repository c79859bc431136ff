"""GEMM family: matmul (batched, broadcasting) and linear (one GEMM with the bias, and
optionally a ReLU, fused into its epilogue: _C.linear)."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig, sum_to

__all__ = ["MatMul", "Linear"]


def _mT(a):
    return a.transpose(-1, -2)


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _C.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(_C.matmul(g, _mT(b)), a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(_C.matmul(_mT(a), g), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Linear(Function):
    """y = x @ w.T + b in one GEMM with the bias added while the tile is hot (_C.linear);
    with relu=True also max(y, 0) in the same epilogue, and the backward masks the gradient
    with y > 0. x (..., in), w (out, in), b (out,) or None."""

    @staticmethod
    def forward(ctx, x, w, b, relu):
        if x.device != "cpu":  # the CUDA GEMM reads x's rows in place only with unit strides
            x = contig(x)
        y = _C.linear(x, w, b, "relu" if relu else "none")
        ctx.save_for_backward(x, w, y if relu else None)
        ctx.has_bias = b is not None
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, y = ctx.saved_tensors
        if y is not None:  # relu: g * (y > 0), one fused kernel
            g = _C.act_backward(_C.Act.relu, contig(g), y)
        gx = gw = gb = None
        g2 = g.reshape(-1, g.shape[-1])
        if ctx.needs_input_grad[0]:  # dL/dx = g @ w
            gx = _C.matmul(g2, w).reshape(x.shape)
        if ctx.needs_input_grad[1]:  # dL/dw = g^T @ x over all leading dims
            gw = _C.matmul(g2.T, x.reshape(-1, x.shape[-1]))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = _C.reduce(_C.Reduce.sum, g2, [0], False)
        return gx, gw, gb, None
