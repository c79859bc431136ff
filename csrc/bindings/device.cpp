// Bindings: CUDA device queries. Tensors on the GPU are ordinary Arrays whose Storage lives in
// device memory (core/storage.cpp, filled in by cuda/device.cu); moving between devices is
// Array.to(device) / copy_. In a CPU-only build cuda_device_count() is 0 and any CUDA request
// raises "built without CUDA".
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
}
