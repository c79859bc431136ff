// Per-element math of the dropout family, shared by ops/dropout.cpp and cuda/dropout.cu.
#pragma once
#include <cmath>

#include "core/rng.h"

namespace dlcore {

// Keep decision from one 32-bit Philox output: u in [0, 1) with 24 random bits, kept with
// probability 1 - p (u >= p).
DLCORE_HD bool dropout_keep_bits(uint32_t r, double p) { return (double)u32_to_unit_float(r) >= p; }

// Keep decision of mask element m (one Philox call; CPU code calls philox once per 4 lanes).
DLCORE_HD bool dropout_keep(uint64_t seed, uint64_t counter, int64_t m, double p) {
  Philox4 r = philox4x32_10(seed, counter + (uint64_t)(m / 4));
  return dropout_keep_bits(r.v[m % 4], p);
}

// Alpha dropout (Klambauer et al. 2017; PyTorch's constants): with alpha' = -lambda * alpha
// of SELU = -1.7580993408473766, a = 1 / sqrt((1 - p) * (1 + p * alpha'^2)) and
// b = -a * alpha' * p: kept elements become a * x + b, dropped ones a * alpha' + b, which
// keeps zero mean and unit variance of SELU activations.
struct AlphaDropoutConsts {
  double a, b, dropped;
};
DLCORE_HD AlphaDropoutConsts alpha_dropout_consts(double p) {
  const double alpha_p = -1.7580993408473766;
  double a = 1.0 / std::sqrt((1.0 - p) * (1.0 + p * alpha_p * alpha_p));
  double b = -a * alpha_p * p;
  return AlphaDropoutConsts{a, b, a * alpha_p + b};
}

// Inverted dropout scale 1 / (1 - p); 0 when everything is dropped.
DLCORE_HD double dropout_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }

}  // namespace dlcore
