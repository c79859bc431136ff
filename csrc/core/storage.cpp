#include "core/storage.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/device.h"
#include "core/errors.h"

namespace dlcore {
namespace {

// Blocks of 4 MiB and more are 2 MiB aligned and advised to use transparent huge pages (as
// NumPy does): large activations and im2col-sized buffers then take a fraction of the TLB misses.
constexpr size_t kHugeThreshold = size_t(4) << 20;
constexpr size_t kHugeAlign = size_t(2) << 20;

// Small blocks (the many little tensors of a training step: biases, scalars, per-op temporaries)
// come back from a cache of freed blocks, one list per power-of-two size class from 64 bytes to
// 64 KiB, so that most ops do not reach malloc at all.
constexpr int kMinClassLog = 6, kMaxClassLog = 16;
constexpr size_t kMaxCached = 64;  // blocks kept per class

// Per thread, so no lock is taken; a block freed by another thread joins that thread's cache.
struct SmallCache {
  std::vector<void*> free[kMaxClassLog - kMinClassLog + 1];
  ~SmallCache() {
    for (auto& list : free)
      for (void* p : list) std::free(p);
  }
};
SmallCache& cache() {
  thread_local SmallCache c;
  return c;
}

int size_class(size_t bytes) {
  int c = kMinClassLog;
  while ((size_t(1) << c) < bytes) ++c;
  return c;
}

void* raw_alloc(size_t bytes, size_t align) {
  size_t rounded = (bytes + align - 1) / align * align;
  void* p = nullptr;
  if (posix_memalign(&p, align, rounded ? rounded : align) != 0) p = nullptr;
  DLCORE_CHECK(p != nullptr, ValueError, "out of memory: could not allocate ", bytes, " bytes on the CPU");
#ifdef MADV_HUGEPAGE
  if (bytes >= kHugeThreshold) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

void* cpu_alloc(size_t bytes) {
  if (bytes <= (size_t(1) << kMaxClassLog)) {
    int c = size_class(bytes);
    auto& list = cache().free[c - kMinClassLog];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      return p;
    }
    return raw_alloc(size_t(1) << c, 64);
  }
  return raw_alloc(bytes, bytes >= kHugeThreshold ? kHugeAlign : 64);
}

void cpu_release(void* p, size_t bytes, void*) {
  if (bytes <= (size_t(1) << kMaxClassLog)) {
    int c = size_class(bytes);
    auto& list = cache().free[c - kMinClassLog];
    if (list.size() < kMaxCached) {
      list.push_back(p);
      return;
    }
  }
  std::free(p);
}

void cuda_release(void* p, size_t, void*) { device_memory().free(p); }

}  // namespace

namespace {
thread_local int64_t tl_budget = -1;
}

int64_t set_alloc_budget(int64_t bytes) {
  int64_t prev = tl_budget;
  tl_budget = bytes < 0 ? -1 : bytes;
  return prev;
}

int64_t alloc_budget() { return tl_budget; }

std::shared_ptr<Storage> new_storage(Device device, size_t bytes, bool zero) {
  if (tl_budget >= 0) {
    DLCORE_CHECK(bytes <= uint64_t(tl_budget), ValueError, "allocation of ", bytes,
                 " bytes exceeds this thread's allocation budget (", tl_budget,
                 " bytes left): see dlcore.serialization.load_model's max_bytes");
    tl_budget -= int64_t(bytes);
  }
  auto s = std::make_shared<Storage>();
  s->bytes = bytes;
  s->device = device;
  if (device == Device::cpu) {
    void* p = cpu_alloc(bytes);
    if (zero && bytes) std::memset(p, 0, bytes);
    s->data = p;
    s->release = cpu_release;
    return s;
  }
  auto& mem = device_memory();
  DLCORE_CHECK(mem.alloc != nullptr, ValueError, "cuda: dlcore was built without CUDA support");
  DLCORE_CHECK(mem.device_count() > 0, ValueError, "cuda: no CUDA device is available");
  void* p = mem.alloc(bytes);
  if (zero && bytes) mem.memset_zero(p, bytes);
  s->data = p;
  s->release = cuda_release;
  return s;
}

std::shared_ptr<Storage> wrap_storage(void* data, size_t bytes, Device device,
                                      void (*release)(void*, size_t, void*), void* context) {
  auto s = std::make_shared<Storage>();
  s->data = data;
  s->bytes = bytes;
  s->device = device;
  s->release = release;
  s->context = context;
  return s;
}

}  // namespace dlcore
