// CUDA twin of csrc/ops/init.cpp: the truncated-normal fill, same Philox mapping and the same
// per-element math (init_math.h), so a seeded tensor gets the same values on either device.
#include <cmath>

#include "cuda/common.cuh"
#include "ops/init.h"
#include "ops/init_math.h"
#include "ops/random_math.h"

namespace dlcore {
namespace {

template <class T>
__global__ void trunc_normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t counter, double lo, double hi,
                                    double mean, double std_, double a, double b) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    double u = (double)random_value<T>(0, i, seed, counter, lo, hi);
    out[i] = (T)trunc_normal_from_uniform(u, mean, std_, a, b);
  }
}

void cu_trunc_normal(const View& out, double mean, double std_, double a, double b, uint64_t seed,
                     uint64_t counter) {
  int64_t n = out.numel();
  if (n == 0) return;
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  double lo = 2 * cdf((a - mean) / std_) - 1, hi = 2 * cdf((b - mean) / std_) - 1;
  if (out.dtype == DType::f32)
    trunc_normal_kernel<float><<<cuda::blocks_for(n), cuda::kThreads>>>(out.ptr<float>(), n, seed, counter, lo, hi,
                                                                        mean, std_, a, b);
  else
    trunc_normal_kernel<double><<<cuda::blocks_for(n), cuda::kThreads>>>(out.ptr<double>(), n, seed, counter, lo,
                                                                         hi, mean, std_, a, b);
  cuda::check_launch("trunc_normal_kernel");
}

void fill_cuda_init() { dispatch_table<InitTable>(Device::cuda).trunc_normal = cu_trunc_normal; }
DLCORE_REGISTER(fill_cuda_init);

}  // namespace
}  // namespace dlcore
