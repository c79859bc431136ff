// Bindings: normalization family (ops/norm.h).
// Inputs that are not contiguous (e.g. a broadcast gradient) are copied to a contiguous
// array with dlcore's copy kernel first; kernels then see plain (N, C, S) / (M, K) memory.
#include "ops/norm.h"

#include <optional>

#include "bindings/common.h"
#include "ops/elementwise.h"

namespace {
using namespace dlcore;


std::optional<View> opt_view(py::handle obj, const char* op, const char* arg, bool writable = false) {
  if (obj.is_none()) return std::nullopt;
  return to_view(obj, op, arg, writable);
}
const View* ptr(const std::optional<View>& v) { return v ? &*v : nullptr; }

Shape vec_shape(int64_t n) { return Shape{n}; }
}  // namespace

DLCORE_BINDINGS(norm) {
  using namespace dlcore;

  // batch_norm_forward(x, weight, bias, running_mean, running_var, training, factor, eps, relu=False,
  //                    unbiased=True)
  //   -> (y, save_mean, save_invstd); running stats (when given and training) are updated in place;
  //   relu: y = max(bn(x), 0) in the same pass (BatchNorm + ReLU); unbiased=False: running_var
  //   averages the biased batch variance (Keras's moving_variance) instead of PyTorch's unbiased one.
  m.def("batch_norm_forward", [](py::handle x, py::object weight, py::object bias,
                                 py::object running_mean, py::object running_var, bool training,
                                 double factor, double eps, bool relu, bool unbiased) {
    const char* op = "batch_norm";
    py::object kx;
    View xv = contiguous_view(x, op, "input", kx);
    auto g = opt_view(weight, op, "weight"), b = opt_view(bias, op, "bias");
    auto rm = opt_view(running_mean, op, "running_mean", true);
    auto rv = opt_view(running_var, op, "running_var", true);
    DLCORE_CHECK(xv.ndim >= 2, ValueError, op, ": expected input of shape (N, C, *) with at least 2 dims, got ",
                 xv.shape_string());
    int64_t C = xv.shape[1];
    py::object y = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object sm = alloc(xv.device, xv.dtype, vec_shape(C)), si = alloc(xv.device, xv.dtype, vec_shape(C));
    View yv = to_view(y, op, "out", true), smv = to_view(sm, op, "save_mean", true),
         siv = to_view(si, op, "save_invstd", true);
    {
      py::gil_scoped_release nogil;
      batch_norm_forward(xv, ptr(g), ptr(b), ptr(rm),
                         ptr(rv), training, factor, eps, yv, smv, siv, relu, unbiased);
    }
    return py::make_tuple(y, sm, si);
  }, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("running_mean"),
     py::arg("running_var"), py::arg("training"), py::arg("factor"), py::arg("eps"), py::arg("relu") = false,
     py::arg("unbiased") = true);

  // batch_norm_backward(grad_out, x, weight, save_mean, save_invstd, training, relu_output=None)
  //   -> (dx, dweight, dbias); relu_output: the forward's output y of a fused BatchNorm + ReLU
  //   (relu=True): grad_out is masked by y > 0 in the same passes.
  m.def("batch_norm_backward", [](py::handle dy, py::handle x, py::object weight, py::handle save_mean,
                                  py::handle save_invstd, bool training, py::object relu_output) {
    const char* op = "batch_norm_backward";
    py::object kx, kd;
    View xv = contiguous_view(x, op, "input", kx), dv = contiguous_view(dy, op, "grad_output", kd);
    auto g = opt_view(weight, op, "weight");
    auto yr = opt_view(relu_output, op, "relu_output");
    View smv = to_view(save_mean, op, "save_mean"), siv = to_view(save_invstd, op, "save_invstd");
    DLCORE_CHECK(xv.ndim >= 2, ValueError, op, ": expected input of shape (N, C, *), got ", xv.shape_string());
    int64_t C = xv.shape[1];
    py::object dx = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object dg = alloc(xv.device, xv.dtype, vec_shape(C)), db = alloc(xv.device, xv.dtype, vec_shape(C));
    View dxv = to_view(dx, op, "grad_input", true), dgv = to_view(dg, op, "grad_weight", true),
         dbv = to_view(db, op, "grad_bias", true);
    { py::gil_scoped_release nogil; batch_norm_backward(dv, xv, ptr(g), smv, siv, training, dxv, dgv, dbv, ptr(yr)); }
    return py::make_tuple(dx, dg, db);
  }, py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("save_mean"),
     py::arg("save_invstd"), py::arg("training"), py::arg("relu_output") = py::none());

  // layer_norm_forward(x, norm_ndim, weight, bias, eps) -> (y, save_mean (M,), save_rstd (M,))
  m.def("layer_norm_forward", [](py::handle x, int norm_ndim, py::object weight, py::object bias, double eps) {
    const char* op = "layer_norm";
    py::object kx;
    View xv = contiguous_view(x, op, "input", kx);
    auto g = opt_view(weight, op, "weight"), b = opt_view(bias, op, "bias");
    DLCORE_CHECK(norm_ndim >= 1 && norm_ndim <= xv.ndim, ValueError, op, ": normalized_shape has ",
                 norm_ndim, " dims but input has shape ", xv.shape_string());
    int64_t M = 1;
    for (int i = 0; i < xv.ndim - norm_ndim; ++i) M *= xv.shape[i];
    py::object y = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object sm = alloc(xv.device, xv.dtype, vec_shape(M)), sr = alloc(xv.device, xv.dtype, vec_shape(M));
    View yv = to_view(y, op, "out", true), smv = to_view(sm, op, "save_mean", true),
         srv = to_view(sr, op, "save_rstd", true);
    { py::gil_scoped_release nogil; layer_norm_forward(xv, norm_ndim, ptr(g), ptr(b), eps, yv, smv, srv); }
    return py::make_tuple(y, sm, sr);
  }, py::arg("input"), py::arg("norm_ndim"), py::arg("weight"), py::arg("bias"), py::arg("eps"));

  // layer_norm_backward(grad_out, x, norm_ndim, weight, save_mean, save_rstd)
  //   -> (dx, dweight, dbias), dweight / dbias shaped like normalized_shape
  m.def("layer_norm_backward", [](py::handle dy, py::handle x, int norm_ndim, py::object weight,
                                  py::handle save_mean, py::handle save_rstd) {
    const char* op = "layer_norm_backward";
    py::object kx, kd;
    View xv = contiguous_view(x, op, "input", kx), dv = contiguous_view(dy, op, "grad_output", kd);
    auto g = opt_view(weight, op, "weight");
    View smv = to_view(save_mean, op, "save_mean"), srv = to_view(save_rstd, op, "save_rstd");
    DLCORE_CHECK(norm_ndim >= 1 && norm_ndim <= xv.ndim, ValueError, op, ": normalized_shape has ",
                 norm_ndim, " dims but input has shape ", xv.shape_string());
    Shape ps(xv.shape + xv.ndim - norm_ndim, xv.shape + xv.ndim);
    py::object dx = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object dg = alloc(xv.device, xv.dtype, ps), db = alloc(xv.device, xv.dtype, ps);
    View dxv = to_view(dx, op, "grad_input", true), dgv = to_view(dg, op, "grad_weight", true),
         dbv = to_view(db, op, "grad_bias", true);
    { py::gil_scoped_release nogil; layer_norm_backward(dv, xv, norm_ndim, ptr(g), smv, srv, dxv, dgv, dbv); }
    return py::make_tuple(dx, dg, db);
  }, py::arg("grad_output"), py::arg("input"), py::arg("norm_ndim"), py::arg("weight"),
     py::arg("save_mean"), py::arg("save_rstd"));

  // group_norm_forward(x, num_groups, weight, bias, eps) -> (y, save_mean (N, G), save_rstd (N, G))
  m.def("group_norm_forward", [](py::handle x, int64_t groups, py::object weight, py::object bias, double eps) {
    const char* op = "group_norm";
    py::object kx;
    View xv = contiguous_view(x, op, "input", kx);
    auto g = opt_view(weight, op, "weight"), b = opt_view(bias, op, "bias");
    DLCORE_CHECK(xv.ndim >= 2, ValueError, op, ": expected input of shape (N, C, *), got ", xv.shape_string());
    DLCORE_CHECK(groups >= 1, ValueError, op, ": num_groups must be >= 1, got ", groups);
    Shape ss{xv.shape[0], groups};
    py::object y = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object sm = alloc(xv.device, xv.dtype, ss), sr = alloc(xv.device, xv.dtype, ss);
    View yv = to_view(y, op, "out", true), smv = to_view(sm, op, "save_mean", true),
         srv = to_view(sr, op, "save_rstd", true);
    { py::gil_scoped_release nogil; group_norm_forward(xv, groups, ptr(g), ptr(b), eps, yv, smv, srv); }
    return py::make_tuple(y, sm, sr);
  }, py::arg("input"), py::arg("num_groups"), py::arg("weight"), py::arg("bias"), py::arg("eps"));

  // group_norm_backward(grad_out, x, num_groups, weight, save_mean, save_rstd) -> (dx, dweight, dbias)
  m.def("group_norm_backward", [](py::handle dy, py::handle x, int64_t groups, py::object weight,
                                  py::handle save_mean, py::handle save_rstd) {
    const char* op = "group_norm_backward";
    py::object kx, kd;
    View xv = contiguous_view(x, op, "input", kx), dv = contiguous_view(dy, op, "grad_output", kd);
    auto g = opt_view(weight, op, "weight");
    View smv = to_view(save_mean, op, "save_mean"), srv = to_view(save_rstd, op, "save_rstd");
    DLCORE_CHECK(xv.ndim >= 2, ValueError, op, ": expected input of shape (N, C, *), got ", xv.shape_string());
    int64_t C = xv.shape[1];
    py::object dx = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object dg = alloc(xv.device, xv.dtype, vec_shape(C)), db = alloc(xv.device, xv.dtype, vec_shape(C));
    View dxv = to_view(dx, op, "grad_input", true), dgv = to_view(dg, op, "grad_weight", true),
         dbv = to_view(db, op, "grad_bias", true);
    { py::gil_scoped_release nogil; group_norm_backward(dv, xv, groups, ptr(g), smv, srv, dxv, dgv, dbv); }
    return py::make_tuple(dx, dg, db);
  }, py::arg("grad_output"), py::arg("input"), py::arg("num_groups"), py::arg("weight"),
     py::arg("save_mean"), py::arg("save_rstd"));
}
