// CUDA kernels of the loss family (twin of csrc/ops/loss.cpp; shapes in ops/loss.h). Pointwise
// terms come from ops/loss_math.h. The optional operands of the pointwise losses (weight,
// pos_weight, grad) may be absent, one element, the full shape, or a vector broadcast along the
// trailing dims (e.g. pos_weight of shape (C,)); other broadcast layouts raise ValueError here
// (expand them first). Row losses use one block per row with a fixed-order tree reduction.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dispatch.h"
#include "ops/actloss_isa.h"
#include "ops/loss.h"
#include "ops/loss_math.h"

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

template <class T> __device__ T block_sum(T v, T* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  T r = sh[0];
  __syncthreads();
  return r;
}
template <class T> __device__ T block_max(T v, T* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) { T b = sh[threadIdx.x + s]; sh[threadIdx.x] = b > sh[threadIdx.x] ? b : sh[threadIdx.x]; }
    __syncthreads();
  }
  T r = sh[0];
  __syncthreads();
  return r;
}

// An optional operand: element i of the full shape is p[mode == 0 ? 0 : i % period].
struct Opt {
  const void* p = nullptr;
  int64_t period = 1;  // 1: one element (or absent); n: full shape; k: trailing vector
};
Opt opt_of(const View& v, const View& x, const char* op, const char* arg) {
  Opt o;
  if (!v.data) return o;
  int64_t n = v.numel();
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": ", arg, " must be contiguous on CUDA");
  // the operand must match x's trailing dims exactly (leading broadcast dims allowed)
  int64_t lead = 0;
  while (lead < v.ndim && v.shape[lead] == 1) ++lead;
  bool ok = true;
  for (int i = lead; i < v.ndim; ++i) {
    int xi = x.ndim - (v.ndim - i);
    if (xi < 0 || x.shape[xi] != v.shape[i]) ok = false;
  }
  DLCORE_CHECK(ok || n == 1, ValueError, op, ": on CUDA, ", arg, " of shape ", v.shape_string(),
               " must be one element or match the trailing dims of the input's shape ",
               x.shape_string(), " (expand it first)");
  o.p = v.data;
  o.period = n;
  return o;
}
template <class T> __device__ T opt_at(const Opt& o, int64_t i) {
  return o.p ? ((const T*)o.p)[o.period == 1 ? 0 : i % o.period] : T(1);
}

template <class T> __global__ void pw_fwd_k(LossOp op, const T* x, const T* y, Opt w, Opt pw, T* out, int64_t n, T p0) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = loss_forward<T>(op, x[i], y[i], opt_at<T>(w, i), opt_at<T>(pw, i), p0);
}
template <class T> __global__ void pw_bwd_k(LossOp op, Opt g, const T* x, const T* y, Opt w, Opt pw, T* gx, int64_t n, T p0) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    gx[i] = loss_backward<T>(op, opt_at<T>(g, i), x[i], y[i], opt_at<T>(w, i), opt_at<T>(pw, i), p0);
}

// Fused cross-entropy, one block per row (formulas: ce_fwd / ce_bwd in ops/activation_loops.h).
template <class T> __global__ void ce_fwd_k(const T* z, CeArgs a, T* loss, T* lse, T* wrow) {
  __shared__ T sh[kThreads];
  int64_t r = blockIdx.x, C = a.C;
  const T* zr = z + r * C;
  const T* w = (const T*)a.weight;
  const T* q = (const T*)a.tprob;
  T eps = (T)a.eps;
  if (!q && a.tidx[r] == a.ignore_index) {
    if (threadIdx.x == 0) { loss[r] = 0; lse[2 * r] = 0; lse[2 * r + 1] = 0; wrow[r] = 0; }
    return;
  }
  T m = -INFINITY;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) m = zr[c] > m ? zr[c] : m;
  m = block_max(m, sh);
  T s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += am::exp_(zr[c] - m);
  s = block_sum(s, sh);
  T ls = log(s);
  T part = 0;  // sum_c k_c (m - z_c + ls) with k_c = the smoothing / soft-target weight
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    T wc = w ? w[c] : T(1);
    T k = q ? wc * ((T(1) - eps) * q[r * C + c] + eps / T(C)) : wc * eps / T(C);
    part += k * ((m - zr[c]) + ls);
  }
  part = block_sum(part, sh);
  if (threadIdx.x == 0) {
    lse[2 * r] = m;
    lse[2 * r + 1] = ls;
    if (!q) {
      int64_t t = a.tidx[r];
      T wt = w ? w[t] : T(1);
      loss[r] = (T(1) - eps) * wt * ((m - zr[t]) + ls) + part;
      wrow[r] = wt;
    } else {
      loss[r] = part;
      wrow[r] = 1;
    }
  }
}
template <class T> __global__ void ce_bwd_k(const T* z, CeArgs a, const T* lse, const T* grow, int64_t gs, T* gz) {
  __shared__ T sh[kThreads];
  int64_t r = blockIdx.x, C = a.C;
  const T* zr = z + r * C;
  T* gr = gz + r * C;
  const T* w = (const T*)a.weight;
  const T* q = (const T*)a.tprob;
  T eps = (T)a.eps, g = grow[r * gs], m = lse[2 * r], ls = lse[2 * r + 1];
  if (!q && a.tidx[r] == a.ignore_index) {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) gr[c] = 0;
    return;
  }
  T A = 0;  // sum_c B_c: the coefficient of p
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    T wc = w ? w[c] : T(1);
    A += q ? wc * ((T(1) - eps) * q[r * C + c] + eps / T(C)) : wc * eps / T(C);
  }
  A = block_sum(A, sh);
  int64_t t = q ? -1 : a.tidx[r];
  T wt = (!q && w) ? w[t] : T(1);
  if (!q) A += (T(1) - eps) * wt;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    T wc = w ? w[c] : T(1);
    T B = q ? wc * ((T(1) - eps) * q[r * C + c] + eps / T(C)) : wc * eps / T(C);
    if (c == t) B += (T(1) - eps) * wt;
    gr[c] = g * (A * am::exp_((zr[c] - m) - ls) - B);
  }
}

template <class T> __global__ void nll_fwd_k(const T* lp, const int64_t* tg, const T* w, int64_t ig, T* loss, T* wrow, int64_t R, int64_t C) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < R; r += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = tg[r];
    if (c == ig) { loss[r] = 0; wrow[r] = 0; continue; }
    T wt = w ? w[c] : T(1);
    loss[r] = -wt * lp[r * C + c];
    wrow[r] = wt;
  }
}
template <class T> __global__ void nll_bwd_k(const int64_t* tg, const T* w, int64_t ig, const T* g, int64_t gs, T* gx, int64_t R, int64_t C) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < R * C; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / C, c = i % C, t = tg[r];
    gx[i] = (t != ig && c == t) ? -(w ? w[c] : T(1)) * g[r * gs] : T(0);
  }
}
template <class T> __global__ void mm_fwd_k(const T* x, const int64_t* tg, const T* w, int p, T m, T* loss, int64_t R, int64_t C) {
  __shared__ T sh[kThreads];
  int64_t r = blockIdx.x, t = tg[r];
  const T* xr = x + r * C;
  T s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    T z = m - xr[t] + xr[c];
    T h = z > T(0) ? z : T(0);
    s += c == t ? T(0) : (p == 2 ? h * h : h);
  }
  s = block_sum(s, sh);
  if (threadIdx.x == 0) loss[r] = (w ? w[t] : T(1)) * s / T(C);
}
template <class T> __global__ void mm_bwd_k(const T* x, const int64_t* tg, const T* w, int p, T m, const T* g, int64_t gs, T* gx, int64_t R, int64_t C) {
  __shared__ T sh[kThreads];
  int64_t r = blockIdx.x, t = tg[r];
  const T* xr = x + r * C;
  T k = (w ? w[t] : T(1)) * g[r * gs] / T(C), tot = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    T z = m - xr[t] + xr[c];
    T d = (c != t && z > T(0)) ? k * (p == 2 ? T(2) * z : T(1)) : T(0);
    gx[r * C + c] = d;
    tot += d;
  }
  tot = block_sum(tot, sh);
  if (threadIdx.x == 0) gx[r * C + t] = -tot;
}

template <class F> void fdispatch(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

void cu_pw_forward(LossOp op, const View& x, const View& y, const View& w, const View& pw, const View& out, double p0) {
  int64_t n = x.numel();
  Opt wo = opt_of(w, x, "loss", "weight"), po = opt_of(pw, x, "loss", "pos_weight");
  if (n == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    pw_fwd_k<T><<<grid_for(n), kThreads>>>(op, x.ptr<T>(), y.ptr<T>(), wo, po, out.ptr<T>(), n, (T)p0);
  });
  check_launch("loss");
}
void cu_pw_backward(LossOp op, const View& g, const View& x, const View& y, const View& w, const View& pw,
                    const View& gx, double p0) {
  int64_t n = x.numel();
  Opt go = opt_of(g, x, "loss_backward", "grad"), wo = opt_of(w, x, "loss_backward", "weight"),
      po = opt_of(pw, x, "loss_backward", "pos_weight");
  if (n == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    pw_bwd_k<T><<<grid_for(n), kThreads>>>(op, go, x.ptr<T>(), y.ptr<T>(), wo, po, gx.ptr<T>(), n, (T)p0);
  });
  check_launch("loss_backward");
}
CeArgs ce_args(const View& z, const View& target, const View& weight, int64_t ig, double eps) {
  CeArgs a;
  a.C = z.shape[1];
  if (target.dtype == DType::i64) a.tidx = target.ptr<int64_t>();
  else a.tprob = target.data;
  a.weight = weight.data;
  a.ignore_index = ig;
  a.eps = eps;
  return a;
}
void cu_ce_forward(const View& z, const View& target, const View& weight, int64_t ig, double eps,
                   const View& loss, const View& lse, const View& wrow) {
  if (z.shape[0] == 0) return;
  CeArgs a = ce_args(z, target, weight, ig, eps);
  fdispatch(z.dtype, [&](auto t) {
    using T = decltype(t);
    ce_fwd_k<T><<<(unsigned)z.shape[0], kThreads>>>(z.ptr<T>(), a, loss.ptr<T>(), lse.ptr<T>(), wrow.ptr<T>());
  });
  check_launch("cross_entropy");
}
void cu_ce_backward(const View& z, const View& target, const View& weight, int64_t ig, double eps,
                    const View& lse, const View& grow, const View& gz) {
  if (z.shape[0] == 0) return;
  CeArgs a = ce_args(z, target, weight, ig, eps);
  fdispatch(z.dtype, [&](auto t) {
    using T = decltype(t);
    ce_bwd_k<T><<<(unsigned)z.shape[0], kThreads>>>(z.ptr<T>(), a, lse.ptr<T>(), grow.ptr<T>(),
                                                   grow.ndim == 0 ? 0 : 1, gz.ptr<T>());
  });
  check_launch("cross_entropy_backward");
}
void cu_nll_forward(const View& lp, const View& target, const View& weight, int64_t ig, const View& loss,
                    const View& wrow) {
  int64_t R = lp.shape[0], C = lp.shape[1];
  if (R == 0) return;
  fdispatch(lp.dtype, [&](auto t) {
    using T = decltype(t);
    nll_fwd_k<T><<<grid_for(R), kThreads>>>(lp.ptr<T>(), target.ptr<int64_t>(),
                                           weight.data ? weight.ptr<T>() : nullptr, ig, loss.ptr<T>(),
                                           wrow.ptr<T>(), R, C);
  });
  check_launch("nll_loss");
}
void cu_nll_backward(const View& target, const View& weight, int64_t ig, const View& grow, const View& gx) {
  int64_t R = gx.shape[0], C = gx.shape[1];
  if (R * C == 0) return;
  fdispatch(gx.dtype, [&](auto t) {
    using T = decltype(t);
    nll_bwd_k<T><<<grid_for(R * C), kThreads>>>(target.ptr<int64_t>(), weight.data ? weight.ptr<T>() : nullptr,
                                               ig, grow.ptr<T>(), grow.ndim == 0 ? 0 : 1, gx.ptr<T>(), R, C);
  });
  check_launch("nll_loss_backward");
}
void cu_mm_forward(const View& x, const View& target, const View& weight, int p, double margin, const View& loss) {
  int64_t R = x.shape[0], C = x.shape[1];
  if (R == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    mm_fwd_k<T><<<(unsigned)R, kThreads>>>(x.ptr<T>(), target.ptr<int64_t>(), weight.data ? weight.ptr<T>() : nullptr,
                                          p, (T)margin, loss.ptr<T>(), R, C);
  });
  check_launch("multi_margin_loss");
}
void cu_mm_backward(const View& x, const View& target, const View& weight, int p, double margin,
                    const View& grow, const View& gx) {
  int64_t R = x.shape[0], C = x.shape[1];
  if (R == 0) return;
  fdispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    mm_bwd_k<T><<<(unsigned)R, kThreads>>>(x.ptr<T>(), target.ptr<int64_t>(), weight.data ? weight.ptr<T>() : nullptr,
                                          p, (T)margin, grow.ptr<T>(), grow.ndim == 0 ? 0 : 1, gx.ptr<T>(), R, C);
  });
  check_launch("multi_margin_loss_backward");
}

void fill_cuda_loss() {
  auto& t = dispatch_table<LossTable>(Device::cuda);
  t.pointwise_forward = cu_pw_forward;
  t.pointwise_backward = cu_pw_backward;
  t.ce_forward = cu_ce_forward;
  t.ce_backward = cu_ce_backward;
  t.nll_forward = cu_nll_forward;
  t.nll_backward = cu_nll_backward;
  t.multi_margin_forward = cu_mm_forward;
  t.multi_margin_backward = cu_mm_backward;
}
DLCORE_REGISTER(fill_cuda_loss);

}  // namespace
}  // namespace dlcore
