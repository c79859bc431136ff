// AVX2 + FMA GEMM kernels (this file is compiled with -mavx2 -mfma; called only when cpuid
// says so). float: 6x16 tile (12 ymm accumulators), double: 6x8 tile.
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_pack.h"
#include "kernels/gemm_simd.h"

namespace dlcore {
namespace {

struct F32x8 {
  using T = float;
  using R = __m256;
  static constexpr int W = 8;
  static R load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, R v) { _mm256_storeu_ps(p, v); }
  static R bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static R set1(T v) { return _mm256_set1_ps(v); }
  static R zero() { return _mm256_setzero_ps(); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static T hsum(R v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

struct F64x4 {
  using T = double;
  using R = __m256d;
  static constexpr int W = 4;
  static R load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, R v) { _mm256_storeu_pd(p, v); }
  static R bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static R set1(T v) { return _mm256_set1_pd(v); }
  static R zero() { return _mm256_setzero_pd(); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static T hsum(R v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

constexpr int kMR = 6;

// Blocking table (AVX2), tuned on the 2-core AMD EPYC VM (Zen 3 class: 32 KiB L1d, 512 KiB
// L2 per core, 32 MiB L3) by CPU-time sweeps (the machine is shared, wall time is noise):
//   float  6x16: kc 384 -> B micro-panel 16 x 384 x 4 B = 24 KiB (L1), mc 120 -> A block
//                120 x 384 x 4 B = 180 KiB (L2), nc 4080 -> B panel 6 MiB (L3).
//   double 6x8:  kc 384 -> 24 KiB B micro-panel, mc 60 -> 180 KiB A block.
// mc 72..144 / kc 256..512 were all within ~2% of each other (docs/gemm.md).
GemmIsaKernels make_avx2() {
  GemmIsaKernels t;
  t.s = {"avx2", kMR, 16, /*mc*/ 120, /*kc*/ 384, /*nc*/ 4080, ukr_simd<F32x8, kMR>,
         pack_a_f32_t8<kMR>, pack_b_f32_t8<16>, gemv_dots_avx2_f32, gemv_axpys_avx2_f32};
  t.d = {"avx2", kMR, 8, /*mc*/ 60, /*kc*/ 384, /*nc*/ 4080, ukr_simd<F64x4, kMR>,
         pack_a_impl<double, kMR>, pack_b_impl<double, 8>, gemv_dots_avx2_f64, gemv_axpys_avx2_f64};
  fill_ukr_tables<F32x8, kMR>(t.s);
  fill_ukr_tables<F64x4, kMR>(t.d);
  return t;
}

}  // namespace

void gemv_dots_avx2_f32(int64_t n, int64_t k, const float* x, const float* w, int64_t ldw, float* out) {
  dots_simd<F32x8>(n, k, x, w, ldw, out);
}
void gemv_axpys_avx2_f32(int64_t n, int64_t k, const float* x, const float* w, int64_t ldw, float* out) {
  axpys_simd<F32x8>(n, k, x, w, ldw, out);
}
void gemv_dots_avx2_f64(int64_t n, int64_t k, const double* x, const double* w, int64_t ldw, double* out) {
  dots_simd<F64x4>(n, k, x, w, ldw, out);
}
void gemv_axpys_avx2_f64(int64_t n, int64_t k, const double* x, const double* w, int64_t ldw, double* out) {
  axpys_simd<F64x4>(n, k, x, w, ldw, out);
}

GemmIsaKernels& gemm_kernels_avx2() {
  static GemmIsaKernels t = make_avx2();
  return t;
}

// 12 independent accumulator chains (enough to cover FMA latency x 2 pipes). Named
// registers, not an array: an array made GCC store every chain to the stack each iteration.
double fma_probe_avx2(int64_t iters) {
  __m256 c0 = _mm256_set1_ps(1.0f), c1 = _mm256_set1_ps(1.1f), c2 = _mm256_set1_ps(1.2f),
         c3 = _mm256_set1_ps(1.3f), c4 = _mm256_set1_ps(1.4f), c5 = _mm256_set1_ps(1.5f),
         c6 = _mm256_set1_ps(1.6f), c7 = _mm256_set1_ps(1.7f), c8 = _mm256_set1_ps(1.8f),
         c9 = _mm256_set1_ps(1.9f), c10 = _mm256_set1_ps(2.0f), c11 = _mm256_set1_ps(2.1f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    c0 = _mm256_fmadd_ps(c0, a, b); c1 = _mm256_fmadd_ps(c1, a, b); c2 = _mm256_fmadd_ps(c2, a, b);
    c3 = _mm256_fmadd_ps(c3, a, b); c4 = _mm256_fmadd_ps(c4, a, b); c5 = _mm256_fmadd_ps(c5, a, b);
    c6 = _mm256_fmadd_ps(c6, a, b); c7 = _mm256_fmadd_ps(c7, a, b); c8 = _mm256_fmadd_ps(c8, a, b);
    c9 = _mm256_fmadd_ps(c9, a, b); c10 = _mm256_fmadd_ps(c10, a, b); c11 = _mm256_fmadd_ps(c11, a, b);
    __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5));
    __asm__ volatile("" : "+x"(c6), "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                           _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  volatile float sink = _mm256_cvtss_f32(s);
  (void)sink;
  return (double)iters * 12 * 8 * 2;
}

}  // namespace dlcore
