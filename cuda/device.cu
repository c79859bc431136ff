// Device memory for the CUDA variant: fills DeviceMemoryTable (csrc/core/device.h) with a
// caching allocator in the manner of PyTorch's. A request is rounded up to its size class
// (multiples of 512 B below 1 MiB; above, four classes per power of two, so at most 25% is
// wasted); a freed block goes to its class's free list and the next request of that class takes
// it back without a driver call. Training repeats the same tensor sizes every step, so after the
// first step no step calls cudaMalloc or cudaFree (DeviceMemoryStats counts both). When
// cudaMalloc fails the cached blocks are given back and the allocation is tried once more; if
// that fails too, OutOfMemoryError says what was requested and what the device has free.
// dlcore uses the default stream only, so a block freed while kernels that use it are still
// queued can be handed out at once: later kernels on the same stream run after them.
#include <cstdio>
#include <map>
#include <string>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/device.h"
#include "cuda/common.cuh"

namespace dlcore {
namespace {

int device_count() {
  static const int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no driver" error
      return 0;
    }
    return c;
  }();
  return n;
}

size_t size_class(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(1) << 20;
  if (bytes == 0) bytes = 1;
  if (bytes < kLarge) return (bytes + kSmall - 1) / kSmall * kSmall;
  size_t p = kLarge;
  while (p * 2 <= bytes) p *= 2;            // p <= bytes < 2p
  const size_t step = p / 4;                 // classes p, 1.25p, 1.5p, 1.75p, 2p
  return (bytes + step - 1) / step * step;
}

std::string human(size_t b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, unit[u]);
  return buf;
}

class CachingAllocator {
 public:
  void* alloc(size_t bytes) {
    const size_t size = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_ -= size;
    } else {
      p = device_malloc(size, bytes);
    }
    live_[p] = size;
    st_.allocated += (int64_t)size;
    if (st_.allocated > st_.peak_allocated) st_.peak_allocated = st_.allocated;
    return p;
  }

  void free(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours (never happens: every device block comes from here)
    const size_t size = it->second;
    live_.erase(it);
    st_.allocated -= (int64_t)size;
    free_[size].push_back(p);
    cached_ += size;
  }

  size_t empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    return release_cached();
  }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    DeviceMemoryStats s = st_;
    s.reserved = st_.allocated + (int64_t)cached_;
    return s;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    st_.peak_allocated = st_.allocated;
  }

 private:
  // Called with mu_ held.
  void* device_malloc(size_t size, size_t requested) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached();  // give the cache back to the driver and try once more
      e = cudaMalloc(&p, size);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      cudaGetLastError();
      throw OutOfMemoryError(str("CUDA out of memory: tried to allocate ", human(requested), " (", requested,
                                 " bytes; block of ", size, " bytes); the GPU has ", human(free_b), " (", free_b,
                                 " bytes) free of ", human(total_b), " total, and dlcore's tensors hold ",
                                 human((size_t)st_.allocated), ". Use a smaller batch or model, or free tensors ",
                                 "(dlcore.cuda.memory_allocated() shows what dlcore holds)"));
    }
    cuda::check(e, "cudaMalloc");
    ++st_.device_allocs;
    return p;
  }

  size_t release_cached() {
    size_t n = 0;
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) {
        cudaFree(p);
        ++st_.device_frees;
        n += size;
      }
      blocks.clear();
    }
    free_.clear();
    cached_ = 0;
    return n;
  }

  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live_;     // block -> size class
  size_t cached_ = 0;
  DeviceMemoryStats st_;
};

// Never destroyed: blocks still referenced at interpreter exit must not be freed after the
// CUDA runtime has shut down.
CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

void* alloc(size_t bytes) { return allocator().alloc(bytes); }
void release(void* p) { allocator().free(p); }
DeviceMemoryStats stats() { return allocator().stats(); }
void reset_peak() { allocator().reset_peak(); }
size_t empty_cache() { return allocator().empty_cache(); }
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
  t.stats = stats;
  t.reset_peak = reset_peak;
  t.empty_cache = empty_cache;
}
DLCORE_REGISTER(fill_cuda_memory);

}  // namespace
}  // namespace dlcore
