// Random family: fills driven by the counter-based Philox generator (core/rng.h).
// Element i of a fill uses counter block `counter + i / per_block`, lane `i % per_block`,
// where per_block is 4 for float32 and 2 for float64; so a value depends only on
// (seed, counter, i): identical for any thread count and on any device.
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

enum class RandomDist : int { uniform, normal };

// Number of Philox counter blocks a fill of n elements of dtype consumes.
int64_t random_blocks(DType dtype, int64_t n);

struct RandomTable {
  // out must be contiguous float. uniform: [a, b); normal: mean a, std b.
  void (*fill)(RandomDist dist, const View& out, double a, double b, uint64_t seed,
               uint64_t counter) = nullptr;
};

void random_fill(RandomDist dist, const View& out, double a, double b, uint64_t seed,
                 uint64_t counter);

}  // namespace dlcore
