// Device memory: a table of function pointers that cuda/device.cu fills when the CUDA variant
// is built. In a CPU-only build the table stays empty and every CUDA request raises a clear
// error, so no caller needs #ifdef. alloc / free go through a caching allocator: freed blocks
// are kept by size class and handed out again, so a training step whose tensors have the
// same sizes as the last one's calls neither cudaMalloc nor cudaFree.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dispatch.h"

namespace dlcore {

// Counters of the caching allocator (bytes are block sizes, i.e. requests rounded up to their
// size class).
struct DeviceMemoryStats {
  int64_t allocated = 0;       // in blocks handed out and not yet freed
  int64_t peak_allocated = 0;  // the most `allocated` has been since the last reset
  int64_t reserved = 0;        // obtained from the driver: allocated + cached
  int64_t device_allocs = 0;   // cudaMalloc calls so far
  int64_t device_frees = 0;    // cudaFree calls so far
};

struct DeviceMemoryTable {
  int (*device_count)() = nullptr;  // 0 when there is no driver or no device
  void* (*alloc)(size_t bytes) = nullptr;  // OutOfMemoryError when the device has no room
  void (*free)(void* p) = nullptr;
  void (*copy_h2d)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_d2h)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_d2d)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*memset_zero)(void* dst, size_t bytes) = nullptr;
  void (*synchronize)() = nullptr;
  DeviceMemoryStats (*stats)() = nullptr;
  void (*reset_peak)() = nullptr;
  size_t (*empty_cache)() = nullptr;  // returns the cached blocks to the driver; bytes released
};

inline DeviceMemoryTable& device_memory() { return dispatch_table<DeviceMemoryTable>(Device::cuda); }

}  // namespace dlcore
