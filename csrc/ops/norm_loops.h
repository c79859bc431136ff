// The layer-norm row loops and the batch-norm (N, C) column sweeps, written once and compiled once per ISA: csrc/kernels/norm_{generic,
// avx2,avx512}.cpp include this file inside their own namespace (DLCORE_NORM_NS) with their own
// -m flags and export the set through DLCORE_NORM_SET (ops/norm_isa.h); ops/norm.cpp picks the
// current ISA's set and splits the rows over threads.
// Forward: one pass for the row's shifted sums (mean and variance), one for y. Backward: one pass
// for the row sums and the dgamma / dbeta partials, one for dx.
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

constexpr int kDL = kNativeVecBytes / 8;  // doubles per native vector (core/cpu.h)
constexpr int kAcc = 16;                  // accumulators per sum
constexpr int kNA = kAcc / kDL;           // native vectors holding them
typedef double DV __attribute__((vector_size(kNativeVecBytes)));
template <class T> struct SrcVec { typedef T type __attribute__((vector_size(kDL * sizeof(T)))); };

template <class T> static inline DV load_d(const T* p) {
  typename SrcVec<T>::type s;
  __builtin_memcpy(&s, p, sizeof(s));
  return __builtin_convertvector(s, DV);
}
static inline double lane(const DV* acc, int u) { return acc[u / kDL][u % kDL]; }

// float rows: the per-element work runs in float (twice the lanes of double, no conversions) on
// kAcc float lane accumulators, each of which takes kFlushEvery values before it is added into
// its double lane: lane u still takes the elements j with j % kAcc == u, and a row's result
// still depends only on its data.
constexpr int kFL = kNativeVecBytes / 4;  // floats per native vector
constexpr int kNFA = kAcc / kFL;          // native float vectors holding kAcc lanes
constexpr int64_t kFlushEvery = 8;
constexpr int64_t kChunk = kAcc * kFlushEvery;
typedef float FV __attribute__((vector_size(kNativeVecBytes)));
static inline FV load_f(const float* p) {
  FV v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
static inline void flush(DV* acc, const FV* f) {  // acc lanes u += f lanes u, u < kAcc
  float t[kAcc];
  __builtin_memcpy(t, f, sizeof(t));
  for (int k = 0; k < kNA; ++k) acc[k] += load_d(t + k * kDL);
}
static inline double total8(const double* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
static inline double total(const double* a) { return total8(a) + total8(a + 8); }

// Row mean and biased variance in ONE pass: sums of d = x - x[0] and of d^2 (kAcc fixed
// accumulators each, double), then mean = x[0] + sum d / K, var = (sum d^2 - sum d * dm) / K.
// The shift keeps the subtraction well conditioned (|mean - x[0]| is a few std at most).
template <class T> static void row_stats(const T* __restrict x, int64_t K, double& mean, double& var) {
  const double k0 = (double)x[0];
  DV s[kNA] = {}, q[kNA] = {};
  int64_t j = 0;
  if constexpr (sizeof(T) == 4) {  // whole chunks in float (d = x - x[0] rounded to float)
    const FV f0 = FV{} + x[0];
    for (; j + kChunk <= K; j += kChunk) {
      FV fs[kNFA] = {}, fq[kNFA] = {};
      for (int64_t i = j; i < j + kChunk; i += kAcc)
        for (int k = 0; k < kNFA; ++k) {
          const FV d = load_f(x + i + k * kFL) - f0;
          fs[k] += d;
          fq[k] += d * d;
        }
      flush(s, fs);
      flush(q, fq);
    }
  }
  for (; j + kAcc <= K; j += kAcc)
    for (int k = 0; k < kNA; ++k) {
      DV d = load_d(x + j + k * kDL) - k0;
      s[k] += d;
      q[k] += d * d;
    }
  double a[kAcc], c[kAcc];
  for (int u = 0; u < kAcc; ++u) { a[u] = lane(s, u); c[u] = lane(q, u); }
  for (int u = 0; j < K; ++j, ++u) {
    const double d = (double)x[j] - k0;
    a[u] += d;
    c[u] += d * d;
  }
  const double sum = total(a), sq = total(c);
  const double dm = sum / (double)K;
  mean = k0 + dm;
  const double ssd = sq - sum * dm;
  var = (ssd > 0.0 ? ssd : 0.0) / (double)K;
}

// y = (x - mean) * rstd * gamma + beta per row; mean / rstd stored per row (ln_forward's lines).
template <class T>
void ln_fwd_rows(const T* x, const T* __restrict g, const T* __restrict b, double eps, int64_t K, int64_t r0, int64_t r1,
                 T* y, T* smean, T* srstd) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict xr = x + r * K;
    T* __restrict yr = y + r * K;
    double mean, var;
    row_stats(xr, K, mean, var);
    const double rstd = norm_invstd(var, eps);
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

// One pass over a row of the backward: s = sum v, t = sum v (x - mean) with v = dy * gamma (or
// dy), kAcc fixed accumulators each; and the dbeta / dgamma partials of the row's block,
// ab[j] += dy, ag[j] += dy * ((x - mean) * rstd) (in T: float partials of at most RB rows, which
// ops/norm.cpp then sums over blocks in double; rows added in order).
template <class T, bool HasG>
static void row_bwd_sums(const T* __restrict dy, const T* __restrict x, const T* __restrict g, int64_t K,
                         double mean, double rstd, T* __restrict ab, T* __restrict ag,
                         double& s_out, double& t_out) {
  DV s[kNA] = {}, t[kNA] = {};
  int64_t j = 0;
  if constexpr (sizeof(T) == 4) {  // whole chunks in float, partials in float
    const FV fm = FV{} + (float)mean, fr = FV{} + (float)rstd;
    for (; j + kChunk <= K; j += kChunk) {
      FV fs[kNFA] = {}, ft[kNFA] = {};
      for (int64_t i = j; i < j + kChunk; i += kAcc)
        for (int k = 0; k < kNFA; ++k) {
          const int64_t o = i + k * kFL;
          const FV d = load_f(dy + o), xm = load_f(x + o) - fm;
          FV pb = load_f(ab + o), pg = load_f(ag + o);
          pb += d;
          pg += d * (xm * fr);
          __builtin_memcpy(ab + o, &pb, sizeof(FV));
          __builtin_memcpy(ag + o, &pg, sizeof(FV));
          const FV v = HasG ? d * load_f(g + o) : d;
          fs[k] += v;
          ft[k] += v * xm;
        }
      flush(s, fs);
      flush(t, ft);
    }
  }
  for (; j + kAcc <= K; j += kAcc)
    for (int k = 0; k < kNA; ++k) {
      const int64_t o = j + k * kDL;
      const DV d = load_d(dy + o), xm = load_d(x + o) - mean;
      for (int u = 0; u < kDL; ++u) {  // the partials are T
        ab[o + u] += (T)d[u];
        ag[o + u] += (T)(d[u] * (xm[u] * rstd));
      }
      const DV v = HasG ? d * load_d(g + o) : d;
      s[k] += v;
      t[k] += v * xm;
    }
  double a[kAcc], c[kAcc];
  for (int u = 0; u < kAcc; ++u) { a[u] = lane(s, u); c[u] = lane(t, u); }
  for (int u = 0; j < K; ++j, ++u) {
    const double d = (double)dy[j], xm = (double)x[j] - mean;
    ab[j] += (T)d;
    ag[j] += (T)(d * (xm * rstd));
    const double v = HasG ? d * (double)g[j] : d;
    a[u] += v;
    c[u] += v * xm;
  }
  s_out = total(a);
  t_out = total(c);
}

// Backward of ln_fwd_rows for rows [r0, r1): dx through mean and rstd of the row, and the
// dbeta / dgamma partials of these rows into ab / ag (see row_bwd_sums).
template <class T>
void ln_bwd_rows(const T* dy, const T* x, const T* g, const T* smean, const T* srstd, int64_t K,
                 int64_t r0, int64_t r1, T* dx, T* __restrict ab, T* __restrict ag) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict xr = x + r * K;
    const T* __restrict gr = dy + r * K;
    T* __restrict dr = dx + r * K;
    const double mean = (double)smean[r], rstd = (double)srstd[r];
    double s, t;
    if (g) row_bwd_sums<T, true>(gr, xr, g, K, mean, rstd, ab, ag, s, t);
    else row_bwd_sums<T, false>(gr, xr, g, K, mean, rstd, ab, ag, s, t);
    const NormAffine nd = norm_dx_terms(mean, rstd, s, t, (double)K);
    const T a = (T)nd.scale, b = (T)nd.shift, rs = (T)rstd;
    if (g) {
      for (int64_t k = 0; k < K; ++k) dr[k] = norm_dx<T>(gr[k], xr[k], g[k] * rs, a, b);
    } else {
      for (int64_t k = 0; k < K; ++k) dr[k] = norm_dx<T>(gr[k], xr[k], rs, a, b);
    }
  }
}

// ---- batch norm over (N, C, S), one channel: its N runs of S contiguous values -------------------

// One channel's two sums over its runs p0 + n*stride, p1 + n*stride (n < N) of S values each:
// s = sum e, t = sum e * w with (Bwd) e = p0, w = p1 - c (the backward's sum dy and
// sum dy * (x - mean)), or (!Bwd) e = w = p0 - c (the forward's shifted sum and sum of squares).
// kAcc lanes as in row_bwd_sums (float groups flushed into the double lanes every kFlushEvery
// values and at the end of each run), lane u of a run taking its elements j with
// j % kAcc == u, runs in order; the values depend only on the data (one thread owns a channel).
template <class T, bool Bwd, bool Relu = false>
static void run_sums(const T* p0, const T* p1, int64_t N, int64_t stride, int64_t S, double c, double* s_out,
                     double* t_out, const T* p2 = nullptr) {
  DV s[kNA] = {}, t[kNA] = {};
  double a[kAcc] = {}, b[kAcc] = {};
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict r0 = p0 + n * stride;
    const T* __restrict r1 = p1 + n * stride;
    const T* __restrict r2 = Relu ? p2 + n * stride : nullptr;
    int64_t j = 0;
    if constexpr (sizeof(T) == 4) {  // every whole group of kAcc in float, flushed every kFlushEvery
      const FV fc = FV{} + (float)c;
      FV fs[kNFA] = {}, ft[kNFA] = {};
      int64_t cnt = 0;
      for (; j + kAcc <= S; j += kAcc) {
        for (int k = 0; k < kNFA; ++k) {
          FV e = Bwd ? load_f(r0 + j + k * kFL) : load_f(r0 + j + k * kFL) - fc;
          if constexpr (Relu) e = load_f(r2 + j + k * kFL) <= FV{} ? FV{} : e;  // norm_relu_grad
          const FV w = Bwd ? load_f(r1 + j + k * kFL) - fc : e;
          fs[k] += e;
          ft[k] += e * w;
        }
        if (++cnt == kFlushEvery || j + 2 * kAcc > S) {
          flush(s, fs);
          flush(t, ft);
          for (int k = 0; k < kNFA; ++k) fs[k] = ft[k] = FV{};
          cnt = 0;
        }
      }
    }
    for (; j + kAcc <= S; j += kAcc)
      for (int k = 0; k < kNA; ++k) {
        DV e = Bwd ? load_d(r0 + j + k * kDL) : load_d(r0 + j + k * kDL) - c;
        if constexpr (Relu) e = load_d(r2 + j + k * kDL) <= DV{} ? DV{} : e;
        const DV w = Bwd ? load_d(r1 + j + k * kDL) - c : e;
        s[k] += e;
        t[k] += e * w;
      }
    for (int u = 0; j < S; ++j, ++u) {
      const double e = Relu ? (double)norm_relu_grad<T>(r0[j], r2[j]) : Bwd ? (double)r0[j] : (double)r0[j] - c;
      const double w = Bwd ? (double)r1[j] - c : e;
      a[u] += e;
      b[u] += e * w;
    }
  }
  for (int u = 0; u < kAcc; ++u) {
    a[u] += lane(s, u);
    b[u] += lane(t, u);
  }
  *s_out = total(a);
  *t_out = total(b);
}

// Forward: s = sum (x - shift), q = sum (x - shift)^2 over the channel's runs (the two passes:
// shift 0 for the mean, then shift = mean for the sum of squared deviations).
template <class T>
void bn_stats(const T* x, int64_t N, int64_t stride, int64_t S, double shift, double* s_out, double* q_out) {
  run_sums<T, false>(x, x, N, stride, S, shift, s_out, q_out);
}

// y = x * scale + shift over n contiguous values; relu: y = norm_relu(x * scale + shift).
template <class T>
void bn_affine_run(const T* __restrict x, T* __restrict y, int64_t n, T scale, T shift, bool relu) {
  if (relu) {
    for (int64_t j = 0; j < n; ++j) y[j] = norm_relu<T>(x[j] * scale + shift);
    return;
  }
  for (int64_t j = 0; j < n; ++j) y[j] = x[j] * scale + shift;
}

// Backward: s = sum dy, t = sum dy * (x - mean) over the channel's runs; with the fused ReLU's
// output y (non-null), dy is first masked by it (norm_relu_grad).
template <class T>
void bn_bwd_sums(const T* dy, const T* x, const T* y, int64_t N, int64_t stride, int64_t S, double mean,
                 double* s_out, double* t_out) {
  if (y) run_sums<T, true, true>(dy, x, N, stride, S, mean, s_out, t_out, y);
  else run_sums<T, true>(dy, x, N, stride, S, mean, s_out, t_out);
}

// dx = dy * k + x * a + b over n contiguous values (norm_math.h norm_dx); dy masked by y when given.
template <class T>
void bn_dx_run(const T* __restrict dy, const T* __restrict x, const T* __restrict y, T* __restrict dx, int64_t n,
               T k, T a, T b) {
  if (y) {
    for (int64_t j = 0; j < n; ++j) dx[j] = norm_dx<T>(norm_relu_grad<T>(dy[j], y[j]), x[j], k, a, b);
    return;
  }
  for (int64_t j = 0; j < n; ++j) dx[j] = norm_dx<T>(dy[j], x[j], k, a, b);
}

// ---- batch norm over (N, C) (S == 1): sweeps of a channel block [c0, c0 + w) row by row ----------
// Each channel's sums run over n in order (vectorised across the channels): the same order as
// the generic lines of bn_forward_cols / bn_backward_cols in ops/norm.cpp.

// sum[j] += x - k0[j], sq[j] += (x - k0[j])^2 over the rows
template <class T>
void bn1d_stats(const T* x, int64_t N, int64_t C, int64_t c0, int64_t w, const double* __restrict k0,
                double* __restrict sum, double* __restrict sq) {
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict row = x + n * C + c0;
    for (int64_t j = 0; j < w; ++j) {
      const double d = (double)row[j] - k0[j];
      sum[j] += d;
      sq[j] += d * d;
    }
  }
}
// y = x * scale[j] + shift[j]
template <class T>
void bn1d_affine(const T* x, T* y, int64_t N, int64_t C, int64_t c0, int64_t w, const T* __restrict scale,
                 const T* __restrict shift) {
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict xr = x + n * C + c0;
    T* __restrict yr = y + n * C + c0;
    for (int64_t j = 0; j < w; ++j) yr[j] = xr[j] * scale[j] + shift[j];
  }
}
// sdy[j] += dy, sdyx[j] += dy * (x - mean[j])
template <class T>
void bn1d_bwd_sums(const T* dy, const T* x, int64_t N, int64_t C, int64_t c0, int64_t w,
                   const double* __restrict mean, double* __restrict sdy, double* __restrict sdyx) {
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict gr = dy + n * C + c0;
    const T* __restrict xr = x + n * C + c0;
    for (int64_t j = 0; j < w; ++j) {
      const double g = (double)gr[j];
      sdy[j] += g;
      sdyx[j] += g * ((double)xr[j] - mean[j]);
    }
  }
}
// dx = dy * kk[j] + x * aa[j] + bb[j]
template <class T>
void bn1d_dx(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t c0, int64_t w,
             const T* __restrict kk, const T* __restrict aa, const T* __restrict bb) {
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict gr = dy + n * C + c0;
    const T* __restrict xr = x + n * C + c0;
    T* __restrict dr = dx + n * C + c0;
    for (int64_t j = 0; j < w; ++j) dr[j] = norm_dx<T>(gr[j], xr[j], kk[j], aa[j], bb[j]);
  }
}

}  // namespace DLCORE_NORM_NS
}  // namespace dlcore
