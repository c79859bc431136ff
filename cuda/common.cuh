// Shared by every .cu file: error checking that turns CUDA failures into dlcore exceptions,
// ceil-div launch geometry, a by-value strided index helper for broadcasting kernels, and
// scratch device memory from the caching allocator (cuda/device.cu).
#pragma once
#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>

#include "core/device.h"
#include "core/errors.h"
#include "core/view.h"

namespace dlcore {
namespace cuda {

// A failed CUDA call (a launch error, a fault reported by a later call): Python's RuntimeError,
// as PyTorch raises for CUDA errors. Out of memory is OutOfMemoryError (core/errors.h).
struct CudaError : std::runtime_error { using std::runtime_error::runtime_error; };

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so that the next call does not report it again
    throw CudaError(str("CUDA error in ", what, ": ", cudaGetErrorString(e), " (",
                        cudaGetErrorName(e), ")"));
  }
}

// DLCORE_CUDA_SYNC=1 makes every launch wait for its kernel (as CUDA_LAUNCH_BLOCKING does), so
// an error inside a kernel is reported with that kernel's op name instead of at a later call.
inline bool sync_launches() {
  static const bool on = [] {
    const char* v = std::getenv("DLCORE_CUDA_SYNC");
    return v && *v && *v != '0';
  }();
  return on;
}

// After every launch: launch-configuration errors surface here, as exceptions naming the op.
inline void check_launch(const char* op) {
  check(cudaGetLastError(), op);
  if (sync_launches()) check(cudaDeviceSynchronize(), op);
}

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

// An Indexer over `shape` with the given per-operand strides (each `shape.size()` long).
template <int K> Indexer<K> indexer_of(const Shape& shape, const int64_t* const* strides) {
  Indexer<K> ix;
  ix.ndim = (int)shape.size();
  for (int d = 0; d < ix.ndim; ++d) {
    ix.shape[d] = shape[d];
    for (int k = 0; k < K; ++k) ix.strides[k][d] = strides[k][d];
  }
  return ix;
}

// Scratch device memory for one call (from the caching allocator, so reusing it costs no
// cudaMalloc). Freed when it goes out of scope: kernels queued on the one stream dlcore uses
// run before any later user of the block, so no synchronisation is needed.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) { p_ = bytes ? device_memory().alloc(bytes) : nullptr; }
  ~DeviceBuffer() {
    if (p_) device_memory().free(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T> T* as() const { return static_cast<T*>(p_); }
  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// One value copied to the host (waits for the kernels queued before it).
template <class T> T read_device(const T* p, const char* op) {
  T v;
  check(cudaMemcpy(&v, p, sizeof(T), cudaMemcpyDeviceToHost), op);
  return v;
}

}  // namespace cuda
}  // namespace dlcore
