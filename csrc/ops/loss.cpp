// CPU kernels and front doors of the loss family (see loss.h for the shapes). Pointwise terms
// walk the broadcast index space with StridedLoop (w / pw / g may be broadcast views); row losses
// are parallel over rows, each row reduced in a fixed order; the fused cross-entropy rows come
// from the ISA-specific set (ops/activation_loops.h).
#include "ops/loss.h"

#include <cmath>

#include "core/parallel.h"
#include "core/shape.h"
#include "ops/actloss_isa.h"

namespace dlcore {
namespace {

constexpr int64_t kGrain = 16384;

template <class F> void float_dispatch(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, C)); }

// Strides of an optional operand aligned to `shape`; absent operands read a constant 1.
template <class T> const T* operand(const View& v, const Shape& shape, int64_t* strides, const T* one) {
  if (!v.data) {
    for (size_t i = 0; i < shape.size(); ++i) strides[i] = 0;
    return one;
  }
  broadcast_strides(v, shape, strides);
  return v.ptr<T>();
}

void cpu_pointwise_forward(LossOp op, const View& x, const View& y, const View& w, const View& pw,
                           const View& out, double p0) {
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    static const T one = T(1);
    Shape shape = x.shape_vec();
    int64_t so[kMaxDims], sx[kMaxDims], sy[kMaxDims], sw[kMaxDims], sp[kMaxDims];
    broadcast_strides(out, shape, so);
    broadcast_strides(x, shape, sx);
    broadcast_strides(y, shape, sy);
    const T* wp = operand<T>(w, shape, sw, &one);
    const T* pp = operand<T>(pw, shape, sp, &one);
    const int64_t* st[5] = {so, sx, sy, sw, sp};
    StridedLoop<5> loop(shape, st);
    T* o = out.ptr<T>();
    const T* xp = x.ptr<T>();
    const T* yp = y.ptr<T>();
    T a = (T)p0;
    parallel_for(0, loop.numel(), kGrain, [&](int64_t b, int64_t e) {
      loop.run(b, e, [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j)
          o[off[0] + j * in[0]] = loss_forward<T>(op, xp[off[1] + j * in[1]], yp[off[2] + j * in[2]],
                                                  wp[off[3] + j * in[3]], pp[off[4] + j * in[4]], a);
      });
    });
  });
}

// Backward of the line above: gx = g * dl/dx.
void cpu_pointwise_backward(LossOp op, const View& g, const View& x, const View& y, const View& w,
                            const View& pw, const View& gx, double p0) {
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    static const T one = T(1);
    Shape shape = x.shape_vec();
    int64_t so[kMaxDims], sg[kMaxDims], sx[kMaxDims], sy[kMaxDims], sw[kMaxDims], sp[kMaxDims];
    broadcast_strides(gx, shape, so);
    broadcast_strides(g, shape, sg);
    broadcast_strides(x, shape, sx);
    broadcast_strides(y, shape, sy);
    const T* wp = operand<T>(w, shape, sw, &one);
    const T* pp = operand<T>(pw, shape, sp, &one);
    const int64_t* st[6] = {so, sg, sx, sy, sw, sp};
    StridedLoop<6> loop(shape, st);
    T* o = gx.ptr<T>();
    const T* gp = g.ptr<T>();
    const T* xp = x.ptr<T>();
    const T* yp = y.ptr<T>();
    T a = (T)p0;
    parallel_for(0, loop.numel(), kGrain, [&](int64_t b, int64_t e) {
      loop.run(b, e, [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j)
          o[off[0] + j * in[0]] =
              loss_backward<T>(op, gp[off[1] + j * in[1]], xp[off[2] + j * in[2]], yp[off[3] + j * in[3]],
                               wp[off[4] + j * in[4]], pp[off[5] + j * in[5]], a);
      });
    });
  });
}

CeArgs ce_args(const View& z, const View& target, const View& weight, int64_t ignore_index, double eps) {
  CeArgs a;
  a.C = z.shape[1];
  if (target.dtype == DType::i64) a.tidx = target.ptr<int64_t>();
  else a.tprob = target.data;
  a.weight = weight.data;
  a.ignore_index = ignore_index;
  a.eps = eps;
  return a;
}

void cpu_ce_forward(const View& z, const View& target, const View& weight, int64_t ignore_index,
                    double eps, const View& loss, const View& lse, const View& wrow) {
  CeArgs a = ce_args(z, target, weight, ignore_index, eps);
  float_dispatch(z.dtype, [&](auto t) {
    using T = decltype(t);
    auto fn = actloss_kernels().get<T>().ce_fwd;
    parallel_for(0, z.shape[0], row_grain(a.C), [&](int64_t b, int64_t e) {
      fn(z.ptr<T>(), a, b, e, loss.ptr<T>(), lse.ptr<T>(), wrow.ptr<T>());
    });
  });
}

void cpu_ce_backward(const View& z, const View& target, const View& weight, int64_t ignore_index,
                     double eps, const View& lse, const View& grow, const View& gz) {
  CeArgs a = ce_args(z, target, weight, ignore_index, eps);
  int64_t gstride = grow.ndim == 0 ? 0 : 1;
  float_dispatch(z.dtype, [&](auto t) {
    using T = decltype(t);
    auto fn = actloss_kernels().get<T>().ce_bwd;
    parallel_for(0, z.shape[0], row_grain(a.C), [&](int64_t b, int64_t e) {
      fn(z.ptr<T>(), a, lse.ptr<T>(), grow.ptr<T>(), gstride, b, e, gz.ptr<T>());
    });
  });
}

void cpu_nll_forward(const View& logp, const View& target, const View& weight, int64_t ignore_index,
                     const View& loss, const View& wrow) {
  int64_t R = logp.shape[0], C = logp.shape[1];
  float_dispatch(logp.dtype, [&](auto t) {
    using T = decltype(t);
    const T* lp = logp.ptr<T>();
    const int64_t* tg = target.ptr<int64_t>();
    const T* w = weight.data ? weight.ptr<T>() : nullptr;
    T* l = loss.ptr<T>();
    T* wr = wrow.ptr<T>();
    parallel_for(0, R, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t c = tg[r];
        if (c == ignore_index) { l[r] = 0; wr[r] = 0; continue; }
        T wt = w ? w[c] : T(1);
        l[r] = -wt * lp[r * C + c];
        wr[r] = wt;
      }
    });
  });
}

// Backward of l = -w_t logp[r, t]: gx[r, t] = -w_t grow, 0 elsewhere.
void cpu_nll_backward(const View& target, const View& weight, int64_t ignore_index, const View& grow,
                      const View& gx) {
  int64_t R = gx.shape[0], C = gx.shape[1];
  int64_t gs = grow.ndim == 0 ? 0 : 1;
  float_dispatch(gx.dtype, [&](auto t) {
    using T = decltype(t);
    const int64_t* tg = target.ptr<int64_t>();
    const T* w = weight.data ? weight.ptr<T>() : nullptr;
    const T* g = grow.ptr<T>();
    T* o = gx.ptr<T>();
    parallel_for(0, R, row_grain(C), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        T* orow = o + r * C;
        for (int64_t c = 0; c < C; ++c) orow[c] = 0;
        int64_t c = tg[r];
        if (c == ignore_index) continue;
        orow[c] = -(w ? w[c] : T(1)) * g[r * gs];
      }
    });
  });
}

void cpu_mm_forward(const View& x, const View& target, const View& weight, int p, double margin,
                    const View& loss) {
  int64_t R = x.shape[0], C = x.shape[1];
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xp = x.ptr<T>();
    const int64_t* tg = target.ptr<int64_t>();
    const T* w = weight.data ? weight.ptr<T>() : nullptr;
    T* l = loss.ptr<T>();
    T m = (T)margin;
    parallel_for(0, R, row_grain(C), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xr = xp + r * C;
        int64_t tc = tg[r];
        T xt = xr[tc], s = 0;
        for (int64_t c = 0; c < C; ++c) {
          T z = m - xt + xr[c];
          T h = z > T(0) ? z : T(0);
          s += c == tc ? T(0) : (p == 2 ? h * h : h);
        }
        l[r] = (w ? w[tc] : T(1)) * s / T(C);
      }
    });
  });
}

// Backward of the row above: for c != t with z = margin - x_t + x_c > 0, d/dx_c = w_t p z^(p-1) / C
// and d/dx_t = -sum of those.
void cpu_mm_backward(const View& x, const View& target, const View& weight, int p, double margin,
                     const View& grow, const View& gx) {
  int64_t R = x.shape[0], C = x.shape[1];
  int64_t gs = grow.ndim == 0 ? 0 : 1;
  float_dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xp = x.ptr<T>();
    const int64_t* tg = target.ptr<int64_t>();
    const T* w = weight.data ? weight.ptr<T>() : nullptr;
    const T* g = grow.ptr<T>();
    T* o = gx.ptr<T>();
    T m = (T)margin;
    parallel_for(0, R, row_grain(C), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xr = xp + r * C;
        T* orow = o + r * C;
        int64_t tc = tg[r];
        T k = (w ? w[tc] : T(1)) * g[r * gs] / T(C);
        T xt = xr[tc], tot = 0;
        for (int64_t c = 0; c < C; ++c) {
          T z = m - xt + xr[c];
          T d = (c != tc && z > T(0)) ? k * (p == 2 ? T(2) * z : T(1)) : T(0);
          orow[c] = d;
          tot += d;
        }
        orow[tc] = -tot;
      }
    });
  });
}

void fill_cpu_loss() {
  auto& t = dispatch_table<LossTable>(Device::cpu);
  t.pointwise_forward = cpu_pointwise_forward;
  t.pointwise_backward = cpu_pointwise_backward;
  t.ce_forward = cpu_ce_forward;
  t.ce_backward = cpu_ce_backward;
  t.nll_forward = cpu_nll_forward;
  t.nll_backward = cpu_nll_backward;
  t.multi_margin_forward = cpu_mm_forward;
  t.multi_margin_backward = cpu_mm_backward;
}
DLCORE_REGISTER(fill_cpu_loss);

// ---- checks ---------------------------------------------------------------------------------

const char* loss_name(LossOp op) {
  switch (op) {
    case LossOp::mse: return "mse_loss";
    case LossOp::l1: return "l1_loss";
    case LossOp::huber: return "huber_loss";
    case LossOp::smooth_l1: return "smooth_l1_loss";
    case LossOp::bce: return "binary_cross_entropy";
    case LossOp::bce_logits: return "binary_cross_entropy_with_logits";
    case LossOp::hinge: return "hinge";
    case LossOp::squared_hinge: return "squared_hinge";
    case LossOp::hinge_embedding: return "hinge_embedding_loss";
    case LossOp::kl_div: case LossOp::kl_div_log_target: return "kl_div";
    default: return "loss";
  }
}

void check_float_contig(const char* op, const char* arg, const View& v) {
  DLCORE_CHECK(is_float(v.dtype), TypeError, op, ": argument '", arg,
               "' must be float32 or float64, got ", dtype_name(v.dtype));
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": argument '", arg, "' (shape ",
               v.shape_string(), ") must be contiguous");
}
void check_same(const char* op, const char* arg, const View& v, const char* refname, const View& ref) {
  DLCORE_CHECK(v.shape_vec() == ref.shape_vec(), ValueError, op, ": ", arg, " has shape ",
               v.shape_string(), " but ", refname, " has shape ", ref.shape_string(),
               " (shapes must match exactly; dlcore does not broadcast them silently)");
  DLCORE_CHECK(v.dtype == ref.dtype, TypeError, op, ": ", arg, " has dtype ", dtype_name(v.dtype),
               " but ", refname, " has dtype ", dtype_name(ref.dtype));
  DLCORE_CHECK(v.device == ref.device, ValueError, op, ": ", arg, " and ", refname,
               " are on different devices");
}
void check_bcast(const char* op, const char* arg, const View& v, const View& x) {
  if (!v.data) return;
  DLCORE_CHECK(v.dtype == x.dtype, TypeError, op, ": ", arg, " has dtype ", dtype_name(v.dtype),
               " but input has dtype ", dtype_name(x.dtype));
  Shape s = broadcast_shapes(v.shape_vec(), x.shape_vec(), op);
  DLCORE_CHECK(s == x.shape_vec(), ValueError, op, ": ", arg, " of shape ", v.shape_string(),
               " does not broadcast to the input's shape ", x.shape_string());
}

void check_rows(const char* op, const View& z, const View& target, const View& weight,
                int64_t ignore_index, bool allow_probs) {
  check_float_contig(op, "input", z);
  DLCORE_CHECK(z.ndim == 2, ValueError, op, ": input must be (N, C), got shape ", z.shape_string());
  int64_t R = z.shape[0], C = z.shape[1];
  DLCORE_CHECK(C >= 1, ValueError, op, ": input of shape ", z.shape_string(), " has no classes");
  DLCORE_CHECK(target.is_contiguous(), ValueError, op, ": target must be contiguous");
  if (target.dtype == DType::i64) {
    DLCORE_CHECK(target.ndim == 1 && target.shape[0] == R, ValueError, op, ": target of shape ",
                 target.shape_string(), " does not match input of shape ", z.shape_string(),
                 " (expected (", R, ",) class indices)");
    const int64_t* t = target.ptr<int64_t>();
    if (target.device == Device::cpu)
      for (int64_t r = 0; r < R; ++r)
        DLCORE_CHECK((t[r] >= 0 && t[r] < C) || t[r] == ignore_index, IndexError, op, ": target ",
                     t[r], " at row ", r, " is out of bounds for ", C, " classes");
  } else {
    DLCORE_CHECK(allow_probs, TypeError, op, ": target must hold int64 class indices, got ",
                 dtype_name(target.dtype));
    check_same(op, "target (class probabilities)", target, "input", z);
  }
  if (weight.data) {
    DLCORE_CHECK(weight.ndim == 1 && weight.shape[0] == C && weight.is_contiguous(), ValueError, op,
                 ": weight of shape ", weight.shape_string(), " must be (C,) = (", C, ",)");
    DLCORE_CHECK(weight.dtype == z.dtype, TypeError, op, ": weight dtype ", dtype_name(weight.dtype),
                 " differs from input dtype ", dtype_name(z.dtype));
  }
}
void check_row_out(const char* op, const View& v, const View& z) {
  DLCORE_CHECK(v.ndim == 1 && v.shape[0] == z.shape[0] && v.dtype == z.dtype && v.is_contiguous(),
               ValueError, op, ": per-row buffer has shape ", v.shape_string(), ", expected (",
               z.shape[0], ",)");
}
void check_stat(const char* op, const View& v, const View& z) {
  DLCORE_CHECK(v.ndim == 2 && v.shape[0] == z.shape[0] && v.shape[1] == 2 && v.dtype == z.dtype &&
                   v.is_contiguous(), ValueError, op, ": saved row statistics have shape ",
               v.shape_string(), ", expected (", z.shape[0], ", 2)");
}
void check_grow(const char* op, const View& g, const View& z) {
  DLCORE_CHECK(g.dtype == z.dtype && (g.ndim == 0 || (g.ndim == 1 && g.shape[0] == z.shape[0])),
               ValueError, op, ": grad has shape ", g.shape_string(), ", expected () or (",
               z.shape[0], ",)");
}

}  // namespace

void pointwise_loss_forward(LossOp op, const View& x, const View& y, const View& w, const View& pw,
                            const View& out, double p0) {
  DLCORE_CHECK((int)op >= 0 && op < LossOp::kCount, ValueError, "loss: unknown op code ", (int)op);
  const char* name = loss_name(op);
  DLCORE_CHECK(is_float(x.dtype), TypeError, name, ": input must be float32 or float64, got ",
               dtype_name(x.dtype));
  check_same(name, "input", x, "target", y);
  check_same(name, "output", out, "input", x);
  check_bcast(name, "weight", w, x);
  check_bcast(name, "pos_weight", pw, x);
  if (op == LossOp::bce && x.device == Device::cpu) {
    bool ok = true;
    float_dispatch(x.dtype, [&](auto t) {
      using T = decltype(t);
      Shape shape = x.shape_vec();
      int64_t sx[kMaxDims];
      broadcast_strides(x, shape, sx);
      const int64_t* st[1] = {sx};
      StridedLoop<1> loop(shape, st);
      loop.run(0, loop.numel(), [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j) {
          T v = x.ptr<T>()[off[0] + j * in[0]];
          ok = ok && v >= T(0) && v <= T(1);
        }
      });
    });
    DLCORE_CHECK(ok, ValueError, "binary_cross_entropy: all elements of input should be between 0 and 1 "
                 "(pass logits to binary_cross_entropy_with_logits instead)");
  }
  DLCORE_DISPATCH(LossTable, x.device, pointwise_forward)(op, x, y, w, pw, out, p0);
}

void pointwise_loss_backward(LossOp op, const View& g, const View& x, const View& y, const View& w,
                             const View& pw, const View& gx, double p0) {
  DLCORE_CHECK((int)op >= 0 && op < LossOp::kCount, ValueError, "loss: unknown op code ", (int)op);
  const char* name = loss_name(op);
  DLCORE_CHECK(is_float(x.dtype), TypeError, name, ": input must be float32 or float64");
  check_same(name, "input", x, "target", y);
  check_same(name, "grad_input", gx, "input", x);
  check_bcast(name, "grad", g, x);
  check_bcast(name, "weight", w, x);
  check_bcast(name, "pos_weight", pw, x);
  DLCORE_DISPATCH(LossTable, x.device, pointwise_backward)(op, g, x, y, w, pw, gx, p0);
}

void cross_entropy_forward(const View& z, const View& target, const View& weight, int64_t ignore_index,
                           double eps, const View& loss, const View& lse, const View& wrow) {
  check_rows("cross_entropy", z, target, weight, ignore_index, true);
  DLCORE_CHECK(eps >= 0 && eps <= 1, ValueError, "cross_entropy: label_smoothing must be in [0, 1], got ", eps);
  check_row_out("cross_entropy", loss, z);
  check_stat("cross_entropy", lse, z);
  check_row_out("cross_entropy", wrow, z);
  DLCORE_DISPATCH(LossTable, z.device, ce_forward)(z, target, weight, ignore_index, eps, loss, lse, wrow);
}

void cross_entropy_backward(const View& z, const View& target, const View& weight, int64_t ignore_index,
                            double eps, const View& lse, const View& grow, const View& gz) {
  check_rows("cross_entropy_backward", z, target, weight, ignore_index, true);
  check_stat("cross_entropy_backward", lse, z);
  check_grow("cross_entropy_backward", grow, z);
  check_same("cross_entropy_backward", "grad_input", gz, "input", z);
  DLCORE_DISPATCH(LossTable, z.device, ce_backward)(z, target, weight, ignore_index, eps, lse, grow, gz);
}

void nll_forward(const View& logp, const View& target, const View& weight, int64_t ignore_index,
                 const View& loss, const View& wrow) {
  check_rows("nll_loss", logp, target, weight, ignore_index, false);
  check_row_out("nll_loss", loss, logp);
  check_row_out("nll_loss", wrow, logp);
  DLCORE_DISPATCH(LossTable, logp.device, nll_forward)(logp, target, weight, ignore_index, loss, wrow);
}

void nll_backward(const View& target, const View& weight, int64_t ignore_index, const View& grow,
                  const View& gx) {
  check_rows("nll_loss_backward", gx, target, weight, ignore_index, false);
  check_grow("nll_loss_backward", grow, gx);
  DLCORE_DISPATCH(LossTable, gx.device, nll_backward)(target, weight, ignore_index, grow, gx);
}

void multi_margin_forward(const View& x, const View& target, const View& weight, int p, double margin,
                          const View& loss) {
  check_rows("multi_margin_loss", x, target, weight, INT64_MIN, false);
  DLCORE_CHECK(p == 1 || p == 2, ValueError, "multi_margin_loss: only p == 1 and p == 2 are supported, got ", p);
  check_row_out("multi_margin_loss", loss, x);
  DLCORE_DISPATCH(LossTable, x.device, multi_margin_forward)(x, target, weight, p, margin, loss);
}

void multi_margin_backward(const View& x, const View& target, const View& weight, int p, double margin,
                           const View& grow, const View& gx) {
  check_rows("multi_margin_loss_backward", x, target, weight, INT64_MIN, false);
  DLCORE_CHECK(p == 1 || p == 2, ValueError, "multi_margin_loss: only p == 1 and p == 2 are supported, got ", p);
  check_grow("multi_margin_loss_backward", grow, x);
  check_same("multi_margin_loss_backward", "grad_input", gx, "input", x);
  DLCORE_DISPATCH(LossTable, x.device, multi_margin_backward)(x, target, weight, p, margin, grow, gx);
}

}  // namespace dlcore
