// Per-ISA entry points of the direct convolution loops (ops/conv_direct_loops.h) used when every
// group has ONE input channel (depthwise convs, and C_in = 1 convs such as a first layer on
// grey images): there im2col + GEMM would have a reduction of only kH*kW. The same set carries
// the vector rows of the other paths: stride-2 im2col / col2im rows and the Winograd tile
// transforms. Each
// csrc/kernels/convdirect_<isa>.cpp compiles the loops with its own flags; conv_direct_kernels()
// returns the set for the ISA chosen at run time (core/cpu.h). ops/conv.cpp owns threading,
// scratch buffers and checks; the loops handle horizontal stride 1 (any vertical stride,
// padding, dilation, channel multiplier M = C_out / C_in).
#pragma once
#include <cstdint>

#include "core/cpu.h"

namespace dlcore {

// Geometry of one input plane (H, W) -> its M output planes (OH, OW), horizontal stride 1.
struct DirectGeom {
  int64_t H, W, OH, OW, kH, kW, sH, dH, dW, pT, pL, M;
};

// The loops work on 32-byte vectors on every ISA (8 floats / 4 doubles); buffer sizes below
// are in elements of T and include the padding those full-vector loads need.
template <class T> constexpr int64_t direct_lanes() { return 32 / (int64_t)sizeof(T); }
inline int64_t direct_round(int64_t v, int64_t l) { return (v + l - 1) / l * l; }
// Zero-padded copy of one input plane: Hp rows of Wp.
template <class T> inline int64_t direct_xpad_w(const DirectGeom& g) {
  return direct_round(g.OW, direct_lanes<T>()) + (g.kW - 1) * g.dW;
}
template <class T> inline int64_t direct_xpad_elems(const DirectGeom& g) {
  return ((g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1) * direct_xpad_w<T>(g);
}
// Zero-padded copies of the M grad_output planes of one input plane (backward-data).
template <class T> inline int64_t direct_gpad_off(const DirectGeom& g) {
  int64_t o = (g.kW - 1) * g.dW - g.pL;
  return o > 0 ? o : 0;
}
template <class T> inline int64_t direct_gpad_w(const DirectGeom& g) {
  return direct_round(g.W, direct_lanes<T>()) + g.pL + direct_gpad_off<T>(g);
}
template <class T> inline int64_t direct_scratch_fwd(const DirectGeom& g) { return direct_xpad_elems<T>(g); }
template <class T> inline int64_t direct_scratch_bwd_data(const DirectGeom& g) {
  return g.M * g.OH * direct_gpad_w<T>(g);
}
template <class T> inline int64_t direct_scratch_bwd_weight(const DirectGeom& g) {
  return direct_xpad_elems<T>(g) + g.OH * direct_round(g.OW, direct_lanes<T>());
}

template <class T> struct ConvDirectSet {
  // y (M planes OH x OW) = b[m] + sum over taps w[m, tap] * x shifted; x one (H, W) plane.
  void (*fwd)(const DirectGeom&, const T* x, const T* w, const T* b, T* y, T* scratch) = nullptr;
  // gx (one H x W plane, overwritten) = sum over m, taps of w[m, tap] * gy[m] scattered back.
  void (*bwd_data)(const DirectGeom&, const T* gy, const T* w, T* gx, T* scratch) = nullptr;
  // gw[tap] (one output channel, overwritten) = sum over n of sum gy[n] * x[n] shifted; x planes
  // n*xs apart, gy planes n*gys apart.
  void (*bwd_weight)(const DirectGeom&, int64_t N, const T* x, int64_t xs, const T* gy, int64_t gys, T* gw,
                     T* scratch) = nullptr;
  // sum of n contiguous values (fixed-order lane accumulators).
  T (*sum)(const T* p, int64_t n) = nullptr;
  // Horizontal stride 2 rows of im2col / col2im: dst[i] = src[2i], and dst[2i] += src[i], i < n.
  void (*gather2)(const T* src, T* dst, int64_t n) = nullptr;
  void (*scatter_add2)(const T* src, T* dst, int64_t n) = nullptr;
  // d0[i] = src[2i], d1[i] = src[2i + 1], i < n.
  void (*deinterleave2)(const T* src, T* d0, T* d1, int64_t n) = nullptr;
  // The im2col rows of one zero-padded plane for horizontal stride 1 (conv_direct_loops.h unfold1).
  void (*unfold1)(const T* buf, int64_t Wp, int64_t kH, int64_t kW, int64_t sH, int64_t dH, int64_t dW,
                  int64_t OH, int64_t OW, T* col, int64_t ldc) = nullptr;
  // Winograd F(2x2, 3x3) input transform of tile rows [th0, th1) of one channel plane, and
  // output transform of one tile row (ops/conv_direct_loops.h wino_in / wino_out).
  void (*wino_in)(const T* x, int64_t H, int64_t W, int64_t pT, int64_t pL, int64_t th0, int64_t th1, int64_t TW,
                  T* v, int64_t xs, T* scratch) = nullptr;
  void (*wino_out)(const T* m, int64_t ms, int64_t TW, T bk, T* y0, T* y1, int64_t OW) = nullptr;
};
// Scratch elements of wino_in for TW tiles per row and `rows` tile rows.
template <class T> inline int64_t wino_in_scratch(int64_t TW, int64_t rows) {
  return (2 * rows + 2) * (direct_round(2 * TW + 2, direct_lanes<T>()) + 2 * direct_round(TW + 1, direct_lanes<T>()));
}

using ConvDirectKernels = IsaKernelSets<ConvDirectSet>;

extern const ConvDirectKernels convdirect_generic_set;
#if defined(DLCORE_X86)
extern const ConvDirectKernels convdirect_avx2_set;
extern const ConvDirectKernels convdirect_avx512_set;
#endif
const ConvDirectKernels& conv_direct_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/convdirect_<isa>.cpp after including ops/conv_direct_loops.h.
#define DLCORE_CONVDIRECT_SET(NS)                                                             \
  namespace dlcore {                                                                        \
  const ConvDirectKernels convdirect_##NS##_set = {                                         \
      {cdl_##NS::fwd<float>, cdl_##NS::bwd_data<float>, cdl_##NS::bwd_weight<float>,         \
       cdl_##NS::sum<float>, cdl_##NS::gather2<float>, cdl_##NS::scatter_add2<float>,        \
       cdl_##NS::deinterleave2<float>, cdl_##NS::unfold1<float>, cdl_##NS::wino_in<float>,   \
       cdl_##NS::wino_out<float>},                                                           \
      {cdl_##NS::fwd<double>, cdl_##NS::bwd_data<double>, cdl_##NS::bwd_weight<double>,     \
       cdl_##NS::sum<double>, cdl_##NS::gather2<double>, cdl_##NS::scatter_add2<double>,     \
       cdl_##NS::deinterleave2<double>, cdl_##NS::unfold1<double>, cdl_##NS::wino_in<double>, \
       cdl_##NS::wino_out<double>}};                                                         \
  }
