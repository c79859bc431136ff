// Per-element math of the loss family, shared by the CPU kernels (ops/loss.cpp) and the CUDA
// kernels (cuda/loss.cu): the pointwise loss terms l(x, y; w, pw, p0) and their derivatives
// dl/dx. The row losses (cross-entropy, NLL, multi-margin) are in ops/activation_loops.h
// (cross-entropy shares the softmax machinery) and ops/loss.cpp.
#pragma once
#include <cmath>

#include "ops/activation_math.h"

namespace dlcore {

// Pointwise loss op codes (dlcore._C.LossOp). x = prediction, y = target, w = weight
// (broadcast, 1 when absent), pw = pos_weight (broadcast, 1 when absent), p0 = parameter.
enum class LossOp : int {
  mse,               // (x - y)^2
  l1,                // |x - y|
  huber,             // p0 = delta
  smooth_l1,         // p0 = beta
  bce,               // x = probability; logs clamped at -100 like PyTorch
  bce_logits,        // x = logit; pw = pos_weight
  hinge,             // Keras: max(0, 1 - y x), y in {-1, 1}
  squared_hinge,     // Keras: max(0, 1 - y x)^2
  hinge_embedding,   // PyTorch: y == 1 ? x : max(0, p0 - x)   (p0 = margin)
  kl_div,            // y * (log y - x), 0 where y == 0 (x is a log-probability)
  kl_div_log_target, // exp(y) * (y - x)
  kCount
};

template <class T> DLCORE_AHD T loss_forward(LossOp op, T x, T y, T w, T pw, T p0) {
  using namespace am;
  T d = x - y;
  T ad = d < T(0) ? -d : d;
  switch (op) {
    case LossOp::mse: return d * d;
    case LossOp::l1: return ad;
    case LossOp::huber: return ad < p0 ? T(0.5) * d * d : p0 * (ad - T(0.5) * p0);
    case LossOp::smooth_l1:
      return p0 == T(0) ? ad : (ad < p0 ? T(0.5) * d * d / p0 : ad - T(0.5) * p0);
    case LossOp::bce: {
      T lx = log(x), l1x = log(T(1) - x);
      lx = lx < T(-100) ? T(-100) : lx;
      l1x = l1x < T(-100) ? T(-100) : l1x;
      return -w * (y * lx + (T(1) - y) * l1x);
    }
    case LossOp::bce_logits: {  // (1-y) x + (1 + (pw-1) y) softplus(-x)
      T lw = T(1) + (pw - T(1)) * y;
      return w * ((T(1) - y) * x + lw * softplus_(-x));
    }
    case LossOp::hinge: { T m = T(1) - y * x; return m > T(0) ? m : (m != m ? m : T(0)); }
    case LossOp::squared_hinge: { T m = T(1) - y * x; m = m > T(0) ? m : (m != m ? m : T(0)); return m * m; }
    case LossOp::hinge_embedding: {
      T mc = p0 - x;
      mc = mc > T(0) ? mc : (mc != mc ? mc : T(0));
      return (y != T(1) ? mc : T(0)) + (y != T(-1) ? x : T(0));
    }
    case LossOp::kl_div: return (y == T(0) ? T(0) : y * log(y)) - y * x;
    case LossOp::kl_div_log_target: return exp(y) * (y - x);
    default: return T(0);
  }
}

// dl/dx (the gradient w.r.t. the prediction), times the upstream gradient g.
template <class T> DLCORE_AHD T loss_backward(LossOp op, T g, T x, T y, T w, T pw, T p0) {
  using namespace am;
  T d = x - y;
  T ad = d < T(0) ? -d : d;
  T sgn = d > T(0) ? T(1) : (d < T(0) ? T(-1) : (d != d ? d : T(0)));
  switch (op) {
    case LossOp::mse: return g * T(2) * d;
    case LossOp::l1: return g * sgn;
    case LossOp::huber: return g * (d < -p0 ? -p0 : (d > p0 ? p0 : d));
    case LossOp::smooth_l1: return p0 == T(0) ? g * sgn : g * (ad < p0 ? d / p0 : sgn);
    case LossOp::bce: {  // PyTorch: (x - y) / max(x (1 - x), 1e-12)
      T den = x * (T(1) - x);
      den = den < T(1e-12) ? T(1e-12) : den;
      return g * w * d / den;
    }
    case LossOp::bce_logits: {  // (1 - y) - (1 + (pw-1) y) sigmoid(-x)
      T lw = T(1) + (pw - T(1)) * y;
      return g * w * ((T(1) - y) - lw * sigmoid_(-x));
    }
    case LossOp::hinge: return (T(1) - y * x) > T(0) ? -g * y : T(0);
    case LossOp::squared_hinge: {
      T m = T(1) - y * x;
      return m > T(0) ? T(-2) * g * y * m : T(0);
    }
    case LossOp::hinge_embedding:
      // max(0, margin - x) passes the gradient at margin - x == 0, as PyTorch's clamp_min does
      return g * ((y != T(-1) ? T(1) : T(0)) - ((y != T(1) && p0 - x >= T(0)) ? T(1) : T(0)));
    case LossOp::kl_div: return -g * y;
    case LossOp::kl_div_log_target: return -g * exp(y);
    default: return T(0);
  }
}

}  // namespace dlcore
