// Storage: one block of memory on one device, shared by every Array that views it.
// dlcore allocates its own (CPU: 64-byte aligned, small blocks recycled through a per-size-class
// cache, larger ones kept by exact size for reuse (512 MiB at most), huge-page advised from 4 MiB; CUDA: through the device-memory table); memory that came
// from elsewhere (a NumPy array shared without a copy) is released through `release`, which the
// bindings supply.
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
  // Frees the block (or lets go of its foreign owner) when the last Array goes.
  void (*release)(void* data, size_t bytes, void* context) = nullptr;
  void* context = nullptr;
  // Bumped by every write (check_writable): autograd compares it with the value it saw when it
  // saved an array for backward, so an in-place change to a saved value is an error, not a
  // silently wrong gradient.
  uint64_t version = 0;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (release) release(data, bytes, context);
  }
};

// A new block of `bytes` on `device`; zeroed when `zero`. Raises ValueError naming the request
// when the memory cannot be had (or the device does not exist in this build).
std::shared_ptr<Storage> new_storage(Device device, size_t bytes, bool zero = false);

// Frees the large CPU blocks kept for reuse; returns how many bytes that was.
size_t release_cached_memory();

// This thread's allocation budget: while it is >= 0, new_storage on this thread takes each
// block's bytes from it and raises ValueError (before allocating) when a block does not fit.
// Loading a model file runs under a budget sized from the file, so a small file from a stranger
// cannot make the loader allocate gigabytes. -1 (the default) means no budget. Returns the
// previous value.
int64_t set_alloc_budget(int64_t bytes);
int64_t alloc_budget();

// Wraps foreign memory; release(data, bytes, context) runs when the last Array goes.
std::shared_ptr<Storage> wrap_storage(void* data, size_t bytes, Device device,
                                      void (*release)(void*, size_t, void*), void* context);

}  // namespace dlcore
