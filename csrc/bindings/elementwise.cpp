// Bindings: elementwise family (ops/elementwise.h).
#include "ops/elementwise.h"

#include "bindings/common.h"
#include "core/shape.h"

namespace dlcore {

py::object binary_call(BinaryOp op, py::handle a, py::handle b, py::object out) {
  const char* name = binary_name(op);
  View av = to_view(a, name, "a"), bv = to_view(b, name, "b");
  DType od = binary_outputs_bool(op) ? DType::b8 : av.dtype;
  Shape s = broadcast_shapes(av.shape_vec(), bv.shape_vec(), name);
  out = out_or_alloc(out, av.device, od, s);
  View ov = to_view(out, name, "out", true);
  { NoGil nogil(ov.numel()); binary(op, av, bv, ov); }
  return out;
}

py::object unary_call(UnaryOp op, py::handle x, double p0, double p1, py::object out) {
  View xv = to_view(x, unary_name(op), "x");
  DType od = unary_outputs_bool(op) ? DType::b8 : xv.dtype;
  out = out_or_alloc(out, xv.device, od, xv.shape_vec());
  View ov = to_view(out, unary_name(op), "out", true);
  { NoGil nogil(ov.numel()); unary(op, xv, ov, p0, p1); }
  return out;
}

}  // namespace dlcore

DLCORE_BINDINGS(elementwise) {
  using namespace dlcore;
  py::enum_<UnaryOp> u(m, "Unary");
  for (auto [n, v] : std::initializer_list<std::pair<const char*, UnaryOp>>{
           {"neg", UnaryOp::neg}, {"exp", UnaryOp::exp}, {"log", UnaryOp::log},
           {"sqrt", UnaryOp::sqrt}, {"abs", UnaryOp::abs}, {"sign", UnaryOp::sign},
           {"relu", UnaryOp::relu}, {"sigmoid", UnaryOp::sigmoid}, {"tanh", UnaryOp::tanh},
           {"square", UnaryOp::square}, {"reciprocal", UnaryOp::reciprocal}, {"sin", UnaryOp::sin},
           {"cos", UnaryOp::cos}, {"log1p", UnaryOp::log1p}, {"expm1", UnaryOp::expm1},
           {"floor", UnaryOp::floor}, {"ceil", UnaryOp::ceil}, {"round", UnaryOp::round}, {"erf", UnaryOp::erf},
           {"clip", UnaryOp::clip}, {"pow_scalar", UnaryOp::pow_scalar},
           {"rpow_scalar", UnaryOp::rpow_scalar}, {"mul_scalar", UnaryOp::mul_scalar},
           {"isnan", UnaryOp::isnan}, {"isinf", UnaryOp::isinf}, {"logical_not", UnaryOp::logical_not}})
    u.value(n, v);
  py::enum_<BinaryOp> b(m, "Binary");
  for (auto [n, v] : std::initializer_list<std::pair<const char*, BinaryOp>>{
           {"add", BinaryOp::add}, {"sub", BinaryOp::sub}, {"mul", BinaryOp::mul},
           {"div", BinaryOp::div}, {"pow", BinaryOp::pow}, {"maximum", BinaryOp::maximum},
           {"minimum", BinaryOp::minimum}, {"eq", BinaryOp::eq}, {"ne", BinaryOp::ne},
           {"lt", BinaryOp::lt}, {"le", BinaryOp::le}, {"gt", BinaryOp::gt}, {"ge", BinaryOp::ge},
           {"logical_and", BinaryOp::logical_and}, {"logical_or", BinaryOp::logical_or}})
    b.value(n, v);

  m.def("unary", &unary_call, py::arg("op"), py::arg("x"), py::arg("p0") = 0.0, py::arg("p1") = 0.0,
        py::arg("out") = py::none());

  m.def("binary", &binary_call, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("out") = py::none());

  m.def("where", [](py::handle c, py::handle a, py::handle b, py::object out) {
    View cv = to_view(c, "where", "condition"), av = to_view(a, "where", "input"),
         bv = to_view(b, "where", "other");
    Shape s = broadcast_shapes(broadcast_shapes(cv.shape_vec(), av.shape_vec(), "where"), bv.shape_vec(), "where");
    out = out_or_alloc(out, av.device, av.dtype, s);
    View ov = to_view(out, "where", "out", true);
    { NoGil nogil(ov.numel()); where(cv, av, bv, ov); }
    return out;
  }, py::arg("condition"), py::arg("input"), py::arg("other"), py::arg("out") = py::none());

  // copy(src, out): out[...] = src broadcast, with dtype conversion.
  m.def("copy", [](py::handle src, py::handle out) {
    View sv = to_view(src, "copy", "src"), ov = to_view(out, "copy", "out", true);
    { NoGil nogil(ov.numel()); copy(sv, ov); }
  }, py::arg("src"), py::arg("out"));

  // cast(x, dtype): a new contiguous array of x converted to dtype (also: contiguous copy).
  m.def("cast", [](py::handle x, py::handle dtype) {
    View xv = to_view(x, "cast", "x");
    py::object out = alloc(xv.device, dtype_arg(dtype), xv.shape_vec());
    View ov = to_view(out, "cast", "out", true);
    { NoGil nogil(ov.numel()); copy(xv, ov); }
    return out;
  }, py::arg("x"), py::arg("dtype"));

  m.def("broadcast_shapes", [](Shape a, Shape b, const char* op) { return py::tuple(py::cast(broadcast_shapes(a, b, op))); },
        py::arg("a"), py::arg("b"), py::arg("op") = "broadcast",
        "The broadcast of two shapes (NumPy's rule); ValueError naming op and both shapes.");
  m.def("fill", [](py::handle out, double value) {
    View ov = to_view(out, "fill", "out", true);
    { NoGil nogil(ov.numel()); fill(ov, value); }
  }, py::arg("out"), py::arg("value"));
}
