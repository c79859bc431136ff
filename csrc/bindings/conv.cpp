// Bindings: convolution family (ops/conv.h). Padding is passed as (top, bottom, left, right);
// the Python layer turns int / tuple / 'valid' / 'same' into it.
#include "ops/conv.h"

#include <array>

#include "bindings/common.h"

namespace {
using namespace dlcore;
using I2 = std::array<int64_t, 2>;
using I4 = std::array<int64_t, 4>;

void need_4d(const char* op, const char* arg, const View& v) {
  DLCORE_CHECK(v.ndim == 4, ValueError, op, ": '", arg, "' must be 4-D (N, C, H, W), got shape ", v.shape_string());
}
}  // namespace

DLCORE_BINDINGS(conv) {
  m.def("conv2d", [](py::handle x, py::handle w, py::object b, I2 stride, I4 pad, I2 dil, int64_t groups) {
    View xv = to_view(x, "conv2d", "input"), wv = to_view(w, "conv2d", "weight");
    ConvGeometry g = conv2d_check("conv2d", xv, wv, stride.data(), pad.data(), dil.data(), groups);
    View bv;
    if (!b.is_none()) bv = to_view(b, "conv2d", "bias");
    py::object out = alloc(xv.device, xv.dtype, {g.N, g.K, g.OH, g.OW});
    View ov = to_view(out, "conv2d", "out", true);
    { py::gil_scoped_release nogil; conv2d_forward(g, xv, wv, b.is_none() ? nullptr : &bv, ov); }
    return out;
  }, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));

  // grad_input of conv2d (= conv_transpose2d forward) for an input of spatial size input_size.
  m.def("conv2d_backward_data", [](py::handle gy, py::handle w, I2 input_size, I2 stride, I4 pad, I2 dil, int64_t groups) {
    const char* op = "conv2d_backward_data";
    View gyv = to_view(gy, op, "grad_output"), wv = to_view(w, op, "weight");
    need_4d(op, "grad_output", gyv);
    need_4d(op, "weight", wv);
    int64_t xs[4] = {gyv.shape[0], wv.shape[1] * groups, input_size[0], input_size[1]};
    DLCORE_CHECK(input_size[0] >= 1 && input_size[1] >= 1, ValueError, op, ": input size must be positive, got (",
                 input_size[0], ", ", input_size[1], ")");
    ConvGeometry g = conv2d_geometry(op, xs, 4, wv.shape, 4, stride.data(), pad.data(), dil.data(), groups);
    py::object out = alloc(gyv.device, gyv.dtype, {g.N, g.C, g.H, g.W});
    View ov = to_view(out, op, "grad_input", true);
    { py::gil_scoped_release nogil; conv2d_backward_data(g, gyv, wv, ov); }
    return out;
  }, py::arg("grad_output"), py::arg("weight"), py::arg("input_size"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));

  m.def("conv2d_backward_weight", [](py::handle x, py::handle gy, I2 kernel_size, I2 stride, I4 pad, I2 dil, int64_t groups) {
    const char* op = "conv2d_backward_weight";
    View xv = to_view(x, op, "input"), gyv = to_view(gy, op, "grad_output");
    need_4d(op, "input", xv);
    need_4d(op, "grad_output", gyv);
    DLCORE_CHECK(groups >= 1 && xv.shape[1] % groups == 0, ValueError, op, ": input channels (", xv.shape[1],
                 ") are not divisible by groups=", groups);
    int64_t ws[4] = {gyv.shape[1], xv.shape[1] / groups, kernel_size[0], kernel_size[1]};
    ConvGeometry g = conv2d_geometry(op, xv.shape, 4, ws, 4, stride.data(), pad.data(), dil.data(), groups);
    py::object out = alloc(xv.device, xv.dtype, {g.K, g.Cg(), g.kH, g.kW});
    View ov = to_view(out, op, "grad_weight", true);
    { py::gil_scoped_release nogil; conv2d_backward_weight(g, xv, gyv, ov); }
    return out;
  }, py::arg("input"), py::arg("grad_output"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));

  // (conv2d(input, weight), conv2d_backward_weight(input, grad_output)) sharing one unfold of
  // input: conv_transpose2d's backward (its grad_output is input here, its input is grad_output).
  m.def("conv2d_forward_and_weight", [](py::handle x, py::handle w, py::handle gy, I2 stride, I4 pad, I2 dil, int64_t groups) {
    const char* op = "conv2d_forward_and_weight";
    View xv = to_view(x, op, "input"), wv = to_view(w, op, "weight"), gyv = to_view(gy, op, "grad_output");
    ConvGeometry g = conv2d_check(op, xv, wv, stride.data(), pad.data(), dil.data(), groups);
    py::object y = alloc(xv.device, xv.dtype, {g.N, g.K, g.OH, g.OW});
    py::object gw = alloc(xv.device, xv.dtype, {g.K, g.Cg(), g.kH, g.kW});
    View yv = to_view(y, op, "out", true), gwv = to_view(gw, op, "grad_weight", true);
    { py::gil_scoped_release nogil; conv2d_forward_and_weight(g, xv, wv, gyv, yv, gwv); }
    return py::make_tuple(y, gw);
  }, py::arg("input"), py::arg("weight"), py::arg("grad_output"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));

  // grad of a per-channel bias: sum of grad_output over every dim but 1.
  m.def("conv_backward_bias", [](py::handle gy) {
    View gyv = to_view(gy, "conv_backward_bias", "grad_output");
    DLCORE_CHECK(gyv.ndim >= 2, ValueError, "conv_backward_bias: grad_output must be (N, C, ...), got shape ",
                 gyv.shape_string());
    py::object out = alloc(gyv.device, gyv.dtype, {gyv.shape[1]});
    View ov = to_view(out, "conv_backward_bias", "grad_bias", true);
    { py::gil_scoped_release nogil; conv_backward_bias(gyv, ov); }
    return out;
  }, py::arg("grad_output"));
}
