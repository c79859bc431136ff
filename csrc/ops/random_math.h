// Per-element math of the random family, shared by CPU (random.cpp) and CUDA (cuda/random.cu).
#pragma once
#include <cmath>

#include "core/rng.h"

namespace dlcore {

// Value of element i (uniform in [a, b), or normal(a, b)) for a fill starting at `counter`.
template <class T> DLCORE_HD T random_value(int dist, int64_t i, uint64_t seed, uint64_t counter, double a, double b) {
  const int per = sizeof(T) == 4 ? 4 : 2;
  Philox4 r = philox4x32_10(seed, counter + (uint64_t)(i / per));
  int lane = (int)(i % per);
  if (dist == 0) {
    double u = sizeof(T) == 4 ? (double)u32_to_unit_float(r.v[lane])
                              : u64_to_unit_double(r.v[2 * lane], r.v[2 * lane + 1]);
    T v = (T)(a + (b - a) * u);
    return v < (T)b ? v : (T)a;  // rounding must not produce b
  }
  // Box-Muller on a pair of uniforms; lanes (0,1) and (2,3) of a float block share a pair.
  double u1, u2;
  if (sizeof(T) == 4) {
    int p = lane & ~1;
    u1 = (double)u32_to_unit_float(r.v[p]);
    u2 = (double)u32_to_unit_float(r.v[p + 1]);
  } else {
    u1 = u64_to_unit_double(r.v[0], r.v[1]);
    u2 = u64_to_unit_double(r.v[2], r.v[3]);
  }
  double rad = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1 - u1 in (0, 1]: log is finite
  double ang = 6.283185307179586 * u2;
  double z = (lane & 1) ? rad * std::sin(ang) : rad * std::cos(ang);
  return (T)(a + b * z);
}

}  // namespace dlcore
