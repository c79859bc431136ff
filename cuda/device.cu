// Device memory for the CUDA variant: fills DeviceMemoryTable (csrc/core/device.h).
#include "core/device.h"
#include "cuda/common.cuh"

namespace dlcore {
namespace {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void* alloc(size_t bytes) {
  void* p = nullptr;
  cuda::check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return p;
}
void release(void* p) { cudaFree(p); }
void h2d(void* d, const void* s, size_t n) { cuda::check(cudaMemcpy(d, s, n, cudaMemcpyHostToDevice), "copy to device"); }
void d2h(void* d, const void* s, size_t n) { cuda::check(cudaMemcpy(d, s, n, cudaMemcpyDeviceToHost), "copy to host"); }
void d2d(void* d, const void* s, size_t n) { cuda::check(cudaMemcpy(d, s, n, cudaMemcpyDeviceToDevice), "device copy"); }
void zero(void* d, size_t n) { cuda::check(cudaMemset(d, 0, n), "cudaMemset"); }
void sync() { cuda::check(cudaDeviceSynchronize(), "synchronize"); }

void fill_cuda_memory() {
  auto& t = device_memory();
  t.device_count = device_count;
  t.alloc = alloc;
  t.free = release;
  t.copy_h2d = h2d;
  t.copy_d2h = d2h;
  t.copy_d2d = d2d;
  t.memset_zero = zero;
  t.synchronize = sync;
}
DLCORE_REGISTER(fill_cuda_memory);

}  // namespace
}  // namespace dlcore
