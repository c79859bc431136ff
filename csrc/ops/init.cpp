// CPU kernels of the initializer family (contract in init.h).
#include "ops/init.h"

#include <cmath>

#include "core/parallel.h"
#include "ops/init_math.h"
#include "ops/random_math.h"

namespace dlcore {
namespace {

double norm_cdf(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }

void cpu_trunc_normal(const View& out, double mean, double std_, double a, double b, uint64_t seed,
                      uint64_t counter) {
  const double lo = 2 * norm_cdf((a - mean) / std_) - 1, hi = 2 * norm_cdf((b - mean) / std_) - 1;
  const int64_t n = out.numel();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* p = out.ptr<T>();
    parallel_for(0, n, 8192, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        double u = (double)random_value<T>(0, i, seed, counter, lo, hi);
        p[i] = (T)trunc_normal_from_uniform(u, mean, std_, a, b);
      }
    });
  };
  if (out.dtype == DType::f32) run(float{});
  else run(double{});
}

void fill_cpu_init() { dispatch_table<InitTable>(Device::cpu).trunc_normal = cpu_trunc_normal; }
DLCORE_REGISTER(fill_cpu_init);

}  // namespace

void trunc_normal_fill(const View& out, double mean, double std_, double a, double b, uint64_t seed,
                       uint64_t counter) {
  DLCORE_CHECK(is_float(out.dtype), TypeError, "trunc_normal_: needs a float tensor, got ", dtype_name(out.dtype));
  DLCORE_CHECK(out.is_contiguous(), ValueError, "trunc_normal_: tensor (shape ", out.shape_string(),
               ") must be contiguous");
  DLCORE_CHECK(std_ > 0, ValueError, "trunc_normal_: std must be positive, got ", std_);
  DLCORE_CHECK(a < b, ValueError, "trunc_normal_: need a < b, got a=", a, ", b=", b);
  DLCORE_DISPATCH(InitTable, out.device, trunc_normal)(out, mean, std_, a, b, seed, counter);
}

}  // namespace dlcore
