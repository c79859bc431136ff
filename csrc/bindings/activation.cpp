// Bindings: activation family (ops/activation.h).
#include "ops/activation.h"

#include "bindings/common.h"

namespace dlcore {

py::object act_forward_call(ActOp op, py::handle x, double p0, double p1, py::object out) {
  View xv = to_view(x, "activation", "x");
  out = out_or_alloc(out, xv.device, xv.dtype, xv.shape_vec());
  View ov = to_view(out, "activation", "out", true);
  { NoGil nogil(ov.numel()); act_forward(op, xv, ov, p0, p1); }
  return out;
}

}  // namespace dlcore

DLCORE_BINDINGS(activation) {
  using namespace dlcore;
  py::enum_<ActOp> e(m, "Act");
  for (auto [n, v] : std::initializer_list<std::pair<const char*, ActOp>>{
           {"sigmoid", ActOp::sigmoid}, {"tanh", ActOp::tanh}, {"relu", ActOp::relu},
           {"relu6", ActOp::relu6}, {"leaky_relu", ActOp::leaky_relu}, {"elu", ActOp::elu},
           {"selu", ActOp::selu}, {"celu", ActOp::celu}, {"gelu", ActOp::gelu},
           {"gelu_tanh", ActOp::gelu_tanh}, {"silu", ActOp::silu}, {"mish", ActOp::mish},
           {"softplus", ActOp::softplus}, {"softsign", ActOp::softsign},
           {"hard_sigmoid", ActOp::hard_sigmoid}, {"hard_swish", ActOp::hard_swish},
           {"hard_tanh", ActOp::hard_tanh}, {"log_sigmoid", ActOp::log_sigmoid}})
    e.value(n, v);

  m.def("act_backward_uses_output", [](ActOp op) { return act_backward_uses_output(op); });

  m.def("act_forward", &act_forward_call, py::arg("op"), py::arg("x"), py::arg("p0") = 0.0, py::arg("p1") = 0.0,
        py::arg("out") = py::none());

  // gx = g * f'(s); s is the forward output when act_backward_uses_output(op), else the input.
  m.def("act_backward", [](ActOp op, py::handle g, py::handle s, double p0, double p1, py::object out) {
    View gv = to_view(g, "activation_backward", "grad"), sv = to_view(s, "activation_backward", "saved");
    out = out_or_alloc(out, gv.device, gv.dtype, gv.shape_vec());
    View ov = to_view(out, "activation_backward", "out", true);
    { NoGil nogil(ov.numel()); act_backward(op, gv, sv, ov, p0, p1); }
    return out;
  }, py::arg("op"), py::arg("grad"), py::arg("saved"), py::arg("p0") = 0.0, py::arg("p1") = 0.0,
     py::arg("out") = py::none());

  m.def("softmax", [](py::handle x, int64_t axis, bool log) {
    View xv = to_view(x, log ? "log_softmax" : "softmax", "input");
    py::object out = alloc(xv.device, xv.dtype, xv.shape_vec());
    View ov = to_view(out, "softmax", "out", true);
    { NoGil nogil(ov.numel()); softmax_forward(xv, ov, axis, log); }
    return out;
  }, py::arg("x"), py::arg("axis"), py::arg("log") = false);

  m.def("softmax_backward", [](py::handle g, py::handle y, int64_t axis, bool log) {
    View gv = to_view(g, "softmax_backward", "grad"), yv = to_view(y, "softmax_backward", "output");
    py::object out = alloc(gv.device, gv.dtype, gv.shape_vec());
    View ov = to_view(out, "softmax_backward", "out", true);
    { NoGil nogil(ov.numel()); softmax_backward(gv, yv, ov, axis, log); }
    return out;
  }, py::arg("grad"), py::arg("output"), py::arg("axis"), py::arg("log") = false);

  m.def("prelu", [](py::handle x, py::handle w) {
    View xv = to_view(x, "prelu", "input"), wv = to_view(w, "prelu", "weight");
    py::object out = alloc(xv.device, xv.dtype, xv.shape_vec());
    View ov = to_view(out, "prelu", "out", true);
    { NoGil nogil(ov.numel()); prelu_forward(xv, wv, ov); }
    return out;
  }, py::arg("input"), py::arg("weight"));

  // Returns (grad_input or None, grad_weight or None).
  m.def("prelu_backward", [](py::handle g, py::handle x, py::handle w, bool need_x, bool need_w) {
    View gv = to_view(g, "prelu_backward", "grad"), xv = to_view(x, "prelu_backward", "input"),
         wv = to_view(w, "prelu_backward", "weight");
    py::object gx = py::none(), gw = py::none();
    View gxv, gwv;
    if (need_x) { gx = alloc(xv.device, xv.dtype, xv.shape_vec()); gxv = to_view(gx, "prelu_backward", "gx", true); }
    if (need_w) { gw = alloc(wv.device, wv.dtype, wv.shape_vec()); gwv = to_view(gw, "prelu_backward", "gw", true); }
    { py::gil_scoped_release nogil; prelu_backward(gv, xv, wv, gxv, gwv); }
    return py::make_tuple(gx, gw);
  }, py::arg("grad"), py::arg("input"), py::arg("weight"), py::arg("need_input") = true,
     py::arg("need_weight") = true);

  // Returns (out, indices): indices hold the winning piece k per output element.
  m.def("maxout", [](py::handle x, int64_t pieces, int64_t axis) {
    View xv = to_view(x, "maxout", "input");
    Shape s = maxout_out_shape(xv, axis, pieces);
    py::object y = alloc(xv.device, xv.dtype, s), idx = alloc(xv.device, DType::i64, s);
    View yv = to_view(y, "maxout", "out", true), iv = to_view(idx, "maxout", "indices", true);
    { py::gil_scoped_release nogil; maxout_forward(xv, axis, pieces, yv, iv); }
    return py::make_tuple(y, idx);
  }, py::arg("x"), py::arg("pieces"), py::arg("axis") = 1);

  m.def("maxout_backward", [](py::handle g, py::handle idx, py::object input_shape, int64_t pieces, int64_t axis) {
    View gv = to_view(g, "maxout_backward", "grad"), iv = to_view(idx, "maxout_backward", "indices");
    Shape s = input_shape.cast<Shape>();
    py::object gx = alloc(gv.device, gv.dtype, s);
    View gxv = to_view(gx, "maxout_backward", "out", true);
    { py::gil_scoped_release nogil; maxout_backward(gv, iv, axis, pieces, gxv); }
    return gx;
  }, py::arg("grad"), py::arg("indices"), py::arg("input_shape"), py::arg("pieces"), py::arg("axis") = 1);
}
