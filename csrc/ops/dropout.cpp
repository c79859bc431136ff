// CPU kernels of the dropout family (contract in dropout.h) and its checked front doors.
// Phase 1 draws the mask, parallel over Philox blocks (4 mask elements per block); phase 2
// applies it, parallel over mask elements. Both are pure functions of the element index, so
// the result is identical for any thread count. The loops themselves are per ISA
// (ops/dropout_loops.h, chosen through dropout_kernels()).
#include "ops/dropout.h"

#include <algorithm>

#include "core/parallel.h"
#include "ops/dropout_isa.h"
#include "ops/dropout_math.h"

namespace dlcore {

const DropoutKernels& dropout_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(dropout_generic_set, &dropout_avx2_set, &dropout_avx512_set);
#else
  return dropout_generic_set;
#endif
}

namespace {

void draw_mask(const View& mask, double p, uint64_t seed, uint64_t counter) {
  bool* mk = mask.ptr<bool>();
  const int64_t nm = mask.numel(), nb = dropout_blocks(nm);
  const auto draw = dropout_kernels().f32.draw;
  parallel_for(0, nb, 2048, [&](int64_t b0, int64_t b1) { draw(seed, counter, p, b0, b1, nm, mk); });
}

template <class T>
void apply_mask(const T* in, const bool* mk, int64_t nm, int64_t inner, T k, T c_keep, T c_drop,
                T* out) {
  const auto apply = dropout_kernels().get<T>().apply;
  parallel_for(0, nm, std::max<int64_t>(1, 16384 / inner), [=](int64_t m0, int64_t m1) {
    apply(in, mk, m0, m1, inner, k, c_keep, c_drop, out);
  });
}

void cpu_forward(DropoutKind kind, const View& x, double p, uint64_t seed, uint64_t counter,
                 int64_t inner, const View& y, const View& mask) {
  draw_mask(mask, p, seed, counter);
  double k = dropout_scale(p), c_keep = 0, c_drop = 0;
  if (kind == DropoutKind::alpha && p < 1.0) {
    AlphaDropoutConsts ac = alpha_dropout_consts(p);
    k = ac.a;
    c_keep = ac.b;
    c_drop = ac.dropped;
  }
  auto run = [&](auto tag) {
    using T = decltype(tag);
    apply_mask<T>(x.ptr<T>(), mask.ptr<bool>(), mask.numel(), inner, (T)k, (T)c_keep, (T)c_drop,
                  y.ptr<T>());
  };
  if (x.dtype == DType::f32) run(float{});
  else run(double{});
}

// Differentiates y = x * (keep ? k : 0) + c of cpu_forward: dx = dy * (keep ? k : 0).
void cpu_backward(const View& dy, const View& mask, int64_t inner, double scale, const View& dx) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    apply_mask<T>(dy.ptr<T>(), mask.ptr<bool>(), mask.numel(), inner, (T)scale, (T)0, (T)0,
                  dx.ptr<T>());
  };
  if (dy.dtype == DType::f32) run(float{});
  else run(double{});
}

void fill_cpu_dropout() {
  auto& t = dispatch_table<DropoutTable>(Device::cpu);
  t.forward = cpu_forward;
  t.backward = cpu_backward;
}
DLCORE_REGISTER(fill_cpu_dropout);

void check_pair(const char* op, const char* arg, const View& v, const View& x) {
  DLCORE_CHECK(v.device == x.device, ValueError, op, ": '", arg, "' is on ", device_name(v.device),
               " but the input is on ", device_name(x.device));
  DLCORE_CHECK(v.dtype == x.dtype, TypeError, op, ": '", arg, "' has dtype ", dtype_name(v.dtype),
               " but the input has dtype ", dtype_name(x.dtype));
  DLCORE_CHECK(v.shape_vec() == x.shape_vec(), ValueError, op, ": '", arg, "' has shape ",
               v.shape_string(), " but the input has shape ", x.shape_string());
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": '", arg, "' (shape ", v.shape_string(),
               ") must be contiguous");
}

void check_mask(const char* op, const View& x, const View& mask, int64_t inner) {
  DLCORE_CHECK(is_float(x.dtype), TypeError, op, ": input must be float32 or float64, got ",
               dtype_name(x.dtype));
  DLCORE_CHECK(x.is_contiguous(), ValueError, op, ": input (shape ", x.shape_string(),
               ") must be contiguous");
  DLCORE_CHECK(mask.dtype == DType::b8 && mask.device == x.device && mask.is_contiguous(),
               TypeError, op, ": 'mask' must be a contiguous bool array on the input's device");
  DLCORE_CHECK(inner >= 1 && x.numel() % inner == 0 && mask.numel() * inner == x.numel(),
               ValueError, op, ": mask of shape ", mask.shape_string(), " with inner size ", inner,
               " does not cover input of shape ", x.shape_string());
}

}  // namespace

int64_t dropout_blocks(int64_t n_mask) { return (n_mask + 3) / 4; }

double dropout_grad_scale(DropoutKind kind, double p) {
  if (p >= 1.0) return 0.0;
  return kind == DropoutKind::alpha ? alpha_dropout_consts(p).a : dropout_scale(p);
}

void dropout_forward(DropoutKind kind, const View& x, double p, uint64_t seed, uint64_t counter,
                     int64_t inner, const View& y, const View& mask) {
  const char* op = kind == DropoutKind::alpha ? "alpha_dropout" : "dropout";
  DLCORE_CHECK(p >= 0.0 && p <= 1.0, ValueError, op,
               ": dropout probability has to be between 0 and 1, but got ", p);
  check_mask(op, x, mask, inner);
  check_pair(op, "out", y, x);
  if (x.numel() == 0) return;
  DLCORE_DISPATCH(DropoutTable, x.device, forward)(kind, x, p, seed, counter, inner, y, mask);
}

void dropout_backward(const View& dy, const View& mask, int64_t inner, double scale, const View& dx) {
  const char* op = "dropout_backward";
  check_mask(op, dy, mask, inner);
  check_pair(op, "grad_input", dx, dy);
  if (dy.numel() == 0) return;
  DLCORE_DISPATCH(DropoutTable, dy.device, backward)(dy, mask, inner, scale, dx);
}

}  // namespace dlcore
