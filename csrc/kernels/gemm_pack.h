// Packing routines shared by the per-ISA GEMM files. Include ONLY from csrc/kernels/gemm_*.cpp:
// everything here has internal linkage (anonymous namespace), so each ISA file gets its own
// copy compiled with its own -m flags and the linker can never swap an AVX2 copy into the
// generic path (the ODR hazard of shared inline templates across differently-flagged files).
#pragma once
#include <cstdint>

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
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[p * cs + i];
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
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const int64_t n = nc - j0 < NR ? nc - j0 : NR;
    const T* src = x + j0 * cs;
    if (n == NR && cs == 1) {          // rows contiguous (B not transposed): NR-long copies
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = src[p * rs + j];
    } else if (n == NR && rs == 1) {   // B transposed: gather NR contiguous columns
      const T* c[NR];
      for (int j = 0; j < NR; ++j) c[j] = src + j * cs;
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = c[j][p];
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        int j = 0;
        for (; j < n; ++j) dst[p * NR + j] = src[p * rs + j * cs];
        for (; j < NR; ++j) dst[p * NR + j] = T(0);
      }
    }
    dst += NR * kc;
  }
}

}  // namespace
}  // namespace dlcore
