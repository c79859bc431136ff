// CPU kernels of the initializer family (contract in init.h).
#include "ops/init.h"

#include <cmath>
#include <vector>

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

void orthogonalize(const View& a) {
  DLCORE_CHECK(a.device == Device::cpu && a.dtype == DType::f64 && a.ndim == 2 && a.is_contiguous(), ValueError,
               "orthogonalize: needs a contiguous float64 (m, n) matrix on the CPU, got shape ", a.shape_string());
  const int64_t m = a.shape[0], n = a.shape[1];
  DLCORE_CHECK(m >= n, ValueError, "orthogonalize: needs rows >= columns, got shape ", a.shape_string());
  double* A = a.ptr<double>();
  // Householder: for column k, v_k reflects A[k:, k] onto -sign(a_kk) |a| e_k; R's diagonal is
  // that value. Vectors are kept in a separate buffer, then Q = H_0 ... H_{n-1} [I; 0].
  std::vector<double> V((size_t)(m * n), 0.0), rdiag((size_t)n);
  for (int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += A[i * n + k] * A[i * n + k];
    norm = std::sqrt(norm);
    double akk = A[k * n + k];
    double alpha = akk > 0 ? -norm : norm;
    rdiag[(size_t)k] = alpha;
    double* v = &V[(size_t)(k * m)];
    for (int64_t i = k; i < m; ++i) v[i] = A[i * n + k];
    v[k] -= alpha;
    double vv = 0;
    for (int64_t i = k; i < m; ++i) vv += v[i] * v[i];
    if (vv == 0) continue;  // the column is already zero below the diagonal
    for (int64_t j = k; j < n; ++j) {  // A[k:, j] -= 2 v (v . A[k:, j]) / (v . v)
      double d = 0;
      for (int64_t i = k; i < m; ++i) d += v[i] * A[i * n + j];
      double f = 2 * d / vv;
      for (int64_t i = k; i < m; ++i) A[i * n + j] -= f * v[i];
    }
  }
  // Q's first n columns: apply the reflections in reverse order to [I; 0].
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) A[i * n + j] = i == j ? 1.0 : 0.0;
  for (int64_t k = n - 1; k >= 0; --k) {
    const double* v = &V[(size_t)(k * m)];
    double vv = 0;
    for (int64_t i = k; i < m; ++i) vv += v[i] * v[i];
    if (vv == 0) continue;
    for (int64_t j = 0; j < n; ++j) {
      double d = 0;
      for (int64_t i = k; i < m; ++i) d += v[i] * A[i * n + j];
      double f = 2 * d / vv;
      for (int64_t i = k; i < m; ++i) A[i * n + j] -= f * v[i];
    }
  }
  // Sign: make R's diagonal positive (column j of Q times sign(R_jj)).
  for (int64_t j = 0; j < n; ++j)
    if (rdiag[(size_t)j] < 0)
      for (int64_t i = 0; i < m; ++i) A[i * n + j] = -A[i * n + j];
}

}  // namespace dlcore
