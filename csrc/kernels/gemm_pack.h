// Packing routines shared by the per-ISA GEMM files. Include ONLY from csrc/kernels/gemm_*.cpp:
// everything here has internal linkage (anonymous namespace), so each ISA file gets its own
// copy compiled with its own -m flags and the linker can never swap an AVX2 copy into the
// generic path (the ODR hazard of shared inline templates across differently-flagged files).
#pragma once
#include <cstdint>
#include <cstring>

namespace dlcore {
namespace {

// X[i*rs + p*cs], i < mc, p < kc  ->  panels of MR rows: dst[panel][p*MR + i], zero padded.
template <class T, int MR>
void pack_a_impl(int64_t mc, int64_t kc, const T* x, int64_t rs, int64_t cs, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t m = mc - i0 < MR ? mc - i0 : MR;
    const T* src = x + i0 * rs;
    if (m == MR && cs == 1) {          // rows contiguous along k (A not transposed)
      const T* r[MR];
      for (int i = 0; i < MR; ++i) r[i] = src + i * rs;
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = r[i][p];
    } else if (m == MR && rs == 1) {   // columns contiguous (A transposed): MR-long copies
      for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * MR, src + p * cs, sizeof(T) * MR);
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        int i = 0;
        for (; i < m; ++i) dst[p * MR + i] = src[i * rs + p * cs];
        for (; i < MR; ++i) dst[p * MR + i] = T(0);
      }
    }
    dst += MR * kc;
  }
}

// X[p*rs + j*cs], p < kc, j < nc  ->  panels of NR columns: dst[panel][p*NR + j], zero padded.
template <class T, int NR>
void pack_b_impl(int64_t kc, int64_t nc, const T* x, int64_t rs, int64_t cs, T* dst) {
  const int64_t full = nc / NR;  // complete panels
  if (cs == 1 && full > 0) {
    // B not transposed: walk each source row once, left to right (streams through memory and
    // the prefetchers; a panel-at-a-time walk jumped a whole row stride every NR elements).
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = x + p * rs;
      T* d = dst + p * NR;
      // fixed-size memcpy: vector moves (a plain loop stayed scalar: src/dst may alias)
      for (int64_t q = 0; q < full; ++q) std::memcpy(d + q * NR * kc, src + q * NR, sizeof(T) * NR);
    }
  } else if (rs == 1 && full > 0) {
    // B transposed: each panel gathers NR columns, each contiguous along p
    for (int64_t q = 0; q < full; ++q) {
      const T* c[NR];
      for (int j = 0; j < NR; ++j) c[j] = x + (q * NR + j) * cs;
      T* d = dst + q * NR * kc;
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) d[p * NR + j] = c[j][p];
    }
  } else {
    for (int64_t q = 0; q < full; ++q)
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) dst[q * NR * kc + p * NR + j] = x[p * rs + (q * NR + j) * cs];
  }
  const int64_t n = nc - full * NR;  // ragged last panel, zero padded
  if (n > 0) {
    T* d = dst + full * NR * kc;
    const T* src = x + full * NR * cs;
    for (int64_t p = 0; p < kc; ++p) {
      int j = 0;
      for (; j < n; ++j) d[p * NR + j] = src[p * rs + j * cs];
      for (; j < NR; ++j) d[p * NR + j] = T(0);
    }
  }
}

}  // namespace
}  // namespace dlcore
