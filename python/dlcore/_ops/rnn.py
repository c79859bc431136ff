"""RNN family: one layer of an RNN / LSTM / GRU over a whole time-major sequence as one autograd
node (RNNLayer: one direction; BiRNNLayer: both directions of a bidirectional layer at once).
Forward and backward are single calls into the C++ sequence routines (_C.rnn_forward /
_C.rnn_backward: one input-projection GEMM for all time steps, one recurrent GEMM plus one fused
cell kernel per step, backward through time with weight gradients as GEMMs over all steps)."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import contig as _contig

__all__ = ["RNNLayer", "BiRNNLayer"]


class RNNLayer(Function):
    """One layer, one direction over a whole (T, N, I) time-major sequence.

    apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, lengths, reverse) -> (y, h_n[, c_n]);
    h0, c0, b_ih, b_hh and lengths may be None."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, lengths, reverse):
        x, h0, c0 = _contig(x), _contig(h0), _contig(c0)
        # Not recording a graph (no_grad, or nothing requires grad): keep no states for backward.
        save = getattr(ctx, "needs_input_grad", None) is not None
        y, S, C, ws = _C.rnn_forward(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, save)
        if not save:
            last = x.shape[0] % 2
            return (y, S[last]) if C is None else (y, S[last], C[last])
        last = 0 if reverse else S.shape[0] - 1
        h_n = S[last].clone()  # a copy: the saved states stay untouched
        ctx.mode, ctx.lengths, ctx.reverse = mode, lengths, reverse
        ctx.has_bias = b_ih is not None
        ctx.save_for_backward(x, w_ih, w_hh, S, C, ws)
        if C is not None:
            return y, h_n, C[last].clone()
        return y, h_n

    @staticmethod
    def backward(ctx, gy, gh, gc=None):
        x, w_ih, w_hh, S, C, ws = ctx.saved_tensors
        dx, dh0, dc0, dwi, dwh, dbi, dbh = _C.rnn_backward(
            ctx.mode, x, w_ih, w_hh, ctx.has_bias, ctx.lengths, ctx.reverse, S, C, ws,
            _contig(gy), _contig(gh), _contig(gc), bool(ctx.needs_input_grad[0]))
        return dx, dh0, dc0, dwi, dwh, dbi, dbh, None, None, None


class BiRNNLayer(Function):
    """Both directions of one bidirectional layer over the same (T, N, I) input in one call
    (``_C.rnn_forward_bidir``: one direction per thread, so neither pays a per-step thread
    synchronisation; values are the same as two RNNLayer calls).

    apply(x, h0_f, c0_f, h0_r, c0_r, w_ih_f, w_hh_f, b_ih_f, b_hh_f, w_ih_r, w_hh_r, b_ih_r,
    b_hh_r, mode, lengths) -> (y_f, h_f[, c_f], y_r, h_r[, c_r])."""

    @staticmethod
    def forward(ctx, x, h0f, c0f, h0r, c0r, wif, whf, bif, bhf, wir, whr, bir, bhr, mode, lengths):
        x = _contig(x)
        h0, c0 = (_contig(h0f), _contig(h0r)), (_contig(c0f), _contig(c0r))
        save = getattr(ctx, "needs_input_grad", None) is not None
        rf, rr = _C.rnn_forward_bidir(mode, x, h0, c0, (wif, wir), (whf, whr), (bif, bir), (bhf, bhr),
                                      lengths, save)
        outs = []
        for (y, S, C, ws), reverse in ((rf, False), (rr, True)):
            last = x.shape[0] % 2 if not save else (0 if reverse else S.shape[0] - 1)
            if save:  # copies: the saved states stay untouched
                outs += [y, S[last].clone()]
                if C is not None:
                    outs.append(C[last].clone())
            else:
                outs += [y, S[last]] + ([C[last]] if C is not None else [])
        if save:
            ctx.mode, ctx.lengths, ctx.has_bias = mode, lengths, bif is not None
            ctx.lstm = rf[2] is not None
            ctx.save_for_backward(x, wif, whf, wir, whr, rf[1], rf[2], rf[3], rr[1], rr[2], rr[3])
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        x, wif, whf, wir, whr, Sf, Cf, wsf, Sr, Cr, wsr = ctx.saved_tensors
        if ctx.lstm:
            gyf, ghf, gcf, gyr, ghr, gcr = grads
        else:
            (gyf, ghf, gyr, ghr), gcf, gcr = grads, None, None
        r = _C.rnn_backward_bidir(
            ctx.mode, x, (wif, wir), (whf, whr), ctx.has_bias, ctx.lengths, (Sf, Sr), (Cf, Cr), (wsf, wsr),
            (_contig(gyf), _contig(gyr)), (_contig(ghf), _contig(ghr)), (_contig(gcf), _contig(gcr)),
            bool(ctx.needs_input_grad[0]))
        dx, (dh0f, dc0f, dwif, dwhf, dbif, dbhf), (dh0r, dc0r, dwir, dwhr, dbir, dbhr) = r[0], r[1:7], r[7:13]
        return (dx, dh0f, dc0f, dh0r, dc0r, dwif, dwhf, dbif, dbhf, dwir, dwhr, dbir, dbhr, None, None)
