// Direct convolution loops for one input channel per group (shapes and buffer sizes:
// ops/conv_isa.h), written once over 32-byte GCC vectors and compiled once per ISA by
// csrc/kernels/convdirect_{generic,avx2,avx512}.cpp inside their own namespace (DLCORE_LOOPS_NS
// = cdl_<isa>). With -mavx2 -mfma the vector expressions become AVX2 FMAs; the generic build
// splits them into SSE2 pairs.
//
// Every loop first copies its input plane(s) into a zero-padded scratch buffer, so the inner
// loops have no bounds checks: a strip of up to 4 vectors of outputs keeps its accumulators in
// registers while the kernel taps stream past (one broadcast weight, 4 loads, 4 FMAs per tap).
// Each output element is produced by one call in a fixed order, so results never depend on
// the thread count. Horizontal stride 1 only (ops/conv.cpp keeps scalar loops for the rest).
// At the end: the stride-2 im2col / col2im rows and the Winograd F(2x2, 3x3) tile transforms,
// which ops/conv.cpp calls through the same per-ISA set.
#pragma once
#include <cstdint>
#include <type_traits>

#include "ops/conv_isa.h"

#ifndef DLCORE_LOOPS_NS
#error "define DLCORE_LOOPS_NS before including ops/conv_direct_loops.h"
#endif

// The generic build passes 32-byte vectors between static inline helpers only (no ABI boundary).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dlcore {
namespace DLCORE_LOOPS_NS {

// Only static helpers and builtins here (no inline library templates: an instantiation compiled
// with this ISA's flags could be picked by the linker for generic callers).
template <class T> struct Vt;
template <> struct Vt<float> { typedef float R __attribute__((vector_size(32))); };
template <> struct Vt<double> { typedef double R __attribute__((vector_size(32))); };
template <class T> using Vec = typename Vt<T>::R;
// 16-byte vectors for rows shorter than a Vec (e.g. 7 Winograd tiles of a 14x14 output)
template <class T> struct Vh;
template <> struct Vh<float> { typedef float R __attribute__((vector_size(16))); };
template <> struct Vh<double> { typedef double R __attribute__((vector_size(16))); };
template <class T> using Vec16 = typename Vh<T>::R;
constexpr int kStrip = 4;  // vectors of outputs per register strip

template <class T> static inline Vec<T> ldu(const T* p) {
  Vec<T> v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <class T> static inline void stu(T* p, Vec<T> v) { __builtin_memcpy(p, &v, sizeof v); }
template <class T> static inline Vec<T> splat(T s) { return Vec<T>{} + s; }
static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
// Small-row fill and copy, inline: planes here are often a few dozen elements wide, and a call
// to memset / memcpy per row of 28 elements was measurable (depthwise 3x3, N32 C128 28x28, 2
// threads: forward 2.10 -> 1.95 ms with these). The optimize attribute keeps GCC from turning
// the loops back into such calls.
#if defined(__GNUC__) && !defined(__clang__)
#define DLCORE_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define DLCORE_NO_LIBCALLS
#endif
template <class T> DLCORE_NO_LIBCALLS static inline void zero(T* p, int64_t n) {
  constexpr int64_t V = sizeof(Vec<T>) / sizeof(T);
  int64_t i = 0;
  for (; i + V <= n; i += V) stu<T>(p + i, Vec<T>{});
  for (; i < n; ++i) p[i] = T(0);
}
// d[0, n) = s[0, n); rows of at least one vector end with an overlapping full vector.
template <class T> DLCORE_NO_LIBCALLS static inline void copy_row(T* d, const T* s, int64_t n) {
  constexpr int64_t V = sizeof(Vec<T>) / sizeof(T);
  if (n < V) {
    for (int64_t i = 0; i < n; ++i) d[i] = s[i];
    return;
  }
  for (int64_t i = 0; i + V < n; i += V) stu<T>(d + i, ldu<T>(s + i));
  stu<T>(d + n - V, ldu<T>(s + n - V));
}

// buf (Hp rows of Wp) = x (H, W) shifted by (pT, pL) into a zero frame: buf[r][j] = x[r - pT][j - pL].
template <class T>
static void pad_plane(const T* x, int64_t H, int64_t W, int64_t pT, int64_t pL, int64_t Hp, int64_t Wp, T* buf) {
  const int64_t c0 = imin(pL, Wp), c1 = imin(pL + W, Wp);  // data columns [c0, c1)
  for (int64_t r = 0; r < Hp; ++r) {
    T* d = buf + r * Wp;
    const int64_t ih = r - pT;
    if (ih < 0 || ih >= H) {
      zero(d, Wp);
      continue;
    }
    zero(d, c0);
    if (c1 > c0) copy_row(d + c0, x + ih * W, c1 - c0);
    zero(d + imax(c0, c1), Wp - imax(c0, c1));
  }
}

// NV output vectors starting at `base` (top-left input of the strip's first output):
// dst[j] = b + sum_{kh, kw} w[kh, kw] * base[kh*dH*Wp + kw*dW + j], in tap order.
template <class T, int NV>
static inline void fwd_strip(const T* base, int64_t Wp, const T* w, int64_t kH, int64_t kW, int64_t dH, int64_t dW,
                             T b, T* dst) {
  constexpr int V = (int)direct_lanes<T>();
  Vec<T> acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = splat<T>(b);
  for (int64_t kh = 0; kh < kH; ++kh) {
    const T* r = base + kh * dH * Wp;
    for (int64_t kw = 0; kw < kW; ++kw) {
      const Vec<T> wv = splat<T>(w[kh * kW + kw]);
      const T* q = r + kw * dW;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[j] += wv * ldu<T>(q + j * V);
    }
  }
  for (int j = 0; j < NV; ++j) stu<T>(dst + j * V, acc[j]);
}

template <class T>
static void fwd_row(const T* base, int64_t Wp, const T* w, const DirectGeom& g, T b, T* y) {
  constexpr int V = (int)direct_lanes<T>();
  int64_t ow = 0;
  for (; ow + kStrip * V <= g.OW; ow += kStrip * V) fwd_strip<T, kStrip>(base + ow, Wp, w, g.kH, g.kW, g.dH, g.dW, b, y + ow);
  const int64_t rest = g.OW - ow;
  if (rest == 0) return;
  alignas(32) T tmp[kStrip * 8];
  const int64_t nv = (rest + V - 1) / V;
  switch (nv) {
    case 1: fwd_strip<T, 1>(base + ow, Wp, w, g.kH, g.kW, g.dH, g.dW, b, tmp); break;
    case 2: fwd_strip<T, 2>(base + ow, Wp, w, g.kH, g.kW, g.dH, g.dW, b, tmp); break;
    case 3: fwd_strip<T, 3>(base + ow, Wp, w, g.kH, g.kW, g.dH, g.dW, b, tmp); break;
    default: fwd_strip<T, 4>(base + ow, Wp, w, g.kH, g.kW, g.dH, g.dW, b, tmp); break;
  }
  copy_row(y + ow, tmp, rest);
}

// Forward of one input plane: y[m] = b[m] + sum_taps w[m, tap] * x shifted (the forward line of
// ops/conv.cpp direct_forward, vectorised along output columns).
template <class T>
void fwd(const DirectGeom& g, const T* x, const T* w, const T* b, T* y, T* scratch) {
  const int64_t Wp = direct_xpad_w<T>(g), Hp = (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1;
  const int64_t kk = g.kH * g.kW, OHW = g.OH * g.OW;
  pad_plane<T>(x, g.H, g.W, g.pT, g.pL, Hp, Wp, scratch);
  for (int64_t m = 0; m < g.M; ++m) {
    const T bm = b ? b[m] : T(0);
    for (int64_t oh = 0; oh < g.OH; ++oh)
      fwd_row<T>(scratch + oh * g.sH * Wp, Wp, w + m * kk, g, bm, y + m * OHW + oh * g.OW);
  }
}

// Backward-data strip: dst[j] = sum over m, listed (kh, oh) pairs, kw of
// w[m, kh, kw] * gpad[m][oh][col0 - kw*dW + j].
template <class T, int NV>
static inline void bwd_strip(const T* gpad, int64_t plane, int64_t Wg, int64_t col0, const T* w, const DirectGeom& g,
                             const int64_t* khs, const int64_t* ohs, int64_t nk, T* dst) {
  constexpr int V = (int)direct_lanes<T>();
  const int64_t kk = g.kH * g.kW;
  Vec<T> acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = Vec<T>{};
  for (int64_t m = 0; m < g.M; ++m)
    for (int64_t t = 0; t < nk; ++t) {
      const T* r = gpad + m * plane + ohs[t] * Wg + col0;
      const T* wr = w + m * kk + khs[t] * g.kW;
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        const Vec<T> wv = splat<T>(wr[kw]);
        const T* q = r - kw * g.dW;
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[j] += wv * ldu<T>(q + j * V);
      }
    }
  for (int j = 0; j < NV; ++j) stu<T>(dst + j * V, acc[j]);
}

// Backward-data of one input plane (differentiates fwd's accumulation line w.r.t. x): gathers,
// for every input element, the outputs its taps fed: ih = oh*sH - pT + kh*dH, iw = ow - pL + kw*dW.
template <class T>
void bwd_data(const DirectGeom& g, const T* gy, const T* w, T* gx, T* scratch) {
  constexpr int V = (int)direct_lanes<T>();
  const int64_t off = direct_gpad_off<T>(g), Wg = direct_gpad_w<T>(g), plane = g.OH * Wg, OHW = g.OH * g.OW;
  for (int64_t m = 0; m < g.M; ++m) pad_plane<T>(gy + m * OHW, g.OH, g.OW, 0, off, g.OH, Wg, scratch + m * plane);
  const int64_t col0 = g.pL + off;  // gpad column of (iw = 0, kw = 0)
  int64_t khs[64], ohs[64];
  alignas(32) T tmp[kStrip * 8];
  for (int64_t ih = 0; ih < g.H; ++ih) {
    int64_t nk = 0;
    for (int64_t kh = 0; kh < g.kH && nk < 64; ++kh) {
      const int64_t t = ih + g.pT - kh * g.dH;
      if (t < 0 || t % g.sH) continue;
      if (t / g.sH >= g.OH) continue;
      khs[nk] = kh;
      ohs[nk++] = t / g.sH;
    }
    T* row = gx + ih * g.W;
    int64_t iw = 0;
    for (; iw + kStrip * V <= g.W; iw += kStrip * V)
      bwd_strip<T, kStrip>(scratch, plane, Wg, col0 + iw, w, g, khs, ohs, nk, row + iw);
    const int64_t rest = g.W - iw;
    if (rest == 0) continue;
    const int64_t nv = (rest + V - 1) / V;
    switch (nv) {
      case 1: bwd_strip<T, 1>(scratch, plane, Wg, col0 + iw, w, g, khs, ohs, nk, tmp); break;
      case 2: bwd_strip<T, 2>(scratch, plane, Wg, col0 + iw, w, g, khs, ohs, nk, tmp); break;
      case 3: bwd_strip<T, 3>(scratch, plane, Wg, col0 + iw, w, g, khs, ohs, nk, tmp); break;
      default: bwd_strip<T, 4>(scratch, plane, Wg, col0 + iw, w, g, khs, ohs, nk, tmp); break;
    }
    copy_row(row + iw, tmp, rest);
  }
}

// bwd_weight for a KH x KW kernel known at compile time: each grad_output vector is loaded once
// and feeds all KH*KW tap accumulators (about one load per FMA instead of two).
template <class T, int KH, int KW>
static void bwd_weight_fixed(const DirectGeom& g, int64_t N, const T* x, int64_t xs, const T* gy, int64_t gys, T* gw,
                             T* scratch) {
  constexpr int V = (int)direct_lanes<T>();
  const int64_t Wp = direct_xpad_w<T>(g), Hp = (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1;
  const int64_t nfull = g.OW / V, tail = g.OW - nfull * V;
  T* xpad = scratch;
  Vec<T> acc[KH * KW];
  for (int t = 0; t < KH * KW; ++t) acc[t] = Vec<T>{};
  auto taps = [&](const Vec<T> gv, const T* xv) {
#pragma GCC unroll 16
    for (int kh = 0; kh < KH; ++kh)
#pragma GCC unroll 16
      for (int kw = 0; kw < KW; ++kw) acc[kh * KW + kw] += gv * ldu<T>(xv + kh * g.dH * Wp + kw * g.dW);
  };
  for (int64_t n = 0; n < N; ++n) {
    pad_plane<T>(x + n * xs, g.H, g.W, g.pT, g.pL, Hp, Wp, xpad);
    const T* gn = gy + n * gys;
    for (int64_t oh = 0; oh < g.OH; ++oh) {  // grad_output rows read in place; the tail via a zeroed vector
      const T* xr = xpad + oh * g.sH * Wp;
      const T* gr = gn + oh * g.OW;
      for (int64_t v = 0; v < nfull; ++v) taps(ldu<T>(gr + v * V), xr + v * V);
      if (tail) {
        alignas(32) T t[8] = {};
        for (int64_t i = 0; i < tail; ++i) t[i] = gr[nfull * V + i];
        taps(ldu<T>(t), xr + nfull * V);
      }
    }
  }
  for (int t = 0; t < KH * KW; ++t) {
    T r = 0;
    for (int i = 0; i < V; ++i) r += acc[t][i];
    gw[t] = r;
  }
}

// Backward-weight of one output channel (differentiates fwd's accumulation line w.r.t. w):
// gw[tap] = sum_n sum_{oh, ow} gy[n][oh][ow] * xpad[n][oh*sH + kh*dH][ow + kw*dW]. Lane
// accumulators (kStrip per tap, by vector position in the row) are reduced in a fixed order.
template <class T>
void bwd_weight(const DirectGeom& g, int64_t N, const T* x, int64_t xs, const T* gy, int64_t gys, T* gw, T* scratch) {
  if (g.kH == 3 && g.kW == 3) return bwd_weight_fixed<T, 3, 3>(g, N, x, xs, gy, gys, gw, scratch);
  constexpr int V = (int)direct_lanes<T>();
  const int64_t Wp = direct_xpad_w<T>(g), Hp = (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1;
  const int64_t OWv = direct_round(g.OW, V), nvr = OWv / V, kk = g.kH * g.kW;
  T* xpad = scratch;
  T* gpad = scratch + Hp * Wp;
  const int64_t kMaxTaps = 64;
  for (int64_t t0 = 0; t0 < kk; t0 += kMaxTaps) {  // taps in blocks (accumulators stay bounded)
    const int64_t t1 = imin(kk, t0 + kMaxTaps);
    Vec<T> acc[kMaxTaps][kStrip];
    for (int64_t t = 0; t < t1 - t0; ++t)
      for (int j = 0; j < kStrip; ++j) acc[t][j] = Vec<T>{};
    for (int64_t n = 0; n < N; ++n) {
      pad_plane<T>(x + n * xs, g.H, g.W, g.pT, g.pL, Hp, Wp, xpad);
      pad_plane<T>(gy + n * gys, g.OH, g.OW, 0, 0, g.OH, OWv, gpad);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t kh = t / g.kW, kw = t % g.kW;
        Vec<T>* a = acc[t - t0];
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* xr = xpad + (oh * g.sH + kh * g.dH) * Wp + kw * g.dW;
          const T* gr = gpad + oh * OWv;
          int64_t v = 0;
          for (; v + kStrip <= nvr; v += kStrip)
#pragma GCC unroll 4
            for (int j = 0; j < kStrip; ++j) a[j] += ldu<T>(gr + (v + j) * V) * ldu<T>(xr + (v + j) * V);
          for (int j = 0; v < nvr; ++v, ++j) a[j] += ldu<T>(gr + v * V) * ldu<T>(xr + v * V);
        }
      }
    }
    for (int64_t t = t0; t < t1; ++t) {
      Vec<T> s = ((acc[t - t0][0] + acc[t - t0][1]) + (acc[t - t0][2] + acc[t - t0][3]));
      T r = 0;
      for (int i = 0; i < V; ++i) r += s[i];
      gw[t] = r;
    }
  }
}

// Sum of n values: kStrip vector accumulators, then a fixed reduction and a scalar tail.
template <class T>
T sum(const T* p, int64_t n) {
  constexpr int V = (int)direct_lanes<T>();
  Vec<T> acc[kStrip];
  for (int j = 0; j < kStrip; ++j) acc[j] = Vec<T>{};
  int64_t i = 0;
  for (; i + kStrip * V <= n; i += kStrip * V)
#pragma GCC unroll 4
    for (int j = 0; j < kStrip; ++j) acc[j] += ldu<T>(p + i + j * V);
  Vec<T> s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  T r = 0;
  for (int l = 0; l < V; ++l) r += s[l];
  for (; i < n; ++i) r += p[i];
  return r;
}

// Shuffle masks picking even lanes of (lo, hi) and interleaving (s, 0): float and double.
template <class T> struct Masks;
template <> struct Masks<float> {
  typedef int32_t M __attribute__((vector_size(32)));
  static M even() { return M{0, 2, 4, 6, 8, 10, 12, 14}; }
  static M odd() { return M{1, 3, 5, 7, 9, 11, 13, 15}; }
  static M inter_lo() { return M{0, 8, 1, 9, 2, 10, 3, 11}; }
  static M inter_hi() { return M{4, 12, 5, 13, 6, 14, 7, 15}; }
};
template <> struct Masks<double> {
  typedef int64_t M __attribute__((vector_size(32)));
  static M even() { return M{0, 2, 4, 6}; }
  static M odd() { return M{1, 3, 5, 7}; }
  static M inter_lo() { return M{0, 4, 1, 5}; }
  static M inter_hi() { return M{2, 6, 3, 7}; }
};

// Interleaving masks of 16-byte vectors (s, o) -> (s0, o0, s1, o1, ...): float and double.
template <class T> struct Masks16;
template <> struct Masks16<float> {
  typedef int32_t M __attribute__((vector_size(16)));
  static M inter_lo() { return M{0, 4, 1, 5}; }
  static M inter_hi() { return M{2, 6, 3, 7}; }
};
template <> struct Masks16<double> {
  typedef int64_t M __attribute__((vector_size(16)));
  static M inter_lo() { return M{0, 2}; }
  static M inter_hi() { return M{1, 3}; }
};

// dst[i] = src[2i], i < n (im2col rows of a horizontal-stride-2 conv). The vector loop reads
// src[2i .. 2i + 2V - 1] and stops while that stays within the 2n - 1 elements the row spans.
template <class T>
void gather2(const T* src, T* dst, int64_t n) {
  constexpr int V = (int)direct_lanes<T>();
  int64_t i = 0;
  for (; i + V < n; i += V)
    stu<T>(dst + i, __builtin_shuffle(ldu<T>(src + 2 * i), ldu<T>(src + 2 * i + V), Masks<T>::even()));
  for (; i < n; ++i) dst[i] = src[2 * i];
}

// Horizontal-stride-1 rows of im2col from one zero-padded plane buf (rows of Wp): for every tap
// (kh, kw) and output row oh, col[(kh*kW + kw)*ldc + oh*OW + ow] = buf[(oh*sH + kh*dH)*Wp + kw*dW + ow].
// Inline row copies: rows are often 7 to 28 elements, and a memcpy call per row was 15% of a
// C32 14x14 backward-weight.
template <class T>
void unfold1(const T* buf, int64_t Wp, int64_t kH, int64_t kW, int64_t sH, int64_t dH, int64_t dW, int64_t OH,
             int64_t OW, T* col, int64_t ldc) {
  for (int64_t kh = 0; kh < kH; ++kh)
    for (int64_t kw = 0; kw < kW; ++kw) {
      T* row = col + (kh * kW + kw) * ldc;
      for (int64_t oh = 0; oh < OH; ++oh) copy_row(row + oh * OW, buf + (oh * sH + kh * dH) * Wp + kw * dW, OW);
    }
}

// d0[i] = src[2i], d1[i] = src[2i + 1], i < n (two adjacent taps' im2col rows of a
// horizontal-stride-2 conv from one load of the 2n-element span).
template <class T>
void deinterleave2(const T* src, T* d0, T* d1, int64_t n) {
  constexpr int V = (int)direct_lanes<T>();
  int64_t i = 0;
  for (; i + V <= n; i += V) {
    const Vec<T> a = ldu<T>(src + 2 * i), b = ldu<T>(src + 2 * i + V);
    stu<T>(d0 + i, __builtin_shuffle(a, b, Masks<T>::even()));
    stu<T>(d1 + i, __builtin_shuffle(a, b, Masks<T>::odd()));
  }
  for (; i < n; ++i) {
    d0[i] = src[2 * i];
    d1[i] = src[2 * i + 1];
  }
}

// dst[2i] += src[i], i < n (col2im rows of a horizontal-stride-2 conv); odd elements in between
// get + 0 (same value, the same thread owns the row).
template <class T>
void scatter_add2(const T* src, T* dst, int64_t n) {
  constexpr int V = (int)direct_lanes<T>();
  const Vec<T> z = Vec<T>{};
  int64_t i = 0;
  for (; i + V < n; i += V) {
    const Vec<T> s = ldu<T>(src + i);
    stu<T>(dst + 2 * i, ldu<T>(dst + 2 * i) + __builtin_shuffle(s, z, Masks<T>::inter_lo()));
    stu<T>(dst + 2 * i + V, ldu<T>(dst + 2 * i + V) + __builtin_shuffle(s, z, Masks<T>::inter_hi()));
  }
  for (; i < n; ++i) dst[2 * i] += src[i];
}

// ---- Winograd F(2x2, 3x3) transforms (ops/conv.cpp winograd_conv owns the GEMMs between) ----

// Input transform of tile rows [th0, th1) of one channel plane x (H, W): tile row th reads the
// padded input rows 2*th - pT + i, i < 4 (zero outside the plane, shifted right by pL), as 4x4
// patches d; B^T d B goes to v[(i*4 + j)*xs + (th - th0)*TW + tw] for i, j < 4, tw < TW.
// B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]. First every padded row of
// the band is split into its even and odd columns (E[j] = row[2j], O[j] = row[2j+1], j <= TW);
// then B^T combines rows and columns in registers. The two passes keep each load well behind
// the stores it reads (loading a row right after writing it, at another alignment, stalled on
// store forwarding). scratch: wino_in_scratch(TW, th1 - th0) elements.
template <class T>
void wino_in(const T* x, int64_t H, int64_t W, int64_t pT, int64_t pL, int64_t th0, int64_t th1, int64_t TW, T* v,
             int64_t xs, T* scratch) {
  constexpr int V = (int)direct_lanes<T>();
  const int64_t Wt = 2 * TW + 2, Wv = direct_round(Wt, V), Ev = direct_round(TW + 1, V);
  const int64_t nr = 2 * (th1 - th0) + 2;  // padded input rows of the band
  T* P = scratch;                          // nr rows of Wv
  T* E = P + nr * Wv;                      // nr rows of Ev: even columns
  T* O = E + nr * Ev;                      // odd columns
  const int64_t j0 = imin(pL, Wt), j1 = imin(W + pL, Wt);
  for (int64_t rr = 0; rr < nr; ++rr) {
    T* pr = P + rr * Wv;
    const int64_t ih = 2 * th0 - pT + rr;
    if (ih < 0 || ih >= H || j1 <= j0) {
      zero(pr, Wv);
      continue;
    }
    zero(pr, j0);
    copy_row(pr + j0, x + ih * W + (j0 - pL), j1 - j0);
    zero(pr + j1, Wv - j1);
  }
  for (int64_t rr = 0; rr < nr; ++rr) {
    const T* pr = P + rr * Wv;
    T* e = E + rr * Ev;
    T* o = O + rr * Ev;
    int64_t j = 0;
    for (; j + V <= TW + 1; j += V) {  // reads pr[2j, 2j + 2V) within the Wt = 2(TW + 1) columns
      const Vec<T> a = ldu<T>(pr + 2 * j), b = ldu<T>(pr + 2 * j + V);
      stu<T>(e + j, __builtin_shuffle(a, b, Masks<T>::even()));
      stu<T>(o + j, __builtin_shuffle(a, b, Masks<T>::odd()));
    }
    for (; j <= TW; ++j) {
      e[j] = pr[2 * j];
      o[j] = pr[2 * j + 1];
    }
  }
  for (int64_t th = th0; th < th1; ++th) {
    const int64_t r0 = 2 * (th - th0);
    const T *E0 = E + r0 * Ev, *E1 = E0 + Ev, *E2 = E1 + Ev, *E3 = E2 + Ev;
    const T *O0 = O + r0 * Ev, *O1 = O0 + Ev, *O2 = O1 + Ev, *O3 = O2 + Ev;
    T* vrow = v + (th - th0) * TW;
    // tiles [tw, tw + V): whole vectors; the last one overlaps the one before when V does not
    // divide TW (identical values rewritten). Shorter rows go element by element.
    auto tiles = [&](int64_t tw, auto ld, auto st) {
      // row combinations t_i of B^T, at the even (e), next even (e1), odd (o), next odd (o1) columns
      const auto e0 = ld(E0 + tw), e1 = ld(E1 + tw), e2 = ld(E2 + tw), e3 = ld(E3 + tw);
      const auto f0 = ld(E0 + tw + 1), f1 = ld(E1 + tw + 1), f2 = ld(E2 + tw + 1), f3 = ld(E3 + tw + 1);
      const auto o0 = ld(O0 + tw), o1 = ld(O1 + tw), o2 = ld(O2 + tw), o3 = ld(O3 + tw);
      const auto q0 = ld(O0 + tw + 1), q1 = ld(O1 + tw + 1), q2 = ld(O2 + tw + 1), q3 = ld(O3 + tw + 1);
      const decltype(e0) te[4] = {e0 - e2, e1 + e2, e2 - e1, e1 - e3}, tf[4] = {f0 - f2, f1 + f2, f2 - f1, f1 - f3},
                         to[4] = {o0 - o2, o1 + o2, o2 - o1, o1 - o3}, tq[4] = {q0 - q2, q1 + q2, q2 - q1, q1 - q3};
      for (int i = 0; i < 4; ++i) {
        T* vi = vrow + (i * 4) * xs + tw;
        st(vi, te[i] - tf[i]);
        st(vi + xs, to[i] + tf[i]);
        st(vi + 2 * xs, tf[i] - to[i]);
        st(vi + 3 * xs, to[i] - tq[i]);
      }
    };
    constexpr int V2 = 16 / (int)sizeof(T);
    if (TW >= V) {
      for (int64_t tw = 0;; tw = imin(tw + V, TW - V)) {
        tiles(tw, [](const T* p) { return ldu<T>(p); }, [](T* p, Vec<T> val) { stu<T>(p, val); });
        if (tw == TW - V) break;
      }
    } else if (TW >= V2) {  // 16-byte vectors, the last one overlapping (same values rewritten)
      for (int64_t tw = 0;; tw = imin(tw + V2, TW - V2)) {
        tiles(tw, [](const T* p) { Vec16<T> r; __builtin_memcpy(&r, p, sizeof r); return r; },
              [](T* p, Vec16<T> val) { __builtin_memcpy(p, &val, sizeof val); });
        if (tw == TW - V2) break;
      }
    } else {
      for (int64_t tw = 0; tw < TW; ++tw) tiles(tw, [](const T* p) { return *p; }, [](T* p, T val) { *p = val; });
    }
  }
}

// Output transform of one tile row: m[q*ms + tw] (q < 16, the 16 GEMM results of tile tw) ->
// A^T m A + bk, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]: output row y0 (and y1 when not null)
// columns 2*tw and 2*tw + 1 (< OW).
template <class T>
void wino_out(const T* m, int64_t ms, int64_t TW, T bk, T* y0, T* y1, int64_t OW) {
  constexpr int V = (int)direct_lanes<T>();
  const int64_t NT = 2 * TW <= OW ? TW : TW - 1;  // tiles with both output columns in the row
  int64_t tw = 0;
  // Whole vectors of tiles; the last one overlaps the one before (identical values rewritten).
  for (int64_t q = 0; NT >= V; q = imin(q + V, NT - V)) {
    Vec<T> s0[4], s1[4];
    for (int j = 0; j < 4; ++j) {
      const Vec<T> m0 = ldu<T>(m + j * ms + q), m1 = ldu<T>(m + (4 + j) * ms + q),
                   m2 = ldu<T>(m + (8 + j) * ms + q), m3 = ldu<T>(m + (12 + j) * ms + q);
      s0[j] = m0 + m1 + m2;
      s1[j] = m1 - m2 - m3;
    }
    const Vec<T> b = splat<T>(bk);
    Vec<T> e = b + (s0[0] + s0[1] + s0[2]), o = b + (s0[1] - s0[2] - s0[3]);
    stu<T>(y0 + 2 * q, __builtin_shuffle(e, o, Masks<T>::inter_lo()));
    stu<T>(y0 + 2 * q + V, __builtin_shuffle(e, o, Masks<T>::inter_hi()));
    if (y1) {
      e = b + (s1[0] + s1[1] + s1[2]);
      o = b + (s1[1] - s1[2] - s1[3]);
      stu<T>(y1 + 2 * q, __builtin_shuffle(e, o, Masks<T>::inter_lo()));
      stu<T>(y1 + 2 * q + V, __builtin_shuffle(e, o, Masks<T>::inter_hi()));
    }
    tw = NT;
    if (q == NT - V) break;
  }
  constexpr int V2 = 16 / (int)sizeof(T);
  for (int64_t q = 0; tw == 0 && NT < V && NT >= V2; q = imin(q + V2, NT - V2)) {  // 16-byte vectors
    typedef Vec16<T> H;
    auto ld = [](const T* p) { H r; __builtin_memcpy(&r, p, sizeof r); return r; };
    auto st = [](T* p, H v) { __builtin_memcpy(p, &v, sizeof v); };
    const auto lo = Masks16<T>::inter_lo(), hi = Masks16<T>::inter_hi();
    H s0[4], s1[4];
    for (int j = 0; j < 4; ++j) {
      const H m0 = ld(m + j * ms + q), m1 = ld(m + (4 + j) * ms + q), m2 = ld(m + (8 + j) * ms + q),
              m3 = ld(m + (12 + j) * ms + q);
      s0[j] = m0 + m1 + m2;
      s1[j] = m1 - m2 - m3;
    }
    const H b = H{} + bk;
    H e = b + (s0[0] + s0[1] + s0[2]), o = b + (s0[1] - s0[2] - s0[3]);
    st(y0 + 2 * q, __builtin_shuffle(e, o, lo));
    st(y0 + 2 * q + V2, __builtin_shuffle(e, o, hi));
    if (y1) {
      e = b + (s1[0] + s1[1] + s1[2]);
      o = b + (s1[1] - s1[2] - s1[3]);
      st(y1 + 2 * q, __builtin_shuffle(e, o, lo));
      st(y1 + 2 * q + V2, __builtin_shuffle(e, o, hi));
    }
    if (q == NT - V2) {
      tw = NT;
      break;
    }
  }
  for (; tw < TW; ++tw) {
    T s0[4], s1[4];
    for (int j = 0; j < 4; ++j) {
      const T m0 = m[j * ms + tw], m1 = m[(4 + j) * ms + tw], m2 = m[(8 + j) * ms + tw], m3 = m[(12 + j) * ms + tw];
      s0[j] = m0 + m1 + m2;
      s1[j] = m1 - m2 - m3;
    }
    const int64_t ow = 2 * tw;
    y0[ow] = bk + (s0[0] + s0[1] + s0[2]);
    if (ow + 1 < OW) y0[ow + 1] = bk + (s0[1] - s0[2] - s0[3]);
    if (y1) {
      y1[ow] = bk + (s1[0] + s1[1] + s1[2]);
      if (ow + 1 < OW) y1[ow + 1] = bk + (s1[1] - s1[2] - s1[3]);
    }
  }
}

}  // namespace DLCORE_LOOPS_NS
}  // namespace dlcore
