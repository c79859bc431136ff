// Bindings: reduction family (ops/reduce.h).
#include "ops/reduce.h"

#include "bindings/common.h"

DLCORE_BINDINGS(reduce) {
  using namespace dlcore;
  py::enum_<ReduceOp>(m, "Reduce")
      .value("sum", ReduceOp::sum).value("mean", ReduceOp::mean).value("prod", ReduceOp::prod)
      .value("max", ReduceOp::max).value("min", ReduceOp::min).value("var", ReduceOp::var)
      .value("argmax", ReduceOp::argmax).value("argmin", ReduceOp::argmin);
  // axes=None reduces everything. Returns the keepdims-shaped result unless keepdim=False.
  m.def("reduce", [](ReduceOp op, py::handle x, py::object axes, bool keepdim, double correction) {
    static const char* names[] = {"sum", "mean", "prod", "max", "min", "var", "argmax", "argmin"};
    const char* name = (int)op >= 0 && op < ReduceOp::kCount ? names[(int)op] : "reduce";
    View xv = to_view(x, name, "x");
    std::vector<int64_t> ax;
    if (axes.is_none()) {
      for (int i = 0; i < xv.ndim; ++i) ax.push_back(i);
    } else {
      ax = axes.cast<std::vector<int64_t>>();
    }
    std::vector<int> norm = normalize_axes(ax, xv.ndim, name, xv.shape_vec());
    Shape ks = reduce_out_shape(xv, norm);
    bool is_arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
    py::object out = alloc(xv.device, is_arg ? DType::i64 : xv.dtype, ks);
    View ov = to_view(out, name, "out", true);
    { NoGil nogil(xv.numel()); reduce(op, xv, norm, ov, correction); }
    if (keepdim) return out;
    Shape s;
    for (int i = 0; i < xv.ndim; ++i)
      if (std::find(norm.begin(), norm.end(), i) == norm.end()) s.push_back(xv.shape[i]);
    return out.attr("reshape")(py::tuple(py::cast(s)));
  }, py::arg("op"), py::arg("x"), py::arg("axes") = py::none(), py::arg("keepdim") = false,
     py::arg("correction") = 1.0);
}
