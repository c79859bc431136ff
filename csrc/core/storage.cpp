#include "core/storage.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "core/device.h"
#include "core/errors.h"

namespace dlcore {
namespace {

// Blocks of 4 MiB and more are 2 MiB aligned and advised to use transparent huge pages (as
// NumPy does): large activations and im2col-sized buffers then take a fraction of the TLB misses.
constexpr size_t kHugeThreshold = size_t(4) << 20;
constexpr size_t kHugeAlign = size_t(2) << 20;

void* cpu_alloc(size_t bytes) {
  size_t align = bytes >= kHugeThreshold ? kHugeAlign : 64;
  size_t rounded = (bytes + align - 1) / align * align;
  void* p = nullptr;
  if (posix_memalign(&p, align, rounded ? rounded : align) != 0) p = nullptr;
  DLCORE_CHECK(p != nullptr, ValueError, "out of memory: could not allocate ", bytes,
               " bytes on the CPU");
#ifdef MADV_HUGEPAGE
  if (bytes >= kHugeThreshold) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

}  // namespace

std::shared_ptr<Storage> new_storage(Device device, size_t bytes, bool zero) {
  auto s = std::make_shared<Storage>();
  s->bytes = bytes;
  s->device = device;
  if (device == Device::cpu) {
    void* p = cpu_alloc(bytes);
    if (zero && bytes) std::memset(p, 0, bytes);
    s->data = p;
    s->owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    return s;
  }
  auto& mem = device_memory();
  DLCORE_CHECK(mem.alloc != nullptr, ValueError, "cuda: dlcore was built without CUDA support");
  DLCORE_CHECK(mem.device_count() > 0, ValueError, "cuda: no CUDA device is available");
  void* p = mem.alloc(bytes);
  if (zero && bytes) mem.memset_zero(p, bytes);
  auto freer = mem.free;
  s->data = p;
  s->owner = std::shared_ptr<void>(p, [freer](void* q) { freer(q); });
  return s;
}

std::shared_ptr<Storage> wrap_storage(void* data, size_t bytes, Device device, std::shared_ptr<void> owner) {
  auto s = std::make_shared<Storage>();
  s->data = data;
  s->bytes = bytes;
  s->device = device;
  s->owner = std::move(owner);
  return s;
}

}  // namespace dlcore
