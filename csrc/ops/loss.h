// Loss family. Shapes:
//   pointwise_forward:  x (any), y (x's shape), w and pw broadcastable to x (or absent: data
//     null), out (x's shape) = l(x, y; w, pw, p0) per LossOp (loss_math.h); the caller reduces.
//   pointwise_backward: g broadcastable to x (a 0-d g for mean/sum), gx (x's shape) = g dl/dx.
//   cross_entropy (fused log_softmax + NLL): logits z (R, C); target (R,) int64 class indices or
//     (R, C) probabilities; weight (C,) or absent; outputs loss (R,), lse (R, 2) = (max, log sum
//     exp(z - max)) per row (saved for the backward), wrow (R,) (weight of the row's target, 0
//     when ignored: the 'mean' divisor).
//     backward: grow (R,) or 0-d, gz (R, C) = grow * (softmax - smoothed target) (see ce_bwd).
//   nll: logp (R, C), target (R,), weight (C,) or absent -> loss (R,) = -w_t logp[r, t], wrow;
//     backward: grow (R,) or 0-d -> gx (R, C).
//   multi_margin (p = 1 or 2, margin): x (R, C), target (R,), weight (C,) or absent ->
//     loss (R,) = sum_{c != t} w_t max(0, margin - x_t + x_c)^p / C; backward -> gx (R, C).
// All Views are contiguous except w / pw / g in the pointwise ops (broadcast views allowed).
#pragma once
#include "core/dispatch.h"
#include "core/view.h"
#include "ops/loss_math.h"

namespace dlcore {

struct LossTable {
  void (*pointwise_forward)(LossOp op, const View& x, const View& y, const View& w, const View& pw,
                            const View& out, double p0) = nullptr;
  void (*pointwise_backward)(LossOp op, const View& g, const View& x, const View& y, const View& w,
                             const View& pw, const View& gx, double p0) = nullptr;
  void (*ce_forward)(const View& z, const View& target, const View& weight, int64_t ignore_index,
                     double eps, const View& loss, const View& lse, const View& wrow) = nullptr;
  void (*ce_backward)(const View& z, const View& target, const View& weight, int64_t ignore_index,
                      double eps, const View& lse, const View& grow, const View& gz) = nullptr;
  void (*nll_forward)(const View& logp, const View& target, const View& weight, int64_t ignore_index,
                      const View& loss, const View& wrow) = nullptr;
  void (*nll_backward)(const View& target, const View& weight, int64_t ignore_index,
                       const View& grow, const View& gx) = nullptr;
  void (*multi_margin_forward)(const View& x, const View& target, const View& weight, int p,
                               double margin, const View& loss) = nullptr;
  void (*multi_margin_backward)(const View& x, const View& target, const View& weight, int p,
                                double margin, const View& grow, const View& gx) = nullptr;
};

void pointwise_loss_forward(LossOp op, const View& x, const View& y, const View& w, const View& pw,
                            const View& out, double p0);
void pointwise_loss_backward(LossOp op, const View& g, const View& x, const View& y, const View& w,
                             const View& pw, const View& gx, double p0);
void cross_entropy_forward(const View& z, const View& target, const View& weight, int64_t ignore_index,
                           double eps, const View& loss, const View& lse, const View& wrow);
void cross_entropy_backward(const View& z, const View& target, const View& weight, int64_t ignore_index,
                            double eps, const View& lse, const View& grow, const View& gz);
void nll_forward(const View& logp, const View& target, const View& weight, int64_t ignore_index,
                 const View& loss, const View& wrow);
void nll_backward(const View& target, const View& weight, int64_t ignore_index, const View& grow,
                  const View& gx);
void multi_margin_forward(const View& x, const View& target, const View& weight, int p, double margin,
                          const View& loss);
void multi_margin_backward(const View& x, const View& target, const View& weight, int p, double margin,
                           const View& grow, const View& gx);

}  // namespace dlcore
