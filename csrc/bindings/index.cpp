// Bindings: index family (ops/index.h) and random fills (ops/random.h).
#include "ops/index.h"

#include <algorithm>

#include "bindings/common.h"
#include "core/shape.h"
#include "ops/random.h"

namespace {
// The axis of an index op, normalised; a 0-d tensor has no axis to index (normalize_axis alone
// would accept axis 0 for it, and the output shape below would be written out of bounds).
int index_axis(const dlcore::View& v, int64_t axis, const char* op, const char* arg) {
  using namespace dlcore;
  DLCORE_CHECK(v.ndim >= 1, ValueError, op, ": argument '", arg,
               "' is 0-d (shape ()); it needs at least one dimension");
  return normalize_axis(axis, v.ndim, op, v.shape_vec());
}
}  // namespace

DLCORE_BINDINGS(index) {
  using namespace dlcore;
  m.def("index_select", [](py::handle x, int64_t axis, py::handle idx) {
    View xv = to_view(x, "index_select", "input"), iv = to_view(idx, "index_select", "index");
    int ax = index_axis(xv, axis, "index_select", "input");
    Shape s = xv.shape_vec();
    s[ax] = iv.ndim >= 1 ? iv.shape[0] : 0;
    py::object out = alloc(xv.device, xv.dtype, s);
    View ov = to_view(out, "index_select", "out", true);
    { py::gil_scoped_release nogil; index_select(xv, ax, iv, ov); }
    return out;
  }, py::arg("input"), py::arg("axis"), py::arg("index"));
  m.def("index_add_", [](py::handle out, int64_t axis, py::handle idx, py::handle src) {
    View ov = to_view(out, "index_add_", "out", true), iv = to_view(idx, "index_add_", "index"),
         sv = to_view(src, "index_add_", "source");
    int ax = index_axis(ov, axis, "index_add_", "out");
    { py::gil_scoped_release nogil; index_add(ov, ax, iv, sv); }
  }, py::arg("out"), py::arg("axis"), py::arg("index"), py::arg("source"));
  m.def("gather", [](py::handle x, int64_t axis, py::handle idx) {
    View xv = to_view(x, "gather", "input"), iv = to_view(idx, "gather", "index");
    int ax = index_axis(xv, axis, "gather", "input");
    py::object out = alloc(xv.device, xv.dtype, iv.shape_vec());
    View ov = to_view(out, "gather", "out", true);
    { py::gil_scoped_release nogil; gather(xv, ax, iv, ov); }
    return out;
  }, py::arg("input"), py::arg("axis"), py::arg("index"));
  m.def("scatter_add_", [](py::handle out, int64_t axis, py::handle idx, py::handle src) {
    View ov = to_view(out, "scatter_add_", "out", true), iv = to_view(idx, "scatter_add_", "index"),
         sv = to_view(src, "scatter_add_", "src");
    int ax = index_axis(ov, axis, "scatter_add_", "out");
    { py::gil_scoped_release nogil; scatter_add(ov, ax, iv, sv); }
  }, py::arg("out"), py::arg("axis"), py::arg("index"), py::arg("src"));
  auto index_args = [](py::handle x, std::vector<int64_t> dims, py::list indices, const char* op,
                       std::vector<int>& d, std::vector<View>& iv) {
    View xv = to_view(x, op, "input");
    for (auto a : dims) d.push_back(index_axis(xv, a, op, "input"));
    for (auto h : indices) iv.push_back(to_view(h, op, "index"));
    return xv;
  };
  m.def("index_get", [index_args](py::handle x, std::vector<int64_t> dims, py::list indices) {
    std::vector<int> d;
    std::vector<View> iv;
    View xv = index_args(x, dims, indices, "index", d, iv);
    Shape b = iv.empty() ? Shape{} : iv[0].shape_vec();
    for (auto& v : iv) b = broadcast_shapes(b, v.shape_vec(), "index");
    for (int k = 0; k < xv.ndim; ++k)
      if (std::find(d.begin(), d.end(), k) == d.end()) b.push_back(xv.shape[k]);
    py::object out = alloc(xv.device, xv.dtype, b);
    View ov = to_view(out, "index", "out", true);
    { py::gil_scoped_release nogil; index_get(xv, d, iv, ov); }
    return out;
  }, py::arg("input"), py::arg("dims"), py::arg("indices"),
     "x indexed along `dims` by int64 index tensors (broadcast together): shape B + the other dims.");
  m.def("index_put_", [index_args](py::handle x, std::vector<int64_t> dims, py::list indices, py::handle values,
                                  bool accumulate) {
    std::vector<int> d;
    std::vector<View> iv;
    index_args(x, dims, indices, "index_put_", d, iv);
    View wv = to_view(x, "index_put_", "input", true);
    View vv = to_view(values, "index_put_", "values");
    { py::gil_scoped_release nogil; index_put(wv, d, iv, vv, accumulate); }
  }, py::arg("input"), py::arg("dims"), py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
  m.def("nonzero", [](py::handle mask) {
    View mv = to_view(mask, "nonzero", "input");
    int64_t n;
    { py::gil_scoped_release nogil; n = count_nonzero(mv); }
    py::object out = alloc(mv.device, DType::i64, {n, (int64_t)mv.ndim});
    View ov = to_view(out, "nonzero", "out", true);
    { py::gil_scoped_release nogil; nonzero(mv, ov); }
    return out;
  }, py::arg("input"), "Coordinates (count, ndim) of the nonzero elements, in row-major order.");
  m.def("argsort", [](py::handle keys) {
    View kv = to_view(keys, "argsort", "input");
    py::object out = alloc(kv.device, DType::i64, kv.shape_vec());
    View ov = to_view(out, "argsort", "out", true);
    { py::gil_scoped_release nogil; argsort(kv, ov); }
    return out;
  }, py::arg("input"), "Stable ascending argsort along the last dim (NaN last).");
  m.def("one_hot", [](py::handle idx, int64_t n, py::handle dtype) {
    View iv = to_view(idx, "one_hot", "index");
    Shape s = iv.shape_vec();
    s.push_back(n);
    DLCORE_CHECK(n > 0, ValueError, "one_hot: num_classes must be positive, got ", n);
    py::object out = alloc(iv.device, dtype_arg(dtype), s);
    View ov = to_view(out, "one_hot", "out", true);
    { py::gil_scoped_release nogil; one_hot(iv, n, ov); }
    return out;
  }, py::arg("index"), py::arg("num_classes"), py::arg("dtype") = "int64");

  py::enum_<RandomDist>(m, "RandomDist").value("uniform", RandomDist::uniform).value("normal", RandomDist::normal);
  m.def("random_fill", [](RandomDist dist, py::handle out, double a, double b, uint64_t seed, uint64_t counter) {
    View ov = to_view(out, "random_fill", "out", true);
    { py::gil_scoped_release nogil; random_fill(dist, ov, a, b, seed, counter); }
  }, py::arg("dist"), py::arg("out"), py::arg("a"), py::arg("b"), py::arg("seed"), py::arg("counter"));
  m.def("random_blocks", [](py::handle dtype, int64_t n) { return random_blocks(dtype_arg(dtype), n); });
}
