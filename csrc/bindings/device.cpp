// Bindings: CUDA device queries and the caching allocator's statistics. Tensors on the GPU are
// ordinary Arrays whose Storage lives in device memory (core/storage.cpp, filled in by
// cuda/device.cu); moving between devices is Array.to(device) / copy_. In a CPU-only build
// cuda_device_count() is 0, the statistics are zeros and any CUDA request raises "built
// without CUDA".
#include "bindings/common.h"
#include "core/device.h"

DLCORE_BINDINGS(device) {
  using namespace dlcore;
  m.def("cuda_device_count", [] {
    auto& mem = device_memory();
    return mem.device_count ? mem.device_count() : 0;
  });
  m.def("cuda_synchronize", [] {
    auto& mem = device_memory();
    if (mem.synchronize) {
      py::gil_scoped_release nogil;
      mem.synchronize();
    }
  });
  m.def("cuda_memory_stats", [] {
    auto& mem = device_memory();
    DeviceMemoryStats s = mem.stats ? mem.stats() : DeviceMemoryStats{};
    py::dict d;
    d["allocated_bytes"] = s.allocated;
    d["peak_allocated_bytes"] = s.peak_allocated;
    d["reserved_bytes"] = s.reserved;
    d["device_allocs"] = s.device_allocs;
    d["device_frees"] = s.device_frees;
    return d;
  }, "The CUDA caching allocator's counters (all zero in a CPU-only build).");
  m.def("cuda_reset_peak_memory_stats", [] {
    auto& mem = device_memory();
    if (mem.reset_peak) mem.reset_peak();
  });
  m.def("cuda_empty_cache", [] {
    auto& mem = device_memory();
    if (!mem.empty_cache) return size_t(0);
    py::gil_scoped_release nogil;
    return mem.empty_cache();
  }, "Gives the cached, unused CUDA blocks back to the driver; returns the bytes released.");
}
