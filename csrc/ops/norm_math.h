// Per-element and per-channel math of the normalization family, shared by the CPU kernels
// (ops/norm.cpp) and the CUDA kernels (cuda/norm.cu). Statistics arrive in double.
#pragma once
#include <cmath>

#include "core/view.h"

// DLCORE_AHD = DLCORE_HD plus always_inline on the host: these functions are also compiled into
// the ISA-specific objects csrc/kernels/norm_*.cpp; forced inlining means no out-of-line copy
// built for one ISA can be picked by the linker for another (hence the builtin square root).
#ifndef DLCORE_AHD
#if defined(__CUDACC__)
#define DLCORE_AHD __host__ __device__ __forceinline__
#else
#define DLCORE_AHD inline __attribute__((always_inline))
#endif
#endif

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

}  // namespace dlcore
