// CUDA kernels of the normalization family (contract and shapes in csrc/ops/norm.h), filling
// dispatch_table<NormTable>(Device::cuda). One block per reduction set (channel for batch
// norm, row for layer / group norm), block-wide sums in double with a fixed tree order, so
// results are deterministic; per-element math comes from ops/norm_math.h like the CPU.
#include <cuda_runtime.h>

#include "core/errors.h"
#include "ops/norm.h"
#include "ops/norm_math.h"

namespace dlcore {
namespace {

constexpr int kThreads = 256;
static_assert(kThreads >= 32 && (kThreads & (kThreads - 1)) == 0, "kThreads must be a power of two");

void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw ValueError(str(what, ": CUDA kernel launch failed: ", cudaGetErrorString(e)));
}

inline unsigned ceil_div(int64_t a, int64_t b) { return (unsigned)((a + b - 1) / b); }

// Block-wide sum of one double per thread, fixed reduction tree (deterministic).
__device__ double block_sum(double v, double* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  double r = sh[0];
  __syncthreads();
  return r;
}

template <class T> __device__ double opt(const T* p, int64_t i, double d) { return p ? (double)p[i] : d; }

// ---- batch norm: block c handles channel c; element e of the channel is (n, s) = (e / S, e % S)
template <class T>
__global__ void bn_forward_kernel(const T* x, const T* gamma, const T* beta, T* rmean, T* rvar,
                                  bool batch_stats, double factor, double eps, T* y, T* smean,
                                  T* sinv, int64_t N, int64_t C, int64_t S, bool relu,
                                  bool unbiased) {
  __shared__ double sh[kThreads];
  const int64_t c = blockIdx.x, M = N * S;
  double mean, invstd;
  if (batch_stats) {
    double s = 0;
    for (int64_t e = threadIdx.x; e < M; e += kThreads) s += (double)x[((e / S) * C + c) * S + e % S];
    mean = block_sum(s, sh) / (double)M;
    double q = 0;
    for (int64_t e = threadIdx.x; e < M; e += kThreads) {
      double d = (double)x[((e / S) * C + c) * S + e % S] - mean;
      q += d * d;
    }
    double ssd = block_sum(q, sh);
    invstd = norm_invstd(ssd / (double)M, eps);
    if (threadIdx.x == 0) {
      if (rmean) rmean[c] = (T)running_update((double)rmean[c], mean, factor);
      if (rvar) rvar[c] = (T)running_update((double)rvar[c], ssd / (double)(unbiased ? M - 1 : M), factor);
    }
  } else {
    mean = (double)rmean[c];
    invstd = norm_invstd((double)rvar[c], eps);
  }
  if (threadIdx.x == 0) {
    smean[c] = (T)mean;
    sinv[c] = (T)invstd;
  }
  NormAffine af = norm_affine(mean, invstd, opt(gamma, c, 1.0), opt(beta, c, 0.0));
  const T sc = (T)af.scale, sf = (T)af.shift;
  for (int64_t e = threadIdx.x; e < M; e += kThreads) {
    int64_t off = ((e / S) * C + c) * S + e % S;
    const T v = x[off] * sc + sf;
    y[off] = relu ? norm_relu<T>(v) : v;  // BatchNorm + ReLU fused (ops/norm_math.h)
  }
}

// Differentiates y = x * scale + shift of bn_forward_kernel (see ops/norm_math.h); yr (the
// fused ReLU's output, or null) masks dy first.
template <class T>
__global__ void bn_backward_kernel(const T* dy, const T* x, const T* gamma, const T* smean,
                                   const T* sinv, bool batch_stats, T* dx, T* dgamma, T* dbeta,
                                   int64_t N, int64_t C, int64_t S, const T* yr) {
  __shared__ double sh[kThreads];
  const int64_t c = blockIdx.x, M = N * S;
  const double mean = (double)smean[c], invstd = (double)sinv[c];
  double s = 0, t = 0;
  for (int64_t e = threadIdx.x; e < M; e += kThreads) {
    int64_t off = ((e / S) * C + c) * S + e % S;
    double g = (double)(yr ? norm_relu_grad<T>(dy[off], yr[off]) : dy[off]);
    s += g;
    t += g * ((double)x[off] - mean);
  }
  const double sdy = block_sum(s, sh), sdyx = block_sum(t, sh);
  if (threadIdx.x == 0) {
    dbeta[c] = (T)sdy;
    dgamma[c] = (T)(sdyx * invstd);
  }
  const double g = opt(gamma, c, 1.0);
  T k = (T)(g * invstd), a = 0, b = 0;
  if (batch_stats) {
    NormAffine d = norm_dx_terms(mean, invstd, g * sdy, g * sdyx, (double)M);
    a = (T)d.scale;
    b = (T)d.shift;
  }
  for (int64_t e = threadIdx.x; e < M; e += kThreads) {
    int64_t off = ((e / S) * C + c) * S + e % S;
    dx[off] = norm_dx<T>(yr ? norm_relu_grad<T>(dy[off], yr[off]) : dy[off], x[off], k, a, b);
  }
}

// ---- layer norm: block r handles row r of (M, K); group norm: block r = (n, g), L values
template <class T>
__global__ void ln_forward_kernel(const T* x, const T* gamma, const T* beta, double eps, T* y,
                                  T* smean, T* srstd, int64_t K) {
  __shared__ double sh[kThreads];
  const int64_t r = blockIdx.x;
  const T* xr = x + r * K;
  T* yr = y + r * K;
  double s = 0;
  for (int64_t j = threadIdx.x; j < K; j += kThreads) s += (double)xr[j];
  const double mean = block_sum(s, sh) / (double)K;
  double q = 0;
  for (int64_t j = threadIdx.x; j < K; j += kThreads) {
    double d = (double)xr[j] - mean;
    q += d * d;
  }
  const double rstd = norm_invstd(block_sum(q, sh) / (double)K, eps);
  if (threadIdx.x == 0) {
    smean[r] = (T)mean;
    srstd[r] = (T)rstd;
  }
  const T m = (T)mean, rs = (T)rstd;
  for (int64_t j = threadIdx.x; j < K; j += kThreads) {
    T v = (xr[j] - m) * rs;
    if (gamma) v *= gamma[j];
    if (beta) v += beta[j];
    yr[j] = v;
  }
}

// dx of y = (x - mean) * rstd * gamma + beta through the row statistics.
template <class T>
__global__ void ln_backward_dx_kernel(const T* dy, const T* x, const T* gamma, const T* smean,
                                      const T* srstd, T* dx, int64_t K) {
  __shared__ double sh[kThreads];
  const int64_t r = blockIdx.x;
  const T* xr = x + r * K;
  const T* gr = dy + r * K;
  T* dr = dx + r * K;
  const double mean = (double)smean[r], rstd = (double)srstd[r];
  double s = 0, t = 0;
  for (int64_t j = threadIdx.x; j < K; j += kThreads) {
    double v = (double)gr[j] * opt(gamma, j, 1.0);
    s += v;
    t += v * ((double)xr[j] - mean);
  }
  NormAffine d = norm_dx_terms(mean, rstd, block_sum(s, sh), block_sum(t, sh), (double)K);
  const T a = (T)d.scale, b = (T)d.shift, rs = (T)rstd;
  for (int64_t j = threadIdx.x; j < K; j += kThreads)
    dr[j] = norm_dx<T>(gr[j], xr[j], gamma ? gamma[j] * rs : rs, a, b);
}

// dgamma[j] = sum_r dy * xhat, dbeta[j] = sum_r dy: one thread per column, rows in order.
template <class T>
__global__ void ln_backward_params_kernel(const T* dy, const T* x, const T* smean, const T* srstd,
                                          T* dgamma, T* dbeta, int64_t M, int64_t K) {
  const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= K) return;
  double ag = 0, ab = 0;
  for (int64_t r = 0; r < M; ++r) {
    double g = (double)dy[r * K + j];
    ab += g;
    ag += g * (((double)x[r * K + j] - (double)smean[r]) * (double)srstd[r]);
  }
  dgamma[j] = (T)ag;
  dbeta[j] = (T)ab;
}

template <class T>
__global__ void gn_forward_kernel(const T* x, const T* gamma, const T* beta, double eps, T* y,
                                  T* smean, T* srstd, int64_t G, int64_t cpg, int64_t S) {
  __shared__ double sh[kThreads];
  const int64_t r = blockIdx.x, L = cpg * S, c_base = (r % G) * cpg;
  const T* xr = x + r * L;
  T* yr = y + r * L;
  double s = 0;
  for (int64_t j = threadIdx.x; j < L; j += kThreads) s += (double)xr[j];
  const double mean = block_sum(s, sh) / (double)L;
  double q = 0;
  for (int64_t j = threadIdx.x; j < L; j += kThreads) {
    double d = (double)xr[j] - mean;
    q += d * d;
  }
  const double rstd = norm_invstd(block_sum(q, sh) / (double)L, eps);
  if (threadIdx.x == 0) {
    smean[r] = (T)mean;
    srstd[r] = (T)rstd;
  }
  for (int64_t j = threadIdx.x; j < L; j += kThreads) {
    int64_t c = c_base + j / S;
    NormAffine af = norm_affine(mean, rstd, opt(gamma, c, 1.0), opt(beta, c, 0.0));
    yr[j] = xr[j] * (T)af.scale + (T)af.shift;
  }
}

template <class T>
__global__ void gn_backward_dx_kernel(const T* dy, const T* x, const T* gamma, const T* smean,
                                      const T* srstd, T* dx, int64_t G, int64_t cpg, int64_t S) {
  __shared__ double sh[kThreads];
  const int64_t r = blockIdx.x, L = cpg * S, c_base = (r % G) * cpg;
  const T* xr = x + r * L;
  const T* gr = dy + r * L;
  T* dr = dx + r * L;
  const double mean = (double)smean[r], rstd = (double)srstd[r];
  double s = 0, t = 0;
  for (int64_t j = threadIdx.x; j < L; j += kThreads) {
    double v = (double)gr[j] * opt(gamma, c_base + j / S, 1.0);
    s += v;
    t += v * ((double)xr[j] - mean);
  }
  NormAffine d = norm_dx_terms(mean, rstd, block_sum(s, sh), block_sum(t, sh), (double)L);
  for (int64_t j = threadIdx.x; j < L; j += kThreads) {
    T k = (T)(opt(gamma, c_base + j / S, 1.0) * rstd);
    dr[j] = norm_dx<T>(gr[j], xr[j], k, (T)d.scale, (T)d.shift);
  }
}

// dgamma[c], dbeta[c]: block c sums over (n, s) with each n's group statistics.
template <class T>
__global__ void gn_backward_params_kernel(const T* dy, const T* x, const T* smean, const T* srstd,
                                          T* dgamma, T* dbeta, int64_t N, int64_t C, int64_t G,
                                          int64_t S) {
  __shared__ double sh[kThreads];
  const int64_t c = blockIdx.x, grp = c / (C / G), M = N * S;
  double s = 0, t = 0;
  for (int64_t e = threadIdx.x; e < M; e += kThreads) {
    int64_t n = e / S, off = (n * C + c) * S + e % S;
    double g = (double)dy[off];
    s += g;
    t += g * ((double)x[off] - (double)smean[n * G + grp]) * (double)srstd[n * G + grp];
  }
  double sb = block_sum(s, sh), sg = block_sum(t, sh);
  if (threadIdx.x == 0) {
    dgamma[c] = (T)sg;
    dbeta[c] = (T)sb;
  }
}

template <class T> const T* cptr(const View* v) { return v ? v->ptr<T>() : nullptr; }
template <class T> T* mptr(const View* v) { return v ? v->ptr<T>() : nullptr; }

template <class F> void by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

// ---- host launchers ----------------------------------------------------------------------------

void cuda_bn_forward(const View& x, const View* gamma, const View* beta, const View* rmean,
                     const View* rvar, bool batch_stats, double factor, double eps, const View& y,
                     const View& smean, const View& sinv, bool relu, bool unbiased) {
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    bn_forward_kernel<T><<<(unsigned)x.shape[1], kThreads>>>(
        x.ptr<T>(), cptr<T>(gamma), cptr<T>(beta), batch_stats ? mptr<T>(rmean) : rmean->ptr<T>(),
        batch_stats ? mptr<T>(rvar) : rvar->ptr<T>(), batch_stats, factor, eps, y.ptr<T>(),
        smean.ptr<T>(), sinv.ptr<T>(), x.shape[0], x.shape[1], x.shape[2], relu, unbiased);
  });
  check_launch("batch_norm");
}

void cuda_bn_backward(const View& dy, const View& x, const View* gamma, const View& smean,
                      const View& sinv, bool batch_stats, const View* relu_out, const View& dx,
                      const View& dgamma, const View& dbeta) {
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    bn_backward_kernel<T><<<(unsigned)x.shape[1], kThreads>>>(
        dy.ptr<T>(), x.ptr<T>(), cptr<T>(gamma), smean.ptr<T>(), sinv.ptr<T>(), batch_stats,
        dx.ptr<T>(), dgamma.ptr<T>(), dbeta.ptr<T>(), x.shape[0], x.shape[1], x.shape[2], cptr<T>(relu_out));
  });
  check_launch("batch_norm_backward");
}

void cuda_ln_forward(const View& x, const View* gamma, const View* beta, double eps, const View& y,
                     const View& smean, const View& srstd) {
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    ln_forward_kernel<T><<<(unsigned)x.shape[0], kThreads>>>(
        x.ptr<T>(), cptr<T>(gamma), cptr<T>(beta), eps, y.ptr<T>(), smean.ptr<T>(), srstd.ptr<T>(),
        x.shape[1]);
  });
  check_launch("layer_norm");
}

void cuda_ln_backward(const View& dy, const View& x, const View* gamma, const View& smean,
                      const View& srstd, const View& dx, const View& dgamma, const View& dbeta) {
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t M = x.shape[0], K = x.shape[1];
    ln_backward_dx_kernel<T><<<(unsigned)M, kThreads>>>(dy.ptr<T>(), x.ptr<T>(), cptr<T>(gamma),
                                                        smean.ptr<T>(), srstd.ptr<T>(), dx.ptr<T>(), K);
    ln_backward_params_kernel<T><<<ceil_div(K, kThreads), kThreads>>>(
        dy.ptr<T>(), x.ptr<T>(), smean.ptr<T>(), srstd.ptr<T>(), dgamma.ptr<T>(), dbeta.ptr<T>(), M, K);
  });
  check_launch("layer_norm_backward");
}

void cuda_gn_forward(const View& x, int64_t G, const View* gamma, const View* beta, double eps,
                     const View& y, const View& smean, const View& srstd) {
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    gn_forward_kernel<T><<<(unsigned)(x.shape[0] * G), kThreads>>>(
        x.ptr<T>(), cptr<T>(gamma), cptr<T>(beta), eps, y.ptr<T>(), smean.ptr<T>(), srstd.ptr<T>(),
        G, x.shape[1] / G, x.shape[2]);
  });
  check_launch("group_norm");
}

void cuda_gn_backward(const View& dy, const View& x, int64_t G, const View* gamma,
                      const View& smean, const View& srstd, const View& dx, const View& dgamma,
                      const View& dbeta) {
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
    gn_backward_dx_kernel<T><<<(unsigned)(N * G), kThreads>>>(
        dy.ptr<T>(), x.ptr<T>(), cptr<T>(gamma), smean.ptr<T>(), srstd.ptr<T>(), dx.ptr<T>(), G,
        C / G, S);
    gn_backward_params_kernel<T><<<(unsigned)C, kThreads>>>(
        dy.ptr<T>(), x.ptr<T>(), smean.ptr<T>(), srstd.ptr<T>(), dgamma.ptr<T>(), dbeta.ptr<T>(), N,
        C, G, S);
  });
  check_launch("group_norm_backward");
}

void fill_cuda_norm() {
  auto& t = dispatch_table<NormTable>(Device::cuda);
  t.batch_norm_forward = cuda_bn_forward;
  t.batch_norm_backward = cuda_bn_backward;
  t.layer_norm_forward = cuda_ln_forward;
  t.layer_norm_backward = cuda_ln_backward;
  t.group_norm_forward = cuda_gn_forward;
  t.group_norm_backward = cuda_gn_backward;
}
DLCORE_REGISTER(fill_cuda_norm);

}  // namespace
}  // namespace dlcore
