#include "ops/random.h"

#include "core/parallel.h"
#include "ops/random_math.h"

namespace dlcore {
namespace {

void cpu_fill(RandomDist dist, const View& out, double a, double b, uint64_t seed, uint64_t counter) {
  int64_t n = out.numel();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* p = out.ptr<T>();
    parallel_for(0, n, 8192, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) p[i] = random_value<T>((int)dist, i, seed, counter, a, b);
    });
  };
  if (out.dtype == DType::f32) run(float{});
  else run(double{});
}

void fill_cpu_random() { dispatch_table<RandomTable>(Device::cpu).fill = cpu_fill; }
DLCORE_REGISTER(fill_cpu_random);

}  // namespace

int64_t random_blocks(DType dtype, int64_t n) {
  int64_t per = dtype == DType::f32 ? 4 : 2;
  return (n + per - 1) / per;
}

void random_fill(RandomDist dist, const View& out, double a, double b, uint64_t seed, uint64_t counter) {
  DLCORE_CHECK(is_float(out.dtype), TypeError, "random: needs a float tensor, got ", dtype_name(out.dtype));
  DLCORE_CHECK(out.is_contiguous(), ValueError, "random: output must be contiguous");
  DLCORE_DISPATCH(RandomTable, out.device, fill)(dist, out, a, b, seed, counter);
}

}  // namespace dlcore
