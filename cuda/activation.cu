// CUDA kernels of the activation family (twin of csrc/ops/activation.cpp; shapes in
// ops/activation.h). Per-element math comes from ops/activation_math.h (the same formulas the
// CPU runs). Elementwise kernels use grid-stride loops; softmax uses one block per (outer, inner)
// row with a shared-memory tree reduction in a fixed order (deterministic). Every launch goes
// through a host launcher that computes the grid and turns CUDA errors into ValueError.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dispatch.h"
#include "ops/activation.h"
#include "ops/activation_math.h"

namespace dlcore {
namespace {

constexpr int kThreads = 256;
static_assert((kThreads & (kThreads - 1)) == 0, "block size must be a power of two");

void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  DLCORE_CHECK(e == cudaSuccess, ValueError, what, ": CUDA error: ", cudaGetErrorString(e));
}
unsigned grid_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  return (unsigned)(b > 65535 * 32 ? 65535 * 32 : b);
}

template <class T> __device__ T neg_inf() { return -INFINITY; }

// Tree reduction in shared memory over one block; op: 0 = sum, 1 = max (NaN-skipping).
template <class T> __device__ T block_reduce(T v, T* sh, int op) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      T a = sh[threadIdx.x], b = sh[threadIdx.x + s];
      sh[threadIdx.x] = op == 0 ? a + b : (b > a ? b : a);
    }
    __syncthreads();
  }
  T r = sh[0];
  __syncthreads();
  return r;
}

template <class T> __global__ void act_fwd_k(ActOp op, const T* x, T* y, int64_t n, T p0, T p1) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = act_forward<T>(op, x[i], p0, p1);
}
template <class T> __global__ void act_bwd_k(ActOp op, const T* g, const T* s, T* gx, int64_t n, T p0, T p1) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    gx[i] = act_backward<T>(op, g[i], s[i], p0, p1);
}

// One block per row r = (o, j); elements x[o * D * inner + d * inner + j], d in [0, D).
template <class T> __global__ void softmax_fwd_k(const T* x, T* y, int64_t D, int64_t inner, bool lg) {
  __shared__ T sh[kThreads];
  int64_t r = blockIdx.x, o = r / inner, j = r % inner;
  const T* xr = x + o * D * inner + j;
  T* yr = y + o * D * inner + j;
  T m = neg_inf<T>();
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) { T v = xr[d * inner]; m = v > m ? v : m; }
  m = block_reduce(m, sh, 1);
  T s = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) s += am::exp_(xr[d * inner] - m);
  s = block_reduce(s, sh, 0);
  T ls = log(s), rs = T(1) / s;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    yr[d * inner] = lg ? (xr[d * inner] - m) - ls : am::exp_(xr[d * inner] - m) * rs;
}
// softmax: gx = y (g - sum g y); log_softmax: gx = g - exp(y) sum g
template <class T> __global__ void softmax_bwd_k(const T* g, const T* y, T* gx, int64_t D, int64_t inner, bool lg) {
  __shared__ T sh[kThreads];
  int64_t r = blockIdx.x, o = r / inner, j = r % inner;
  int64_t base = o * D * inner + j;
  T s = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    int64_t i = base + d * inner;
    s += lg ? g[i] : g[i] * y[i];
  }
  s = block_reduce(s, sh, 0);
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    int64_t i = base + d * inner;
    gx[i] = lg ? g[i] - am::exp_(y[i]) * s : y[i] * (g[i] - s);
  }
}

template <class T> __global__ void prelu_fwd_k(const T* x, const T* w, T* y, int64_t n, int64_t C, int64_t inner) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T a = w[C == 1 ? 0 : (i / inner) % C];
    y[i] = x[i] > T(0) ? x[i] : a * x[i];
  }
}
template <class T> __global__ void prelu_bwd_x_k(const T* g, const T* x, const T* w, T* gx, int64_t n, int64_t C, int64_t inner) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T a = w[C == 1 ? 0 : (i / inner) % C];
    gx[i] = x[i] > T(0) ? g[i] : a * g[i];
  }
}
// One block per channel c: gw_c = sum over (o, i) of (x > 0 ? 0 : x g).
template <class T> __global__ void prelu_bwd_w_k(const T* g, const T* x, T* gw, int64_t outer, int64_t C, int64_t inner) {
  __shared__ T sh[kThreads];
  int64_t c = blockIdx.x;
  int64_t per = outer * inner;
  T s = 0;
  for (int64_t k = threadIdx.x; k < per; k += blockDim.x) {
    int64_t i = ((k / inner) * C + c) * inner + k % inner;
    s += x[i] > T(0) ? T(0) : x[i] * g[i];
  }
  s = block_reduce(s, sh, 0);
  if (threadIdx.x == 0) gw[c] = s;
}

template <class T> __global__ void maxout_fwd_k(const T* x, T* y, int64_t* idx, int64_t n, int64_t Co, int64_t pieces, int64_t inner) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e % inner, oc = e / inner, o = oc / Co, c = oc % Co;
    const T* xs = x + (o * Co * pieces + c * pieces) * inner + i;
    T best = xs[0];
    int64_t arg = 0;
    for (int64_t k = 1; k < pieces; ++k) {
      T v = xs[k * inner];
      bool take = (v > best || v != v) && best == best;
      best = take ? v : best;
      arg = take ? k : arg;
    }
    y[e] = best;
    idx[e] = arg;
  }
}
template <class T> __global__ void maxout_bwd_k(const T* g, const int64_t* idx, T* gx, int64_t n, int64_t Co, int64_t pieces, int64_t inner) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e % inner, oc = e / inner, o = oc / Co, c = oc % Co;
    T* xs = gx + (o * Co * pieces + c * pieces) * inner + i;
    for (int64_t k = 0; k < pieces; ++k) xs[k * inner] = idx[e] == k ? g[e] : T(0);
  }
}

template <class F> void fdispatch(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

void cu_act_forward(ActOp op, const View& x, const View& y, double p0, double p1) {
  int64_t n = x.numel();
  if (n == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    act_fwd_k<T><<<grid_for(n), kThreads>>>(op, x.ptr<T>(), y.ptr<T>(), n, (T)p0, (T)p1);
  });
  check_launch("activation");
}
void cu_act_backward(ActOp op, const View& g, const View& s, const View& gx, double p0, double p1) {
  int64_t n = g.numel();
  if (n == 0) return;
  fdispatch(g.dtype, [&](auto t) {
    using T = decltype(t);
    act_bwd_k<T><<<grid_for(n), kThreads>>>(op, g.ptr<T>(), s.ptr<T>(), gx.ptr<T>(), n, (T)p0, (T)p1);
  });
  check_launch("activation_backward");
}
void cu_softmax_forward(const View& x, const View& y, int axis, bool lg) {
  int64_t outer, D, inner;
  split_axis(x, axis, outer, D, inner);
  if (outer * inner == 0 || D == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    softmax_fwd_k<T><<<(unsigned)(outer * inner), kThreads>>>(x.ptr<T>(), y.ptr<T>(), D, inner, lg);
  });
  check_launch("softmax");
}
void cu_softmax_backward(const View& g, const View& y, const View& gx, int axis, bool lg) {
  int64_t outer, D, inner;
  split_axis(y, axis, outer, D, inner);
  if (outer * inner == 0 || D == 0) return;
  fdispatch(y.dtype, [&](auto t) {
    using T = decltype(t);
    softmax_bwd_k<T><<<(unsigned)(outer * inner), kThreads>>>(g.ptr<T>(), y.ptr<T>(), gx.ptr<T>(), D, inner, lg);
  });
  check_launch("softmax_backward");
}
void prelu_layout(const View& x, const View& w, int64_t& outer, int64_t& C, int64_t& inner) {
  C = w.numel();
  if (C == 1) { outer = 1; inner = x.numel(); return; }
  split_axis(x, x.ndim >= 2 ? 1 : 0, outer, C, inner);
}
void cu_prelu_forward(const View& x, const View& w, const View& y) {
  int64_t outer, C, inner, n = x.numel();
  prelu_layout(x, w, outer, C, inner);
  if (n == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    prelu_fwd_k<T><<<grid_for(n), kThreads>>>(x.ptr<T>(), w.ptr<T>(), y.ptr<T>(), n, C, inner);
  });
  check_launch("prelu");
}
void cu_prelu_backward(const View& g, const View& x, const View& w, const View& gx, const View& gw) {
  int64_t outer, C, inner, n = x.numel();
  prelu_layout(x, w, outer, C, inner);
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    if (gx.data && n)
      prelu_bwd_x_k<T><<<grid_for(n), kThreads>>>(g.ptr<T>(), x.ptr<T>(), w.ptr<T>(), gx.ptr<T>(), n, C, inner);
    if (gw.data)
      prelu_bwd_w_k<T><<<(unsigned)C, kThreads>>>(g.ptr<T>(), x.ptr<T>(), gw.ptr<T>(), outer, C, inner);
  });
  check_launch("prelu_backward");
}
void cu_maxout_forward(const View& x, int axis, int64_t pieces, const View& y, const View& idx) {
  int64_t outer, C, inner;
  split_axis(x, axis, outer, C, inner);
  int64_t n = y.numel();
  if (n == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    maxout_fwd_k<T><<<grid_for(n), kThreads>>>(x.ptr<T>(), y.ptr<T>(), idx.ptr<int64_t>(), n, C / pieces, pieces, inner);
  });
  check_launch("maxout");
}
void cu_maxout_backward(const View& g, const View& idx, int axis, int64_t pieces, const View& gx) {
  int64_t outer, C, inner;
  split_axis(gx, axis, outer, C, inner);
  int64_t n = g.numel();
  if (n == 0) return;
  fdispatch(g.dtype, [&](auto t) {
    using T = decltype(t);
    maxout_bwd_k<T><<<grid_for(n), kThreads>>>(g.ptr<T>(), idx.ptr<int64_t>(), gx.ptr<T>(), n, C / pieces, pieces, inner);
  });
  check_launch("maxout_backward");
}

void fill_cuda_activation() {
  auto& t = dispatch_table<ActivationTable>(Device::cuda);
  t.act_forward = cu_act_forward;
  t.act_backward = cu_act_backward;
  t.softmax_forward = cu_softmax_forward;
  t.softmax_backward = cu_softmax_backward;
  t.prelu_forward = cu_prelu_forward;
  t.prelu_backward = cu_prelu_backward;
  t.maxout_forward = cu_maxout_forward;
  t.maxout_backward = cu_maxout_backward;
}
DLCORE_REGISTER(fill_cuda_activation);

}  // namespace
}  // namespace dlcore
