// CUDA kernels of the convolution family (csrc/ops/conv.h; the same ConvGeometry as the CPU).
// Direct kernels, each output element owned by one thread (or one block for reductions), so the
// results are deterministic without atomics:
//   forward          one thread per y[n, k, oh, ow]: sum over its group's channels and taps
//   backward-data    one thread per gx[n, c, ih, iw]: gathers the (k, oh, ow) that read it
//                    (differentiates the forward sum w.r.t. x)
//   backward-weight  one block per gw[k, c, kh, kw]: fixed-shape tree reduction over (n, oh, ow)
//                    (differentiates the forward sum w.r.t. w)
//   backward-bias    one block per channel k
#include <cuda_runtime.h>

#include "core/dispatch.h"
#include "ops/conv.h"

namespace dlcore {
namespace {

constexpr int kConvThreads = 256;
static_assert((kConvThreads & (kConvThreads - 1)) == 0, "block reduction needs a power-of-two block");

inline void conv_check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw ValueError(str("CUDA error in ", kernel, ": ", cudaGetErrorString(e)));
}
inline unsigned conv_blocks(int64_t n) {
  int64_t b = (n + kConvThreads - 1) / kConvThreads;
  return (unsigned)(b < 65535 * 32 ? (b > 0 ? b : 1) : 65535 * 32);
}

template <class T>
__global__ void conv_forward_kernel(ConvGeometry g, const T* x, const T* w, const T* b, T* y, int64_t total) {
  const int64_t Cg = g.C / g.groups, Kg = g.K / g.groups;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ow = i % g.OW, t = i / g.OW;
    int64_t oh = t % g.OH;
    t /= g.OH;
    int64_t k = t % g.K, n = t / g.K;
    int64_t c0 = (k / Kg) * Cg;
    T acc = b ? b[k] : T(0);
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xp = x + ((n * g.C + c0 + c) * g.H) * g.W;
      const T* wp = w + ((k * Cg + c) * g.kH) * g.kW;
      for (int64_t kh = 0; kh < g.kH; ++kh) {
        int64_t ih = oh * g.sH - g.pT + kh * g.dH;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.kW; ++kw) {
          int64_t iw = ow * g.sW - g.pL + kw * g.dW;
          if (iw < 0 || iw >= g.W) continue;
          acc += wp[kh * g.kW + kw] * xp[ih * g.W + iw];
        }
      }
    }
    y[i] = acc;
  }
}

template <class T>
__global__ void conv_backward_data_kernel(ConvGeometry g, const T* gy, const T* w, T* gx, int64_t total) {
  const int64_t Cg = g.C / g.groups, Kg = g.K / g.groups;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t iw = i % g.W, t = i / g.W;
    int64_t ih = t % g.H;
    t /= g.H;
    int64_t c = t % g.C, n = t / g.C;
    int64_t grp = c / Cg, cl = c % Cg;
    T acc = 0;
    for (int64_t kl = 0; kl < Kg; ++kl) {
      int64_t k = grp * Kg + kl;
      const T* gyp = gy + ((n * g.K + k) * g.OH) * g.OW;
      const T* wp = w + ((k * Cg + cl) * g.kH) * g.kW;
      for (int64_t kh = 0; kh < g.kH; ++kh) {
        int64_t hs = ih + g.pT - kh * g.dH;  // = oh * sH
        if (hs < 0 || hs % g.sH) continue;
        int64_t oh = hs / g.sH;
        if (oh >= g.OH) continue;
        for (int64_t kw = 0; kw < g.kW; ++kw) {
          int64_t ws = iw + g.pL - kw * g.dW;
          if (ws < 0 || ws % g.sW) continue;
          int64_t ow = ws / g.sW;
          if (ow >= g.OW) continue;
          acc += wp[kh * g.kW + kw] * gyp[oh * g.OW + ow];
        }
      }
    }
    gx[i] = acc;
  }
}

// Fixed-shape block tree reduction: the same order for every launch (deterministic).
template <class T>
__device__ T block_sum(T v, T* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kConvThreads / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  return sh[0];
}

template <class T>
__global__ void conv_backward_weight_kernel(ConvGeometry g, const T* x, const T* gy, T* gw) {
  __shared__ T sh[kConvThreads];
  const int64_t Cg = g.C / g.groups, Kg = g.K / g.groups;
  const int64_t idx = blockIdx.x;  // (k, c, kh, kw)
  int64_t kw = idx % g.kW, t = idx / g.kW;
  int64_t kh = t % g.kH;
  t /= g.kH;
  int64_t cl = t % Cg, k = t / Cg;
  int64_t c = (k / Kg) * Cg + cl;
  const int64_t L = g.N * g.OH * g.OW;
  T acc = 0;
  for (int64_t j = threadIdx.x; j < L; j += kConvThreads) {
    int64_t ow = j % g.OW, u = j / g.OW;
    int64_t oh = u % g.OH, n = u / g.OH;
    int64_t ih = oh * g.sH - g.pT + kh * g.dH, iw = ow * g.sW - g.pL + kw * g.dW;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
    acc += gy[((n * g.K + k) * g.OH + oh) * g.OW + ow] * x[((n * g.C + c) * g.H + ih) * g.W + iw];
  }
  T s = block_sum(acc, sh);
  if (threadIdx.x == 0) gw[idx] = s;
}

template <class T>
__global__ void conv_backward_bias_kernel(const T* gy, T* gb, int64_t N, int64_t K, int64_t L) {
  __shared__ T sh[kConvThreads];
  const int64_t k = blockIdx.x;
  T acc = 0;
  for (int64_t j = threadIdx.x; j < N * L; j += kConvThreads) acc += gy[((j / L) * K + k) * L + j % L];
  T s = block_sum(acc, sh);
  if (threadIdx.x == 0) gb[k] = s;
}

template <class F> void conv_by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

void cu_forward(const ConvGeometry& g, const View& x, const View& w, const View* b, const View& y) {
  int64_t total = y.numel();
  conv_by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    conv_forward_kernel<T><<<conv_blocks(total), kConvThreads>>>(g, x.ptr<T>(), w.ptr<T>(), b ? b->ptr<T>() : nullptr,
                                                                 y.ptr<T>(), total);
  });
  conv_check_launch("conv2d forward");
}

void cu_backward_data(const ConvGeometry& g, const View& gy, const View& w, const View& gx) {
  int64_t total = gx.numel();
  conv_by_dtype(gy.dtype, [&](auto tag) {
    using T = decltype(tag);
    conv_backward_data_kernel<T><<<conv_blocks(total), kConvThreads>>>(g, gy.ptr<T>(), w.ptr<T>(), gx.ptr<T>(), total);
  });
  conv_check_launch("conv2d backward_data");
}

void cu_backward_weight(const ConvGeometry& g, const View& x, const View& gy, const View& gw) {
  int64_t blocks = gw.numel();
  DLCORE_CHECK(blocks <= 2147483647LL, ValueError, "conv2d_backward_weight: weight too large for one CUDA grid");
  conv_by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    conv_backward_weight_kernel<T><<<(unsigned)blocks, kConvThreads>>>(g, x.ptr<T>(), gy.ptr<T>(), gw.ptr<T>());
  });
  conv_check_launch("conv2d backward_weight");
}

void cu_backward_bias(const View& gy, const View& gb) {
  int64_t N = gy.shape[0], K = gy.shape[1], L = gy.shape[2];
  if (K == 0) return;
  conv_by_dtype(gy.dtype, [&](auto tag) {
    using T = decltype(tag);
    conv_backward_bias_kernel<T><<<(unsigned)K, kConvThreads>>>(gy.ptr<T>(), gb.ptr<T>(), N, K, L);
  });
  conv_check_launch("conv backward_bias");
}

void fill_cuda_conv() {
  auto& t = dispatch_table<ConvTable>(Device::cuda);
  t.forward = cu_forward;
  t.backward_data = cu_backward_data;
  t.backward_weight = cu_backward_weight;
  t.backward_bias = cu_backward_bias;
}
DLCORE_REGISTER(fill_cuda_conv);

}  // namespace
}  // namespace dlcore
