// AVX-512 GEMM kernels (compiled with -mavx512f/bw/vl/dq; chosen only when cpuid + xgetbv say
// the CPU and OS support it). float: 12x32 tile (24 zmm accumulators), double: 12x16.
// The micro-kernels and float packers are the templates of gemm_simd.h that the AVX2 set also
// runs; only the vector traits below and the blocking numbers differ. Tested on Sapphire Rapids
// (session 4, docs/gemm.md); the blocking is still a first guess from the published SKX/Zen4
// numbers scaled to row-major 12x32 tiles, not tuned.
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_pack.h"
#include "kernels/gemm_simd.h"

namespace dlcore {
namespace {

struct F32x16 {
  using T = float;
  using R = __m512;
  static constexpr int W = 16;
  static R load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, R v) { _mm512_storeu_ps(p, v); }
  static R bcast(const T* p) { return _mm512_set1_ps(*p); }
  static R set1(T v) { return _mm512_set1_ps(v); }
  static R zero() { return _mm512_setzero_ps(); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static T hsum(R v) { return _mm512_reduce_add_ps(v); }
};

struct F64x8 {
  using T = double;
  using R = __m512d;
  static constexpr int W = 8;
  static R load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, R v) { _mm512_storeu_pd(p, v); }
  static R bcast(const T* p) { return _mm512_set1_pd(*p); }
  static R set1(T v) { return _mm512_set1_pd(v); }
  static R zero() { return _mm512_setzero_pd(); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static T hsum(R v) { return _mm512_reduce_add_pd(v); }
};

constexpr int kMR = 12;

// Blocking table (AVX-512), untuned: B micro-panel 32 x 192 floats = 24 KiB (L1),
// A block 240 x 192 floats = 180 KiB (L2).
GemmIsaKernels make_avx512() {
  GemmIsaKernels t;
  t.s = {"avx512", kMR, 32, /*mc*/ 240, /*kc*/ 192, /*nc*/ 4096, ukr_simd<F32x16, kMR>,
         pack_a_f32_t8<kMR>, pack_b_f32_t8<32>, gemv_dots_avx2_f32, gemv_axpys_avx2_f32};
  t.d = {"avx512", kMR, 16, /*mc*/ 120, /*kc*/ 192, /*nc*/ 2048, ukr_simd<F64x8, kMR>,
         pack_a_impl<double, kMR>, pack_b_impl<double, 16>, gemv_dots_avx2_f64, gemv_axpys_avx2_f64};
  fill_ukr_tables<F32x16, kMR>(t.s);
  fill_ukr_tables<F64x8, kMR>(t.d);
  return t;
}

}  // namespace

GemmIsaKernels& gemm_kernels_avx512() {
  static GemmIsaKernels t = make_avx512();
  return t;
}

// Same probe as fma_probe_avx2 with zmm registers (named, see there).
double fma_probe_avx512(int64_t iters) {
  __m512 c0 = _mm512_set1_ps(1.0f), c1 = _mm512_set1_ps(1.1f), c2 = _mm512_set1_ps(1.2f),
         c3 = _mm512_set1_ps(1.3f), c4 = _mm512_set1_ps(1.4f), c5 = _mm512_set1_ps(1.5f),
         c6 = _mm512_set1_ps(1.6f), c7 = _mm512_set1_ps(1.7f), c8 = _mm512_set1_ps(1.8f),
         c9 = _mm512_set1_ps(1.9f), c10 = _mm512_set1_ps(2.0f), c11 = _mm512_set1_ps(2.1f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    c0 = _mm512_fmadd_ps(c0, a, b); c1 = _mm512_fmadd_ps(c1, a, b); c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b); c4 = _mm512_fmadd_ps(c4, a, b); c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b); c7 = _mm512_fmadd_ps(c7, a, b); c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b); c10 = _mm512_fmadd_ps(c10, a, b); c11 = _mm512_fmadd_ps(c11, a, b);
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));
    __asm__ volatile("" : "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                           _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  volatile float sink = _mm512_cvtss_f32(s);
  (void)sink;
  return (double)iters * 12 * 16 * 2;
}

}  // namespace dlcore
