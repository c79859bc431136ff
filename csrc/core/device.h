// Device memory: a table of function pointers that cuda/device.cu fills when the CUDA variant
// is built. In a CPU-only build the table stays empty and every CUDA request raises a clear
// error, so no caller needs #ifdef.
#pragma once
#include <cstddef>

#include "core/dispatch.h"

namespace dlcore {

struct DeviceMemoryTable {
  int (*device_count)() = nullptr;  // 0 when there is no driver or no device
  void* (*alloc)(size_t bytes) = nullptr;
  void (*free)(void* p) = nullptr;
  void (*copy_h2d)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_d2h)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_d2d)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*memset_zero)(void* dst, size_t bytes) = nullptr;
  void (*synchronize)() = nullptr;
};

inline DeviceMemoryTable& device_memory() { return dispatch_table<DeviceMemoryTable>(Device::cuda); }

}  // namespace dlcore
