// CPU kernels of the pooling family (shapes and formulas: pool.h). Every kernel runs in
// parallel over (n, c) planes; a plane is read and written by one thread only, so the scatters
// of the backward passes need no atomics and the results do not depend on the thread count.
#include "ops/pool.h"
#include "ops/pool_isa.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"

namespace dlcore {
const PoolKernels& pool_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(pool_generic_set, &pool_avx2_set, &pool_avx512_set);
#else
  return pool_generic_set;
#endif
}

namespace {

inline int64_t plane_grain(int64_t work_per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_plane, 1)); }

// The 2x2 stride-2 unpadded window (the CNNs' pooling) runs the per-ISA row loop of
// ops/pool_loops.h: the general loop below, with run-time window sizes, kept one dependent
// select chain per output and ran ~15 ns per output. Same values and indices.
template <class T>
void max_forward_2x2(const PoolGeometry& g, const T* x, T* y, int64_t* idx) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW, W = g.W, OW = g.OW, OH = g.OH;
  const auto plane = pool_kernels().get<T>().max2x2_plane;
  parallel_for(0, g.N * g.C, plane_grain(OHW * 4), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) plane(x + p * HW, W, OH, OW, y + p * OHW, idx + p * OHW);
  });
}

template <class T>
void max_forward_t(const PoolGeometry& g, const View& xv, const View& yv, const View& iv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* x = xv.ptr<T>();
  T* y = yv.ptr<T>();
  int64_t* idx = iv.ptr<int64_t>();
  if (g.kH == 2 && g.kW == 2 && g.sH == 2 && g.sW == 2 && g.pH == 0 && g.pW == 0 && g.dH == 1 && g.dW == 1 &&
      2 * g.OH <= g.H && 2 * g.OW <= g.W)
    return max_forward_2x2<T>(g, x, y, idx);
  // Output columns [ow_lo, ow_hi) have windows fully inside the row: no bounds checks there.
  const int64_t ow_lo = std::min(g.OW, (g.pW + g.sW - 1) / g.sW);
  const int64_t last = g.W - 1 - (g.kW - 1) * g.dW + g.pW;  // ow*sW <= last keeps the window's end inside
  const int64_t ow_hi = last < 0 ? ow_lo : std::max(ow_lo, std::min(g.OW, last / g.sW + 1));
  parallel_for(0, g.N * g.C, plane_grain(OHW * g.kH * g.kW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = oh * g.sH - g.pH;
        const bool rows_inside = h0 >= 0 && h0 + (g.kH - 1) * g.dH < g.H;
        T* yr = y + p * OHW + oh * g.OW;
        int64_t* ir = idx + p * OHW + oh * g.OW;
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = ow * g.sW - g.pW;
          T best;
          int64_t bi = -1;
          if (rows_inside && ow >= ow_lo && ow < ow_hi) {
            // Branch-free (selects, no mispredicted jumps on random data): take v when
            // !(v <= best), i.e. v > best or v is NaN, unless best already is NaN; so the first
            // NaN wins, like PyTorch, and otherwise the first maximum in scan order.
            bi = h0 * g.W + w0;
            best = xp[bi];
            for (int64_t kh = 0; kh < g.kH; ++kh) {
              const int64_t rb = (h0 + kh * g.dH) * g.W + w0;
              const T* xr = xp + rb;
              for (int64_t kw = 0; kw < g.kW; ++kw) {
                const T v = xr[kw * g.dW];
                const bool take = !(v <= best) & (best == best);
                best = take ? v : best;
                bi = take ? rb + kw * g.dW : bi;
              }
            }
          } else {
            best = -std::numeric_limits<T>::infinity();
            for (int64_t kh = 0; kh < g.kH; ++kh) {
              int64_t ih = h0 + kh * g.dH;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.kW; ++kw) {
                int64_t iw = w0 + kw * g.dW;
                if (iw < 0 || iw >= g.W) continue;
                T v = xp[ih * g.W + iw];
                if (bi < 0 || !(v <= best)) {  // NaN propagates, like PyTorch
                  best = v;
                  bi = ih * g.W + iw;
                  if (v != v) goto done;
                }
              }
            }
          }
        done:
          yr[ow] = best;
          ir[ow] = bi;
        }
      }
    }
  });
}

// Differentiates y = x[idx]: gx[idx] += gy (several outputs may share one argmax).
template <class T>
void max_backward_t(const PoolGeometry& g, const View& gyv, const View& iv, const View& gxv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* gy = gyv.ptr<T>();
  const int64_t* idx = iv.ptr<int64_t>();
  T* gx = gxv.ptr<T>();
  parallel_for(0, g.N * g.C, plane_grain(HW + OHW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* gp = gx + p * HW;
      std::fill(gp, gp + HW, T(0));
      for (int64_t o = 0; o < OHW; ++o) {
        int64_t i = idx[p * OHW + o];
        if (i >= 0 && i < HW) gp[i] += gy[p * OHW + o];
      }
    }
  });
}

template <class T>
void avg_forward_t(const PoolGeometry& g, const View& xv, const View& yv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* x = xv.ptr<T>();
  T* y = yv.ptr<T>();
  parallel_for(0, g.N * g.C, plane_grain(OHW * g.kH * g.kW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t h0, h1, ph;
        avg_window(oh, g.sH, g.pH, g.kH, g.H, h0, h1, ph);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t w0, w1, pw;
          avg_window(ow, g.sW, g.pW, g.kW, g.W, w0, w1, pw);
          T s = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * g.W + iw];
          int64_t div = avg_divisor(g, ph, pw, h0, h1, w0, w1);
          y[p * OHW + oh * g.OW + ow] = div > 0 ? s / T(div) : T(0);
        }
      }
    }
  });
}

// Differentiates the avg_forward sum line: every input of a window receives gy / divisor.
template <class T>
void avg_backward_t(const PoolGeometry& g, const View& gyv, const View& gxv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* gy = gyv.ptr<T>();
  T* gx = gxv.ptr<T>();
  parallel_for(0, g.N * g.C, plane_grain(HW + OHW * g.kH * g.kW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* gp = gx + p * HW;
      std::fill(gp, gp + HW, T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t h0, h1, ph;
        avg_window(oh, g.sH, g.pH, g.kH, g.H, h0, h1, ph);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t w0, w1, pw;
          avg_window(ow, g.sW, g.pW, g.kW, g.W, w0, w1, pw);
          int64_t div = avg_divisor(g, ph, pw, h0, h1, w0, w1);
          if (div <= 0) continue;
          T v = gy[p * OHW + oh * g.OW + ow] / T(div);
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) gp[ih * g.W + iw] += v;
        }
      }
    }
  });
}

template <class T>
void adaptive_avg_forward_t(const PoolGeometry& g, const View& xv, const View& yv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* x = xv.ptr<T>();
  T* y = yv.ptr<T>();
  parallel_for(0, g.N * g.C, plane_grain(HW + OHW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
          T s = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * g.W + iw];
          y[p * OHW + oh * g.OW + ow] = s / T((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

template <class T>
void adaptive_avg_backward_t(const PoolGeometry& g, const View& gyv, const View& gxv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* gy = gyv.ptr<T>();
  T* gx = gxv.ptr<T>();
  parallel_for(0, g.N * g.C, plane_grain(2 * HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* gp = gx + p * HW;
      std::fill(gp, gp + HW, T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
          T v = gy[p * OHW + oh * g.OW + ow] / T((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) gp[ih * g.W + iw] += v;
        }
      }
    }
  });
}

template <class T>
void adaptive_max_forward_t(const PoolGeometry& g, const View& xv, const View& yv, const View& iv) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const T* x = xv.ptr<T>();
  T* y = yv.ptr<T>();
  int64_t* idx = iv.ptr<int64_t>();
  parallel_for(0, g.N * g.C, plane_grain(HW + OHW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
          T best = xp[h0 * g.W + w0];
          int64_t bi = h0 * g.W + w0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
              T v = xp[ih * g.W + iw];
              if (v > best || (std::isnan(v) && !std::isnan(best))) {
                best = v;
                bi = ih * g.W + iw;
              }
            }
          y[p * OHW + oh * g.OW + ow] = best;
          idx[p * OHW + oh * g.OW + ow] = bi;
        }
      }
    }
  });
}

void cpu_max_forward(const PoolGeometry& g, const View& x, const View& y, const View& i) {
  x.dtype == DType::f32 ? max_forward_t<float>(g, x, y, i) : max_forward_t<double>(g, x, y, i);
}
void cpu_max_backward(const PoolGeometry& g, const View& gy, const View& i, const View& gx) {
  gy.dtype == DType::f32 ? max_backward_t<float>(g, gy, i, gx) : max_backward_t<double>(g, gy, i, gx);
}
void cpu_avg_forward(const PoolGeometry& g, const View& x, const View& y) {
  x.dtype == DType::f32 ? avg_forward_t<float>(g, x, y) : avg_forward_t<double>(g, x, y);
}
void cpu_avg_backward(const PoolGeometry& g, const View& gy, const View& gx) {
  gy.dtype == DType::f32 ? avg_backward_t<float>(g, gy, gx) : avg_backward_t<double>(g, gy, gx);
}
void cpu_adaptive_avg_forward(const PoolGeometry& g, const View& x, const View& y) {
  x.dtype == DType::f32 ? adaptive_avg_forward_t<float>(g, x, y) : adaptive_avg_forward_t<double>(g, x, y);
}
void cpu_adaptive_avg_backward(const PoolGeometry& g, const View& gy, const View& gx) {
  gy.dtype == DType::f32 ? adaptive_avg_backward_t<float>(g, gy, gx) : adaptive_avg_backward_t<double>(g, gy, gx);
}
void cpu_adaptive_max_forward(const PoolGeometry& g, const View& x, const View& y, const View& i) {
  x.dtype == DType::f32 ? adaptive_max_forward_t<float>(g, x, y, i) : adaptive_max_forward_t<double>(g, x, y, i);
}

void fill_cpu_pool() {
  auto& t = dispatch_table<PoolTable>(Device::cpu);
  t.max_forward = cpu_max_forward;
  t.max_backward = cpu_max_backward;
  t.avg_forward = cpu_avg_forward;
  t.avg_backward = cpu_avg_backward;
  t.adaptive_avg_forward = cpu_adaptive_avg_forward;
  t.adaptive_avg_backward = cpu_adaptive_avg_backward;
  t.adaptive_max_forward = cpu_adaptive_max_forward;
}
DLCORE_REGISTER(fill_cpu_pool);

void check_pool(const char* op, const View& ref, const char* ref_name, const View& v, const char* name,
                const Shape& want, bool index = false) {
  DLCORE_CHECK(is_float(ref.dtype), TypeError, op, ": '", ref_name, "' must be float32 or float64, got ",
               dtype_name(ref.dtype));
  if (index)
    DLCORE_CHECK(v.dtype == DType::i64, TypeError, op, ": '", name, "' must be int64, got ", dtype_name(v.dtype));
  else
    DLCORE_CHECK(v.dtype == ref.dtype, TypeError, op, ": '", name, "' has dtype ", dtype_name(v.dtype), " but '",
                 ref_name, "' has ", dtype_name(ref.dtype));
  DLCORE_CHECK(v.device == ref.device, ValueError, op, ": '", name, "' is on ", device_name(v.device), " but '",
               ref_name, "' is on ", device_name(ref.device));
  DLCORE_CHECK(v.numel() == 0 || v.is_contiguous(), ValueError, op, ": '", name, "' must be contiguous (shape ", v.shape_string(), ")");
  DLCORE_CHECK(v.shape_vec() == want, ValueError, op, ": argument '", name, "' has shape ", v.shape_string(),
               ", expected ", shape_str(want));
}

Shape in_shape(const PoolGeometry& g) { return {g.N, g.C, g.H, g.W}; }
Shape out_shape(const PoolGeometry& g) { return {g.N, g.C, g.OH, g.OW}; }

}  // namespace

void max_pool2d_forward(const PoolGeometry& g, const View& x, const View& y, const View& idx) {
  const char* op = "max_pool2d";
  check_pool(op, x, "input", x, "input", in_shape(g));
  check_pool(op, x, "input", y, "out", out_shape(g));
  check_pool(op, x, "input", idx, "indices", out_shape(g), true);
  if (y.numel()) DLCORE_DISPATCH(PoolTable, x.device, max_forward)(g, x, y, idx);
}
void max_pool2d_backward(const PoolGeometry& g, const View& gy, const View& idx, const View& gx) {
  const char* op = "max_pool2d_backward";
  check_pool(op, gy, "grad_output", gy, "grad_output", out_shape(g));
  check_pool(op, gy, "grad_output", idx, "indices", out_shape(g), true);
  check_pool(op, gy, "grad_output", gx, "grad_input", in_shape(g));
  if (gx.numel()) DLCORE_DISPATCH(PoolTable, gy.device, max_backward)(g, gy, idx, gx);
}
void avg_pool2d_forward(const PoolGeometry& g, const View& x, const View& y) {
  const char* op = "avg_pool2d";
  check_pool(op, x, "input", x, "input", in_shape(g));
  check_pool(op, x, "input", y, "out", out_shape(g));
  if (y.numel()) DLCORE_DISPATCH(PoolTable, x.device, avg_forward)(g, x, y);
}
void avg_pool2d_backward(const PoolGeometry& g, const View& gy, const View& gx) {
  const char* op = "avg_pool2d_backward";
  check_pool(op, gy, "grad_output", gy, "grad_output", out_shape(g));
  check_pool(op, gy, "grad_output", gx, "grad_input", in_shape(g));
  if (gx.numel()) DLCORE_DISPATCH(PoolTable, gy.device, avg_backward)(g, gy, gx);
}
void adaptive_avg_pool2d_forward(const PoolGeometry& g, const View& x, const View& y) {
  const char* op = "adaptive_avg_pool2d";
  check_pool(op, x, "input", x, "input", in_shape(g));
  check_pool(op, x, "input", y, "out", out_shape(g));
  if (y.numel()) DLCORE_DISPATCH(PoolTable, x.device, adaptive_avg_forward)(g, x, y);
}
void adaptive_avg_pool2d_backward(const PoolGeometry& g, const View& gy, const View& gx) {
  const char* op = "adaptive_avg_pool2d_backward";
  check_pool(op, gy, "grad_output", gy, "grad_output", out_shape(g));
  check_pool(op, gy, "grad_output", gx, "grad_input", in_shape(g));
  if (gx.numel()) DLCORE_DISPATCH(PoolTable, gy.device, adaptive_avg_backward)(g, gy, gx);
}
void adaptive_max_pool2d_forward(const PoolGeometry& g, const View& x, const View& y, const View& idx) {
  const char* op = "adaptive_max_pool2d";
  check_pool(op, x, "input", x, "input", in_shape(g));
  check_pool(op, x, "input", y, "out", out_shape(g));
  check_pool(op, x, "input", idx, "indices", out_shape(g), true);
  if (y.numel()) DLCORE_DISPATCH(PoolTable, x.device, adaptive_max_forward)(g, x, y, idx);
}

}  // namespace dlcore
