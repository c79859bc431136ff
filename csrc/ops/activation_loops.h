// The hot loops of the activation and loss families, written once and compiled once per ISA:
// csrc/kernels/actloss_{generic,avx2,avx512}.cpp include this file inside their own namespace
// (DLCORE_LOOPS_NS) with their own -m flags, and register the instantiations in
// actloss_isa_kernels(isa); ops/activation.cpp and ops/loss.cpp pick the current ISA's set.
// Loops are plain unit-stride loops over branch-free math (activation_math.h) that the compiler
// vectorises; reductions keep kLanes partial accumulators in a fixed order, so a row's result
// depends only on its data (never on the thread count).
//
// Layouts: activations act on a contiguous span of n elements. softmax / log_softmax act on x
// viewed as (outer, D, inner) (D = the softmax axis) for outer slices [o0, o1). Cross-entropy
// acts on logits (rows, C) contiguous for rows [r0, r1).
#pragma once
#include <cstdint>
#include <cmath>
#include <limits>

#include "ops/activation_math.h"
#include "ops/actloss_isa.h"

#ifndef DLCORE_LOOPS_NS
#error "define DLCORE_LOOPS_NS before including ops/activation_loops.h"
#endif

namespace dlcore {
namespace DLCORE_LOOPS_NS {

template <class T> struct Lanes { static constexpr int n = 64 / (int)sizeof(T); };

// Only static (internal) helpers and libm / operator new calls here: an inline library
// template instantiated in this ISA's object could otherwise be picked by the linker for
// callers in generic code. Hence no std::vector and no std::log overloads.
static inline float log_(float v) { return ::logf(v); }
static inline double log_(double v) { return ::log(v); }
template <class T> struct Scratch {  // a plain heap buffer
  T* p;
  explicit Scratch(int64_t n) : p(n > 0 ? new T[n] : nullptr) {}
  ~Scratch() { delete[] p; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// ---- elementwise activations ------------------------------------------------------------------

#define DLCORE_ACT_CASES(X) \
  X(sigmoid) X(tanh) X(relu) X(relu6) X(leaky_relu) X(elu) X(selu) X(celu) X(gelu) X(gelu_tanh) \
  X(silu) X(mish) X(softplus) X(softsign) X(hard_sigmoid) X(hard_swish) X(hard_tanh) X(log_sigmoid)

template <class T, ActOp OP>
static void act_fwd_loop(const T* __restrict x, T* __restrict y, int64_t n, T p0, T p1) {
  for (int64_t i = 0; i < n; ++i) y[i] = act_forward<T>(OP, x[i], p0, p1);
}
template <class T, ActOp OP>
static void act_bwd_loop(const T* __restrict g, const T* __restrict s, T* __restrict gx, int64_t n,
                         T p0, T p1) {
  for (int64_t i = 0; i < n; ++i) gx[i] = act_backward<T>(OP, g[i], s[i], p0, p1);
}

template <class T> void act_fwd_span(ActOp op, const T* x, T* y, int64_t n, T p0, T p1) {
  switch (op) {
#define X(name) case ActOp::name: act_fwd_loop<T, ActOp::name>(x, y, n, p0, p1); break;
    DLCORE_ACT_CASES(X)
#undef X
    default: break;
  }
}
// gx = g * f'(.) ; s is y or x (act_backward_uses_output)
template <class T> void act_bwd_span(ActOp op, const T* g, const T* s, T* gx, int64_t n, T p0, T p1) {
  switch (op) {
#define X(name) case ActOp::name: act_bwd_loop<T, ActOp::name>(g, s, gx, n, p0, p1); break;
    DLCORE_ACT_CASES(X)
#undef X
    default: break;
  }
}

// ---- row reductions with fixed-order lane accumulators -----------------------------------------

// row_max keeps its kLanes accumulators in native GCC vectors of this ISA (kNativeVecBytes,
// core/cpu.h, each; 64 / kNativeVecBytes of them): GCC leaves the plain-array form of this select
// loop scalar. Lane l of the array form is lane l % VL of vector l / VL here: the same result.
template <class T> struct NativeVec { typedef T type __attribute__((vector_size(kNativeVecBytes))); };

template <class T> static T row_max(const T* __restrict x, int64_t n) {
  constexpr int L = Lanes<T>::n;
  constexpr int VL = kNativeVecBytes / (int)sizeof(T), K = L / VL;
  typedef typename NativeVec<T>::type V;
  V acc[K];
  for (int k = 0; k < K; ++k) acc[k] = V{} - std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int k = 0; k < K; ++k) {
      V v;
      __builtin_memcpy(&v, x + i + k * VL, sizeof(V));
      acc[k] = v > acc[k] ? v : acc[k];
    }
  T m = -std::numeric_limits<T>::infinity();
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int l = 0; l < L; ++l) {
    T a = acc[l / VL][l % VL];
    m = a > m ? a : m;
  }
  return m;
}

template <class T> static T lane_total(const T* acc) {
  constexpr int L = Lanes<T>::n;
  T s = 0;
  for (int l = 0; l < L; ++l) s += acc[l];
  return s;
}

// sum_i exp(x_i - m); when y != nullptr also stores y_i = exp(x_i - m).
template <class T> static T row_sumexp(const T* __restrict x, T* __restrict y, int64_t n, T m) {
  constexpr int L = Lanes<T>::n;
  T acc[L] = {};
  int64_t i = 0;
  if (y) {
    for (; i + L <= n; i += L)
      for (int l = 0; l < L; ++l) {
        T e = am::exp_(x[i + l] - m);
        y[i + l] = e;
        acc[l] += e;
      }
  } else {
    for (; i + L <= n; i += L)
      for (int l = 0; l < L; ++l) acc[l] += am::exp_(x[i + l] - m);
  }
  T s = 0;
  for (; i < n; ++i) {
    T e = am::exp_(x[i] - m);
    if (y) y[i] = e;
    s += e;
  }
  return lane_total(acc) + s;
}

template <class T> static T row_dot(const T* __restrict a, const T* __restrict b, int64_t n) {
  constexpr int L = Lanes<T>::n;
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int l = 0; l < L; ++l) acc[l] += a[i + l] * b[i + l];
  T s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  return lane_total(acc) + s;
}
template <class T> static T row_sum(const T* __restrict a, int64_t n) {
  constexpr int L = Lanes<T>::n;
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int l = 0; l < L; ++l) acc[l] += a[i + l];
  T s = 0;
  for (; i < n; ++i) s += a[i];
  return lane_total(acc) + s;
}

// sum_i w_i (m - x_i) (w == nullptr: weights 1), without forming m * sum w - sum w x.
template <class T> static T row_wdiff(const T* __restrict w, const T* __restrict x, int64_t n, T m) {
  constexpr int L = Lanes<T>::n;
  T acc[L] = {};
  int64_t i = 0;
  if (w) {
    for (; i + L <= n; i += L)
      for (int l = 0; l < L; ++l) acc[l] += w[i + l] * (m - x[i + l]);
  } else {
    for (; i + L <= n; i += L)
      for (int l = 0; l < L; ++l) acc[l] += m - x[i + l];
  }
  T s = 0;
  for (; i < n; ++i) s += (w ? w[i] : T(1)) * (m - x[i]);
  return lane_total(acc) + s;
}

// ---- softmax / log_softmax ------------------------------------------------------------------------
// y = exp(x - m) / s  or  y = x - m - log s, with m = max and s = sum exp(x - m) over the axis.

template <class T>
void softmax_fwd(const T* x, T* y, int64_t o0, int64_t o1, int64_t D, int64_t inner, bool take_log) {
  if (inner == 1) {
    for (int64_t o = o0; o < o1; ++o) {
      const T* xr = x + o * D;
      T* yr = y + o * D;
      T m = row_max(xr, D);
      if (!take_log) {
        T s = row_sumexp(xr, yr, D, m);
        T r = T(1) / s;
        for (int64_t i = 0; i < D; ++i) yr[i] *= r;
      } else {
        T ls = log_(row_sumexp(xr, (T*)nullptr, D, m));
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - m) - ls;  // not x - (m + ls): m may be 1e4
      }
    }
    return;
  }
  // axis is not the last one: columns of `inner` contiguous elements, vectorised across columns
  Scratch<T> mv(inner), sv(inner);
  T* __restrict m = mv.p;
  T* __restrict s = sv.p;
  for (int64_t o = o0; o < o1; ++o) {
    const T* xs = x + o * D * inner;
    T* ys = y + o * D * inner;
    for (int64_t j = 0; j < inner; ++j) { m[j] = -std::numeric_limits<T>::infinity(); s[j] = 0; }
    for (int64_t d = 0; d < D; ++d) {
      const T* __restrict xr = xs + d * inner;
      for (int64_t j = 0; j < inner; ++j) m[j] = xr[j] > m[j] ? xr[j] : m[j];
    }
    for (int64_t d = 0; d < D; ++d) {
      const T* __restrict xr = xs + d * inner;
      T* __restrict yr = ys + d * inner;
      if (!take_log) {
        for (int64_t j = 0; j < inner; ++j) { T e = am::exp_(xr[j] - m[j]); yr[j] = e; s[j] += e; }
      } else {
        for (int64_t j = 0; j < inner; ++j) s[j] += am::exp_(xr[j] - m[j]);
      }
    }
    if (!take_log) {
      for (int64_t j = 0; j < inner; ++j) s[j] = T(1) / s[j];
      for (int64_t d = 0; d < D; ++d) {
        T* __restrict yr = ys + d * inner;
        for (int64_t j = 0; j < inner; ++j) yr[j] *= s[j];
      }
    } else {
      for (int64_t j = 0; j < inner; ++j) s[j] = log_(s[j]);
      for (int64_t d = 0; d < D; ++d) {
        const T* __restrict xr = xs + d * inner;
        T* __restrict yr = ys + d * inner;
        for (int64_t j = 0; j < inner; ++j) yr[j] = (xr[j] - m[j]) - s[j];
      }
    }
  }
}

// Backward of the lines above. softmax: gx = y (g - sum(g y)); log_softmax: gx = g - exp(y) sum(g).
template <class T>
void softmax_bwd(const T* g, const T* y, T* gx, int64_t o0, int64_t o1, int64_t D, int64_t inner,
                 bool take_log) {
  if (inner == 1) {
    for (int64_t o = o0; o < o1; ++o) {
      const T* __restrict gr = g + o * D;
      const T* __restrict yr = y + o * D;
      T* __restrict gxr = gx + o * D;
      if (!take_log) {
        T dot = row_dot(gr, yr, D);
        for (int64_t i = 0; i < D; ++i) gxr[i] = yr[i] * (gr[i] - dot);
      } else {
        T sg = row_sum(gr, D);
        for (int64_t i = 0; i < D; ++i) gxr[i] = gr[i] - am::exp_(yr[i]) * sg;
      }
    }
    return;
  }
  Scratch<T> sv(inner);
  T* __restrict s = sv.p;
  for (int64_t o = o0; o < o1; ++o) {
    const T* gs = g + o * D * inner;
    const T* ys = y + o * D * inner;
    T* gxs = gx + o * D * inner;
    for (int64_t j = 0; j < inner; ++j) s[j] = 0;
    for (int64_t d = 0; d < D; ++d) {
      const T* __restrict gr = gs + d * inner;
      const T* __restrict yr = ys + d * inner;
      if (!take_log) for (int64_t j = 0; j < inner; ++j) s[j] += gr[j] * yr[j];
      else for (int64_t j = 0; j < inner; ++j) s[j] += gr[j];
    }
    for (int64_t d = 0; d < D; ++d) {
      const T* __restrict gr = gs + d * inner;
      const T* __restrict yr = ys + d * inner;
      T* __restrict gxr = gxs + d * inner;
      if (!take_log) for (int64_t j = 0; j < inner; ++j) gxr[j] = yr[j] * (gr[j] - s[j]);
      else for (int64_t j = 0; j < inner; ++j) gxr[j] = gr[j] - am::exp_(yr[j]) * s[j];
    }
  }
}

// ---- fused cross-entropy from logits ----------------------------------------------------------------
// z is (rows, C). Target: class indices tidx (rows,) or probabilities tprob (rows, C). w: class
// weights (C,) or null. eps: label smoothing. Per row r (not ignored), with m = max z and
// ls = log sum exp(z - m) (so log p_c = (z_c - m) - ls, never m + ls rounded at |z| = 1e4):
//   indices: loss = (1-eps) w_t (m - z_t + ls) + eps/C sum_c w_c (m - z_c + ls),   wrow = w_t
//   probs:   loss = sum_c w_c q_c (m - z_c + ls),  q = (1-eps) q + eps/C,            wrow = 1
// ignored rows (t == ignore_index): loss = 0, wrow = 0. stat = (m, ls) per row, for the backward.

template <class T>
void ce_fwd(const T* z, const CeArgs& a, int64_t r0, int64_t r1, T* loss, T* stat, T* wrow) {
  const int64_t C = a.C;
  const T* w = (const T*)a.weight;
  const T* q = (const T*)a.tprob;
  const T eps = (T)a.eps;
  Scratch<T> tmp(q ? C : 0);
  for (int64_t r = r0; r < r1; ++r) {
    const T* zr = z + r * C;
    if (!q && a.tidx[r] == a.ignore_index) {
      loss[r] = 0; stat[2 * r] = 0; stat[2 * r + 1] = 0; wrow[r] = 0;
      continue;
    }
    T m = row_max(zr, C);
    T ls = log_(row_sumexp(zr, (T*)nullptr, C, m));
    stat[2 * r] = m;
    stat[2 * r + 1] = ls;
    if (!q) {
      int64_t t = a.tidx[r];
      T wt = w ? w[t] : T(1);
      T v = (T(1) - eps) * wt * ((m - zr[t]) + ls);
      if (eps != T(0)) {
        T W = w ? row_sum(w, C) : T(C);
        v += eps / T(C) * (row_wdiff(w, zr, C, m) + W * ls);
      }
      loss[r] = v;
      wrow[r] = wt;
    } else {
      const T* qr = q + r * C;
      for (int64_t c = 0; c < C; ++c)
        tmp.p[c] = (w ? w[c] : T(1)) * ((T(1) - eps) * qr[c] + eps / T(C));
      loss[r] = row_wdiff(tmp.p, zr, C, m) + row_sum(tmp.p, C) * ls;
      wrow[r] = 1;
    }
  }
}

// Backward of ce_fwd: gz = gr * (A p - B) with p = exp((z - m) - ls):
//   indices: A = (1-eps) w_t + eps W / C (W = sum w), B_c = eps w_c / C + (1-eps) w_t [c == t]
//   probs:   A = sum_c w_c q'_c,  B_c = w_c q'_c
// grow: upstream gradient per row (grow_stride 1) or one scalar for all rows (stride 0).
template <class T>
void ce_bwd(const T* z, const CeArgs& a, const T* stat, const T* grow, int64_t grow_stride,
            int64_t r0, int64_t r1, T* gz) {
  const int64_t C = a.C;
  const T* w = (const T*)a.weight;
  const T* q = (const T*)a.tprob;
  const T eps = (T)a.eps;
  const T W = w ? row_sum(w, C) : T(C);
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict zr = z + r * C;
    T* __restrict gr = gz + r * C;
    T g = grow[r * grow_stride];
    T m = stat[2 * r], ls = stat[2 * r + 1];
    if (!q) {
      int64_t t = a.tidx[r];
      if (t == a.ignore_index) { for (int64_t c = 0; c < C; ++c) gr[c] = 0; continue; }
      T wt = w ? w[t] : T(1);
      T A = g * ((T(1) - eps) * wt + eps * W / T(C));
      T e = g * eps / T(C);
      if (w) {
        for (int64_t c = 0; c < C; ++c) gr[c] = A * am::exp_((zr[c] - m) - ls) - e * w[c];
      } else {
        for (int64_t c = 0; c < C; ++c) gr[c] = A * am::exp_((zr[c] - m) - ls) - e;
      }
      gr[t] -= g * (T(1) - eps) * wt;
    } else {
      const T* __restrict qr = q + r * C;
      T k = eps / T(C);
      for (int64_t c = 0; c < C; ++c) gr[c] = (w ? w[c] : T(1)) * ((T(1) - eps) * qr[c] + k);
      T A = g * row_sum(gr, C);
      for (int64_t c = 0; c < C; ++c) gr[c] = A * am::exp_((zr[c] - m) - ls) - g * gr[c];
    }
  }
}

}  // namespace DLCORE_LOOPS_NS
}  // namespace dlcore
