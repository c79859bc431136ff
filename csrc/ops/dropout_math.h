// Per-element math of the dropout family, shared by ops/dropout.cpp and cuda/dropout.cu.
#pragma once
#include <cmath>

#include "core/rng.h"

namespace dlcore {

// Keep decision from one 32-bit Philox output: u = (r >> 8) * 2^-24 in [0, 1) (24 random bits),
// kept with probability 1 - p (u >= p). As an integer test: u >= p exactly when
// (r >> 8) >= ceil(p * 2^24) (p * 2^24 is exact in double); the threshold is 2^24 (nothing
// kept) when p >= 1. The CPU loops (ops/dropout_loops.h, vector lanes included) and the CUDA
// kernel compare against this one threshold.
DLCORE_HD uint32_t dropout_keep_threshold(double p) {
  return p < 1.0 ? (uint32_t)std::ceil(p * 16777216.0) : 16777216u;
}
DLCORE_HD bool dropout_keep_bits(uint32_t r, uint32_t threshold) { return (r >> 8) >= threshold; }

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
