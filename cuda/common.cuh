// Shared by every .cu file: error checking that turns CUDA failures into dlcore exceptions,
// ceil-div launch geometry, and a by-value strided index helper for broadcasting kernels.
#pragma once
#include <cuda_runtime.h>

#include "core/errors.h"
#include "core/view.h"

namespace dlcore {
namespace cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw ValueError(str("CUDA error in ", what, ": ", cudaGetErrorString(e)));
}
// After every launch: launch-configuration errors surface here, as exceptions.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 65535 * 32 ? (b > 0 ? b : 1) : 65535 * 32);
}

// Shape and per-operand strides passed to kernels by value.
template <int K> struct Indexer {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];
  __host__ __device__ void offsets(int64_t linear, int64_t* off) const {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t i = linear % shape[d];
      linear /= shape[d];
      for (int k = 0; k < K; ++k) off[k] += i * strides[k][d];
    }
  }
};

// Builds an Indexer over `out`'s shape; operand k is broadcast to it (stride 0 where size 1).
template <int K> Indexer<K> make_indexer(const View& out, const View* const* ops) {
  Indexer<K> ix;
  ix.ndim = out.ndim;
  for (int d = 0; d < out.ndim; ++d) ix.shape[d] = out.shape[d];
  for (int k = 0; k < K; ++k) {
    const View& v = *ops[k];
    int off = out.ndim - v.ndim;
    for (int d = 0; d < out.ndim; ++d) {
      int j = d - off;
      ix.strides[k][d] = (j < 0 || v.shape[j] == 1) ? 0 : v.strides[j];
    }
  }
  return ix;
}

}  // namespace cuda
}  // namespace dlcore
