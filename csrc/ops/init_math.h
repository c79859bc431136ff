// Per-element math of the initializer family (ops/init.cpp), CPU/CUDA shareable.
#pragma once
#include <cmath>

#include "core/view.h"

namespace dlcore {

// Inverse error function on (-1, 1): Giles' single-precision rational approximation
// ("Approximating the erfinv function", GPU Gems / 2010) refined by two Newton steps on
// erf(x) = y, which brings it to double precision. +-1 map to +-inf.
DLCORE_HD double erfinv_double(double y) {
  if (y <= -1.0) return -INFINITY;
  if (y >= 1.0) return INFINITY;
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  const double two_over_sqrt_pi = 1.1283791670955126;
  for (int it = 0; it < 2; ++it) x -= (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  return x;
}

// Truncated normal by inversion (as torch.nn.init.trunc_normal_): u uniform in
// [2 cdf(alpha) - 1, 2 cdf(beta) - 1) -> mean + std * sqrt(2) * erfinv(u), clamped to [a, b].
DLCORE_HD double trunc_normal_from_uniform(double u, double mean, double std_, double a, double b) {
  double v = mean + std_ * 1.4142135623730951 * erfinv_double(u);
  return v < a ? a : (v > b ? b : v);
}

}  // namespace dlcore
