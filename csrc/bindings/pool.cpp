// Bindings: pooling family (ops/pool.h).
#include "ops/pool.h"

#include <array>

#include "bindings/common.h"

namespace {
using namespace dlcore;
using I2 = std::array<int64_t, 2>;

// Geometry of a backward call: input (N, C) from grad_output, spatial size given.
PoolGeometry backward_geometry(const char* op, const View& gy, I2 input_size) {
  DLCORE_CHECK(gy.ndim == 4, ValueError, op, ": grad_output must be 4-D (N, C, OH, OW), got shape ", gy.shape_string());
  DLCORE_CHECK(input_size[0] >= 1 && input_size[1] >= 1, ValueError, op, ": input size must be positive, got (",
               input_size[0], ", ", input_size[1], ")");
  PoolGeometry g;
  g.N = gy.shape[0]; g.C = gy.shape[1]; g.H = input_size[0]; g.W = input_size[1];
  g.OH = gy.shape[2]; g.OW = gy.shape[3];
  return g;
}
}  // namespace

DLCORE_BINDINGS(pool) {
  m.def("max_pool2d", [](py::handle x, I2 k, I2 s, I2 p, I2 d, bool ceil_mode) {
    View xv = to_view(x, "max_pool2d", "input");
    PoolGeometry g = pool2d_geometry("max_pool2d", xv.shape, xv.ndim, k.data(), s.data(), p.data(), d.data(), ceil_mode);
    py::object y = alloc(xv.device, xv.dtype, {g.N, g.C, g.OH, g.OW});
    py::object idx = alloc(xv.device, DType::i64, {g.N, g.C, g.OH, g.OW});
    View yv = to_view(y, "max_pool2d", "out", true), iv = to_view(idx, "max_pool2d", "indices", true);
    { py::gil_scoped_release nogil; max_pool2d_forward(g, xv, yv, iv); }
    return py::make_tuple(y, idx);
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("ceil_mode"));

  // grad_input of max_pool2d and adaptive_max_pool2d: scatter grad_output to the saved indices.
  m.def("max_pool2d_backward", [](py::handle gy, py::handle idx, I2 input_size) {
    const char* op = "max_pool2d_backward";
    View gyv = to_view(gy, op, "grad_output"), iv = to_view(idx, op, "indices");
    PoolGeometry g = backward_geometry(op, gyv, input_size);
    py::object gx = alloc(gyv.device, gyv.dtype, {g.N, g.C, g.H, g.W});
    View gxv = to_view(gx, op, "grad_input", true);
    { py::gil_scoped_release nogil; max_pool2d_backward(g, gyv, iv, gxv); }
    return gx;
  }, py::arg("grad_output"), py::arg("indices"), py::arg("input_size"));

  m.def("avg_pool2d", [](py::handle x, I2 k, I2 s, I2 p, bool ceil_mode, bool count_include_pad, int64_t div) {
    View xv = to_view(x, "avg_pool2d", "input");
    int64_t d[2] = {1, 1};
    PoolGeometry g = pool2d_geometry("avg_pool2d", xv.shape, xv.ndim, k.data(), s.data(), p.data(), d, ceil_mode);
    DLCORE_CHECK(div >= 0, ValueError, "avg_pool2d: divisor_override must be positive, got ", div);
    g.count_include_pad = count_include_pad;
    g.divisor_override = div;
    py::object y = alloc(xv.device, xv.dtype, {g.N, g.C, g.OH, g.OW});
    View yv = to_view(y, "avg_pool2d", "out", true);
    { py::gil_scoped_release nogil; avg_pool2d_forward(g, xv, yv); }
    return y;
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
     py::arg("count_include_pad"), py::arg("divisor_override") = 0);

  m.def("avg_pool2d_backward", [](py::handle gy, I2 input_size, I2 k, I2 s, I2 p, bool ceil_mode,
                                  bool count_include_pad, int64_t div) {
    const char* op = "avg_pool2d_backward";
    View gyv = to_view(gy, op, "grad_output");
    PoolGeometry b = backward_geometry(op, gyv, input_size);
    int64_t xs[4] = {b.N, b.C, b.H, b.W}, d[2] = {1, 1};
    PoolGeometry g = pool2d_geometry(op, xs, 4, k.data(), s.data(), p.data(), d, ceil_mode);
    g.count_include_pad = count_include_pad;
    g.divisor_override = div;
    py::object gx = alloc(gyv.device, gyv.dtype, {g.N, g.C, g.H, g.W});
    View gxv = to_view(gx, op, "grad_input", true);
    { py::gil_scoped_release nogil; avg_pool2d_backward(g, gyv, gxv); }
    return gx;
  }, py::arg("grad_output"), py::arg("input_size"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
     py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override") = 0);

  m.def("adaptive_avg_pool2d", [](py::handle x, I2 out) {
    View xv = to_view(x, "adaptive_avg_pool2d", "input");
    PoolGeometry g = adaptive_pool2d_geometry("adaptive_avg_pool2d", xv.shape, xv.ndim, out.data());
    py::object y = alloc(xv.device, xv.dtype, {g.N, g.C, g.OH, g.OW});
    View yv = to_view(y, "adaptive_avg_pool2d", "out", true);
    { py::gil_scoped_release nogil; adaptive_avg_pool2d_forward(g, xv, yv); }
    return y;
  }, py::arg("input"), py::arg("output_size"));

  m.def("adaptive_avg_pool2d_backward", [](py::handle gy, I2 input_size) {
    const char* op = "adaptive_avg_pool2d_backward";
    View gyv = to_view(gy, op, "grad_output");
    PoolGeometry g = backward_geometry(op, gyv, input_size);
    py::object gx = alloc(gyv.device, gyv.dtype, {g.N, g.C, g.H, g.W});
    View gxv = to_view(gx, op, "grad_input", true);
    { py::gil_scoped_release nogil; adaptive_avg_pool2d_backward(g, gyv, gxv); }
    return gx;
  }, py::arg("grad_output"), py::arg("input_size"));

  m.def("adaptive_max_pool2d", [](py::handle x, I2 out) {
    View xv = to_view(x, "adaptive_max_pool2d", "input");
    PoolGeometry g = adaptive_pool2d_geometry("adaptive_max_pool2d", xv.shape, xv.ndim, out.data());
    py::object y = alloc(xv.device, xv.dtype, {g.N, g.C, g.OH, g.OW});
    py::object idx = alloc(xv.device, DType::i64, {g.N, g.C, g.OH, g.OW});
    View yv = to_view(y, "adaptive_max_pool2d", "out", true), iv = to_view(idx, "adaptive_max_pool2d", "indices", true);
    { py::gil_scoped_release nogil; adaptive_max_pool2d_forward(g, xv, yv, iv); }
    return py::make_tuple(y, idx);
  }, py::arg("input"), py::arg("output_size"));
}
