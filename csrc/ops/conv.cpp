// CPU kernels of the convolution family (shapes and formulas: conv.h).
//   forward:         per image and group, col = im2col(x[n, g]) (Cg*kH*kW, OH*OW);
//                    y[n, g] = w[g] (Kg, Cg*kH*kW) @ col            -> dlcore::gemm
//   backward-data:   col = w[g]^T @ gy[n, g];  gx[n, g] = col2im(col) (differentiates the
//                    forward GEMM line w.r.t. col, then the im2col gather w.r.t. x)
//   backward-weight: gw[g] = sum over images (fixed chunks, fixed order) gy[n, g] @ col_n^T
//                    (differentiates the forward GEMM line w.r.t. w[g]); ungrouped convs on
//                    small images run it image by image with L2-sized operands and, for stride
//                    1, without im2col (shifted input planes: backward_weight_images)
// 1x1 stride-1 unpadded convs skip im2col (x[n, g] is already the (Cg, H*W) operand).
// Small images (e.g. 7x7) are batched several per GEMM (image_batch). 3x3 stride-1 convs with
// >= 16 channels use Winograd F(2x2, 3x3) for forward and backward-data (winograd_conv).
// Stride-2 im2col / col2im rows and the one-channel-per-group kernels use per-ISA vector loops
// (ops/conv_isa.h).
// Convs with one input channel per group (depthwise, and C_in = 1) use direct kernels: there
// the GEMM would have a reduction of only kH*kW.
// Parallelism: over images (one column buffer per thread, GEMMs run serially inside the worker)
// when there are at least as many images as threads, else over the GEMM's rows. Either way every
// output element is produced by one thread with a fixed summation order.
#include "ops/conv.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/parallel.h"
#include "ops/conv_isa.h"
#include "ops/gemm.h"

namespace dlcore {

const ConvDirectKernels& conv_direct_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(convdirect_generic_set, &convdirect_avx2_set, &convdirect_avx512_set);
#else
  return convdirect_generic_set;
#endif
}

namespace {

// Valid output-column range [lo, hi) for kernel column offset iw0 = kw*dW - pL: 0 <= iw0 + ow*s < W.
inline void valid_range(int64_t iw0, int64_t s, int64_t W, int64_t OW, int64_t& lo, int64_t& hi) {
  lo = iw0 >= 0 ? 0 : (-iw0 + s - 1) / s;
  hi = (W - 1 - iw0) < 0 ? 0 : (W - 1 - iw0) / s + 1;
  lo = std::min(lo, OW);
  hi = std::min(std::max(hi, lo), OW);
}

// col (Cg*kH*kW rows, (oh1-oh0)*OW columns, row stride ldc) = patches of x (Cg, H, W) for the
// output rows [oh0, oh1).
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col, int64_t ldc, int64_t oh0, int64_t oh1) {
  const int64_t H = g.H, W = g.W, OW = g.OW, Cg = g.Cg();
  const auto gather2 = conv_direct_kernels().get<T>().gather2;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        T* row = col + ((c * g.kH + kh) * g.kW + kw) * ldc;
        int64_t iw0 = kw * g.dW - g.pL, lo, hi;
        valid_range(iw0, g.sW, W, OW, lo, hi);
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          T* dst = row + (oh - oh0) * OW;
          int64_t ih = oh * g.sH - g.pT + kh * g.dH;
          if (ih < 0 || ih >= H) {
            std::fill(dst, dst + OW, T(0));
            continue;
          }
          const T* src = x + (c * H + ih) * W + iw0;
          std::fill(dst, dst + lo, T(0));
          if (g.sW == 1) std::memcpy(dst + lo, src + lo, sizeof(T) * (hi - lo));
          else if (g.sW == 2 && hi - lo > 16) gather2(src + 2 * lo, dst + lo, hi - lo);  // short rows: no call
          else for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sW];
          std::fill(dst + hi, dst + OW, T(0));
        }
      }
}

// x (Cg, H, W) += col2im(col) for the output rows [oh0, oh1): the adjoint of im2col.
template <class T>
void col2im(const ConvGeometry& g, const T* col, int64_t ldc, int64_t oh0, int64_t oh1, T* x) {
  const int64_t H = g.H, W = g.W, OW = g.OW, Cg = g.Cg();
  const auto scatter_add2 = conv_direct_kernels().get<T>().scatter_add2;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        const T* row = col + ((c * g.kH + kh) * g.kW + kw) * ldc;
        int64_t iw0 = kw * g.dW - g.pL, lo, hi;
        valid_range(iw0, g.sW, W, OW, lo, hi);
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          int64_t ih = oh * g.sH - g.pT + kh * g.dH;
          if (ih < 0 || ih >= H) continue;
          const T* src = row + (oh - oh0) * OW;
          T* dst = x + (c * H + ih) * W + iw0;
          if (g.sW == 1) for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
          else if (g.sW == 2 && hi - lo > 16) scatter_add2(src + lo, dst + 2 * lo, hi - lo);
          else for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sW] += src[ow];
        }
      }
}

// Whole-image im2col / col2im through a zero-padded copy of each channel plane (Hp x Wp, the
// rows and columns the windows reach): no per-row range checks or zero fills, which dominate
// for small planes (7x7 / 14x14 outputs have rows of 7 to 14 elements). Same values and the
// same summation order as im2col / col2im over rows [0, OH).
inline int64_t reach(int64_t out, int64_t s, int64_t k, int64_t d) { return (out - 1) * s + (k - 1) * d + 1; }

template <class T>
T* plane_buffer(int64_t n) {
  static thread_local std::vector<T> buf;
  if ((int64_t)buf.size() < n) buf.resize((size_t)n);
  return buf.data();
}

// col (Cg*kH*kW, OH*OW, row stride ldc) = im2col(x) of one image's group x (Cg, H, W), for the
// channels [c0, c1) (c1 < 0: all); x and col point at channel 0's plane and col row.
template <class T>
void im2col_full(const ConvGeometry& g, const T* x, T* col, int64_t ldc, int64_t c0 = 0, int64_t c1 = -1) {
  const int64_t Hp = reach(g.OH, g.sH, g.kH, g.dH), Wp = reach(g.OW, g.sW, g.kW, g.dW), OW = g.OW;
  const auto gather2 = conv_direct_kernels().get<T>().gather2;
  const auto deint2 = conv_direct_kernels().get<T>().deinterleave2;
  const auto unfold1 = conv_direct_kernels().get<T>().unfold1;
  T* buf = plane_buffer<T>(Hp * Wp);
  const int64_t j0 = std::min(g.pL, Wp), j1 = std::max(j0, std::min(Wp, g.pL + g.W));  // data columns
  for (int64_t c = c0; c < (c1 < 0 ? g.Cg() : c1); ++c) {
    for (int64_t r = 0; r < Hp; ++r) {
      T* d = buf + r * Wp;
      const int64_t ih = r - g.pT;
      if (ih < 0 || ih >= g.H) {
        std::fill(d, d + Wp, T(0));
        continue;
      }
      std::fill(d, d + j0, T(0));
      std::memcpy(d + j0, x + (c * g.H + ih) * g.W + (j0 - g.pL), sizeof(T) * (j1 - j0));
      std::fill(d + j1, d + Wp, T(0));
    }
    if (g.sW == 1) {
      unfold1(buf, Wp, g.kH, g.kW, g.sH, g.dH, g.dW, g.OH, OW, col + c * g.kH * g.kW * ldc, ldc);
      continue;
    }
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        T* row = col + ((c * g.kH + kh) * g.kW + kw) * ldc;
        if (g.sW == 2 && g.dW == 1 && kw + 1 < g.kW) {
          // Stride-2 rows: taps kw and kw+1 read the even and odd columns of the same
          // contiguous 2*OW span (one de-interleaving pass for two rows of col).
          T* row1 = row + ldc;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const T* src = buf + (oh * g.sH + kh * g.dH) * Wp + kw;
            T* d0 = row + oh * OW;
            T* d1 = row1 + oh * OW;
            if (OW > 16) {
              deint2(src, d0, d1, OW);
              continue;
            }
            for (int64_t ow = 0; ow < OW; ++ow) {
              d0[ow] = src[2 * ow];
              d1[ow] = src[2 * ow + 1];
            }
          }
          ++kw;
          continue;
        }
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* src = buf + (oh * g.sH + kh * g.dH) * Wp + kw * g.dW;
          T* dst = row + oh * OW;
          if (g.sW == 2 && OW > 16) gather2(src, dst, OW);
          else for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow * g.sW];
        }
      }
  }
}

// x (Cg, H, W) = col2im(col) (overwrites x) for the channels [c0, c1) (x and col point at
// channel 0's plane and col row; c1 < 0: all channels).
template <class T>
void col2im_full(const ConvGeometry& g, const T* col, int64_t ldc, T* x, int64_t c0 = 0, int64_t c1 = -1) {
  const int64_t Hp = reach(g.OH, g.sH, g.kH, g.dH), Wp = reach(g.OW, g.sW, g.kW, g.dW), OW = g.OW;
  const auto scatter_add2 = conv_direct_kernels().get<T>().scatter_add2;
  T* buf = plane_buffer<T>(Hp * Wp);
  if (c1 < 0) c1 = g.Cg();
  for (int64_t c = c0; c < c1; ++c) {
    std::fill(buf, buf + Hp * Wp, T(0));
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        const T* row = col + ((c * g.kH + kh) * g.kW + kw) * ldc;
        if (g.sW == 2 && g.dW == 1 && OW <= 16 && kw + 1 < g.kW) {
          // Short stride-2 rows: taps kw and kw+1 fill the even and odd columns of the same
          // 2*OW span, one contiguous interleaved pass (each element still gets its taps in
          // (kh, kw) order: the two taps of a pair never meet on one element).
          const T* row1 = row + ldc;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            T* dst = buf + (oh * g.sH + kh * g.dH) * Wp + kw;
            const T* s0 = row + oh * OW;
            const T* s1 = row1 + oh * OW;
            for (int64_t ow = 0; ow < OW; ++ow) {
              dst[2 * ow] += s0[ow];
              dst[2 * ow + 1] += s1[ow];
            }
          }
          ++kw;
          continue;
        }
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* dst = buf + (oh * g.sH + kh * g.dH) * Wp + kw * g.dW;
          const T* src = row + oh * OW;
          if (g.sW == 1) for (int64_t ow = 0; ow < OW; ++ow) dst[ow] += src[ow];
          else if (g.sW == 2 && OW > 16) scatter_add2(src, dst, OW);
          else for (int64_t ow = 0; ow < OW; ++ow) dst[ow * g.sW] += src[ow];
        }
      }
    const int64_t nw = std::max<int64_t>(0, std::min(g.W, Wp - g.pL));  // columns the windows reach
    for (int64_t ih = 0; ih < g.H; ++ih) {
      T* d = x + (c * g.H + ih) * g.W;
      const int64_t r = ih + g.pT;
      if (r >= Hp) {
        std::fill(d, d + g.W, T(0));
        continue;
      }
      std::memcpy(d, buf + r * Wp + g.pL, sizeof(T) * nw);
      std::fill(d + nw, d + g.W, T(0));
    }
  }
}

// Output rows per column tile of forward / backward-data: up to 1024 columns (wide GEMMs pack
// the weight fewer times and run at a higher rate than 256-column ones; measured ~10% on the
// stride-2 and C128 3x3 cases) while the column buffer stays within 8 MiB per thread, and at
// least 256 columns. A function of the shape only (never of the thread count).
inline int64_t tile_rows(const ConvGeometry& g, int64_t elem_size) {
  const int64_t R = std::max<int64_t>(1, g.Cg() * g.kH * g.kW), OW = std::max<int64_t>(1, g.OW);
  const int64_t cols = std::max<int64_t>(256, std::min<int64_t>(1024, (int64_t(8) << 20) / elem_size / R));
  const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(g.OH, cols / OW));
  const int64_t ntiles = (g.OH + rows - 1) / rows;
  return (g.OH + ntiles - 1) / ntiles;  // balanced: no thin last tile
}

// Images per GEMM of forward / backward-data when one column tile holds a whole image with
// room to spare (small images, e.g. 7x7): batching them gives the GEMM up to 1024 columns (same
// rule as tile_rows) and packs the weight once per batch instead of once per image. 1 when images are tiled by rows.
// A function of the shape only (never of the thread count).
inline int64_t image_batch(const ConvGeometry& g, int64_t TR, int64_t elem_size) {
  if (TR < g.OH || g.pointwise()) return 1;
  const int64_t R = std::max<int64_t>(1, g.Cg() * g.kH * g.kW), OHW = std::max<int64_t>(1, g.OH * g.OW);
  const int64_t cols = std::max<int64_t>(256, std::min<int64_t>(1024, (int64_t(8) << 20) / elem_size / R));
  const int64_t nb = std::min<int64_t>(g.N, cols / OHW);
  if (nb < 2) return 1;
  const int64_t nbatches = (g.N + nb - 1) / nb;
  return (g.N + nbatches - 1) / nbatches;  // balanced: no thin last batch
}

// Runs fn(b0, b1, scratch) for image batches [b0, b1) of NB images; scratch per thread.
template <class T, class F>
void for_each_batch(int64_t N, int64_t NB, int64_t scratch_elems, F&& fn) {
  const int64_t nbatches = (N + NB - 1) / NB;
  parallel_for(0, nbatches, 1, [&](int64_t q0, int64_t q1) {
    std::unique_ptr<T[]> scratch(new T[(size_t)scratch_elems]);  // fully written before use
    for (int64_t q = q0; q < q1; ++q) fn(q * NB, std::min(N, (q + 1) * NB), scratch.get());
  });
}

// Runs fn(n, scratch) for every image n; scratch holds `scratch_elems` T per thread.
template <class T, class F>
void for_each_image(int64_t N, int64_t scratch_elems, F&& fn) {
  if (N >= 2 && get_num_threads() > 1 && !in_parallel_region()) {
    parallel_for(0, N, 1, [&](int64_t b, int64_t e) {
      std::unique_ptr<T[]> scratch(new T[(size_t)scratch_elems]);  // uninitialised: fully written before use
      for (int64_t n = b; n < e; ++n) fn(n, scratch.get());
    });
  } else {
    std::unique_ptr<T[]> scratch(new T[(size_t)scratch_elems]);
    for (int64_t n = 0; n < N; ++n) fn(n, scratch.get());
  }
}

// ---- direct kernels for one input channel per group (depthwise, C_in = 1) -------------------
// Output channel k reads input channel k / M (M = K / C outputs per input channel).

// Forward: y[n, k] = b[k] + sum_{kh,kw} w[k, 0, kh, kw] * x[n, k/M] shifted. Parallel over (n, k).
template <class T>
void direct_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t M = g.K / g.C, HW = g.H * g.W, OHW = g.OH * g.OW, kk = g.kH * g.kW;
  parallel_for(0, g.N * g.K, std::max<int64_t>(1, 4096 / std::max<int64_t>(OHW * kk, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t n = p / g.K, k = p % g.K, c = k / M;
      const T* xp = x + (n * g.C + c) * HW;
      const T* wk = w + k * kk;
      T* yp = y + p * OHW;
      std::fill(yp, yp + OHW, b ? b[k] : T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        T* yr = yp + oh * g.OW;
        for (int64_t kh = 0; kh < g.kH; ++kh) {
          int64_t ih = oh * g.sH - g.pT + kh * g.dH;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.kW; ++kw) {
            int64_t iw0 = kw * g.dW - g.pL, lo, hi;
            valid_range(iw0, g.sW, g.W, g.OW, lo, hi);
            const T wv = wk[kh * g.kW + kw];
            const T* xr = xp + ih * g.W + iw0;
            if (g.sW == 1) for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow];
            else for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * g.sW];
          }
        }
      }
    }
  });
}

// Backward-data of direct_forward's accumulation line: gx[n, c] = sum over its M output
// channels and taps of w * gy, scattered. Parallel over input planes (n, c): each plane is
// written by one thread only.
template <class T>
void direct_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const int64_t M = g.K / g.C, HW = g.H * g.W, OHW = g.OH * g.OW, kk = g.kH * g.kW;
  parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(M * OHW * kk, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t n = p / g.C, c = p % g.C;
      T* gxp = gx + p * HW;
      std::fill(gxp, gxp + HW, T(0));
      for (int64_t m = 0; m < M; ++m) {
        int64_t k = c * M + m;
        const T* gyp = gy + (n * g.K + k) * OHW;
        const T* wk = w + k * kk;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* gr = gyp + oh * g.OW;
          for (int64_t kh = 0; kh < g.kH; ++kh) {
            int64_t ih = oh * g.sH - g.pT + kh * g.dH;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.kW; ++kw) {
              int64_t iw0 = kw * g.dW - g.pL, lo, hi;
              valid_range(iw0, g.sW, g.W, g.OW, lo, hi);
              const T wv = wk[kh * g.kW + kw];
              T* xr = gxp + ih * g.W + iw0;
              if (g.sW == 1) for (int64_t ow = lo; ow < hi; ++ow) xr[ow] += wv * gr[ow];
              else for (int64_t ow = lo; ow < hi; ++ow) xr[ow * g.sW] += wv * gr[ow];
            }
          }
        }
      }
    }
  });
}

// Backward-weight of the same line: gw[k, kh, kw] = sum_n sum_{oh,ow} gy[n,k,oh,ow] * x[n, k/M, ih, iw].
// Parallel over output channels k; images summed in order 0..N-1.
template <class T>
void direct_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const int64_t M = g.K / g.C, HW = g.H * g.W, OHW = g.OH * g.OW, kk = g.kH * g.kW;
  parallel_for(0, g.K, 1, [&](int64_t k0, int64_t k1) {
    std::vector<T> acc((size_t)g.OW);
    for (int64_t k = k0; k < k1; ++k) {
      int64_t c = k / M;
      for (int64_t kh = 0; kh < g.kH; ++kh)
        for (int64_t kw = 0; kw < g.kW; ++kw) {
          int64_t iw0 = kw * g.dW - g.pL, lo, hi;
          valid_range(iw0, g.sW, g.W, g.OW, lo, hi);
          std::fill(acc.begin(), acc.end(), T(0));  // per-column partial sums (vectorisable)
          for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + c) * HW;
            const T* gyp = gy + (n * g.K + k) * OHW;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * g.sH - g.pT + kh * g.dH;
              if (ih < 0 || ih >= g.H) continue;
              const T* gr = gyp + oh * g.OW;
              const T* xr = xp + ih * g.W + iw0;
              if (g.sW == 1) for (int64_t ow = lo; ow < hi; ++ow) acc[ow] += gr[ow] * xr[ow];
              else for (int64_t ow = lo; ow < hi; ++ow) acc[ow] += gr[ow] * xr[ow * g.sW];
            }
          }
          T s = 0;
          for (int64_t ow = lo; ow < hi; ++ow) s += acc[ow];
          gw[k * kk + kh * g.kW + kw] = s;
        }
    }
  });
}

// ---- vectorised direct kernels (ops/conv_direct_loops.h) for horizontal stride 1 ----------

inline bool direct_vec_ok(const ConvGeometry& g) { return g.sW == 1 && g.kH <= 64; }
inline DirectGeom direct_geom(const ConvGeometry& g) {
  return DirectGeom{g.H, g.W, g.OH, g.OW, g.kH, g.kW, g.sH, g.dH, g.dW, g.pT, g.pL, g.K / g.C};
}

// Runs fn(p, scratch) for p in [0, P) in parallel chunks, one scratch buffer per chunk.
template <class T, class F>
void for_each_plane(int64_t P, int64_t work_per_plane, int64_t scratch_elems, F&& fn) {
  parallel_for(0, P, std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_plane, 1)), [&](int64_t p0, int64_t p1) {
    std::unique_ptr<T[]> scratch(new T[(size_t)scratch_elems]);
    for (int64_t p = p0; p < p1; ++p) fn(p, scratch.get());
  });
}

// Forward over input planes (n, c): each writes its M output planes.
template <class T>
void direct_vec_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
  const DirectGeom d = direct_geom(g);
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW, kk = g.kH * g.kW;
  auto fn = conv_direct_kernels().get<T>().fwd;
  for_each_plane<T>(g.N * g.C, d.M * OHW * kk, direct_scratch_fwd<T>(d), [&](int64_t p, T* s) {
    const int64_t n = p / g.C, c = p % g.C;
    fn(d, x + p * HW, w + c * d.M * kk, b ? b + c * d.M : nullptr, y + (n * g.K + c * d.M) * OHW, s);
  });
}

// Backward-data over input planes (n, c): each gathers from its M grad_output planes.
template <class T>
void direct_vec_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const DirectGeom d = direct_geom(g);
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW, kk = g.kH * g.kW;
  auto fn = conv_direct_kernels().get<T>().bwd_data;
  for_each_plane<T>(g.N * g.C, d.M * HW * kk, direct_scratch_bwd_data<T>(d), [&](int64_t p, T* s) {
    const int64_t n = p / g.C, c = p % g.C;
    fn(d, gy + (n * g.K + c * d.M) * OHW, w + c * d.M * kk, gx + p * HW, s);
  });
}

// Backward-weight over output channels k (all images inside, in order).
template <class T>
void direct_vec_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const DirectGeom d = direct_geom(g);
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW, kk = g.kH * g.kW;
  auto fn = conv_direct_kernels().get<T>().bwd_weight;
  for_each_plane<T>(g.K, g.N * OHW * kk, direct_scratch_bwd_weight<T>(d), [&](int64_t k, T* s) {
    const int64_t c = k / d.M;
    fn(d, g.N, x + c * HW, g.C * HW, gy + k * OHW, g.K * OHW, gw + k * kk, s);
  });
}

// ---- Winograd F(2x2, 3x3) for 3x3 stride-1 undilated ungrouped convs ---------------------------
// Per 2x2 output tile and pair (k, c): y = A^T [(G w G^T) (.) (B^T d B)] A, d the 4x4 input patch.
// The 16 element-wise products summed over c are 16 GEMMs U[xi] (K, C) @ V[xi] (C, P) over a
// chunk of P tiles: 2.25x fewer multiplies than im2col + GEMM. Chunks are bands of tile rows of
// one image (bounded scratch, sized from the shape only); each output element is produced by one
// chunk, so results do not depend on the thread count.
inline bool winograd_ok(const ConvGeometry& g) {
  return g.kH == 3 && g.kW == 3 && g.sH == 1 && g.sW == 1 && g.dH == 1 && g.dW == 1 && g.groups == 1 && g.C >= 16 &&
         g.K >= 16;
}

// U (16, K, C) = G w[k, c] G^T, G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
template <class T>
void winograd_weights(int64_t K, int64_t C, const T* w, T* U) {
  parallel_for(0, K, 16, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t c = 0; c < C; ++c) {
        const T* f = w + (k * C + c) * 9;
        T r[4][3];
        for (int j = 0; j < 3; ++j) {
          r[0][j] = f[j];
          r[1][j] = T(0.5) * (f[j] + f[3 + j] + f[6 + j]);
          r[2][j] = T(0.5) * (f[j] - f[3 + j] + f[6 + j]);
          r[3][j] = f[6 + j];
        }
        for (int i = 0; i < 4; ++i) {
          const T u[4] = {r[i][0], T(0.5) * (r[i][0] + r[i][1] + r[i][2]), T(0.5) * (r[i][0] - r[i][1] + r[i][2]),
                          r[i][2]};
          for (int j = 0; j < 4; ++j) U[((i * 4 + j) * K + k) * C + c] = u[j];
        }
      }
  });
}

// Tiles per Winograd chunk when whole small images are batched (winograd_conv).
#ifndef DLCORE_WINO_TILES
#define DLCORE_WINO_TILES 196
#endif
constexpr int64_t kWinoTiles = DLCORE_WINO_TILES;

// y = conv2d(x, w) + b through U = winograd_weights(w). Uses only N, C, H, W, K, OH, OW, pT, pL.
template <class T>
void winograd_conv(const ConvGeometry& g, const T* x, const T* U, const T* b, T* y) {
  const int64_t C = g.C, K = g.K, HW = g.H * g.W, OHW = g.OH * g.OW;
  const int64_t TH = (g.OH + 1) / 2, TW = (g.OW + 1) / 2;
  const int64_t P = std::max<int64_t>(64, (int64_t(1) << 20) / (16 * (C + K)));  // tiles per chunk
  const int64_t rpb0 = std::max<int64_t>(1, std::min<int64_t>(TH, P / TW));
  const int64_t nb0 = (TH + rpb0 - 1) / rpb0, rpb = (TH + nb0 - 1) / nb0, nbands = (TH + rpb - 1) / rpb;
  // Small images (one band holds a whole image): IB images per chunk, their tiles side by side
  // (14x14 outputs: 49 tiles; 16 GEMMs 64 x 49 x 32 per image ran at a third of the peak, 49
  // columns filling 64 lanes). IB depends on the shape only, so results stay thread-invariant.
  const int64_t IB = nbands > 1 ? 1 : std::max<int64_t>(1, std::min<int64_t>(g.N, kWinoTiles / (TH * TW)));
  const int64_t nitems = nbands > 1 ? g.N * nbands : (g.N + IB - 1) / IB;
  const int64_t Pmax = rpb * TW * IB;
  const int64_t scratch = 16 * (C + K) * Pmax + wino_in_scratch<T>(TW, rpb);
  const auto& kern = conv_direct_kernels().get<T>();
  for_each_image<T>(nitems, scratch, [&](int64_t item, T* V) {
    const int64_t n0 = nbands > 1 ? item / nbands : item * IB, n1 = nbands > 1 ? n0 + 1 : std::min(g.N, n0 + IB);
    const int64_t th0 = nbands > 1 ? (item % nbands) * rpb : 0, th1 = std::min(TH, th0 + rpb);
    const int64_t pi = (th1 - th0) * TW, pc = pi * (n1 - n0);  // tiles per image, per chunk
    T* M = V + 16 * C * pc;
    T* tmp = V + 16 * (C + K) * Pmax;
    // V[xi][c][p] = (B^T d B)[xi] for the chunk's tiles p (image i: tiles [i*pi, (i+1)*pi))
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t c = 0; c < C; ++c)
        kern.wino_in(x + (n * C + c) * HW, g.H, g.W, g.pT, g.pL, th0, th1, TW, V + c * pc + (n - n0) * pi, C * pc, tmp);
    for (int xi = 0; xi < 16; ++xi)
      gemm<T>(false, false, K, pc, C, T(1), U + xi * K * C, C, V + xi * C * pc, pc, T(0), M + xi * K * pc, pc);
    // y tile = A^T m A (+ bias)
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t k = 0; k < K; ++k) {
        T* yk = y + (n * K + k) * OHW;
        for (int64_t th = th0; th < th1; ++th) {
          T* y0 = yk + 2 * th * g.OW;
          kern.wino_out(M + k * pc + (n - n0) * pi + (th - th0) * TW, K * pc, TW, b ? b[k] : T(0), y0,
                        2 * th + 1 < g.OH ? y0 + g.OW : nullptr, g.OW);
        }
      }
  });
}

template <class T>
void winograd_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
  std::unique_ptr<T[]> U(new T[(size_t)(16 * g.K * g.C)]);
  winograd_weights<T>(g.K, g.C, w, U.get());
  winograd_conv<T>(g, x, U.get(), b, y);
}

// Backward-data of a stride-1 3x3 conv is a stride-1 3x3 conv of gy with the spatially flipped,
// channel-transposed weight w'[c, k] = w[k, c, 2-i, 2-j] and padding 2 - p (needs p <= 2).
inline bool winograd_bwd_ok(const ConvGeometry& g) {
  return winograd_ok(g) && g.pT <= 2 && g.pB <= 2 && g.pL <= 2 && g.pR <= 2;
}
template <class T>
void winograd_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  std::unique_ptr<T[]> wf(new T[(size_t)(g.K * g.C * 9)]), U(new T[(size_t)(16 * g.K * g.C)]);
  for (int64_t k = 0; k < g.K; ++k)
    for (int64_t c = 0; c < g.C; ++c)
      for (int i = 0; i < 9; ++i) wf[(c * g.K + k) * 9 + i] = w[(k * g.C + c) * 9 + (8 - i)];
  winograd_weights<T>(g.C, g.K, wf.get(), U.get());
  ConvGeometry t = g;
  t.C = g.K; t.H = g.OH; t.W = g.OW;
  t.K = g.C; t.OH = g.H; t.OW = g.W;
  t.pT = 2 - g.pT; t.pB = 2 - g.pB; t.pL = 2 - g.pL; t.pR = 2 - g.pR;
  winograd_conv<T>(t, gy, U.get(), nullptr, gx);
}

// ---- im2col + GEMM kernels ------------------------------------------------------------------

template <class T>
void forward_t(const ConvGeometry& g, const View& xv, const View& wv, const View* bv, const View& yv) {
  const T* x = xv.ptr<T>();
  const T* w = wv.ptr<T>();
  const T* b = bv ? bv->ptr<T>() : nullptr;
  T* y = yv.ptr<T>();
  if (g.Cg() == 1) return direct_vec_ok(g) ? direct_vec_forward<T>(g, x, w, b, y) : direct_forward<T>(g, x, w, b, y);
  if (winograd_ok(g)) return winograd_forward<T>(g, x, w, b, y);
  const int64_t Cg = g.Cg(), Kg = g.Kg(), HW = g.H * g.W, OHW = g.OH * g.OW, R = Cg * g.kH * g.kW;
  const bool pw = g.pointwise();
  const int64_t TR = tile_rows(g, sizeof(T));
  const int64_t NB = image_batch(g, TR, sizeof(T));
  if (NB > 1) {
    // Small images: col (R, nb*OHW) holds nb images side by side; one GEMM per batch and group
    // into yb (Kg, nb*OHW), then each image's rows (+ bias) are copied to y.
    for_each_batch<T>(g.N, NB, (R + Kg) * NB * OHW, [&](int64_t n0, int64_t n1, T* col) {
      const int64_t nb = n1 - n0, ld = nb * OHW;
      T* yb = col + R * ld;
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        for (int64_t i = 0; i < nb; ++i) im2col_full<T>(g, x + ((n0 + i) * g.C + grp * Cg) * HW, col + i * OHW, ld);
        gemm<T>(false, false, Kg, ld, R, T(1), w + grp * Kg * R, R, col, ld, T(0), yb, ld);
        for (int64_t i = 0; i < nb; ++i)
          for (int64_t k = 0; k < Kg; ++k) {
            const T* src = yb + k * ld + i * OHW;
            T* dst = y + ((n0 + i) * g.K + grp * Kg + k) * OHW;
            if (b) {
              const T bk = b[grp * Kg + k];
              for (int64_t j = 0; j < OHW; ++j) dst[j] = src[j] + bk;
            } else {
              std::memcpy(dst, src, sizeof(T) * OHW);
            }
          }
      }
    });
    return;
  }
  for_each_image<T>(g.N, pw ? 0 : R * TR * g.OW, [&](int64_t n, T* col) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xg = x + (n * g.C + grp * Cg) * HW;
      const T* wg = w + grp * Kg * R;
      T* yg = y + (n * g.K + grp * Kg) * OHW;
      if (pw) {
        gemm<T>(false, false, Kg, OHW, Cg, T(1), wg, R, xg, HW, T(0), yg, OHW);
      } else {
        for (int64_t oh0 = 0; oh0 < g.OH; oh0 += TR) {  // y[:, tile] = w @ im2col(tile)
          const int64_t oh1 = std::min(g.OH, oh0 + TR), nc = (oh1 - oh0) * g.OW;
          if (TR >= g.OH) im2col_full<T>(g, xg, col, nc);  // one tile: the padded-plane unfold
          else im2col<T>(g, xg, col, nc, oh0, oh1);
          gemm<T>(false, false, Kg, nc, R, T(1), wg, R, col, nc, T(0), yg + oh0 * g.OW, OHW);
        }
      }
      if (b)
        for (int64_t k = 0; k < Kg; ++k) {
          T bk = b[grp * Kg + k];
          T* yr = yg + k * OHW;
          for (int64_t j = 0; j < OHW; ++j) yr[j] += bk;
        }
    }
  });
}

template <class T>
void backward_data_t(const ConvGeometry& g, const View& gyv, const View& wv, const View& gxv) {
  const T* gy = gyv.ptr<T>();
  const T* w = wv.ptr<T>();
  T* gx = gxv.ptr<T>();
  if (g.Cg() == 1)
    return direct_vec_ok(g) ? direct_vec_backward_data<T>(g, gy, w, gx) : direct_backward_data<T>(g, gy, w, gx);
  if (winograd_bwd_ok(g)) return winograd_backward_data<T>(g, gy, w, gx);
  const int64_t Cg = g.Cg(), Kg = g.Kg(), HW = g.H * g.W, OHW = g.OH * g.OW, R = Cg * g.kH * g.kW;
  const bool pw = g.pointwise();
  const int64_t TR = tile_rows(g, sizeof(T));
  const int64_t NB = image_batch(g, TR, sizeof(T));
  if (NB > 1) {
    // Small images: gyb (Kg, nb*OHW) gathers nb images' grad_output; col = w^T @ gyb in one GEMM
    // per batch and group, then col2im of each image's columns.
    for_each_batch<T>(g.N, NB, (R + Kg) * NB * OHW, [&](int64_t n0, int64_t n1, T* col) {
      const int64_t nb = n1 - n0, ld = nb * OHW;
      T* gyb = col + R * ld;
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        for (int64_t i = 0; i < nb; ++i)
          for (int64_t k = 0; k < Kg; ++k)
            std::memcpy(gyb + k * ld + i * OHW, gy + ((n0 + i) * g.K + grp * Kg + k) * OHW, sizeof(T) * OHW);
        // col's rows in chunks of whole channels (about 512 rows) so that each chunk is folded
        // back while it is still in cache (measured: 512 rows 11.4 ms, 256 11.9, 128 12.1, one
        // GEMM over all 1024 rows 12.4 for convT N64 C128 7x7 -> 64, 1 thread).
        const int64_t kk = g.kH * g.kW, CC = std::max<int64_t>(1, 512 / kk);
        for (int64_t c0 = 0; c0 < Cg; c0 += CC) {
          const int64_t c1 = std::min(Cg, c0 + CC);
          gemm<T>(true, false, (c1 - c0) * kk, ld, Kg, T(1), w + grp * Kg * R + c0 * kk, R, gyb, ld, T(0),
                  col + c0 * kk * ld, ld);
          for (int64_t i = 0; i < nb; ++i)
            col2im_full<T>(g, col + i * OHW, ld, gx + ((n0 + i) * g.C + grp * Cg) * HW, c0, c1);
        }
      }
    });
    return;
  }
  for_each_image<T>(g.N, pw ? 0 : R * TR * g.OW, [&](int64_t n, T* col) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* gyg = gy + (n * g.K + grp * Kg) * OHW;
      const T* wg = w + grp * Kg * R;
      T* gxg = gx + (n * g.C + grp * Cg) * HW;
      if (pw) {
        gemm<T>(true, false, Cg, OHW, Kg, T(1), wg, R, gyg, OHW, T(0), gxg, HW);
      } else {
        std::fill(gxg, gxg + Cg * HW, T(0));
        for (int64_t oh0 = 0; oh0 < g.OH; oh0 += TR) {  // col = w^T @ gy[:, tile]; gx += col2im(col)
          const int64_t oh1 = std::min(g.OH, oh0 + TR), nc = (oh1 - oh0) * g.OW;
          gemm<T>(true, false, R, nc, Kg, T(1), wg, R, gyg + oh0 * g.OW, OHW, T(0), col, nc);
          col2im<T>(g, col, nc, oh0, oh1, gxg);
        }
      }
    }
  });
}

// Images per chunk of the weight gradient: a fixed function of the shape (never of the thread
// count) so the summation order, hence the result, is the same for any number of threads.
inline int64_t weight_chunk(const ConvGeometry& g) {
  const int64_t per_image = g.Cg() * g.kH * g.kW * g.OH * g.OW + g.Kg() * g.OH * g.OW;
  const int64_t budget = int64_t(1) << 21;  // elements of scratch (8 MiB in float32)
  return std::max<int64_t>(1, std::min<int64_t>(g.N, budget / std::max<int64_t>(per_image, 1)));
}

// Backward-weight of an ungrouped conv on small images (a CNN's layers: 1->32 on 28x28, 32->64 on
// 14x14), image by image with every operand in L2:
//   gw^T (R, K) += A_n (R, OHW) @ gy[n]^T (OHW, K)     (R = C*kH*kW rows (c, kh, kw); gy read in place)
// The images run in kWeightChunks fixed chunks (a function of N only) whose partials are then
// summed in chunk order: the chunks run in parallel and the result does not depend on the
// thread count. Two forms of A_n:
// * shifted planes (stride 1, undilated, OW == W, C*kW >= kShiftedMinRows): for each kw, a copy
//   of the C planes of x[n] shifted by s = kw - pL with pT / pB zero rows around it and the
//   columns a shift wraps across a row boundary zeroed, so that A_n's rows (kw, c) for a given kh
//   are the copies read in place with a uniform row stride, at offset kh*W: the output position
//   l = oh*W + ow reads copy[kw][c][(kh + oh)*W + ow] = x[n, c, oh + kh - pT, ow + kw - pL] (or 0).
//   kH GEMMs of C*kW rows per image share one packed gy[n]^T (pack_b / gemm_packed_b), and
//   the copies are kW planes per channel instead of im2col's kH*kW.
// * im2col of the whole image into a per-thread buffer (the rest, e.g. C = 1).
// (Unfolding a chunk of 30 images into one wide matrix for one GEMM wrote and re-read 6.5 MiB
// per chunk from L3 for 32->64 on 14x14; the direct loops for C = 1 ran at ~18 GFLOP/s.)
constexpr int64_t kWeightChunks = 8;
constexpr int64_t kShiftedMinRows = 24;  // rows of the per-kh GEMMs (C*kW) below which im2col is used
// Per-thread A scratch of the image-by-image path: 1 MiB (N16 C64 28x28 -> 64, 630 KiB of shifted
// planes, ran at 6.5 ms against 9.7 ms for the wide-im2col path on a 2 MiB-L2 Sapphire Rapids; on
// a 512 KiB-L2 CPU such an image streams from L3 but still writes 3x less than its im2col).
constexpr int64_t kImageScratchBytes = int64_t(1) << 20;

inline bool shifted_weight_ok(const ConvGeometry& g) {
  return g.sH == 1 && g.sW == 1 && g.dH == 1 && g.dW == 1 && g.OW == g.W && g.pL < g.W && g.kW - 1 - g.pL < g.W &&
         g.C * g.kW >= kShiftedMinRows;
}
inline int64_t shifted_plane(const ConvGeometry& g) {  // elements per shifted channel plane
  return ((g.pT + g.H + g.pB) * g.W + 15) / 16 * 16;
}
inline bool image_weight_ok(const ConvGeometry& g, int64_t elem_size) {
  const int64_t R = g.Cg() * g.kH * g.kW, OHW = g.OH * g.OW;
  const int64_t scratch = shifted_weight_ok(g) ? g.kW * g.C * shifted_plane(g) : R * OHW;
  // C = 1 (a first layer) takes it at any size: the alternative there is the direct loops (~18 GFLOP/s).
  // Partials up to 4M elements (N32 C128 7x7 -> 128: 1.2M, 4.6 -> 3.7 ms against the wide-im2col path)
  return g.groups == 1 && g.N > 0 && !g.pointwise() && (scratch * elem_size <= kImageScratchBytes || g.C == 1) &&
         std::min<int64_t>(g.N, kWeightChunks) * R * g.K <= (int64_t(1) << 22);
}

// n elements of scratch: a buffer of this thread kept for its next call (slot Slot) when at most
// kImageScratchBytes (no page faults per call), else a fresh allocation held by `own`.
template <class T, int Slot>
T* image_scratch(int64_t n, std::unique_ptr<T[]>& own) {
  if (n * (int64_t)sizeof(T) > kImageScratchBytes) {
    own.reset(new T[(size_t)n]);
    return own.get();
  }
  static thread_local std::vector<T> buf;
  if ((int64_t)buf.size() < n) buf.resize((size_t)n);
  return buf.data();
}

// S[(kw*C + c)*P + m] = x[c, m/W - pT, m%W + kw - pL] (0 outside the plane), m < (pT + H + pB)*W.
template <class T>
void shifted_planes(const ConvGeometry& g, const T* x, T* S, int64_t P) {
  const int64_t H = g.H, W = g.W, HW = H * W, top = g.pT * W, end = top + HW + g.pB * W;
  for (int64_t kw = 0; kw < g.kW; ++kw) {
    const int64_t sh = kw - g.pL;
    for (int64_t c = 0; c < g.C; ++c) {
      T* d = S + (kw * g.C + c) * P;
      const T* xc = x + c * HW;
      std::fill(d, d + top, T(0));
      T* m = d + top;  // m[j] = xc[j + sh] while inside the plane
      if (sh >= 0) {
        std::memcpy(m, xc + sh, sizeof(T) * (HW - sh));
        std::fill(m + HW - sh, m + HW, T(0));
        for (int64_t j = W - sh; j < W; ++j)  // wrapped from the next row (strided: no memset calls)
          for (int64_t r = 0; r < H; ++r) m[r * W + j] = T(0);
      } else {
        std::fill(m, m - sh, T(0));
        std::memcpy(m - sh, xc, sizeof(T) * (HW + sh));
        for (int64_t j = 0; j < -sh; ++j)
          for (int64_t r = 0; r < H; ++r) m[r * W + j] = T(0);
      }
      std::fill(d + top + HW, d + end, T(0));
    }
  }
}

// partial (kH*kW*C, K) rows (kh, kw, c) when shifted, else (R, K) rows (c, kh, kw).
template <class T>
void backward_weight_images(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const int64_t K = g.K, C = g.C, CHW = g.C * g.H * g.W, OHW = g.OH * g.OW, R = g.C * g.kH * g.kW;
  const int64_t NQ = std::min<int64_t>(g.N, kWeightChunks);
  const bool shifted = shifted_weight_ok(g);
  const int64_t P = shifted ? shifted_plane(g) : 0, rows = C * g.kW;  // rows per kh GEMM
  std::unique_ptr<T[]> own_part;
  T* part = image_scratch<T, 1>(NQ * R * K, own_part);
  parallel_for(0, NQ, 1, [&](int64_t q0, int64_t q1) {
    std::unique_ptr<T[]> own_a;
    T* a = image_scratch<T, 2>(shifted ? g.kW * C * P : R * OHW, own_a);
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n0 = q * g.N / NQ, n1 = (q + 1) * g.N / NQ;
      T* pq = part + q * R * K;
      for (int64_t n = n0; n < n1; ++n) {
        const T beta = n == n0 ? T(0) : T(1);
        if (!shifted) {
          im2col_full<T>(g, x + n * CHW, a, OHW);
          gemm<T>(false, true, R, K, OHW, T(1), a, OHW, gy + n * K * OHW, OHW, beta, pq, K);
          continue;
        }
        shifted_planes<T>(g, x + n * CHW, a, P);
        const PackedB<T> pb = pack_b<T>(true, OHW, K, gy + n * K * OHW, OHW, rows);
        for (int64_t kh = 0; kh < g.kH; ++kh)
          gemm_packed_b<T>(false, rows, T(1), a + kh * g.W, P, pb, beta, pq + kh * rows * K, K);
      }
    }
  });
  // gw[k, c, kh, kw] = partials summed in chunk order, a partial row (K values) at a time
  parallel_for(0, R, std::max<int64_t>(1, 4096 / std::max<int64_t>(K * NQ, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<T> acc((size_t)K);
    for (int64_t r = r0; r < r1; ++r) {
      std::memcpy(acc.data(), part + r * K, sizeof(T) * K);
      for (int64_t q = 1; q < NQ; ++q) {
        const T* pr = part + (q * R + r) * K;
        for (int64_t k = 0; k < K; ++k) acc[(size_t)k] += pr[k];
      }
      const int64_t kk = g.kH * g.kW;  // r -> (c, t = kh*kW + kw)
      const int64_t c = shifted ? r % C : r / kk, t = shifted ? r / C : r % kk;
      for (int64_t k = 0; k < K; ++k) gw[(k * C + c) * kk + t] = acc[(size_t)k];
    }
  });
}

template <class T>
void backward_weight_t(const ConvGeometry& g, const View& xv, const View& gyv, const View& gwv) {
  const T* x = xv.ptr<T>();
  const T* gy = gyv.ptr<T>();
  T* gw = gwv.ptr<T>();
  if (image_weight_ok(g, sizeof(T))) return backward_weight_images<T>(g, x, gy, gw);
  if (g.Cg() == 1)
    return direct_vec_ok(g) ? direct_vec_backward_weight<T>(g, x, gy, gw) : direct_backward_weight<T>(g, x, gy, gw);
  const int64_t Cg = g.Cg(), Kg = g.Kg(), HW = g.H * g.W, OHW = g.OH * g.OW, R = Cg * g.kH * g.kW;
  if (g.pointwise()) {
    // x[n, g] already is the (Cg, HW) operand: GEMMs accumulating into gw in image order (no
    // copy of the batch). Threads split gw's rows (output elements); each runs its rows' GEMMs
    // serially, which keeps one pool wake-up per call instead of one per image. A GEMM computes
    // an element the same way whatever the row split, so results do not depend on threads.
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      T* gwg = gw + grp * Kg * R;
      if (g.N == 0) std::fill(gwg, gwg + Kg * R, T(0));
      parallel_for(0, Kg, 8, [&](int64_t k0, int64_t k1) {
        for (int64_t n = 0; n < g.N; ++n)
          gemm<T>(false, true, k1 - k0, Cg, OHW, T(1), gy + (n * g.K + grp * Kg + k0) * OHW, OHW,
                  x + (n * g.C + grp * Cg) * HW, HW, n == 0 ? T(0) : T(1), gwg + k0 * R, R);
      });
    }
    return;
  }
  const int64_t B = weight_chunk(g);
  std::unique_ptr<T[]> colp(new T[(size_t)(R * B * OHW)]), gybp(new T[(size_t)(Kg * B * OHW)]),
      gwtp(new T[(size_t)(R * Kg)]);
  T* col = colp.get();
  T* gyb = gybp.get();
  T* gwt = gwtp.get();
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    T* gwg = gw + grp * Kg * R;
    for (int64_t n0 = 0; n0 < g.N; n0 += B) {
      const int64_t nb = std::min(B, g.N - n0), ld = nb * OHW;
      // gather the chunk: col (R, nb*OHW) and gy (Kg, nb*OHW), image i in columns [i*OHW, (i+1)*OHW),
      // in pieces of (image, CB channels) so that both threads get equal shares of an odd nb
      const int64_t CB = std::max<int64_t>(1, std::min<int64_t>(Cg, 8)), ncb = (Cg + CB - 1) / CB;
      parallel_for(0, nb * ncb, 1, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t i = q / ncb, c0 = q % ncb * CB, n = n0 + i;
          im2col_full<T>(g, x + (n * g.C + grp * Cg) * HW, col + i * OHW, ld, c0, std::min(Cg, c0 + CB));
          if (c0 > 0) continue;
          const T* src = gy + (n * g.K + grp * Kg) * OHW;
          for (int64_t k = 0; k < Kg; ++k)
            std::memcpy(gyb + k * ld + i * OHW, src + k * OHW, sizeof(T) * OHW);
        }
      });
      // gw^T (R, Kg) += col @ gy^T: the long row-major col is A, read in place by the GEMM's
      // direct-A kernels (Kg is narrow), and only gy^T is packed. The same products summed in
      // the same order as gw = gy @ col^T, so gw is bitwise the same; transposed once at the end.
      gemm<T>(false, true, R, Kg, ld, T(1), col, ld, gyb, ld, n0 == 0 ? T(0) : T(1), gwt, Kg);
    }
    if (g.N == 0) std::fill(gwt, gwt + Kg * R, T(0));
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t r = 0; r < R; ++r) gwg[k * R + r] = gwt[r * Kg + k];
  }
}

// y = conv2d(x, w) and gw = backward_weight(x, gy) with one unfold of x per image batch: the
// column buffer of forward_t's small-image path is the B operand of both GEMMs (y = w @ col;
// gw_q = gy_q @ col^T). Each image batch q (a function of the shape only) writes its own partial
// gw_q; the partials are then summed in batch order, so gw does not depend on the thread count.
// Shapes forward_t does not batch (large images, pointwise, depthwise, Winograd) run the two
// kernels one after the other.
template <class T>
void forward_and_weight_t(const ConvGeometry& g, const View& xv, const View& wv, const View& gyv, const View& yv,
                          const View& gwv) {
  const int64_t Cg = g.Cg(), Kg = g.Kg(), HW = g.H * g.W, OHW = g.OH * g.OW, R = Cg * g.kH * g.kW;
  const int64_t NB = (g.Cg() == 1 || winograd_ok(g)) ? 1 : image_batch(g, tile_rows(g, sizeof(T)), sizeof(T));
  const int64_t nbatches = NB > 1 ? (g.N + NB - 1) / NB : 0;
  const int64_t part_elems = nbatches * g.groups * Kg * R;
  if (NB <= 1 || part_elems > (int64_t(1) << 24)) {
    forward_t<T>(g, xv, wv, nullptr, yv);
    backward_weight_t<T>(g, xv, gyv, gwv);
    return;
  }
  const T* x = xv.ptr<T>();
  const T* w = wv.ptr<T>();
  const T* gy = gyv.ptr<T>();
  T* y = yv.ptr<T>();
  T* gw = gwv.ptr<T>();
  std::unique_ptr<T[]> part(new T[(size_t)part_elems]);  // gw partial of batch q, group grp: (q*groups + grp)*Kg*R
  for_each_batch<T>(g.N, NB, (R + Kg) * NB * OHW, [&](int64_t n0, int64_t n1, T* col) {
    const int64_t nb = n1 - n0, ld = nb * OHW, q = n0 / NB;
    T* kb = col + R * ld;  // (Kg, ld): first y's rows of the batch, then gy's
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t i = 0; i < nb; ++i) im2col_full<T>(g, x + ((n0 + i) * g.C + grp * Cg) * HW, col + i * OHW, ld);
      gemm<T>(false, false, Kg, ld, R, T(1), w + grp * Kg * R, R, col, ld, T(0), kb, ld);
      for (int64_t i = 0; i < nb; ++i)
        for (int64_t k = 0; k < Kg; ++k) {
          std::memcpy(y + ((n0 + i) * g.K + grp * Kg + k) * OHW, kb + k * ld + i * OHW, sizeof(T) * OHW);
          std::memcpy(kb + k * ld + i * OHW, gy + ((n0 + i) * g.K + grp * Kg + k) * OHW, sizeof(T) * OHW);
        }
      gemm<T>(false, true, Kg, R, ld, T(1), kb, ld, col, ld, T(0), part.get() + (q * g.groups + grp) * Kg * R, R);
    }
  });
  const int64_t GW = g.groups * Kg * R;
  parallel_for(0, GW, 4096, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      T s = part[(size_t)j];
      for (int64_t q = 1; q < nbatches; ++q) s += part[(size_t)(q * GW + j)];
      gw[j] = s;
    }
  });
}

// gb[k] = sum_n sum_l gy[n, k, l]; parallel over k, images in order.
template <class T>
void backward_bias_t(const View& gyv, const View& gbv) {
  const int64_t N = gyv.shape[0], K = gyv.shape[1], L = gyv.shape[2];
  const T* gy = gyv.ptr<T>();
  T* gb = gbv.ptr<T>();
  auto sum = conv_direct_kernels().get<T>().sum;
  parallel_for(0, K, std::max<int64_t>(1, 16384 / std::max<int64_t>(N * L, 1)), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      T s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* r = gy + (n * K + k) * L;
        s += sum(r, L);
      }
      gb[k] = s;
    }
  });
}

void cpu_forward(const ConvGeometry& g, const View& x, const View& w, const View* b, const View& y) {
  if (x.dtype == DType::f32) forward_t<float>(g, x, w, b, y);
  else forward_t<double>(g, x, w, b, y);
}
void cpu_backward_data(const ConvGeometry& g, const View& gy, const View& w, const View& gx) {
  if (gy.dtype == DType::f32) backward_data_t<float>(g, gy, w, gx);
  else backward_data_t<double>(g, gy, w, gx);
}
void cpu_backward_weight(const ConvGeometry& g, const View& x, const View& gy, const View& gw) {
  if (x.dtype == DType::f32) backward_weight_t<float>(g, x, gy, gw);
  else backward_weight_t<double>(g, x, gy, gw);
}
void cpu_backward_bias(const View& gy, const View& gb) {
  if (gy.dtype == DType::f32) backward_bias_t<float>(gy, gb);
  else backward_bias_t<double>(gy, gb);
}

void cpu_forward_and_weight(const ConvGeometry& g, const View& x, const View& w, const View& gy, const View& y,
                            const View& gw) {
  if (x.dtype == DType::f32) forward_and_weight_t<float>(g, x, w, gy, y, gw);
  else forward_and_weight_t<double>(g, x, w, gy, y, gw);
}

void fill_cpu_conv() {
  auto& t = dispatch_table<ConvTable>(Device::cpu);
  t.forward = cpu_forward;
  t.backward_data = cpu_backward_data;
  t.backward_weight = cpu_backward_weight;
  t.backward_bias = cpu_backward_bias;
  t.forward_and_weight = cpu_forward_and_weight;
}
DLCORE_REGISTER(fill_cpu_conv);

void check_same(const char* op, const View& ref, const char* ref_name, const View& v, const char* name) {
  DLCORE_CHECK(is_float(ref.dtype), TypeError, op, ": '", ref_name, "' must be float32 or float64, got ",
               dtype_name(ref.dtype));
  DLCORE_CHECK(v.dtype == ref.dtype, TypeError, op, ": '", name, "' has dtype ", dtype_name(v.dtype), " but '",
               ref_name, "' has ", dtype_name(ref.dtype));
  DLCORE_CHECK(v.device == ref.device, ValueError, op, ": '", name, "' is on ", device_name(v.device), " but '",
               ref_name, "' is on ", device_name(ref.device));
  DLCORE_CHECK(v.numel() == 0 || v.is_contiguous(), ValueError, op, ": '", name, "' must be contiguous (shape ", v.shape_string(), ")");
}

}  // namespace

ConvGeometry conv2d_check(const char* op, const View& x, const View& w, const int64_t stride[2], const int64_t pad[4],
                          const int64_t dil[2], int64_t groups) {
  return conv2d_geometry(op, x.shape, x.ndim, w.shape, w.ndim, stride, pad, dil, groups);
}

void conv2d_forward(const ConvGeometry& g, const View& x, const View& w, const View* b, const View& y) {
  const char* op = "conv2d";
  check_same(op, x, "input", x, "input");
  check_same(op, x, "input", w, "weight");
  check_same(op, x, "input", y, "out");
  conv_check_shape(op, "input", x, {g.N, g.C, g.H, g.W});
  conv_check_shape(op, "out", y, {g.N, g.K, g.OH, g.OW});
  if (b) {
    check_same(op, x, "input", *b, "bias");
    conv_check_shape(op, "bias", *b, {g.K});
  }
  if (y.numel() == 0) return;
  DLCORE_DISPATCH(ConvTable, x.device, forward)(g, x, w, b, y);
}

void conv2d_backward_data(const ConvGeometry& g, const View& gy, const View& w, const View& gx) {
  const char* op = "conv2d_backward_data";
  check_same(op, gy, "grad_output", gy, "grad_output");
  check_same(op, gy, "grad_output", w, "weight");
  check_same(op, gy, "grad_output", gx, "grad_input");
  conv_check_shape(op, "grad_output", gy, {g.N, g.K, g.OH, g.OW});
  conv_check_shape(op, "grad_input", gx, {g.N, g.C, g.H, g.W});
  if (gx.numel() == 0) return;
  DLCORE_DISPATCH(ConvTable, gy.device, backward_data)(g, gy, w, gx);
}

void conv2d_backward_weight(const ConvGeometry& g, const View& x, const View& gy, const View& gw) {
  const char* op = "conv2d_backward_weight";
  check_same(op, x, "input", x, "input");
  check_same(op, x, "input", gy, "grad_output");
  check_same(op, x, "input", gw, "grad_weight");
  conv_check_shape(op, "input", x, {g.N, g.C, g.H, g.W});
  conv_check_shape(op, "grad_output", gy, {g.N, g.K, g.OH, g.OW});
  conv_check_shape(op, "grad_weight", gw, {g.K, g.Cg(), g.kH, g.kW});
  if (gw.numel() == 0) return;
  DLCORE_DISPATCH(ConvTable, x.device, backward_weight)(g, x, gy, gw);
}

void conv2d_forward_and_weight(const ConvGeometry& g, const View& x, const View& w, const View& gy, const View& y,
                               const View& gw) {
  const char* op = "conv2d_forward_and_weight";
  check_same(op, x, "input", x, "input");
  check_same(op, x, "input", w, "weight");
  check_same(op, x, "input", gy, "grad_output");
  check_same(op, x, "input", y, "out");
  check_same(op, x, "input", gw, "grad_weight");
  conv_check_shape(op, "input", x, {g.N, g.C, g.H, g.W});
  conv_check_shape(op, "weight", w, {g.K, g.Cg(), g.kH, g.kW});
  conv_check_shape(op, "grad_output", gy, {g.N, g.K, g.OH, g.OW});
  conv_check_shape(op, "out", y, {g.N, g.K, g.OH, g.OW});
  conv_check_shape(op, "grad_weight", gw, {g.K, g.Cg(), g.kH, g.kW});
  auto fused = dispatch_table<ConvTable>(x.device).forward_and_weight;
  if (fused && y.numel() != 0 && gw.numel() != 0) return fused(g, x, w, gy, y, gw);
  if (y.numel() != 0) DLCORE_DISPATCH(ConvTable, x.device, forward)(g, x, w, nullptr, y);
  if (gw.numel() != 0) DLCORE_DISPATCH(ConvTable, x.device, backward_weight)(g, x, gy, gw);
}

void conv_backward_bias(const View& gy, const View& gb) {
  const char* op = "conv_backward_bias";
  check_same(op, gy, "grad_output", gy, "grad_output");
  check_same(op, gy, "grad_output", gb, "grad_bias");
  DLCORE_CHECK(gy.ndim >= 2, ValueError, op, ": grad_output must be (N, C, ...), got shape ", gy.shape_string());
  conv_check_shape(op, "grad_bias", gb, {gy.shape[1]});
  int64_t L = 1;
  for (int i = 2; i < gy.ndim; ++i) L *= gy.shape[i];
  View g3 = gy;
  g3.ndim = 3;
  g3.shape[2] = L;
  g3.strides[0] = gy.shape[1] * L;
  g3.strides[1] = L;
  g3.strides[2] = 1;
  DLCORE_DISPATCH(ConvTable, gy.device, backward_bias)(g3, gb);
}

}  // namespace dlcore
