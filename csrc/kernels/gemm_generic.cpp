// Portable GEMM kernels (no ISA flags): a 4x8 register tile the compiler vectorises with the
// baseline SSE2 on x86-64 (or NEON elsewhere). Used when no AVX2 is available, and as the
// reference path the tests run next to the SIMD ones.
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_pack.h"

namespace dlcore {
namespace {

constexpr int kMR = 4, kNR = 8;

template <class T>
void ukr_generic(int64_t k, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T alpha, T beta) {
  T acc[kMR][kNR] = {};
  for (int64_t p = 0; p < k; ++p) {
    for (int i = 0; i < kMR; ++i) {
      const T ai = a[i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
    a += kMR;
    b += ldb;
  }
  for (int i = 0; i < kMR; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < kNR; ++j) ci[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < kNR; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
  }
}

// 8 lanes of partial sums per row, reduced in a fixed order.
template <class T>
void dots_generic(int64_t n, int64_t k, const T* x, const T* w, int64_t ldw, T* out) {
  for (int64_t j = 0; j < n; ++j) {
    const T* wj = w + j * ldw;
    T s[8] = {};
    int64_t p = 0;
    for (; p + 8 <= k; p += 8)
      for (int l = 0; l < 8; ++l) s[l] += x[p + l] * wj[p + l];
    T t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; p < k; ++p) t += x[p] * wj[p];
    out[j] = t;
  }
}

template <class T>
void axpys_generic(int64_t n, int64_t k, const T* x, const T* w, int64_t ldw, T* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = T(0);
  for (int64_t p = 0; p < k; ++p) {
    const T xp = x[p];
    const T* wp = w + p * ldw;
    for (int64_t j = 0; j < n; ++j) out[j] += xp * wp[j];
  }
}

// Blocking table (generic): small tile, L1/L2-sized blocks.
GemmIsaKernels make_generic() {
  GemmIsaKernels t;
  t.s = {"generic", kMR, kNR, /*mc*/ 128, /*kc*/ 256, /*nc*/ 4096, ukr_generic<float>,
         pack_a_impl<float, kMR>, pack_b_impl<float, kNR>, dots_generic<float>, axpys_generic<float>};
  t.d = {"generic", kMR, kNR, /*mc*/ 64, /*kc*/ 256, /*nc*/ 4096, ukr_generic<double>,
         pack_a_impl<double, kMR>, pack_b_impl<double, kNR>, dots_generic<double>, axpys_generic<double>};
  return t;
}

}  // namespace

GemmIsaKernels& gemm_kernels_generic() {
  static GemmIsaKernels t = make_generic();
  return t;
}

}  // namespace dlcore
