// Storage: one block of memory on one device, shared by every Array that views it.
// dlcore allocates its own (CPU: 64-byte aligned, huge-page advised when large; CUDA: through the
// device-memory table); memory that came from elsewhere (a NumPy array shared without a copy)
// is kept alive by `owner`, whose deleter the bindings supply.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/view.h"

namespace dlcore {

struct Storage {
  void* data = nullptr;   // lowest address of the block
  size_t bytes = 0;
  Device device = Device::cpu;
  std::shared_ptr<void> owner;  // frees the block (or releases its foreign owner) when last used
};

// A new block of `bytes` on `device`; zeroed when `zero`. Raises ValueError naming the request
// when the memory cannot be had (or the device does not exist in this build).
std::shared_ptr<Storage> new_storage(Device device, size_t bytes, bool zero = false);

// Wraps foreign memory: `owner` keeps it alive (its deleter runs when the last Array goes).
std::shared_ptr<Storage> wrap_storage(void* data, size_t bytes, Device device, std::shared_ptr<void> owner);

}  // namespace dlcore
