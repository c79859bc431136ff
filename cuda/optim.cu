// CUDA kernels of the optimizer family (twin of csrc/ops/optim.cpp; contract in optim.h,
// per-element formulas in optim_math.h, shared with the CPU).
// Multi-tensor launch: up to kPack tensors travel in one kernel argument (pointers, sizes
// and per-tensor coefficients); blockIdx.y picks the tensor, a grid-stride loop over x covers
// its elements. One launch per pack, so a group of N tensors costs ceil(N / kPack) launches.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/common.cuh"
#include "ops/optim.h"

namespace dlcore {
namespace {

constexpr int kPack = 12;
static_assert(kPack >= 1 && kPack <= 65535, "kPack must fit gridDim.y");
constexpr int kThreadsPerBlock = 256;
static_assert(kThreadsPerBlock % 32 == 0, "whole warps");

template <class T> struct Pack {
  int count;
  T* p[kPack];
  const T* g[kPack];
  T* s[3][kPack];
  int64_t n[kPack];
  OptimCoefs k[kPack];
};

template <class T> __global__ void step_kernel(OptimKind kind, OptimHyper h, Pack<T> pk) {
  const int t = blockIdx.y;
  if (t >= pk.count) return;
  T* p = pk.p[t];
  const T* g = pk.g[t];
  T* s0 = pk.s[0][t];
  T* s1 = pk.s[1][t];
  T* s2 = pk.s[2][t];
  const OptimCoefs k = pk.k[t];
  const int64_t n = pk.n[t];
  const AdamScalars as = adam_scalars(h, k);
  const T gs = h.maximize ? T(-1) : T(1);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    switch (kind) {
      case OptimKind::sgd: sgd_element<T>(p[i], g[i], s0 ? s0 + i : nullptr, h, k); break;
      case OptimKind::adagrad: adagrad_element<T>(p[i], g[i], s0[i], h, k); break;
      case OptimKind::rmsprop:
        rmsprop_element<T>(p[i], g[i], s0[i], s1 ? s1 + i : nullptr, s2 ? s2 + i : nullptr, h);
        break;
      case OptimKind::adadelta: adadelta_element<T>(p[i], g[i], s0[i], s1[i], h); break;
      case OptimKind::adam: {
        if (h.keras) {
          adam_keras<T>(p[i], g[i], s0[i], s1[i], s2 ? s2 + i : nullptr, h, k);
          break;
        }
        T gi = g[i] * gs;
        int decay = h.weight_decay == 0 ? 0 : (h.decoupled_weight_decay ? 2 : 1);
        T* vm = s2 ? s2 + i : s0 + i;
        const T a0 = (T)as.decay_mul, a1 = (T)as.w1, a2 = (T)as.beta2, a3 = (T)as.w2,
                a4 = (T)(-as.step_size), a5 = (T)as.bc2s, a6 = (T)as.eps, a7 = (T)as.wd;
        if (h.amsgrad) {
          if (decay == 0) adam_element<T, true, 0>(p[i], gi, s0[i], s1[i], vm, a0, a1, a2, a3, a4, a5, a6, a7);
          else if (decay == 1) adam_element<T, true, 1>(p[i], gi, s0[i], s1[i], vm, a0, a1, a2, a3, a4, a5, a6, a7);
          else adam_element<T, true, 2>(p[i], gi, s0[i], s1[i], vm, a0, a1, a2, a3, a4, a5, a6, a7);
        } else {
          if (decay == 0) adam_element<T, false, 0>(p[i], gi, s0[i], s1[i], vm, a0, a1, a2, a3, a4, a5, a6, a7);
          else if (decay == 1) adam_element<T, false, 1>(p[i], gi, s0[i], s1[i], vm, a0, a1, a2, a3, a4, a5, a6, a7);
          else adam_element<T, false, 2>(p[i], gi, s0[i], s1[i], vm, a0, a1, a2, a3, a4, a5, a6, a7);
        }
        break;
      }
      case OptimKind::adamax: adamax_element<T>(p[i], g[i], s0[i], s1[i], h, k); break;
      case OptimKind::nadam: nadam_element<T>(p[i], g[i], s0[i], s1[i], h, k); break;
      case OptimKind::lion: lion_element<T>(p[i], g[i], s0[i], h); break;
    }
  }
}

// Blocks along x for the largest tensor of a pack (grid-stride covers the rest).
unsigned grid_x(int64_t max_n) {
  int64_t b = (max_n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return (unsigned)std::max<int64_t>(1, std::min<int64_t>(b, 4096));
}

template <class T> void step_typed(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots) {
  for (size_t base = 0; base < slots.size(); base += kPack) {
    Pack<T> pk{};
    pk.count = (int)std::min<size_t>(kPack, slots.size() - base);
    int64_t max_n = 0;
    for (int t = 0; t < pk.count; ++t) {
      const OptimSlot& s = slots[base + t];
      pk.p[t] = s.param.ptr<T>();
      pk.g[t] = s.grad.ptr<T>();
      for (int j = 0; j < 3; ++j) pk.s[j][t] = s.has_state[j] ? s.state[j].ptr<T>() : nullptr;
      pk.n[t] = s.param.numel();
      pk.k[t] = s.coefs;
      max_n = std::max(max_n, pk.n[t]);
    }
    if (max_n == 0) continue;
    dim3 grid(grid_x(max_n), (unsigned)pk.count);
    step_kernel<T><<<grid, kThreadsPerBlock>>>(kind, h, pk);
    cuda::check_launch("optim_step");
  }
}

void cuda_step(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots) {
  if (slots.empty()) return;
  if (slots[0].param.dtype == DType::f32) step_typed<float>(kind, h, slots);
  else step_typed<double>(kind, h, slots);
}

// Norm: each of a FIXED number of blocks reduces a fixed strided subset of one tensor in a
// fixed tree order and writes one partial; the host adds the partials in order. The grid does
// not depend on the device, so the result is the same bits run to run.
constexpr int kNormBlocks = 128;
static_assert((kThreadsPerBlock & (kThreadsPerBlock - 1)) == 0, "tree reduction needs a power of two");

__device__ __forceinline__ double nan_double() { return __longlong_as_double(0x7ff8000000000000LL); }

template <class T> __global__ void norm_kernel(const T* x, int64_t n, double p, double* partial) {
  __shared__ double sh[kThreadsPerBlock];
  double acc = 0;
  const bool inf_norm = isinf(p);
  bool nan = false;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    double a = fabs((double)x[i]);
    if (inf_norm) {
      if (isnan(a)) nan = true;
      else acc = a > acc ? a : acc;
    } else {
      acc += p == 2.0 ? a * a : (p == 1.0 ? a : pow(a, p));
    }
  }
  if (nan) acc = nan_double();
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreadsPerBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      double u = sh[threadIdx.x], v = sh[threadIdx.x + s];
      sh[threadIdx.x] = inf_norm ? ((isnan(u) || isnan(v)) ? nan_double() : (u > v ? u : v)) : u + v;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

double cuda_norm_power(const std::vector<View>& xs, double p) {
  double* d_part = nullptr;
  cuda::check(cudaMalloc(&d_part, sizeof(double) * kNormBlocks), "clip_grad_norm_ (cudaMalloc)");
  std::vector<double> h_part(kNormBlocks);
  double total = 0;
  const bool inf_norm = std::isinf(p);
  try {
    for (const View& x : xs) {
      if (x.numel() == 0) continue;
      if (x.dtype == DType::f32) norm_kernel<float><<<kNormBlocks, kThreadsPerBlock>>>(x.ptr<float>(), x.numel(), p, d_part);
      else norm_kernel<double><<<kNormBlocks, kThreadsPerBlock>>>(x.ptr<double>(), x.numel(), p, d_part);
      cuda::check_launch("clip_grad_norm_");
      cuda::check(cudaMemcpy(h_part.data(), d_part, sizeof(double) * kNormBlocks, cudaMemcpyDeviceToHost),
                  "clip_grad_norm_ (copy partials)");
      for (double v : h_part) {
        if (inf_norm) total = (std::isnan(v) || std::isnan(total)) ? NAN : std::max(total, v);
        else total += v;
      }
    }
  } catch (...) {
    cudaFree(d_part);
    throw;
  }
  cudaFree(d_part);
  return total;
}

template <class T> __global__ void scale_clamp_kernel(T* x, int64_t n, int mode, double a, double b) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T v = x[i];
    if (mode == 0) x[i] = v * (T)a;
    else x[i] = v < (T)a ? (T)a : (v > (T)b ? (T)b : v);
  }
}

void scale_clamp(const std::vector<View>& xs, int mode, double a, double b, const char* what) {
  for (const View& x : xs) {
    if (x.numel() == 0) continue;
    unsigned grid = grid_x(x.numel());
    if (x.dtype == DType::f32) scale_clamp_kernel<float><<<grid, kThreadsPerBlock>>>(x.ptr<float>(), x.numel(), mode, a, b);
    else scale_clamp_kernel<double><<<grid, kThreadsPerBlock>>>(x.ptr<double>(), x.numel(), mode, a, b);
    cuda::check_launch(what);
  }
}

void cuda_scale(const std::vector<View>& xs, double f) { scale_clamp(xs, 0, f, 0, "multi_scale"); }
void cuda_clamp(const std::vector<View>& xs, double lo, double hi) { scale_clamp(xs, 1, lo, hi, "clip_grad_value_"); }

void fill_cuda_optim() {
  auto& t = dispatch_table<OptimTable>(Device::cuda);
  t.step = cuda_step;
  t.norm_power = cuda_norm_power;
  t.scale = cuda_scale;
  t.clamp = cuda_clamp;
}
DLCORE_REGISTER(fill_cuda_optim);

}  // namespace
}  // namespace dlcore
