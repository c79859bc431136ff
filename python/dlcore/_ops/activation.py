"""Activation family: every pointwise activation (one Function for all of them, selected by
its dlcore._C.Act code), prelu, softmax / log_softmax and maxout. Each is one fused kernel
forward and one fused kernel backward."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig

__all__ = ["Activation", "Prelu", "Softmax", "LogSoftmax", "Maxout"]

# whether f' is computed from the saved output (sigmoid, tanh, relu...) or from the input; keyed by
# the identity of the enum members (hashing a pybind11 enum costs more than the lookup is worth)
_USES_OUTPUT = {id(op): _C.act_backward_uses_output(op) for op in _C.Act.__members__.values()}


class Activation(Function):
    """y = f(x; p0, p1) for an activation code of dlcore._C.Act. Backward is one fused kernel:
    grad_in = grad_out * f'(.), from the saved output or input."""

    @staticmethod
    def forward(ctx, x, op, p0, p1):
        x = contig(x)
        y = _C.act_forward(op, x, p0, p1)
        ctx.op, ctx.p = op, (p0, p1)
        uses_output = _USES_OUTPUT.get(id(op))
        if uses_output is None:
            uses_output = _C.act_backward_uses_output(op)
        ctx.save_for_backward(y if uses_output else x)
        return y

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return _C.act_backward(ctx.op, contig(g), s, ctx.p[0], ctx.p[1]), None, None, None


class Prelu(Function):
    """y = x > 0 ? x : w_c x; w is (C,) on dim 1 (dim 0 of a 1-D input) or (1,) shared."""

    @staticmethod
    def forward(ctx, x, w):
        x, w = contig(x), contig(w)
        ctx.save_for_backward(x, w)
        return _C.prelu(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return _C.prelu_backward(contig(g), x, w, ctx.needs_input_grad[0], ctx.needs_input_grad[1])


class Softmax(Function):
    """softmax along dim (LogSoftmax: log_softmax), stable for inputs of any magnitude."""

    _log = False

    @classmethod
    def forward(cls, ctx, x, dim):
        y = _C.softmax(contig(x), dim, cls._log)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        (y,) = ctx.saved_tensors
        return _C.softmax_backward(contig(g), y, ctx.dim, cls._log), None


class LogSoftmax(Softmax):
    _log = True


class Maxout(Function):
    """Max over groups of `pieces` consecutive channels of dim."""

    @staticmethod
    def forward(ctx, x, pieces, dim):
        x = contig(x)
        y, idx = _C.maxout(x, pieces, dim)
        ctx.shape, ctx.pieces, ctx.dim = x.shape, pieces, dim
        ctx.save_for_backward(idx)
        return y

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return _C.maxout_backward(contig(g), idx, list(ctx.shape), ctx.pieces, ctx.dim), None, None
