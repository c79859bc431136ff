// The max-pooling row loop of the 2x2 stride-2 window (the CNNs' pooling), written once and
// compiled once per ISA: csrc/kernels/pool_{generic,avx2,avx512}.cpp include this file inside
// their own namespace (DLCORE_POOL_NS) with their own -m flags and export the set through
// DLCORE_POOL_SET (ops/pool_isa.h); ops/pool.cpp picks the current ISA's set and splits the
// planes over threads.
// One output row at a time: the two input rows are de-interleaved into the window's four taps
// (even / odd columns of each row) with vector shuffles, and the taps are reduced with selects
// in the scalar loop's order: take a tap when !(v <= best) and best is not NaN, so the first NaN
// wins, else the first maximum in (kh, kw) order (PyTorch's rule). The index is the tap's offset
// in the plane, as an int64.
#pragma once
#include <cstdint>

#include "ops/pool_isa.h"

#ifndef DLCORE_POOL_NS
#error "define DLCORE_POOL_NS before including ops/pool_loops.h"
#endif

namespace dlcore {
namespace DLCORE_POOL_NS {

// Only static helpers here (no inline library templates: an instantiation compiled with this
// ISA's flags could otherwise be picked by the linker for generic callers).

template <class T, int VB> struct PoolVec {  // VB-byte vectors of T
  static constexpr int W = VB / (int)sizeof(T);  // lanes
  typedef T V __attribute__((vector_size(VB)));
  typedef int32_t I __attribute__((vector_size(4 * W)));  // offsets, one per lane
  typedef int64_t L __attribute__((vector_size(8 * W)));  // indices, one per lane
  typedef typename std::conditional<sizeof(T) == 4, int32_t, int64_t>::type MI;
  typedef MI M __attribute__((vector_size(VB)));          // shuffle masks / compare results
};

// Outputs [ow, ow + W*k) of max2x2_row in VB-byte vectors; returns where it stopped.
template <class T, int VB>
static inline int64_t max2x2_vec(const T* __restrict r0, const T* __restrict r1, int64_t ow, int64_t OW,
                                 int64_t W, int64_t base, T* __restrict y, int64_t* __restrict idx) {
  using P = PoolVec<T, VB>;
  typedef typename P::V V;
  typedef typename P::I I;
  typedef typename P::L L;
  typedef typename P::M M;
  constexpr int NW = P::W;
  if (ow + NW > OW) return ow;
  M ev{};
  I lane{};
  for (int i = 0; i < NW; ++i) ev[i] = 2 * i, lane[i] = 2 * i;
  const M od = ev + 1;
  const I one = I{} + 1, w0 = I{} + (int32_t)W, w1 = I{} + (int32_t)(W + 1);
  for (; ow + NW <= OW; ow += NW) {
    V p0, p1, q0, q1;
    __builtin_memcpy(&p0, r0 + 2 * ow, sizeof(V));
    __builtin_memcpy(&p1, r0 + 2 * ow + NW, sizeof(V));
    __builtin_memcpy(&q0, r1 + 2 * ow, sizeof(V));
    __builtin_memcpy(&q1, r1 + 2 * ow + NW, sizeof(V));
    const V a = __builtin_shuffle(p0, p1, ev), b = __builtin_shuffle(p0, p1, od);
    const V c = __builtin_shuffle(q0, q1, ev), d = __builtin_shuffle(q0, q1, od);
    V best = a;
    I off = I{};
    M take = ~(b <= best) & (best == best);
    best = take ? b : best;
    off = __builtin_convertvector(take, I) ? one : off;
    take = ~(c <= best) & (best == best);
    best = take ? c : best;
    off = __builtin_convertvector(take, I) ? w0 : off;
    take = ~(d <= best) & (best == best);
    best = take ? d : best;
    off = __builtin_convertvector(take, I) ? w1 : off;
    __builtin_memcpy(y + ow, &best, sizeof(V));
    const L ix = __builtin_convertvector(off + lane, L) + (base + 2 * ow);
    __builtin_memcpy(idx + ow, &ix, sizeof(L));
  }
  return ow;
}

// y[ow] = max of the 2x2 window at columns (2ow, 2ow + 1) of rows r0, r1; idx[ow] = its offset
// base + 2ow (+1, +W, +W+1), ow < OW. Native vectors, then half and quarter ones (rows of 7 to
// 14 outputs are common), then one padded quarter vector.
template <class T>
void max2x2_row(const T* __restrict r0, const T* __restrict r1, int64_t OW, int64_t W, int64_t base,
                T* __restrict y, int64_t* __restrict idx) {
  int64_t ow = max2x2_vec<T, kNativeVecBytes>(r0, r1, 0, OW, W, base, y, idx);
  if constexpr (kNativeVecBytes > 32) ow = max2x2_vec<T, 32>(r0, r1, ow, OW, W, base, y, idx);
  if constexpr (kNativeVecBytes > 16) ow = max2x2_vec<T, 16>(r0, r1, ow, OW, W, base, y, idx);
  if (ow < OW) {
    // The last < 16 / sizeof(T) outputs: one more 16-byte step on copies padded with -inf, which
    // never wins a select (a branchy scalar loop mispredicted on random data: a third of the time
    // on rows of 7 outputs)
    constexpr int Q = 16 / (int)sizeof(T);
    const int64_t n = OW - ow;
    T a0[2 * Q], a1[2 * Q], yb[Q];
    int64_t ib[Q];
    for (int i = 0; i < 2 * Q; ++i) a0[i] = a1[i] = -__builtin_inf();
    for (int64_t i = 0; i < 2 * n; ++i) {
      a0[i] = r0[2 * ow + i];
      a1[i] = r1[2 * ow + i];
    }
    max2x2_vec<T, 16>(a0, a1, 0, Q, W, base + 2 * ow, yb, ib);
    for (int64_t i = 0; i < n; ++i) {
      y[ow + i] = yb[i];
      idx[ow + i] = ib[i];
    }
  }
}

// A whole plane (H, W) -> (OH, OW): one call per plane instead of per row (rows of 7 outputs
// are common, and an indirect call per row was a third of the time there).
template <class T>
void max2x2_plane(const T* x, int64_t W, int64_t OH, int64_t OW, T* y, int64_t* idx) {
  for (int64_t oh = 0; oh < OH; ++oh)
    max2x2_row<T>(x + 2 * oh * W, x + (2 * oh + 1) * W, OW, W, 2 * oh * W, y + oh * OW, idx + oh * OW);
}

}  // namespace DLCORE_POOL_NS
}  // namespace dlcore
