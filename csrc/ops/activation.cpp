// CPU kernels and front doors of the activation family (see activation.h for the shapes).
// The elementwise / softmax loops come from the ISA-specific set (actloss_kernels(), compiled
// from ops/activation_loops.h); threading is here: parallel over elements, softmax over outer
// slices, PReLU's weight gradient over channels, maxout over output elements.
#include "ops/activation.h"

#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "core/shape.h"
#include "ops/actloss_isa.h"

namespace dlcore {

const ActLossKernels& actloss_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(actloss_generic_set, &actloss_avx2_set, &actloss_avx512_set);
#else
  return actloss_generic_set;
#endif
}

namespace {

constexpr int64_t kGrain = 32768;

template <class F> void float_dispatch(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

void cpu_act_forward(ActOp op, const View& x, const View& y, double p0, double p1) {
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    auto fn = actloss_kernels().get<T>().act_fwd;
    const T* xp = x.ptr<T>();
    T* yp = y.ptr<T>();
    parallel_for(0, x.numel(), kGrain, [&](int64_t b, int64_t e) {
      fn(op, xp + b, yp + b, e - b, (T)p0, (T)p1);
    });
  });
}

void cpu_act_backward(ActOp op, const View& g, const View& s, const View& gx, double p0, double p1) {
  float_dispatch(g.dtype, [&](auto t) {
    using T = decltype(t);
    auto fn = actloss_kernels().get<T>().act_bwd;
    const T* gp = g.ptr<T>();
    const T* sp = s.ptr<T>();
    T* op_ = gx.ptr<T>();
    parallel_for(0, g.numel(), kGrain, [&](int64_t b, int64_t e) {
      fn(op, gp + b, sp + b, op_ + b, e - b, (T)p0, (T)p1);
    });
  });
}

int64_t slice_grain(int64_t work_per_slice) {
  return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, work_per_slice));
}

void cpu_softmax_forward(const View& x, const View& y, int axis, bool log) {
  int64_t outer, D, inner;
  split_axis(x, axis, outer, D, inner);
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    auto fn = actloss_kernels().get<T>().softmax_fwd;
    parallel_for(0, outer, slice_grain(D * inner), [&](int64_t b, int64_t e) {
      fn(x.ptr<T>(), y.ptr<T>(), b, e, D, inner, log);
    });
  });
}

void cpu_softmax_backward(const View& g, const View& y, const View& gx, int axis, bool log) {
  int64_t outer, D, inner;
  split_axis(y, axis, outer, D, inner);
  float_dispatch(y.dtype, [&](auto t) {
    using T = decltype(t);
    auto fn = actloss_kernels().get<T>().softmax_bwd;
    parallel_for(0, outer, slice_grain(D * inner), [&](int64_t b, int64_t e) {
      fn(g.ptr<T>(), y.ptr<T>(), gx.ptr<T>(), b, e, D, inner, log);
    });
  });
}

// PReLU: x as (outer, C, inner); C == 1 when the weight is shared.
void prelu_layout(const View& x, const View& w, int64_t& outer, int64_t& C, int64_t& inner) {
  C = w.numel();
  if (C == 1) { outer = 1; inner = x.numel(); return; }
  int ax = x.ndim >= 2 ? 1 : 0;
  split_axis(x, ax, outer, C, inner);
}

void cpu_prelu_forward(const View& x, const View& w, const View& y) {
  int64_t outer, C, inner;
  prelu_layout(x, w, outer, C, inner);
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xp = x.ptr<T>();
    const T* wp = w.ptr<T>();
    T* yp = y.ptr<T>();
    parallel_for(0, outer * C, slice_grain(inner), [&](int64_t b, int64_t e) {
      for (int64_t oc = b; oc < e; ++oc) {
        T a = wp[oc % C];
        const T* __restrict xr = xp + oc * inner;
        T* __restrict yr = yp + oc * inner;
        for (int64_t i = 0; i < inner; ++i) yr[i] = xr[i] > T(0) ? xr[i] : a * xr[i];
      }
    });
  });
}

// Backward of y = x > 0 ? x : w_c x.
void cpu_prelu_backward(const View& g, const View& x, const View& w, const View& gx, const View& gw) {
  int64_t outer, C, inner;
  prelu_layout(x, w, outer, C, inner);
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xp = x.ptr<T>();
    const T* gp = g.ptr<T>();
    const T* wp = w.ptr<T>();
    if (gx.data) {
      T* gxp = gx.ptr<T>();
      parallel_for(0, outer * C, slice_grain(inner), [&](int64_t b, int64_t e) {
        for (int64_t oc = b; oc < e; ++oc) {
          T a = wp[oc % C];
          const T* __restrict xr = xp + oc * inner;
          const T* __restrict gr = gp + oc * inner;
          T* __restrict o = gxp + oc * inner;
          for (int64_t i = 0; i < inner; ++i) o[i] = xr[i] > T(0) ? gr[i] : a * gr[i];
        }
      });
    }
    if (gw.data) {  // one output per channel: reduce over (outer, inner) in a fixed order
      T* gwp = gw.ptr<T>();
      parallel_for(0, C, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          T acc[16] = {};
          T tail = 0;
          for (int64_t o = 0; o < outer; ++o) {
            const T* __restrict xr = xp + (o * C + c) * inner;
            const T* __restrict gr = gp + (o * C + c) * inner;
            int64_t i = 0;
            for (; i + 16 <= inner; i += 16)
              for (int l = 0; l < 16; ++l)
                acc[l] += xr[i + l] > T(0) ? T(0) : xr[i + l] * gr[i + l];
            for (; i < inner; ++i) tail += xr[i] > T(0) ? T(0) : xr[i] * gr[i];
          }
          T s = 0;
          for (int l = 0; l < 16; ++l) s += acc[l];
          gwp[c] = s + tail;
        }
      });
    }
  });
}

void cpu_maxout_forward(const View& x, int axis, int64_t pieces, const View& y, const View& idx) {
  int64_t outer, C, inner;
  split_axis(x, axis, outer, C, inner);
  int64_t Co = C / pieces;
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xp = x.ptr<T>();
    T* yp = y.ptr<T>();
    int64_t* ip = idx.ptr<int64_t>();
    parallel_for(0, outer * Co, slice_grain(inner * pieces), [&](int64_t b, int64_t e) {
      for (int64_t oc = b; oc < e; ++oc) {
        int64_t o = oc / Co, c = oc % Co;
        const T* xs = xp + (o * C + c * pieces) * inner;
        T* __restrict yr = yp + oc * inner;
        int64_t* __restrict ir = ip + oc * inner;
        for (int64_t i = 0; i < inner; ++i) { yr[i] = xs[i]; ir[i] = 0; }
        for (int64_t k = 1; k < pieces; ++k) {
          const T* __restrict xr = xs + k * inner;
          for (int64_t i = 0; i < inner; ++i) {
            bool take = (xr[i] > yr[i] || xr[i] != xr[i]) && yr[i] == yr[i];
            yr[i] = take ? xr[i] : yr[i];
            ir[i] = take ? k : ir[i];
          }
        }
      }
    });
  });
}

// Backward of the max above: the gradient goes to the chosen piece only.
void cpu_maxout_backward(const View& g, const View& idx, int axis, int64_t pieces, const View& gx) {
  int64_t outer, C, inner;
  split_axis(gx, axis, outer, C, inner);
  int64_t Co = C / pieces;
  float_dispatch(g.dtype, [&](auto t) {
    using T = decltype(t);
    const T* gp = g.ptr<T>();
    const int64_t* ip = idx.ptr<int64_t>();
    T* gxp = gx.ptr<T>();
    parallel_for(0, outer * Co, slice_grain(inner * pieces), [&](int64_t b, int64_t e) {
      for (int64_t oc = b; oc < e; ++oc) {
        int64_t o = oc / Co, c = oc % Co;
        T* xs = gxp + (o * C + c * pieces) * inner;
        const T* gr = gp + oc * inner;
        const int64_t* ir = ip + oc * inner;
        for (int64_t k = 0; k < pieces; ++k) {
          T* __restrict xr = xs + k * inner;
          for (int64_t i = 0; i < inner; ++i) xr[i] = ir[i] == k ? gr[i] : T(0);
        }
      }
    });
  });
}

void fill_cpu_activation() {
  auto& t = dispatch_table<ActivationTable>(Device::cpu);
  t.act_forward = cpu_act_forward;
  t.act_backward = cpu_act_backward;
  t.softmax_forward = cpu_softmax_forward;
  t.softmax_backward = cpu_softmax_backward;
  t.prelu_forward = cpu_prelu_forward;
  t.prelu_backward = cpu_prelu_backward;
  t.maxout_forward = cpu_maxout_forward;
  t.maxout_backward = cpu_maxout_backward;
}
DLCORE_REGISTER(fill_cpu_activation);

// ---- checks ---------------------------------------------------------------------------------

void check_float(const char* op, const char* arg, const View& v) {
  DLCORE_CHECK(is_float(v.dtype), TypeError, op, ": argument '", arg,
               "' must be float32 or float64, got ", dtype_name(v.dtype));
}
void check_contig(const char* op, const char* arg, const View& v) {
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": argument '", arg, "' (shape ",
               v.shape_string(), ") must be contiguous");
}
void check_like(const char* op, const char* arg, const View& v, const View& ref, const char* refname) {
  DLCORE_CHECK(v.shape_vec() == ref.shape_vec(), ValueError, op, ": argument '", arg, "' has shape ",
               v.shape_string(), " but '", refname, "' has shape ", ref.shape_string());
  DLCORE_CHECK(v.dtype == ref.dtype, TypeError, op, ": argument '", arg, "' has dtype ",
               dtype_name(v.dtype), " but '", refname, "' has dtype ", dtype_name(ref.dtype));
  DLCORE_CHECK(v.device == ref.device, ValueError, op, ": argument '", arg, "' is on ",
               device_name(v.device), " but '", refname, "' is on ", device_name(ref.device));
  check_contig(op, arg, v);
}
void check_input(const char* op, const char* arg, const View& v) {
  check_float(op, arg, v);
  check_contig(op, arg, v);
}
void check_op(ActOp op, double p0, double p1) {
  DLCORE_CHECK((int)op >= 0 && op < ActOp::kCount, ValueError, "activation: unknown op code ", (int)op);
  if (op == ActOp::celu) DLCORE_CHECK(p0 != 0, ValueError, "celu: alpha must not be 0");
  if (op == ActOp::softplus) DLCORE_CHECK(p0 != 0, ValueError, "softplus: beta must not be 0");
  if (op == ActOp::hard_tanh)
    DLCORE_CHECK(p0 <= p1, ValueError, "hardtanh: min_val (", p0, ") must not exceed max_val (", p1, ")");
}

}  // namespace

void act_forward(ActOp op, const View& x, const View& y, double p0, double p1) {
  check_op(op, p0, p1);
  check_input("activation", "x", x);
  check_like("activation", "out", y, x, "x");
  DLCORE_DISPATCH(ActivationTable, x.device, act_forward)(op, x, y, p0, p1);
}

void act_backward(ActOp op, const View& g, const View& s, const View& gx, double p0, double p1) {
  check_op(op, p0, p1);
  check_input("activation_backward", "grad", g);
  check_like("activation_backward", "saved", s, g, "grad");
  check_like("activation_backward", "out", gx, g, "grad");
  DLCORE_DISPATCH(ActivationTable, g.device, act_backward)(op, g, s, gx, p0, p1);
}

void softmax_forward(const View& x, const View& y, int64_t axis, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_input(op, "input", x);
  check_like(op, "out", y, x, "input");
  int ax = x.ndim ? normalize_axis(axis, x.ndim, op, x.shape_vec()) : 0;
  DLCORE_CHECK(x.ndim || axis == 0 || axis == -1, IndexError, op, ": axis ", axis,
               " is out of range for a 0-d tensor");
  DLCORE_DISPATCH(ActivationTable, x.device, softmax_forward)(x, y, ax, log);
}

void softmax_backward(const View& g, const View& y, const View& gx, int64_t axis, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_input(op, "grad", g);
  check_like(op, "output", y, g, "grad");
  check_like(op, "out", gx, g, "grad");
  int ax = y.ndim ? normalize_axis(axis, y.ndim, op, y.shape_vec()) : 0;
  DLCORE_DISPATCH(ActivationTable, g.device, softmax_backward)(g, y, gx, ax, log);
}

static void check_prelu(const char* op, const View& x, const View& w) {
  check_input(op, "input", x);
  check_float(op, "weight", w);
  check_contig(op, "weight", w);
  DLCORE_CHECK(w.dtype == x.dtype, TypeError, op, ": weight dtype ", dtype_name(w.dtype),
               " differs from input dtype ", dtype_name(x.dtype));
  DLCORE_CHECK(w.ndim <= 1 && w.numel() >= 1, ValueError, op, ": weight must be 1-D with at least one "
               "element, got shape ", w.shape_string());
  if (w.numel() > 1) {
    int ax = x.ndim >= 2 ? 1 : 0;
    DLCORE_CHECK(x.ndim >= 1 && x.shape[ax] == w.numel(), ValueError, op, ": weight has ",
                 w.numel(), " parameters but input of shape ", x.shape_string(), " has ",
                 x.ndim >= 1 ? x.shape[ax] : 0, " channels (dim ", ax,
                 "); use num_parameters=1 or the channel count");
  }
}

void prelu_forward(const View& x, const View& w, const View& y) {
  check_prelu("prelu", x, w);
  check_like("prelu", "out", y, x, "input");
  DLCORE_DISPATCH(ActivationTable, x.device, prelu_forward)(x, w, y);
}

void prelu_backward(const View& g, const View& x, const View& w, const View& gx, const View& gw) {
  check_prelu("prelu_backward", x, w);
  check_like("prelu_backward", "grad", g, x, "input");
  if (gx.data) check_like("prelu_backward", "grad_input", gx, x, "input");
  if (gw.data) check_like("prelu_backward", "grad_weight", gw, w, "weight");
  DLCORE_DISPATCH(ActivationTable, x.device, prelu_backward)(g, x, w, gx, gw);
}

Shape maxout_out_shape(const View& x, int64_t axis, int64_t pieces) {
  DLCORE_CHECK(x.ndim >= 1, ValueError, "maxout: input must have at least 1 dimension");
  int ax = normalize_axis(axis, x.ndim, "maxout", x.shape_vec());
  DLCORE_CHECK(pieces >= 1, ValueError, "maxout: pieces must be >= 1, got ", pieces);
  DLCORE_CHECK(x.shape[ax] % pieces == 0, ValueError, "maxout: input of shape ", x.shape_string(),
               " has ", x.shape[ax], " channels on dim ", ax, ", not divisible by pieces=", pieces);
  Shape s = x.shape_vec();
  s[ax] /= pieces;
  return s;
}

void maxout_forward(const View& x, int64_t axis, int64_t pieces, const View& y, const View& idx) {
  check_input("maxout", "input", x);
  Shape s = maxout_out_shape(x, axis, pieces);
  DLCORE_CHECK(y.shape_vec() == s && idx.shape_vec() == s && y.dtype == x.dtype &&
                   idx.dtype == DType::i64 && y.is_contiguous() && idx.is_contiguous(),
               ValueError, "maxout: outputs must be contiguous of shape ", shape_str(s));
  int ax = normalize_axis(axis, x.ndim, "maxout", x.shape_vec());
  DLCORE_DISPATCH(ActivationTable, x.device, maxout_forward)(x, ax, pieces, y, idx);
}

void maxout_backward(const View& g, const View& idx, int64_t axis, int64_t pieces, const View& gx) {
  check_input("maxout_backward", "grad_input", gx);
  Shape s = maxout_out_shape(gx, axis, pieces);
  DLCORE_CHECK(g.shape_vec() == s && idx.shape_vec() == s && g.dtype == gx.dtype &&
                   idx.dtype == DType::i64 && g.is_contiguous() && idx.is_contiguous(),
               ValueError, "maxout_backward: grad and indices must be contiguous of shape ", shape_str(s));
  int ax = normalize_axis(axis, gx.ndim, "maxout", gx.shape_vec());
  DLCORE_DISPATCH(ActivationTable, gx.device, maxout_backward)(g, idx, ax, pieces, gx);
}

}  // namespace dlcore
