// Initializer family: fills that need more than uniform/normal (ops/random.h).
// out is any shape, contiguous float32/float64; element i depends only on (seed, counter, i)
// (Philox, as the random family), and a fill of n elements consumes random_blocks(dtype, n)
// counter blocks, like a uniform fill.
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

struct InitTable {
  // Normal(mean, std) truncated to [a, b] (inverse-CDF method).
  void (*trunc_normal)(const View& out, double mean, double std_, double a, double b, uint64_t seed,
                       uint64_t counter) = nullptr;
};

void trunc_normal_fill(const View& out, double mean, double std_, double a, double b, uint64_t seed,
                       uint64_t counter);

// In place: a (m, n) contiguous float64 with m >= n becomes the Q of its QR decomposition
// (Householder), each column's sign chosen so that R's diagonal is positive; the orthogonal
// initializer's factorisation (CPU; it runs once per parameter, never in a training step).
void orthogonalize(const View& a);

}  // namespace dlcore
