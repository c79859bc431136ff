// Bindings: loss family (ops/loss.h). Optional arrays (weight, pos_weight) are None when absent.
#include "ops/loss.h"

#include "bindings/common.h"

namespace {
dlcore::View opt_view(py::handle obj, const char* op, const char* arg) {
  if (obj.is_none()) return dlcore::View{};
  return dlcore::to_view(obj, op, arg);
}
}  // namespace

DLCORE_BINDINGS(loss) {
  using namespace dlcore;
  py::enum_<LossOp> e(m, "LossOp");
  for (auto [n, v] : std::initializer_list<std::pair<const char*, LossOp>>{
           {"mse", LossOp::mse}, {"l1", LossOp::l1}, {"huber", LossOp::huber},
           {"smooth_l1", LossOp::smooth_l1}, {"bce", LossOp::bce}, {"bce_logits", LossOp::bce_logits},
           {"hinge", LossOp::hinge}, {"squared_hinge", LossOp::squared_hinge},
           {"hinge_embedding", LossOp::hinge_embedding}, {"kl_div", LossOp::kl_div},
           {"kl_div_log_target", LossOp::kl_div_log_target}})
    e.value(n, v);

  // Elementwise loss terms (the caller reduces): out = l(x, y; weight, pos_weight, p0).
  m.def("pointwise_loss", [](LossOp op, py::handle x, py::handle y, py::handle w, py::handle pw, double p0) {
    View xv = to_view(x, "loss", "input"), yv = to_view(y, "loss", "target");
    View wv = opt_view(w, "loss", "weight"), pv = opt_view(pw, "loss", "pos_weight");
    py::object out = alloc(xv.device, xv.dtype, xv.shape_vec());
    View ov = to_view(out, "loss", "out", true);
    { py::gil_scoped_release nogil; pointwise_loss_forward(op, xv, yv, wv, pv, ov, p0); }
    return out;
  }, py::arg("op"), py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
     py::arg("pos_weight") = py::none(), py::arg("p0") = 0.0);

  m.def("pointwise_loss_backward", [](LossOp op, py::handle g, py::handle x, py::handle y, py::handle w,
                                      py::handle pw, double p0) {
    View gv = to_view(g, "loss_backward", "grad"), xv = to_view(x, "loss_backward", "input"),
         yv = to_view(y, "loss_backward", "target");
    View wv = opt_view(w, "loss_backward", "weight"), pv = opt_view(pw, "loss_backward", "pos_weight");
    py::object out = alloc(xv.device, xv.dtype, xv.shape_vec());
    View ov = to_view(out, "loss_backward", "out", true);
    { py::gil_scoped_release nogil; pointwise_loss_backward(op, gv, xv, yv, wv, pv, ov, p0); }
    return out;
  }, py::arg("op"), py::arg("grad"), py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
     py::arg("pos_weight") = py::none(), py::arg("p0") = 0.0);

  // Fused log_softmax + NLL over (N, C) logits. Returns (loss (N,), stat (N, 2) = (max, log sum exp(z - max)), wrow (N,)).
  m.def("cross_entropy", [](py::handle z, py::handle target, py::handle weight, int64_t ignore_index,
                            double label_smoothing) {
    View zv = to_view(z, "cross_entropy", "input"), tv = to_view(target, "cross_entropy", "target");
    View wv = opt_view(weight, "cross_entropy", "weight");
    Shape rs{zv.ndim >= 1 ? zv.shape[0] : 0};
    Shape ss{rs[0], 2};
    py::object loss = alloc(zv.device, zv.dtype, rs), lse = alloc(zv.device, zv.dtype, ss),
               wrow = alloc(zv.device, zv.dtype, rs);
    View lv = to_view(loss, "cross_entropy", "loss", true), sv = to_view(lse, "cross_entropy", "lse", true),
         rv = to_view(wrow, "cross_entropy", "wrow", true);
    { py::gil_scoped_release nogil; cross_entropy_forward(zv, tv, wv, ignore_index, label_smoothing, lv, sv, rv); }
    return py::make_tuple(loss, lse, wrow);
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("ignore_index") = -100,
     py::arg("label_smoothing") = 0.0);

  m.def("cross_entropy_backward", [](py::handle z, py::handle target, py::handle weight, int64_t ignore_index,
                                     double label_smoothing, py::handle lse, py::handle grow) {
    View zv = to_view(z, "cross_entropy_backward", "input"), tv = to_view(target, "cross_entropy_backward", "target");
    View wv = opt_view(weight, "cross_entropy_backward", "weight");
    View sv = to_view(lse, "cross_entropy_backward", "lse"), gv = to_view(grow, "cross_entropy_backward", "grad");
    py::object gz = alloc(zv.device, zv.dtype, zv.shape_vec());
    View ov = to_view(gz, "cross_entropy_backward", "out", true);
    { py::gil_scoped_release nogil; cross_entropy_backward(zv, tv, wv, ignore_index, label_smoothing, sv, gv, ov); }
    return gz;
  }, py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"),
     py::arg("label_smoothing"), py::arg("lse"), py::arg("grad"));

  m.def("nll_loss", [](py::handle logp, py::handle target, py::handle weight, int64_t ignore_index) {
    View zv = to_view(logp, "nll_loss", "input"), tv = to_view(target, "nll_loss", "target");
    View wv = opt_view(weight, "nll_loss", "weight");
    Shape rs{zv.ndim >= 1 ? zv.shape[0] : 0};
    py::object loss = alloc(zv.device, zv.dtype, rs), wrow = alloc(zv.device, zv.dtype, rs);
    View lv = to_view(loss, "nll_loss", "loss", true), rv = to_view(wrow, "nll_loss", "wrow", true);
    { py::gil_scoped_release nogil; nll_forward(zv, tv, wv, ignore_index, lv, rv); }
    return py::make_tuple(loss, wrow);
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("ignore_index") = -100);

  m.def("nll_loss_backward", [](py::handle target, py::handle weight, int64_t ignore_index, py::handle grow,
                                py::object input_shape, py::handle dtype) {
    View tv = to_view(target, "nll_loss_backward", "target"), wv = opt_view(weight, "nll_loss_backward", "weight");
    View gv = to_view(grow, "nll_loss_backward", "grad");
    py::object gx = alloc(gv.device, dtype_arg(dtype), input_shape.cast<Shape>());
    View ov = to_view(gx, "nll_loss_backward", "out", true);
    { py::gil_scoped_release nogil; nll_backward(tv, wv, ignore_index, gv, ov); }
    return gx;
  }, py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("grad"), py::arg("input_shape"),
     py::arg("dtype"));

  m.def("multi_margin_loss", [](py::handle x, py::handle target, py::handle weight, int p, double margin) {
    View xv = to_view(x, "multi_margin_loss", "input"), tv = to_view(target, "multi_margin_loss", "target");
    View wv = opt_view(weight, "multi_margin_loss", "weight");
    py::object loss = alloc(xv.device, xv.dtype, Shape{xv.ndim >= 1 ? xv.shape[0] : 0});
    View lv = to_view(loss, "multi_margin_loss", "loss", true);
    { py::gil_scoped_release nogil; multi_margin_forward(xv, tv, wv, p, margin, lv); }
    return loss;
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("p") = 1, py::arg("margin") = 1.0);

  m.def("multi_margin_loss_backward", [](py::handle x, py::handle target, py::handle weight, int p,
                                         double margin, py::handle grow) {
    View xv = to_view(x, "multi_margin_loss_backward", "input"),
         tv = to_view(target, "multi_margin_loss_backward", "target");
    View wv = opt_view(weight, "multi_margin_loss_backward", "weight");
    View gv = to_view(grow, "multi_margin_loss_backward", "grad");
    py::object gx = alloc(xv.device, xv.dtype, xv.shape_vec());
    View ov = to_view(gx, "multi_margin_loss_backward", "out", true);
    { py::gil_scoped_release nogil; multi_margin_backward(xv, tv, wv, p, margin, gv, ov); }
    return gx;
  }, py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("p"), py::arg("margin"), py::arg("grad"));
}
