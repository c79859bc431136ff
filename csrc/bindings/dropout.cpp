// Bindings: dropout family (ops/dropout.h). A non-contiguous input is copied to a
// contiguous array with dlcore's copy kernel first.
#include "ops/dropout.h"

#include "bindings/common.h"
#include "ops/elementwise.h"

DLCORE_BINDINGS(dropout) {
  using namespace dlcore;
  py::enum_<DropoutKind>(m, "DropoutKind")
      .value("standard", DropoutKind::standard).value("alpha", DropoutKind::alpha);
  m.def("dropout_blocks", &dropout_blocks, py::arg("n_mask"));
  m.def("dropout_grad_scale", &dropout_grad_scale, py::arg("kind"), py::arg("p"));

  // dropout_forward(kind, x, p, seed, counter, inner) -> (y, mask); mask has x.size // inner
  // bool elements (shape (x.size // inner,)).
  m.def("dropout_forward", [](DropoutKind kind, py::handle x, double p, uint64_t seed, uint64_t counter,
                              int64_t inner) {
    const char* op = kind == DropoutKind::alpha ? "alpha_dropout" : "dropout";
    py::object kx;
    View xv = contiguous_view(x, op, "input", kx);
    DLCORE_CHECK(inner >= 1 && xv.numel() % inner == 0, ValueError, op, ": inner size ", inner,
                 " does not divide the input of shape ", xv.shape_string());
    py::object y = alloc(xv.device, xv.dtype, xv.shape_vec());
    py::object mk = alloc(xv.device, DType::b8, Shape{xv.numel() / inner});
    View yv = to_view(y, op, "out", true), mv = to_view(mk, op, "mask", true);
    { py::gil_scoped_release nogil; dropout_forward(kind, xv, p, seed, counter, inner, yv, mv); }
    return py::make_tuple(y, mk);
  }, py::arg("kind"), py::arg("input"), py::arg("p"), py::arg("seed"), py::arg("counter"),
     py::arg("inner") = 1);

  // dropout_backward(grad_out, mask, inner, scale) -> dx = grad_out * mask * scale
  m.def("dropout_backward", [](py::handle dy, py::handle mask, int64_t inner, double scale) {
    const char* op = "dropout_backward";
    py::object kd;
    View dv = contiguous_view(dy, op, "grad_output", kd), mv = to_view(mask, op, "mask");
    py::object dx = alloc(dv.device, dv.dtype, dv.shape_vec());
    View dxv = to_view(dx, op, "grad_input", true);
    { py::gil_scoped_release nogil; dropout_backward(dv, mv, inner, scale, dxv); }
    return dx;
  }, py::arg("grad_output"), py::arg("mask"), py::arg("inner"), py::arg("scale"));
}
