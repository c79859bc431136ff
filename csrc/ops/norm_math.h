// Per-element and per-channel math of the normalization family, shared by the CPU kernels
// (ops/norm.cpp) and the CUDA kernels (cuda/norm.cu). Statistics arrive in double.
#pragma once
#include <cmath>

#include "core/view.h"

// The functions are DLCORE_AHD (core/view.h): they are also compiled into the ISA-specific
// csrc/kernels/norm_*.cpp, hence the builtin square root.

namespace dlcore {

// 1 / sqrt(var + eps): the inverse standard deviation every norm divides by.
DLCORE_AHD double norm_invstd(double var, double eps) {
#if defined(__CUDA_ARCH__)
  return 1.0 / sqrt(var + eps);
#else
  return 1.0 / __builtin_sqrt(var + eps);
#endif
}

// Running statistic update (PyTorch's exponential average; f = momentum, or 1/num_batches
// for the cumulative average): r = (1 - f) * r + f * stat.
DLCORE_AHD double running_update(double r, double stat, double f) { return (1.0 - f) * r + f * stat; }

// The forward y = (x - mean) * invstd * gamma + beta, folded into y = x * scale + shift.
struct NormAffine {
  double scale, shift;
};
DLCORE_AHD NormAffine norm_affine(double mean, double invstd, double gamma, double beta) {
  double s = invstd * gamma;
  return NormAffine{s, beta - mean * s};
}

// Backward of y = xhat * gamma + beta, xhat = (x - mean) * invstd, with mean and invstd the
// statistics of the L values of x in the same normalisation set. Given
//   sum_g  = sum over the set of dy * gamma
//   sum_gx = sum over the set of dy * gamma * (x - mean)
// dx = invstd * (dy*gamma - sum_g / L - xhat * invstd * sum_gx / L)
//    = dy * (gamma * invstd) + x * (-c2) + (mean * c2 - c1)
// with c1 = invstd * sum_g / L and c2 = invstd^3 * sum_gx / L. NormAffine{k (per gamma), ...}
// is applied per element as dx = dy * gamma * invstd + x * a + b (a = -c2, b = mean*c2 - c1).
DLCORE_AHD NormAffine norm_dx_terms(double mean, double invstd, double sum_g, double sum_gx, double L) {
  double c1 = invstd * sum_g / L;
  double c2 = invstd * invstd * invstd * sum_gx / L;
  return NormAffine{-c2, mean * c2 - c1};
}

template <class T> DLCORE_AHD T norm_dx(T dy, T x, T k, T a, T b) { return dy * k + x * a + b; }

// Batch norm fused with a ReLU on its output (the training forward and backward of BN + ReLU in
// one pass each): y = max(v, 0) of the affine value v (NaN stays NaN, like the relu op), and the
// backward passes dy where that output y is positive: dv = y <= 0 ? 0 : dy (the relu op's rule,
// from its output). The norm's own backward then runs on dv.
template <class T> DLCORE_AHD T norm_relu(T v) { return v < T(0) ? T(0) : v; }
template <class T> DLCORE_AHD T norm_relu_grad(T dy, T y) { return y <= T(0) ? T(0) : dy; }

}  // namespace dlcore
