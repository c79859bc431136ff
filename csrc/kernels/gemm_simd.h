// The SIMD micro-kernel and GEMV helpers, written once over a small vector-traits type `V`
// (V::T scalar, V::R register, V::W lanes, load/store/bcast/fmadd/mul/zero). Included by
// gemm_avx2.cpp (256-bit traits) and gemm_avx512.cpp (512-bit traits), each compiled with its
// own flags. Internal linkage, same reason as gemm_pack.h. The AVX2 instantiation is what the
// tests exercise on machines without AVX-512; the AVX-512 one differs only in the traits.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace dlcore {
namespace {

// MR x (2*W) tile: 2*MR accumulators + 2 B registers + 1 broadcast. ROWS < MR computes only
// the first ROWS rows of the tile (A panel still strided by MR): the bottom-edge kernels,
// which do exactly the same arithmetic per element as the full one.
// DA (direct A): A is read in place, row i at a + i*lda, contiguous along k (a row-major A
// that was not packed); the arithmetic per element is the same as with a packed panel.
template <class V, int MR, int ROWS, bool DA>
inline void ukr_core(int64_t k, const typename V::T* a, int64_t lda, const typename V::T* b,
                     int64_t ldb, typename V::T* c, int64_t ldc, typename V::T alpha,
                     typename V::T beta) {
  using R = typename V::R;
  using T = typename V::T;
  constexpr int W = V::W;
  R acc[ROWS][2];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i) acc[i][0] = acc[i][1] = V::zero();
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 2 * W - 1), _MM_HINT_T0);
  }
  if (DA) {
    const T* ar[ROWS];
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) ar[i] = a + i * lda;
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; ++p) {
      const R b0 = V::load(b), b1 = V::load(b + W);
#pragma GCC unroll 16
      for (int i = 0; i < ROWS; ++i) {
        const R ai = V::bcast(ar[i] + p);
        acc[i][0] = V::fmadd(ai, b0, acc[i][0]);
        acc[i][1] = V::fmadd(ai, b1, acc[i][1]);
      }
      b += ldb;
    }
  } else {
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; ++p) {
      const R b0 = V::load(b), b1 = V::load(b + W);
#pragma GCC unroll 16
      for (int i = 0; i < ROWS; ++i) {
        const R ai = V::bcast(a + i);
        acc[i][0] = V::fmadd(ai, b0, acc[i][0]);
        acc[i][1] = V::fmadd(ai, b1, acc[i][1]);
      }
      a += MR;
      b += ldb;
    }
  }
  const R va = V::set1(alpha);
  if (beta == T(0)) {   // C is write-only
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
      V::store(c + i * ldc, V::mul(va, acc[i][0]));
      V::store(c + i * ldc + W, V::mul(va, acc[i][1]));
    }
  } else {
    const R vb = V::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
      V::store(c + i * ldc, V::fmadd(vb, V::load(c + i * ldc), V::mul(va, acc[i][0])));
      V::store(c + i * ldc + W, V::fmadd(vb, V::load(c + i * ldc + W), V::mul(va, acc[i][1])));
    }
  }
}

template <class V, int MR, int ROWS = MR>
void ukr_simd(int64_t k, const typename V::T* a, const typename V::T* b, int64_t ldb,
              typename V::T* c, int64_t ldc, typename V::T alpha, typename V::T beta) {
  ukr_core<V, MR, ROWS, false>(k, a, 0, b, ldb, c, ldc, alpha, beta);
}

// Direct-A variant (GemmKernels::ukr_da): rows [0, ROWS) of A read in place at a + i*lda.
template <class V, int MR, int ROWS>
void ukr_da_simd(int64_t k, const typename V::T* a, int64_t lda, const typename V::T* b,
                 int64_t ldb, typename V::T* c, int64_t ldc, typename V::T alpha,
                 typename V::T beta) {
  ukr_core<V, MR, ROWS, true>(k, a, lda, b, ldb, c, ldc, alpha, beta);
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

}  // namespace
}  // namespace dlcore
