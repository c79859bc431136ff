// The layer-norm row loops, written once and compiled once per ISA: csrc/kernels/norm_{generic,
// avx2,avx512}.cpp include this file inside their own namespace (DLCORE_NORM_NS) with their own
// -m flags and export the set through DLCORE_NORM_SET (ops/norm_isa.h); ops/norm.cpp picks the
// current ISA's set and splits the rows over threads.
// Row statistics are double sums with 16 accumulators (lane u takes elements j with j % 16 == u,
// combined in a fixed tree; 16 so that the vector adds of one row are independent enough to
// not wait on each other's latency): a row's statistics depend only on its data, never on the
// thread count. The accumulators live in native GCC vectors (GCC leaves the plain-array form
// scalar); vector ISAs may contract a * b + c into one FMA, so the last bits may differ between
// ISAs.
#pragma once
#include <cstdint>

#include "ops/norm_isa.h"
#include "ops/norm_math.h"

#ifndef DLCORE_NORM_NS
#error "define DLCORE_NORM_NS before including ops/norm_loops.h"
#endif

namespace dlcore {
namespace DLCORE_NORM_NS {

// Only static functions here and always-inline math from norm_math.h: an inline function
// instantiated in this ISA's object could otherwise be picked by the linker for generic callers.

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif
constexpr int kDL = kVecBytes / 8;  // doubles per native vector
constexpr int kAcc = 16;            // accumulators per sum
constexpr int kNA = kAcc / kDL;     // native vectors holding them
typedef double DV __attribute__((vector_size(kVecBytes)));
template <class T> struct SrcVec { typedef T type __attribute__((vector_size(kDL * sizeof(T)))); };

template <class T> static inline DV load_d(const T* p) {
  typename SrcVec<T>::type s;
  __builtin_memcpy(&s, p, sizeof(s));
  return __builtin_convertvector(s, DV);
}
static inline double lane(const DV* acc, int u) { return acc[u / kDL][u % kDL]; }
static inline double total8(const double* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
static inline double total(const double* a) { return total8(a) + total8(a + 8); }

// sum x  and  sum (x - mean)^2, each with the kAcc fixed accumulators
template <class T> static double row_sum8(const T* __restrict x, int64_t K) {
  DV acc[kNA] = {};
  int64_t j = 0;
  for (; j + kAcc <= K; j += kAcc)
    for (int k = 0; k < kNA; ++k) acc[k] += load_d(x + j + k * kDL);
  double a[kAcc];
  for (int u = 0; u < kAcc; ++u) a[u] = lane(acc, u);
  for (int u = 0; j < K; ++j, ++u) a[u] += (double)x[j];  // j % kAcc == u
  return total(a);
}
template <class T> static double row_sqdev8(const T* __restrict x, int64_t K, double mean) {
  DV acc[kNA] = {};
  int64_t j = 0;
  for (; j + kAcc <= K; j += kAcc)
    for (int k = 0; k < kNA; ++k) {
      DV d = load_d(x + j + k * kDL) - mean;
      acc[k] += d * d;
    }
  double a[kAcc];
  for (int u = 0; u < kAcc; ++u) a[u] = lane(acc, u);
  for (int u = 0; j < K; ++j, ++u) {
    double d = (double)x[j] - mean;
    a[u] += d * d;
  }
  return total(a);
}

// y = (x - mean) * rstd * gamma + beta per row; mean / rstd stored per row (ln_forward's lines).
template <class T>
void ln_fwd_rows(const T* x, const T* __restrict g, const T* __restrict b, double eps, int64_t K, int64_t r0, int64_t r1,
                 T* y, T* smean, T* srstd) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict xr = x + r * K;
    T* __restrict yr = y + r * K;
    const double mean = row_sum8(xr, K) / (double)K;
    const double rstd = norm_invstd(row_sqdev8(xr, K, mean) / (double)K, eps);
    smean[r] = (T)mean;
    srstd[r] = (T)rstd;
    const T m = (T)mean, rs = (T)rstd;
    if (g && b) {
      for (int64_t j = 0; j < K; ++j) yr[j] = (xr[j] - m) * rs * g[j] + b[j];
    } else if (g) {
      for (int64_t j = 0; j < K; ++j) yr[j] = (xr[j] - m) * rs * g[j];
    } else if (b) {
      for (int64_t j = 0; j < K; ++j) yr[j] = (xr[j] - m) * rs + b[j];
    } else {
      for (int64_t j = 0; j < K; ++j) yr[j] = (xr[j] - m) * rs;
    }
  }
}

// s = sum v, t = sum v (x - mean) with v = dy * gamma (or dy), kAcc fixed accumulators each.
template <class T, bool HasG>
static void row_dy_sums(const T* __restrict dy, const T* __restrict x, const T* __restrict g, int64_t K,
                        double mean, double& s_out, double& t_out) {
  DV s[kNA] = {}, t[kNA] = {};
  int64_t j = 0;
  for (; j + kAcc <= K; j += kAcc)
    for (int k = 0; k < kNA; ++k) {
      const int64_t o = j + k * kDL;
      DV v = HasG ? load_d(dy + o) * load_d(g + o) : load_d(dy + o);
      s[k] += v;
      t[k] += v * (load_d(x + o) - mean);
    }
  double a[kAcc], c[kAcc];
  for (int u = 0; u < kAcc; ++u) { a[u] = lane(s, u); c[u] = lane(t, u); }
  for (int u = 0; j < K; ++j, ++u) {
    const double v = HasG ? (double)dy[j] * (double)g[j] : (double)dy[j];
    a[u] += v;
    c[u] += v * ((double)x[j] - mean);
  }
  s_out = total(a);
  t_out = total(c);
}

// Backward of ln_fwd_rows for rows [r0, r1): dx through mean and rstd of the row, and the
// dbeta / dgamma partials ab[j] += dy, ag[j] += dy * (x - mean) * rstd (in row order).
template <class T>
void ln_bwd_rows(const T* dy, const T* x, const T* g, const T* smean, const T* srstd, int64_t K,
                 int64_t r0, int64_t r1, T* dx, double* __restrict ab, double* __restrict ag) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict xr = x + r * K;
    const T* __restrict gr = dy + r * K;
    T* __restrict dr = dx + r * K;
    const double mean = (double)smean[r], rstd = (double)srstd[r];
    for (int64_t j = 0; j < K; ++j) {
      const double d = (double)gr[j];
      ab[j] += d;
      ag[j] += d * (((double)xr[j] - mean) * rstd);
    }
    double s, t;
    if (g) row_dy_sums<T, true>(gr, xr, g, K, mean, s, t);
    else row_dy_sums<T, false>(gr, xr, g, K, mean, s, t);
    const NormAffine nd = norm_dx_terms(mean, rstd, s, t, (double)K);
    const T a = (T)nd.scale, b = (T)nd.shift, rs = (T)rstd;
    if (g) {
      for (int64_t k = 0; k < K; ++k) dr[k] = norm_dx<T>(gr[k], xr[k], g[k] * rs, a, b);
    } else {
      for (int64_t k = 0; k < K; ++k) dr[k] = norm_dx<T>(gr[k], xr[k], rs, a, b);
    }
  }
}

}  // namespace DLCORE_NORM_NS
}  // namespace dlcore
