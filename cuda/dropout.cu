// CUDA kernels of the dropout family (contract in csrc/ops/dropout.h), filling
// dispatch_table<DropoutTable>(Device::cuda). The mask uses the same Philox mapping as the
// CPU (ops/dropout_math.h), so a seed gives the same mask on CPU and GPU.
#include <cuda_runtime.h>

#include "core/errors.h"
#include "ops/dropout.h"
#include "ops/dropout_math.h"

namespace dlcore {
namespace {

constexpr int kThreads = 256;
static_assert(kThreads % 32 == 0, "kThreads must be a multiple of the warp size");

void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw ValueError(str(what, ": CUDA kernel launch failed: ", cudaGetErrorString(e)));
}

inline unsigned ceil_div(int64_t a, int64_t b) { return (unsigned)((a + b - 1) / b); }

// One thread per Philox block: 4 mask elements.
__global__ void mask_kernel(bool* mask, int64_t nm, uint32_t threshold, uint64_t seed, uint64_t counter) {
  const int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (b * 4 >= nm) return;
  Philox4 r = philox4x32_10(seed, counter + (uint64_t)b);
  for (int l = 0; l < 4 && b * 4 + l < nm; ++l) mask[b * 4 + l] = dropout_keep_bits(r.v[l], threshold);
}

// out[i] = in[i] * (keep ? k : 0) + (keep ? c_keep : c_drop), keep = mask[i / inner].
template <class T>
__global__ void apply_kernel(const T* in, const bool* mask, int64_t n, int64_t inner, T k,
                             T c_keep, T c_drop, T* out) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const bool keep = mask[i / inner];
  out[i] = in[i] * (keep ? k : (T)0) + (keep ? c_keep : c_drop);
}

template <class F> void by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

void cuda_forward(DropoutKind kind, const View& x, double p, uint64_t seed, uint64_t counter,
                  int64_t inner, const View& y, const View& mask) {
  const int64_t nm = mask.numel(), n = x.numel();
  mask_kernel<<<ceil_div(dropout_blocks(nm), kThreads), kThreads>>>(mask.ptr<bool>(), nm, dropout_keep_threshold(p),
                                                                    seed, counter);
  check_launch("dropout (mask)");
  double k = dropout_scale(p), c_keep = 0, c_drop = 0;
  if (kind == DropoutKind::alpha && p < 1.0) {
    AlphaDropoutConsts ac = alpha_dropout_consts(p);
    k = ac.a;
    c_keep = ac.b;
    c_drop = ac.dropped;
  }
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    apply_kernel<T><<<ceil_div(n, kThreads), kThreads>>>(x.ptr<T>(), mask.ptr<bool>(), n, inner, (T)k,
                                                         (T)c_keep, (T)c_drop, y.ptr<T>());
  });
  check_launch("dropout");
}

// Differentiates the apply_kernel line: dx = dy * (keep ? scale : 0).
void cuda_backward(const View& dy, const View& mask, int64_t inner, double scale, const View& dx) {
  const int64_t n = dy.numel();
  by_dtype(dy.dtype, [&](auto tag) {
    using T = decltype(tag);
    apply_kernel<T><<<ceil_div(n, kThreads), kThreads>>>(dy.ptr<T>(), mask.ptr<bool>(), n, inner,
                                                         (T)scale, (T)0, (T)0, dx.ptr<T>());
  });
  check_launch("dropout_backward");
}

void fill_cuda_dropout() {
  auto& t = dispatch_table<DropoutTable>(Device::cuda);
  t.forward = cuda_forward;
  t.backward = cuda_backward;
}
DLCORE_REGISTER(fill_cuda_dropout);

}  // namespace
}  // namespace dlcore
