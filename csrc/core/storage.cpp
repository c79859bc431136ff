#include "core/storage.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
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

// Larger blocks are kept after use too, by exact size (a training step allocates the same sizes
// every step), up to kLargeCacheBytes in all: reusing a block costs no page faults, where memory
// fresh from the OS faults on every page (a quarter of a small CNN's step, measured).
constexpr size_t kLargeCacheBytes = size_t(512) << 20;

struct LargeCache {
  std::mutex mu;
  std::multimap<size_t, void*> free;  // rounded size -> blocks
  size_t total = 0;
};
LargeCache& large_cache() {
  static LargeCache* c = new LargeCache;  // never destroyed: blocks may be freed at exit
  return *c;
}

size_t large_rounded(size_t bytes) {
  size_t align = bytes >= kHugeThreshold ? kHugeAlign : 64;
  return (bytes + align - 1) / align * align;
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
  size_t rounded = large_rounded(bytes);
  {
    auto& lc = large_cache();
    std::lock_guard<std::mutex> lock(lc.mu);
    auto it = lc.free.find(rounded);
    if (it != lc.free.end()) {
      void* p = it->second;
      lc.free.erase(it);
      lc.total -= rounded;
      return p;
    }
  }
  return raw_alloc(rounded, bytes >= kHugeThreshold ? kHugeAlign : 64);
}

void cpu_release(void* p, size_t bytes, void*) {
  if (bytes <= (size_t(1) << kMaxClassLog)) {
    int c = size_class(bytes);
    auto& list = cache().free[c - kMinClassLog];
    if (list.size() < kMaxCached) {
      list.push_back(p);
      return;
    }
    std::free(p);
    return;
  }
  size_t rounded = large_rounded(bytes);
  {
    auto& lc = large_cache();
    std::lock_guard<std::mutex> lock(lc.mu);
    if (rounded <= kLargeCacheBytes) {
      // make room by freeing kept blocks of other sizes (sizes a run no longer uses go first
      // in no particular order: the cache only has to follow what the current loop allocates)
      for (auto it = lc.free.begin(); lc.total + rounded > kLargeCacheBytes && it != lc.free.end();) {
        if (it->first == rounded) {
          ++it;
          continue;
        }
        lc.total -= it->first;
        std::free(it->second);
        it = lc.free.erase(it);
      }
      if (lc.total + rounded <= kLargeCacheBytes) {
        lc.free.emplace(rounded, p);
        lc.total += rounded;
        return;
      }
    }
  }
  std::free(p);
}

void cuda_release(void* p, size_t, void*) { device_memory().free(p); }

}  // namespace

size_t release_cached_memory() {
  auto& lc = large_cache();
  std::lock_guard<std::mutex> lock(lc.mu);
  size_t n = lc.total;
  for (auto& [size, p] : lc.free) std::free(p);
  lc.free.clear();
  lc.total = 0;
  return n;
}

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
