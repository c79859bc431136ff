// The SIMD micro-kernel and GEMV helpers, written once over a small vector-traits type `V`
// (V::T scalar, V::R register, V::W lanes, load/store/bcast/fmadd/mul/zero). Included by
// gemm_avx2.cpp (256-bit traits) and gemm_avx512.cpp (512-bit traits), each compiled with its
// own flags. Internal linkage, same reason as gemm_pack.h. The AVX2 instantiation is what the
// tests exercise on machines without AVX-512; the AVX-512 one differs only in the traits.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/gemm_kernels.h"
#include "kernels/gemm_pack.h"

namespace dlcore {
namespace {

// MR x (NV*W) tile (NV = 2: the full tile, 2*MR accumulators + 2 B registers + 1 broadcast;
// NV = 1: the half-width kernel for a right edge of at most W columns, reading the first W
// columns of the same NR-wide B panel). ROWS < MR computes only the first ROWS rows of the tile
// (A panel still strided by MR): the bottom-edge kernels. Every variant does exactly the same
// arithmetic per element as the full one (one FMA chain in k order, then alpha and beta).
// DA (direct A): A is read in place, row i at a + i*lda, contiguous along k (a row-major A
// that was not packed); the arithmetic per element is the same as with a packed panel.
template <class V, int MR, int ROWS, bool DA, int NV = 2>
inline void ukr_core(int64_t k, const typename V::T* a, int64_t lda, const typename V::T* b,
                     int64_t ldb, typename V::T* c, int64_t ldc, typename V::T alpha,
                     typename V::T beta) {
  using R = typename V::R;
  using T = typename V::T;
  constexpr int W = V::W;
  R acc[ROWS][NV];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NV * W - 1), _MM_HINT_T0);
  }
  if (DA) {
    const T* ar[ROWS];
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) ar[i] = a + i * lda;
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; ++p) {
      R bv[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
#pragma GCC unroll 16
      for (int i = 0; i < ROWS; ++i) {
        const R ai = V::bcast(ar[i] + p);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
      }
      b += ldb;
    }
  } else {
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; ++p) {
      R bv[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
#pragma GCC unroll 16
      for (int i = 0; i < ROWS; ++i) {
        const R ai = V::bcast(a + i);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
      }
      a += MR;
      b += ldb;
    }
  }
  const R va = V::set1(alpha);
  if (beta == T(0)) {   // C is write-only
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) V::store(c + i * ldc + v * W, V::mul(va, acc[i][v]));
  } else {
    const R vb = V::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v)
        V::store(c + i * ldc + v * W, V::fmadd(vb, V::load(c + i * ldc + v * W), V::mul(va, acc[i][v])));
  }
}

template <class V, int MR, int ROWS = MR, int NV = 2>
void ukr_simd(int64_t k, const typename V::T* a, const typename V::T* b, int64_t ldb,
              typename V::T* c, int64_t ldc, typename V::T alpha, typename V::T beta) {
  ukr_core<V, MR, ROWS, false, NV>(k, a, 0, b, ldb, c, ldc, alpha, beta);
}

// Direct-A variant (GemmKernels::ukr_da): rows [0, ROWS) of A read in place at a + i*lda.
template <class V, int MR, int ROWS, int NV = 2>
void ukr_da_simd(int64_t k, const typename V::T* a, int64_t lda, const typename V::T* b,
                 int64_t ldb, typename V::T* c, int64_t ldc, typename V::T alpha,
                 typename V::T beta) {
  ukr_core<V, MR, ROWS, true, NV>(k, a, lda, b, ldb, c, ldc, alpha, beta);
}

// Fills a kernel set's bottom-edge (ukr_rows[1..MR-1]), direct-A (ukr_da[1..MR]) and
// half-width (ukr_half / ukr_da_half[1..MR]) tables.
template <class V, int MR, int... R>
void fill_ukr_tables(GemmKernels<typename V::T>& k, std::integer_sequence<int, R...>) {
  ((k.ukr_rows[R + 1] = R + 1 < MR ? ukr_simd<V, MR, (R + 1 < MR ? R + 1 : 1)> : nullptr), ...);
  ((k.ukr_da[R + 1] = ukr_da_simd<V, MR, R + 1>), ...);
  k.half = V::W;
  ((k.ukr_half[R + 1] = ukr_simd<V, MR, R + 1, 1>), ...);
  ((k.ukr_da_half[R + 1] = ukr_da_simd<V, MR, R + 1, 1>), ...);
}
template <class V, int MR>
void fill_ukr_tables(GemmKernels<typename V::T>& k) {
  fill_ukr_tables<V, MR>(k, std::make_integer_sequence<int, MR>{});
}

template <class T> inline T fma_s(T a, T b, T c);
template <> inline float fma_s(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
template <> inline double fma_s(double a, double b, double c) {
  return _mm_cvtsd_f64(_mm_fmadd_sd(_mm_set_sd(a), _mm_set_sd(b), _mm_set_sd(c)));
}

// out[j] = sum_p x[p] * w[j*ldw + p]. Four rows share the x loads; every row uses the same
// arithmetic (two vector accumulators, fixed reduction, scalar FMA tail) whatever its group.
template <class V>
void dots_simd(int64_t n, int64_t k, const typename V::T* x, const typename V::T* w, int64_t ldw,
               typename V::T* out) {
  using T = typename V::T;
  using R = typename V::R;
  constexpr int W = V::W;
  const int64_t kv = k / (2 * W) * (2 * W);
  auto finish = [&](R s0, R s1, const T* wj) {
    T t = V::hsum(V::add(s0, s1));
    for (int64_t p = kv; p < k; ++p) t = fma_s(x[p], wj[p], t);
    return t;
  };
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const T* w0 = w + j * ldw;
    const T* w1 = w0 + ldw;
    const T* w2 = w1 + ldw;
    const T* w3 = w2 + ldw;
    R s00 = V::zero(), s01 = V::zero(), s10 = V::zero(), s11 = V::zero();
    R s20 = V::zero(), s21 = V::zero(), s30 = V::zero(), s31 = V::zero();
    for (int64_t p = 0; p < kv; p += 2 * W) {
      const R x0 = V::load(x + p), x1 = V::load(x + p + W);
      s00 = V::fmadd(x0, V::load(w0 + p), s00); s01 = V::fmadd(x1, V::load(w0 + p + W), s01);
      s10 = V::fmadd(x0, V::load(w1 + p), s10); s11 = V::fmadd(x1, V::load(w1 + p + W), s11);
      s20 = V::fmadd(x0, V::load(w2 + p), s20); s21 = V::fmadd(x1, V::load(w2 + p + W), s21);
      s30 = V::fmadd(x0, V::load(w3 + p), s30); s31 = V::fmadd(x1, V::load(w3 + p + W), s31);
    }
    out[j] = finish(s00, s01, w0);
    out[j + 1] = finish(s10, s11, w1);
    out[j + 2] = finish(s20, s21, w2);
    out[j + 3] = finish(s30, s31, w3);
  }
  for (; j < n; ++j) {
    const T* w0 = w + j * ldw;
    R s00 = V::zero(), s01 = V::zero();
    for (int64_t p = 0; p < kv; p += 2 * W) {
      s00 = V::fmadd(V::load(x + p), V::load(w0 + p), s00);
      s01 = V::fmadd(V::load(x + p + W), V::load(w0 + p + W), s01);
    }
    out[j] = finish(s00, s01, w0);
  }
}

// out[j] = sum_p x[p] * w[p*ldw + j]: out stays in L1 (chunks of 2048), B rows stream four at a
// time; each element is one FMA chain in p order (vector lanes and scalar tail alike).
template <class V>
void axpys_simd(int64_t n, int64_t k, const typename V::T* x, const typename V::T* w, int64_t ldw,
                typename V::T* out) {
  using T = typename V::T;
  using R = typename V::R;
  constexpr int W = V::W;
  constexpr int64_t kChunk = 2048;  // 512 measured ~30% slower on 1x1024x1024
  for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
    const int64_t n1 = n - j0 < kChunk ? n - j0 : kChunk;
    T* o = out + j0;
    const int64_t nv = n1 / W * W;
    for (int64_t j = 0; j < n1; ++j) o[j] = T(0);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const T* r0 = w + p * ldw + j0;
      const T* r1 = r0 + ldw;
      const T* r2 = r1 + ldw;
      const T* r3 = r2 + ldw;
      const R x0 = V::set1(x[p]), x1 = V::set1(x[p + 1]), x2 = V::set1(x[p + 2]), x3 = V::set1(x[p + 3]);
      for (int64_t j = 0; j < nv; j += W) {
        R s = V::load(o + j);
        s = V::fmadd(x0, V::load(r0 + j), s);
        s = V::fmadd(x1, V::load(r1 + j), s);
        s = V::fmadd(x2, V::load(r2 + j), s);
        s = V::fmadd(x3, V::load(r3 + j), s);
        V::store(o + j, s);
      }
      for (int64_t j = nv; j < n1; ++j) {
        T s = o[j];
        s = fma_s(x[p], r0[j], s);
        s = fma_s(x[p + 1], r1[j], s);
        s = fma_s(x[p + 2], r2[j], s);
        s = fma_s(x[p + 3], r3[j], s);
        o[j] = s;
      }
    }
    for (; p < k; ++p) {
      const T* r0 = w + p * ldw + j0;
      const R x0 = V::set1(x[p]);
      for (int64_t j = 0; j < nv; j += W) V::store(o + j, V::fmadd(x0, V::load(r0 + j), V::load(o + j)));
      for (int64_t j = nv; j < n1; ++j) o[j] = fma_s(x[p], r0[j], o[j]);
    }
  }
}

// In-register 8x8 transpose: on return r[k] holds element k of each input row.
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// pack_a for float, A rows contiguous along k (the common non-transposed case), MR = 6 (AVX2)
// or 12 (AVX-512): per 8 k-steps, each group of up to 8 rows is transposed in registers and
// written with 8-wide stores in increasing k; a group's lanes past MR land in the next k-step's
// slot, which the next store overwrites (the last may write up to 4 floats past the panel, which
// the driver's scratch slack allows: kPackSlack). Other layouts and the ragged last panel use
// the portable template.
template <int MR>
void pack_a_f32_t8(int64_t mc, int64_t kc, const float* x, int64_t rs, int64_t cs, float* dst) {
  static_assert(MR <= 16, "two 8-row groups at most");
  if (cs != 1) return pack_a_impl<float, MR>(mc, kc, x, rs, cs, dst);
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const float* src = x + i0 * rs;
    if (mc - i0 < MR) {
      pack_a_impl<float, MR>(mc - i0, kc, src, rs, cs, dst);
      return;
    }
    int64_t p = 0;
    constexpr int G = (MR + 7) / 8;
    for (; p + 8 <= kc; p += 8) {
      __m256 r[G][8];
      for (int g = 0; g < G; ++g) {
        for (int i = 0; i < 8; ++i)
          r[g][i] = 8 * g + i < MR ? _mm256_loadu_ps(src + (8 * g + i) * rs + p) : _mm256_setzero_ps();
        transpose8(r[g]);
      }
      // increasing address order: each store's spill is overwritten by the next one
      for (int k = 0; k < 8; ++k)
        for (int g = 0; g < G; ++g) _mm256_storeu_ps(dst + (p + k) * MR + 8 * g, r[g][k]);
    }
    for (; p < kc; ++p)
      for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * rs + p];
    dst += MR * kc;
  }
}

// pack_b for float, NR = 16 (AVX2) or 32 (AVX-512). B transposed (columns contiguous along k;
// the Linear-layer x @ w.T case): NR/8 8x8 register transposes per 8 k-steps.
// B not transposed (rows contiguous): whole panels as pack_b_impl does, the ragged last panel
// with masked loads (zeros past the last column) instead of a scalar copy and fill.
template <int NR>
void pack_b_f32_t8(int64_t kc, int64_t nc, const float* x, int64_t rs, int64_t cs, float* dst) {
  static_assert(NR % 8 == 0, "whole 8-column groups");
  if (cs == 1 && nc % NR != 0) {
    const int64_t full = nc / NR, n = nc - full * NR;
    if (full > 0) pack_b_impl<float, NR>(kc, full * NR, x, rs, cs, dst);
    __m256i mask[NR / 8];
    for (int g = 0; g < NR / 8; ++g) {
      const __m256i lane = _mm256_add_epi32(_mm256_set1_epi32(8 * g), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      mask[g] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
    }
    const float* src = x + full * NR;
    float* d = dst + full * NR * kc;
    for (int64_t p = 0; p < kc; ++p)
      for (int g = 0; g < NR / 8; ++g)
        _mm256_storeu_ps(d + p * NR + 8 * g, _mm256_maskload_ps(src + p * rs + 8 * g, mask[g]));
    return;
  }
  if (rs != 1 || nc < NR) return pack_b_impl<float, NR>(kc, nc, x, rs, cs, dst);
  const int64_t full = nc / NR;
  for (int64_t q = 0; q < full; ++q) {
    const float* src = x + q * NR * cs;
    float* d = dst + q * NR * kc;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      for (int g = 0; g < NR; g += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + (g + j) * cs + p);
        transpose8(r);
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(d + (p + k) * NR + g, r[k]);
      }
    }
    for (; p < kc; ++p)
      for (int j = 0; j < NR; ++j) d[p * NR + j] = src[j * cs + p];
  }
  if (nc > full * NR) pack_b_impl<float, NR>(kc, nc - full * NR, x + full * NR * cs, rs, cs, dst + full * NR * kc);
}

}  // namespace
}  // namespace dlcore
