// CUDA kernels of the pooling family (csrc/ops/pool.h; window formulas shared with the CPU through
// the DLCORE_HD helpers avg_window / avg_divisor / adaptive_start / adaptive_end).
// Forward: one thread per output element. Backward: avg and adaptive-avg gather (one thread per
// input element sums the outputs whose window holds it); max scatters to the saved indices with
// one thread per (n, c) plane. No atomics, so results are deterministic.
#include <cuda_runtime.h>

#include "core/dispatch.h"
#include "ops/pool.h"

namespace dlcore {
namespace {

constexpr int kPoolThreads = 256;

inline void pool_check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw ValueError(str("CUDA error in ", kernel, ": ", cudaGetErrorString(e)));
}
inline unsigned pool_blocks(int64_t n) {
  int64_t b = (n + kPoolThreads - 1) / kPoolThreads;
  return (unsigned)(b < 65535 * 32 ? (b > 0 ? b : 1) : 65535 * 32);
}

#define POOL_LOOP(i, total) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (total); i += (int64_t)gridDim.x * blockDim.x)

template <class T>
__global__ void max_forward_kernel(PoolGeometry g, const T* x, T* y, int64_t* idx, int64_t total) {
  POOL_LOOP(i, total) {
    int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* xp = x + p * g.H * g.W;
    T best = 0;
    int64_t bi = -1;
    for (int64_t kh = 0; kh < g.kH; ++kh) {
      int64_t ih = oh * g.sH - g.pH + kh * g.dH;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        int64_t iw = ow * g.sW - g.pW + kw * g.dW;
        if (iw < 0 || iw >= g.W) continue;
        T v = xp[ih * g.W + iw];
        if (bi < 0 || v > best || (isnan(v) && !isnan(best))) {
          best = v;
          bi = ih * g.W + iw;
        }
      }
    }
    y[i] = best;
    idx[i] = bi;
  }
}

template <class T>
__global__ void max_backward_kernel(PoolGeometry g, const T* gy, const int64_t* idx, T* gx, int64_t planes) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  POOL_LOOP(p, planes) {
    T* gp = gx + p * HW;
    for (int64_t j = 0; j < HW; ++j) gp[j] = T(0);
    for (int64_t o = 0; o < OHW; ++o) {
      int64_t i = idx[p * OHW + o];
      if (i >= 0 && i < HW) gp[i] += gy[p * OHW + o];
    }
  }
}

template <class T>
__global__ void avg_forward_kernel(PoolGeometry g, const T* x, T* y, int64_t total) {
  POOL_LOOP(i, total) {
    int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* xp = x + p * g.H * g.W;
    int64_t h0, h1, ph, w0, w1, pw;
    avg_window(oh, g.sH, g.pH, g.kH, g.H, h0, h1, ph);
    avg_window(ow, g.sW, g.pW, g.kW, g.W, w0, w1, pw);
    T s = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * g.W + iw];
    int64_t div = avg_divisor(g, ph, pw, h0, h1, w0, w1);
    y[i] = div > 0 ? s / T(div) : T(0);
  }
}

template <class T>
__global__ void avg_backward_kernel(PoolGeometry g, const T* gy, T* gx, int64_t total) {
  POOL_LOOP(i, total) {
    int64_t iw = i % g.W, t = i / g.W, ih = t % g.H, p = t / g.H;
    const T* gp = gy + p * g.OH * g.OW;
    // outputs whose window start o*s - p lies in (i - k, i]
    int64_t oh0 = ih + g.pH - g.kH + 1, oh1 = (ih + g.pH) / g.sH;
    oh0 = oh0 <= 0 ? 0 : (oh0 + g.sH - 1) / g.sH;
    int64_t ow0 = iw + g.pW - g.kW + 1, ow1 = (iw + g.pW) / g.sW;
    ow0 = ow0 <= 0 ? 0 : (ow0 + g.sW - 1) / g.sW;
    oh1 = oh1 < g.OH - 1 ? oh1 : g.OH - 1;
    ow1 = ow1 < g.OW - 1 ? ow1 : g.OW - 1;
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      int64_t h0, h1, ph;
      avg_window(oh, g.sH, g.pH, g.kH, g.H, h0, h1, ph);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        int64_t w0, w1, pw;
        avg_window(ow, g.sW, g.pW, g.kW, g.W, w0, w1, pw);
        if (iw < w0 || iw >= w1) continue;
        int64_t div = avg_divisor(g, ph, pw, h0, h1, w0, w1);
        if (div > 0) acc += gp[oh * g.OW + ow] / T(div);
      }
    }
    gx[i] = acc;
  }
}

template <class T>
__global__ void adaptive_avg_forward_kernel(PoolGeometry g, const T* x, T* y, int64_t total) {
  POOL_LOOP(i, total) {
    int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* xp = x + p * g.H * g.W;
    int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
    int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
    T s = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * g.W + iw];
    y[i] = s / T((h1 - h0) * (w1 - w0));
  }
}

template <class T>
__global__ void adaptive_avg_backward_kernel(PoolGeometry g, const T* gy, T* gx, int64_t total) {
  POOL_LOOP(i, total) {
    int64_t iw = i % g.W, t = i / g.W, ih = t % g.H, p = t / g.H;
    const T* gp = gy + p * g.OH * g.OW;
    // a superset of the outputs whose adaptive window holds (ih, iw); containment is checked below
    int64_t oh0 = ih * g.OH / g.H - 1, oh1 = ((ih + 1) * g.OH + g.H - 1) / g.H;
    int64_t ow0 = iw * g.OW / g.W - 1, ow1 = ((iw + 1) * g.OW + g.W - 1) / g.W;
    oh0 = oh0 < 0 ? 0 : oh0;
    ow0 = ow0 < 0 ? 0 : ow0;
    oh1 = oh1 < g.OH ? oh1 : g.OH - 1;
    ow1 = ow1 < g.OW ? ow1 : g.OW - 1;
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
        if (iw < w0 || iw >= w1) continue;
        acc += gp[oh * g.OW + ow] / T((h1 - h0) * (w1 - w0));
      }
    }
    gx[i] = acc;
  }
}

template <class T>
__global__ void adaptive_max_forward_kernel(PoolGeometry g, const T* x, T* y, int64_t* idx, int64_t total) {
  POOL_LOOP(i, total) {
    int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* xp = x + p * g.H * g.W;
    int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
    int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
    T best = xp[h0 * g.W + w0];
    int64_t bi = h0 * g.W + w0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        T v = xp[ih * g.W + iw];
        if (v > best || (isnan(v) && !isnan(best))) {
          best = v;
          bi = ih * g.W + iw;
        }
      }
    y[i] = best;
    idx[i] = bi;
  }
}

template <class F> void pool_by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

void cu_max_forward(const PoolGeometry& g, const View& x, const View& y, const View& idx) {
  int64_t n = y.numel();
  pool_by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    max_forward_kernel<T><<<pool_blocks(n), kPoolThreads>>>(g, x.ptr<T>(), y.ptr<T>(), idx.ptr<int64_t>(), n);
  });
  pool_check_launch("max_pool2d forward");
}
void cu_max_backward(const PoolGeometry& g, const View& gy, const View& idx, const View& gx) {
  int64_t planes = g.N * g.C;
  pool_by_dtype(gy.dtype, [&](auto tag) {
    using T = decltype(tag);
    max_backward_kernel<T><<<pool_blocks(planes), kPoolThreads>>>(g, gy.ptr<T>(), idx.ptr<int64_t>(), gx.ptr<T>(), planes);
  });
  pool_check_launch("max_pool2d backward");
}
void cu_avg_forward(const PoolGeometry& g, const View& x, const View& y) {
  int64_t n = y.numel();
  pool_by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    avg_forward_kernel<T><<<pool_blocks(n), kPoolThreads>>>(g, x.ptr<T>(), y.ptr<T>(), n);
  });
  pool_check_launch("avg_pool2d forward");
}
void cu_avg_backward(const PoolGeometry& g, const View& gy, const View& gx) {
  int64_t n = gx.numel();
  pool_by_dtype(gy.dtype, [&](auto tag) {
    using T = decltype(tag);
    avg_backward_kernel<T><<<pool_blocks(n), kPoolThreads>>>(g, gy.ptr<T>(), gx.ptr<T>(), n);
  });
  pool_check_launch("avg_pool2d backward");
}
void cu_adaptive_avg_forward(const PoolGeometry& g, const View& x, const View& y) {
  int64_t n = y.numel();
  pool_by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_forward_kernel<T><<<pool_blocks(n), kPoolThreads>>>(g, x.ptr<T>(), y.ptr<T>(), n);
  });
  pool_check_launch("adaptive_avg_pool2d forward");
}
void cu_adaptive_avg_backward(const PoolGeometry& g, const View& gy, const View& gx) {
  int64_t n = gx.numel();
  pool_by_dtype(gy.dtype, [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_backward_kernel<T><<<pool_blocks(n), kPoolThreads>>>(g, gy.ptr<T>(), gx.ptr<T>(), n);
  });
  pool_check_launch("adaptive_avg_pool2d backward");
}
void cu_adaptive_max_forward(const PoolGeometry& g, const View& x, const View& y, const View& idx) {
  int64_t n = y.numel();
  pool_by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    adaptive_max_forward_kernel<T><<<pool_blocks(n), kPoolThreads>>>(g, x.ptr<T>(), y.ptr<T>(), idx.ptr<int64_t>(), n);
  });
  pool_check_launch("adaptive_max_pool2d forward");
}

void fill_cuda_pool() {
  auto& t = dispatch_table<PoolTable>(Device::cuda);
  t.max_forward = cu_max_forward;
  t.max_backward = cu_max_backward;
  t.avg_forward = cu_avg_forward;
  t.avg_backward = cu_avg_backward;
  t.adaptive_avg_forward = cu_adaptive_avg_forward;
  t.adaptive_avg_backward = cu_adaptive_avg_backward;
  t.adaptive_max_forward = cu_adaptive_max_forward;
}
DLCORE_REGISTER(fill_cuda_pool);

}  // namespace
}  // namespace dlcore
