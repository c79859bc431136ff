// CPU reductions (see reduce.h). Accumulation is in double for floating types (int64 for
// integers), which keeps float32 sums of millions of elements accurate.
#include "ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"
#include "core/shape.h"
#include "ops/elementwise.h"

namespace dlcore {
namespace {

template <class T> using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

struct Split {
  Shape kept_shape, red_shape;
  std::vector<int64_t> kept_x, kept_out, red_x;
};

Split split_axes(const View& x, const std::vector<int>& axes, const View& out) {
  Split s;
  for (int i = 0; i < x.ndim; ++i) {
    bool red = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (red) {
      s.red_shape.push_back(x.shape[i]);
      s.red_x.push_back(x.strides[i]);
    } else {
      s.kept_shape.push_back(x.shape[i]);
      s.kept_x.push_back(x.strides[i]);
      s.kept_out.push_back(out.strides[i]);
    }
  }
  return s;
}

// Contiguous run reduced with 8 independent accumulators (fixed order: deterministic).
template <class T> acc_t<T> sum_run(const T* p, int64_t n, int64_t stride) {
  using A = acc_t<T>;
  if (stride != 1) {
    A s = 0;
    for (int64_t j = 0; j < n; ++j) s += (A)p[j * stride];
    return s;
  }
  A a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) a[u] += (A)p[j + u];
  for (; j < n; ++j) a[0] += (A)p[j];
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

template <class T>
void reduce_typed(ReduceOp op, const View& x, const std::vector<int>& axes, const View& out,
                  double correction) {
  using A = acc_t<T>;
  Split s = split_axes(x, axes, out);
  const int64_t* kst[2] = {s.kept_out.data(), s.kept_x.data()};
  StridedLoop<2> kept(s.kept_shape, kst);
  const int64_t* rst[1] = {s.red_x.data()};
  StridedLoop<1> red(s.red_shape, rst);
  const int64_t nred = red.numel();
  const int64_t nout = kept.numel();
  const T* xp = x.ptr<T>();

  // Column-wise sum when the reduced axes are outer and the kept run is unit-stride in x and
  // out (e.g. the bias gradient: (N, C) summed over N). Same sequential order per output.
  bool colwise = (op == ReduceOp::sum || op == ReduceOp::mean) && red.ndim == 1 &&
                 kept.ndim == 1 && kept.strides[0][0] == 1 && kept.strides[1][0] == 1 &&
                 red.strides[0][0] != 1 && nred > 1;
  if (colwise) {
    T* o = out.ptr<T>();
    const int64_t rs = red.strides[0][0];
    parallel_for(0, nout, 256, [&](int64_t b, int64_t e) {
      std::vector<A> acc(e - b, A(0));
      for (int64_t r = 0; r < nred; ++r) {
        const T* row = xp + r * rs;
        for (int64_t j = b; j < e; ++j) acc[j - b] += (A)row[j];
      }
      for (int64_t j = b; j < e; ++j)
        o[j] = op == ReduceOp::mean ? (T)(acc[j - b] / (A)nred) : (T)acc[j - b];
    });
    return;
  }

  auto per_output = [&](const int64_t* off, int64_t n, const int64_t* inner) {
    for (int64_t j = 0; j < n; ++j) {
      const T* base = xp + off[1] + j * inner[1];
      int64_t oidx = off[0] + j * inner[0];
      switch (op) {
        case ReduceOp::sum:
        case ReduceOp::mean: {
          A sacc = 0;
          red.run(0, nred, [&](const int64_t* ro, int64_t m, const int64_t* ri) {
            sacc += sum_run(base + ro[0], m, ri[0]);
          });
          if (op == ReduceOp::mean) sacc = nred ? (A)(sacc / (A)nred) : (A)NAN;
          out.ptr<T>()[oidx] = (T)sacc;
          break;
        }
        case ReduceOp::prod: {
          A p = 1;
          red.run(0, nred, [&](const int64_t* ro, int64_t m, const int64_t* ri) {
            for (int64_t k = 0; k < m; ++k) p *= (A)base[ro[0] + k * ri[0]];
          });
          out.ptr<T>()[oidx] = (T)p;
          break;
        }
        case ReduceOp::max:
        case ReduceOp::min: {
          bool is_max = op == ReduceOp::max;
          T best = base[0];
          bool nan = false;
          red.run(0, nred, [&](const int64_t* ro, int64_t m, const int64_t* ri) {
            for (int64_t k = 0; k < m; ++k) {
              T v = base[ro[0] + k * ri[0]];
              if (v != v) nan = true;
              best = is_max ? (v > best ? v : best) : (v < best ? v : best);
            }
          });
          if constexpr (std::is_floating_point_v<T>) best = nan ? (T)NAN : best;
          out.ptr<T>()[oidx] = best;
          break;
        }
        case ReduceOp::argmax:
        case ReduceOp::argmin: {
          bool is_max = op == ReduceOp::argmax;
          T best = base[0];
          int64_t bi = 0, pos = 0;
          bool found_nan = best != best;
          red.run(0, nred, [&](const int64_t* ro, int64_t m, const int64_t* ri) {
            for (int64_t k = 0; k < m; ++k, ++pos) {
              if (found_nan) continue;
              T v = base[ro[0] + k * ri[0]];
              if (v != v) { found_nan = true; bi = pos; continue; }  // NaN wins, like PyTorch
              if (is_max ? v > best : v < best) { best = v; bi = pos; }
            }
          });
          out.ptr<int64_t>()[oidx] = bi;
          break;
        }
        case ReduceOp::var: {
          A sacc = 0;
          red.run(0, nred, [&](const int64_t* ro, int64_t m, const int64_t* ri) {
            sacc += sum_run(base + ro[0], m, ri[0]);
          });
          A mean = sacc / (A)nred, ss = 0;
          red.run(0, nred, [&](const int64_t* ro, int64_t m, const int64_t* ri) {
            for (int64_t k = 0; k < m; ++k) {
              A d = (A)base[ro[0] + k * ri[0]] - mean;
              ss += d * d;
            }
          });
          double denom = (double)nred - correction;
          out.ptr<T>()[oidx] = (T)(denom > 0 ? ss / denom : (A)NAN);
          break;
        }
        default: break;
      }
    }
  };
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(nred, 1));
  parallel_for(0, nout, grain, [&](int64_t b, int64_t e) { kept.run(b, e, per_output); });
}

void cpu_reduce(ReduceOp op, const View& x, const std::vector<int>& axes, const View& out,
                double correction) {
  switch (x.dtype) {
    case DType::f32: reduce_typed<float>(op, x, axes, out, correction); break;
    case DType::f64: reduce_typed<double>(op, x, axes, out, correction); break;
    case DType::i64:
      DLCORE_CHECK(op != ReduceOp::var && op != ReduceOp::mean, TypeError,
                   "reduce: mean/var need a float tensor, got int64");
      reduce_typed<int64_t>(op, x, axes, out, correction);
      break;
    default: throw TypeError(str("reduce: not defined for ", dtype_name(x.dtype), " tensors"));
  }
}

void fill_cpu_reduce() { dispatch_table<ReduceTable>(Device::cpu).reduce = cpu_reduce; }
DLCORE_REGISTER(fill_cpu_reduce);

const char* reduce_name(ReduceOp op) {
  static const char* n[] = {"sum", "mean", "prod", "max", "min", "var", "argmax", "argmin"};
  return (int)op >= 0 && op < ReduceOp::kCount ? n[(int)op] : "reduce";
}

}  // namespace

std::vector<int> normalize_axes(const std::vector<int64_t>& axes, int ndim, const char* op,
                                const Shape& shape) {
  std::vector<int> out;
  for (int64_t a : axes) {
    int n = normalize_axis(a, ndim, op, shape);
    if (ndim == 0) continue;  // dim 0 / -1 of a 0-d tensor is accepted (as in PyTorch): no axis
    DLCORE_CHECK(std::find(out.begin(), out.end(), n) == out.end(), ValueError, op, ": axis ", a,
                 " appears twice in the axes of a tensor of shape ", shape_str(shape));
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Shape reduce_out_shape(const View& x, const std::vector<int>& axes) {
  Shape s = x.shape_vec();
  for (int a : axes) s[a] = 1;
  return s;
}

void reduce(ReduceOp op, const View& x, const std::vector<int>& axes, const View& out,
            double correction) {
  const char* name = reduce_name(op);
  DLCORE_CHECK((int)op >= 0 && op < ReduceOp::kCount, ValueError, "reduce: unknown op code ", (int)op);
  DLCORE_CHECK(x.device == out.device, ValueError, name, ": input and output on different devices");
  DLCORE_CHECK(x.dtype != DType::b8, TypeError, name, ": not defined for bool tensors (argument 'x' of shape ",
               x.shape_string(), ")");
  DLCORE_CHECK(is_float(x.dtype) || (op != ReduceOp::mean && op != ReduceOp::var), TypeError, name,
               ": argument 'x' must be a float32 or float64 tensor, got ", dtype_name(x.dtype),
               " of shape ", x.shape_string());
  Shape want = reduce_out_shape(x, axes);
  DLCORE_CHECK(out.shape_vec() == want, ValueError, name, ": output has shape ",
               out.shape_string(), ", expected ", shape_str(want));
  bool is_arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  DType od = is_arg ? DType::i64 : x.dtype;
  DLCORE_CHECK(out.dtype == od, TypeError, name, ": output dtype ", dtype_name(out.dtype),
               ", expected ", dtype_name(od));
  bool empty = false;
  for (int a : axes) empty |= x.shape[a] == 0;
  if (x.numel() == 0 && !empty) return;  // nothing to compute
  DLCORE_CHECK(!empty || op == ReduceOp::sum || op == ReduceOp::prod || op == ReduceOp::mean,
               ValueError, name, ": cannot reduce over an empty axis of a tensor of shape ",
               x.shape_string());
  if (empty) {
    double v = op == ReduceOp::prod ? 1.0 : (op == ReduceOp::mean ? NAN : 0.0);
    fill(out, v);
    return;
  }
  DLCORE_DISPATCH(ReduceTable, x.device, reduce)(op, x, axes, out, correction);
}

}  // namespace dlcore
