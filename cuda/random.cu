// CUDA random fills (csrc/ops/random.h): the same Philox mapping as the CPU (random_math.h),
// so a seeded tensor has the same values on either device.
#include "cuda/common.cuh"
#include "ops/random.h"
#include "ops/random_math.h"

namespace dlcore {
namespace {

template <class T>
__global__ void random_kernel(int dist, T* out, int64_t n, uint64_t seed, uint64_t counter, double a, double b) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = random_value<T>(dist, i, seed, counter, a, b);
}

void cu_fill(RandomDist dist, const View& out, double a, double b, uint64_t seed, uint64_t counter) {
  int64_t n = out.numel();
  if (n == 0) return;
  if (out.dtype == DType::f32)
    random_kernel<float><<<cuda::blocks_for(n), cuda::kThreads>>>((int)dist, out.ptr<float>(), n, seed, counter, a, b);
  else
    random_kernel<double><<<cuda::blocks_for(n), cuda::kThreads>>>((int)dist, out.ptr<double>(), n, seed, counter, a, b);
  cuda::check_launch("random_kernel");
}

void fill_cuda_random() { dispatch_table<RandomTable>(Device::cuda).fill = cu_fill; }
DLCORE_REGISTER(fill_cuda_random);

}  // namespace
}  // namespace dlcore
