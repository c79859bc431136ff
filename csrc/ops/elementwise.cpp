// CPU kernels of the elementwise family (see elementwise.h for the contract).
// Every kernel walks the broadcast index space with StridedLoop, in parallel over contiguous
// chunks of OUTPUT elements; the innermost run has a unit-stride fast path that the compiler
// vectorises.
#include "ops/elementwise.h"

#include "core/parallel.h"
#include "core/shape.h"

namespace dlcore {
namespace {

constexpr int64_t kGrain = 16384;

template <class F> void dispatch_dtype(DType d, const char* op, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i64: f(int64_t{}); break;
    case DType::b8: f(bool{}); break;
  }
  (void)op;
}

template <class T> void unary_typed(UnaryOp op, const View& x, const View& out, double p0, double p1) {
  Shape shape = out.shape_vec();
  int64_t sx[kMaxDims], so[kMaxDims];
  broadcast_strides(x, shape, sx);
  broadcast_strides(out, shape, so);
  const int64_t* st[2] = {so, sx};
  StridedLoop<2> loop(shape, st);
  const T* xp = x.ptr<T>();
  parallel_for(0, loop.numel(), kGrain, [&](int64_t b, int64_t e) {
    loop.run(b, e, [&](const int64_t* off, int64_t n, const int64_t* inner) {
      const T* xi = xp + off[1];
      if (unary_outputs_bool(op)) {
        bool* o = out.ptr<bool>() + off[0];
        for (int64_t j = 0; j < n; ++j) o[j * inner[0]] = unary_bool_apply(op, xi[j * inner[1]]);
        return;
      }
      T* o = out.ptr<T>() + off[0];
      if (inner[0] == 1 && inner[1] == 1) {
        switch (op) {  // the hot ones get a branch-free loop the compiler can vectorise
          case UnaryOp::neg: for (int64_t j = 0; j < n; ++j) o[j] = -xi[j]; return;
          case UnaryOp::square: for (int64_t j = 0; j < n; ++j) o[j] = xi[j] * xi[j]; return;
          case UnaryOp::mul_scalar: {
            T a = (T)p0, c = (T)p1;
            for (int64_t j = 0; j < n; ++j) o[j] = xi[j] * a + c;
            return;
          }
          default:
            for (int64_t j = 0; j < n; ++j) o[j] = unary_apply<T>(op, xi[j], p0, p1);
            return;
        }
      }
      for (int64_t j = 0; j < n; ++j) o[j * inner[0]] = unary_apply<T>(op, xi[j * inner[1]], p0, p1);
    });
  });
}

template <class T, class F>
void binary_loop(const View& a, const View& b, const View& out, F&& f) {
  Shape shape = out.shape_vec();
  int64_t sa[kMaxDims], sb[kMaxDims], so[kMaxDims];
  broadcast_strides(a, shape, sa);
  broadcast_strides(b, shape, sb);
  broadcast_strides(out, shape, so);
  const int64_t* st[3] = {so, sa, sb};
  StridedLoop<3> loop(shape, st);
  parallel_for(0, loop.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    loop.run(lo, hi, [&](const int64_t* off, int64_t n, const int64_t* inner) {
      f(off, n, inner);
    });
  });
}

template <class T, class Op>
inline void run_binary(T* o, const T* x, const T* y, int64_t n, const int64_t* in, Op op) {
  if (in[0] == 1 && in[1] == 1 && in[2] == 1) {
    for (int64_t j = 0; j < n; ++j) o[j] = op(x[j], y[j]);
  } else if (in[0] == 1 && in[1] == 1 && in[2] == 0) {
    T v = y[0];
    for (int64_t j = 0; j < n; ++j) o[j] = op(x[j], v);
  } else if (in[0] == 1 && in[1] == 0 && in[2] == 1) {
    T v = x[0];
    for (int64_t j = 0; j < n; ++j) o[j] = op(v, y[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) o[j * in[0]] = op(x[j * in[1]], y[j * in[2]]);
  }
}

template <class T> void binary_typed(BinaryOp op, const View& a, const View& b, const View& out) {
  const T* ap = a.ptr<T>();
  const T* bp = b.ptr<T>();
  if (binary_outputs_bool(op)) {
    binary_loop<T>(a, b, out, [&](const int64_t* off, int64_t n, const int64_t* in) {
      bool* o = out.ptr<bool>() + off[0];
      const T* x = ap + off[1];
      const T* y = bp + off[2];
      for (int64_t j = 0; j < n; ++j) o[j * in[0]] = compare_apply<T>(op, x[j * in[1]], y[j * in[2]]);
    });
    return;
  }
  binary_loop<T>(a, b, out, [&](const int64_t* off, int64_t n, const int64_t* in) {
    T* o = out.ptr<T>() + off[0];
    const T* x = ap + off[1];
    const T* y = bp + off[2];
    switch (op) {
      case BinaryOp::add: run_binary(o, x, y, n, in, [](T u, T v) { return u + v; }); break;
      case BinaryOp::sub: run_binary(o, x, y, n, in, [](T u, T v) { return u - v; }); break;
      case BinaryOp::mul: run_binary(o, x, y, n, in, [](T u, T v) { return u * v; }); break;
      case BinaryOp::div: run_binary(o, x, y, n, in, [](T u, T v) { return div_value(u, v); }); break;
      default: run_binary(o, x, y, n, in, [op](T u, T v) { return binary_apply<T>(op, u, v); });
    }
  });
}

void cpu_unary(UnaryOp op, const View& x, const View& out, double p0, double p1) {
  dispatch_dtype(x.dtype, "unary", [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, bool>) {
      // bool inputs: only the predicates are defined (checked by the front door)
      Shape shape = out.shape_vec();
      int64_t sx[kMaxDims], so[kMaxDims];
      broadcast_strides(x, shape, sx);
      broadcast_strides(out, shape, so);
      const int64_t* st[2] = {so, sx};
      StridedLoop<2> loop(shape, st);
      loop.run(0, loop.numel(), [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j)
          out.ptr<bool>()[off[0] + j * in[0]] = op == UnaryOp::logical_not
                                                    ? !x.ptr<bool>()[off[1] + j * in[1]]
                                                    : false;
      });
    } else {
      unary_typed<T>(op, x, out, p0, p1);
    }
  });
}

void cpu_binary(BinaryOp op, const View& a, const View& b, const View& out) {
  dispatch_dtype(a.dtype, "binary", [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, bool>) {
      const bool* ap = a.ptr<bool>();
      const bool* bp = b.ptr<bool>();
      binary_loop<bool>(a, b, out, [&](const int64_t* off, int64_t n, const int64_t* in) {
        bool* o = out.ptr<bool>() + off[0];
        for (int64_t j = 0; j < n; ++j)
          o[j * in[0]] = compare_apply<int>(op, ap[off[1] + j * in[1]], bp[off[2] + j * in[2]]);
      });
    } else {
      binary_typed<T>(op, a, b, out);
    }
  });
}

void cpu_where(const View& cond, const View& a, const View& b, const View& out) {
  Shape shape = out.shape_vec();
  int64_t sc[kMaxDims], sa[kMaxDims], sb[kMaxDims], so[kMaxDims];
  broadcast_strides(cond, shape, sc);
  broadcast_strides(a, shape, sa);
  broadcast_strides(b, shape, sb);
  broadcast_strides(out, shape, so);
  const int64_t* st[4] = {so, sc, sa, sb};
  StridedLoop<4> loop(shape, st);
  dispatch_dtype(out.dtype, "where", [&](auto t) {
    using T = decltype(t);
    const bool* c = cond.ptr<bool>();
    const T* x = a.ptr<T>();
    const T* y = b.ptr<T>();
    T* o = out.ptr<T>();
    parallel_for(0, loop.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      loop.run(lo, hi, [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j)
          o[off[0] + j * in[0]] = c[off[1] + j * in[1]] ? x[off[2] + j * in[2]] : y[off[3] + j * in[3]];
      });
    });
  });
}

void cpu_copy(const View& src, const View& out) {
  Shape shape = out.shape_vec();
  int64_t ss[kMaxDims], so[kMaxDims];
  broadcast_strides(src, shape, ss);
  broadcast_strides(out, shape, so);
  const int64_t* st[2] = {so, ss};
  StridedLoop<2> loop(shape, st);
  dispatch_dtype(src.dtype, "copy", [&](auto ts) {
    using S = decltype(ts);
    dispatch_dtype(out.dtype, "copy", [&](auto td) {
      using D = decltype(td);
      const S* s = src.ptr<S>();
      D* o = out.ptr<D>();
      parallel_for(0, loop.numel(), kGrain * 4, [&](int64_t lo, int64_t hi) {
        loop.run(lo, hi, [&](const int64_t* off, int64_t n, const int64_t* in) {
          D* oo = o + off[0];
          const S* si = s + off[1];
          if (in[0] == 1 && in[1] == 1) {
            for (int64_t j = 0; j < n; ++j) oo[j] = static_cast<D>(si[j]);
          } else {
            for (int64_t j = 0; j < n; ++j) oo[j * in[0]] = static_cast<D>(si[j * in[1]]);
          }
        });
      });
    });
  });
}

void cpu_fill(const View& out, double value) {
  View src = out;
  src.ndim = 0;
  dispatch_dtype(out.dtype, "fill", [&](auto t) {
    using T = decltype(t);
    T v = static_cast<T>(value);
    src.data = &v;
    cpu_copy(src, out);
  });
}

void fill_cpu_elementwise() {
  auto& t = dispatch_table<ElementwiseTable>(Device::cpu);
  t.unary = cpu_unary;
  t.binary = cpu_binary;
  t.where = cpu_where;
  t.copy = cpu_copy;
  t.fill = cpu_fill;
}
DLCORE_REGISTER(fill_cpu_elementwise);

void check_same_device(const char* op, const View& a, const View& b) {
  DLCORE_CHECK(a.device == b.device, ValueError, op, ": tensors are on different devices (",
               device_name(a.device), " and ", device_name(b.device), ")");
}

void check_out_shape(const char* op, const Shape& want, const View& out) {
  DLCORE_CHECK(out.shape_vec() == want, ValueError, op, ": output has shape ", out.shape_string(),
               " but the result has shape ", shape_str(want));
}

}  // namespace

void unary(UnaryOp op, const View& x, const View& out, double p0, double p1) {
  DLCORE_CHECK((int)op >= 0 && op < UnaryOp::kCount, ValueError, "unary: unknown op code ", (int)op);
  const char* name = unary_name(op);
  check_same_device(name, x, out);
  DLCORE_CHECK(!unary_needs_float(op) || is_float(x.dtype), TypeError, name,
               ": argument 'x' must be a float32 or float64 tensor, got ", dtype_name(x.dtype),
               " of shape ", x.shape_string());
  DLCORE_CHECK(x.dtype != DType::b8 || op == UnaryOp::logical_not || unary_outputs_bool(op),
               TypeError, name, ": not defined for bool tensors (argument 'x' of shape ",
               x.shape_string(), ")");
  DType want = unary_outputs_bool(op) ? DType::b8 : x.dtype;
  DLCORE_CHECK(out.dtype == want, TypeError, name, ": output dtype ", dtype_name(out.dtype),
               ", expected ", dtype_name(want));
  check_out_shape(name, x.shape_vec(), out);
  DLCORE_DISPATCH(ElementwiseTable, x.device, unary)(op, x, out, p0, p1);
}

void binary(BinaryOp op, const View& a, const View& b, const View& out) {
  DLCORE_CHECK((int)op >= 0 && op < BinaryOp::kCount, ValueError, "binary: unknown op code ", (int)op);
  const char* name = binary_name(op);
  check_same_device(name, a, b);
  check_same_device(name, a, out);
  DLCORE_CHECK(a.dtype == b.dtype, TypeError, name, ": operands 'a' ", a.shape_string(), " and 'b' ",
               b.shape_string(), " have different dtypes (", dtype_name(a.dtype), " and ",
               dtype_name(b.dtype), ")");
  DLCORE_CHECK(a.dtype != DType::b8 || binary_outputs_bool(op), TypeError, name,
               ": arithmetic is not defined for bool tensors (shapes ", a.shape_string(), " and ",
               b.shape_string(), ")");
  DType want = binary_outputs_bool(op) ? DType::b8 : a.dtype;
  DLCORE_CHECK(out.dtype == want, TypeError, name, ": output dtype ", dtype_name(out.dtype),
               ", expected ", dtype_name(want));
  check_out_shape(name, broadcast_shapes(a.shape_vec(), b.shape_vec(), name), out);
  DLCORE_DISPATCH(ElementwiseTable, a.device, binary)(op, a, b, out);
}

void where(const View& cond, const View& a, const View& b, const View& out) {
  check_same_device("where", cond, a);
  check_same_device("where", a, b);
  check_same_device("where", a, out);
  DLCORE_CHECK(cond.dtype == DType::b8, TypeError, "where: 'condition' must be bool, got ",
               dtype_name(cond.dtype));
  DLCORE_CHECK(a.dtype == b.dtype && a.dtype == out.dtype, TypeError,
               "where: 'input' and 'other' have different dtypes (", dtype_name(a.dtype), " and ",
               dtype_name(b.dtype), ")");
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape_vec(), a.shape_vec(), "where"),
                             b.shape_vec(), "where");
  check_out_shape("where", s, out);
  DLCORE_DISPATCH(ElementwiseTable, a.device, where)(cond, a, b, out);
}

void copy(const View& src, const View& out) {
  check_same_device("copy", src, out);
  Shape s = broadcast_shapes(src.shape_vec(), out.shape_vec(), "copy");
  check_out_shape("copy", s, out);
  DLCORE_DISPATCH(ElementwiseTable, out.device, copy)(src, out);
}

void fill(const View& out, double value) {
  DLCORE_DISPATCH(ElementwiseTable, out.device, fill)(out, value);
}

}  // namespace dlcore
