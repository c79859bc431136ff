"""Loss family: pointwise losses (one Function for all of them, selected by its
dlcore._C.LossOp code; the terms reduced by the reduce kernel), fused cross-entropy
(log_softmax + NLL, class indices or probabilities), NLL and multi-margin."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig as _contig

__all__ = ["PointwiseLoss", "CrossEntropy", "NllLoss", "MultiMarginLoss"]

L = _C.LossOp
R = _C.Reduce
B = _C.Binary
U = _C.Unary


def _reduce_out(loss, reduction):
    if reduction == "none":
        return loss
    return _C.reduce(R.sum if reduction == "sum" else R.mean, loss, None, False)


def _reduce_rows(ctx, loss, wrow, reduction, out_shape, n_rows=None):
    """Per-row losses (cross-entropy, NLL) reduced as asked: 'mean' divides the sum by the
    summed row weights wrow, or by n_rows for probability targets (kept in ctx.den)."""
    if reduction == "none":
        return loss.reshape(out_shape)
    total = _C.reduce(R.sum, loss, None, False)
    if reduction == "sum":
        return total
    ctx.den = _C.full((), float(n_rows), loss.dtype, loss.device) if n_rows is not None else _C.reduce(R.sum, wrow, None, False)
    return _C.binary(B.div, total, ctx.den)


def _row_grads(ctx, g, reduction):
    """The gradient of each row's loss from the gradient of the reduced loss."""
    if reduction == "none":
        return _contig(g).reshape(-1)
    if reduction == "sum":
        return g
    return _C.binary(B.div, g, ctx.den)


class PointwiseLoss(Function):
    """loss = reduce(l(x, y; w, pw, p0)); gradients for x (and for y where l depends on x - y)."""

    @staticmethod
    def forward(ctx, x, y, w, pw, op, p0, reduction):
        x, y = _contig(x), _contig(y)
        terms = _C.pointwise_loss(op, x, y, w, pw, p0)
        ctx.op, ctx.p0, ctx.reduction = op, p0, reduction
        ctx.save_for_backward(x, y, w, pw)
        return _reduce_out(terms, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, w, pw = ctx.saved_tensors
        if ctx.reduction == "mean":
            g = _C.unary(U.mul_scalar, g, 1.0 / max(x.size, 1), 0.0)
        elif ctx.reduction == "none":
            g = _contig(g)
        gx = _C.pointwise_loss_backward(ctx.op, g, x, y, w, pw, ctx.p0)
        gy = None
        if ctx.needs_input_grad[1]:
            gy = _C.unary(U.neg, gx) if ctx.op in (L.mse, L.l1, L.huber, L.smooth_l1) else \
                _target_grad(ctx.op, g, x, y, w, pw)
        return (gx if ctx.needs_input_grad[0] else None), gy, None, None, None, None, None


def _target_grad(op, g, x, y, w, pw):
    """dl/dy times g for the losses whose terms are not a function of x - y (PyTorch's
    derivatives w.r.t. the target: soft targets in distillation need them); None for
    hinge_embedding, whose target is a label."""
    def c(v):
        return _C.full((), v, x.dtype, x.device)

    def mul(a, b):
        return _C.binary(B.mul, a, b)
    if op == L.bce:  # log(1 - x) - log(x) (unclamped, as PyTorch's target derivative)
        t = _C.binary(B.sub, _C.unary(U.log1p, _C.unary(U.neg, x)), _C.unary(U.log, x))
    elif op == L.bce_logits:  # -x + (pw - 1) softplus(-x)
        sp = _C.binary(B.add, _C.unary(U.clip, _C.unary(U.neg, x), 0.0, float("inf")),
                       _C.unary(U.log1p, _C.unary(U.exp, _C.unary(U.neg, _C.unary(U.abs, x)))))
        t = _C.unary(U.neg, x)
        if pw is not None:
            t = _C.binary(B.add, t, mul(_C.binary(B.sub, pw, c(1.0)), sp))
    elif op == L.kl_div:  # log y + 1 - x (NaN where y == 0, like PyTorch's xlogy derivative)
        t = _C.binary(B.sub, _C.unary(U.mul_scalar, _C.unary(U.log, y), 1.0, 1.0), x)
        t = _C.where(_C.binary(B.eq, y, c(0.0)), c(float("nan")), t)
    elif op == L.kl_div_log_target:  # exp(y) (y - x + 1)
        t = mul(_C.unary(U.exp, y), _C.unary(U.mul_scalar, _C.binary(B.sub, y, x), 1.0, 1.0))
    elif op in (L.hinge, L.squared_hinge):  # m = 1 - y x > 0: -x (hinge), -2 x m (squared)
        m = _C.unary(U.mul_scalar, mul(x, y), -1.0, 1.0)
        t = _C.unary(U.neg, x) if op == L.hinge else mul(_C.unary(U.mul_scalar, x, -2.0, 0.0), m)
        t = _C.where(_C.binary(B.gt, m, c(0.0)), t, c(0.0))
    else:
        return None
    if w is not None and op in (L.bce, L.bce_logits):
        t = mul(t, w)
    return mul(t, g)


class CrossEntropy(Function):
    """Fused log_softmax + NLL over (R, C) logits (see ce_fwd / ce_bwd in the C++ loops)."""

    @staticmethod
    def forward(ctx, z, target, weight, ignore_index, eps, reduction, out_shape):
        z, target = _contig(z), _contig(target)
        loss, lse, wrow = _C.cross_entropy(z, target, weight, ignore_index, eps)
        ctx.args = (weight, ignore_index, eps, reduction)
        ctx.save_for_backward(z, target, lse)
        probs = target.dtype.is_floating_point
        return _reduce_rows(ctx, loss, wrow, reduction, out_shape, z.shape[0] if probs else None)

    @staticmethod
    def backward(ctx, g):
        z, target, lse = ctx.saved_tensors
        weight, ignore_index, eps, reduction = ctx.args
        gz = _C.cross_entropy_backward(z, target, weight, ignore_index, eps, lse, _row_grads(ctx, g, reduction))
        return gz, None, None, None, None, None, None


class NllLoss(Function):
    """Negative log-likelihood of (R, C) log-probabilities at class-index targets."""

    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction, out_shape):
        logp, target = _contig(logp), _contig(target)
        loss, wrow = _C.nll_loss(logp, target, weight, ignore_index)
        ctx.args = (weight, ignore_index, reduction, logp.shape, str(logp.dtype))
        ctx.save_for_backward(target)
        return _reduce_rows(ctx, loss, wrow, reduction, out_shape)

    @staticmethod
    def backward(ctx, g):
        (target,) = ctx.saved_tensors
        weight, ignore_index, reduction, shape, dtype = ctx.args
        grow = _row_grads(ctx, g, reduction)
        return _C.nll_loss_backward(target, weight, ignore_index, grow, list(shape), dtype), \
            None, None, None, None, None


class MultiMarginLoss(Function):
    """Multi-class margin loss of (N, C) scores (p = 1 or 2)."""

    @staticmethod
    def forward(ctx, x, target, weight, p, margin, reduction):
        x, target = _contig(x), _contig(target)
        loss = _C.multi_margin_loss(x, target, weight, p, margin)
        ctx.args = (weight, p, margin, reduction)
        ctx.save_for_backward(x, target)
        return _reduce_out(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, target = ctx.saved_tensors
        weight, p, margin, reduction = ctx.args
        if reduction == "mean":
            g = _C.unary(U.mul_scalar, g, 1.0 / max(x.shape[0], 1), 0.0)
        elif reduction == "none":
            g = _contig(g)
        return _C.multi_margin_loss_backward(x, target, weight, p, margin, g), None, None, None, None, None
