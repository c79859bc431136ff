// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). A value depends only on
// (seed, counter), so random tensors are identical for any thread count and on CPU and GPU.
// Counters are consumed in blocks of 4 x 32-bit outputs; see ops/random.cpp for the mapping
// from element index to (counter, lane).
#pragma once
#include <cstdint>

#include "core/view.h"

namespace dlcore {

struct Philox4 {
  uint32_t v[4];
};

DLCORE_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  hi = (uint32_t)(p >> 32);
  lo = (uint32_t)p;
}

// counter: a 64-bit block index; stream: a 32-bit sub-stream (e.g. a parameter's id).
DLCORE_HD Philox4 philox4x32_10(uint64_t seed, uint64_t counter, uint32_t stream = 0) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = stream, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1): 24 random bits for float, 53 for double.
DLCORE_HD float u32_to_unit_float(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
DLCORE_HD double u64_to_unit_double(uint32_t hi, uint32_t lo) {
  uint64_t x = (((uint64_t)hi << 32) | lo) >> 11;
  return (double)x * (1.0 / 9007199254740992.0);
}

}  // namespace dlcore
