// Bindings: initializer family (ops/init.h).
#include "ops/init.h"

#include "bindings/common.h"

DLCORE_BINDINGS(init) {
  using namespace dlcore;
  m.def("trunc_normal_fill", [](py::handle out, double mean, double std_, double a, double b, uint64_t seed,
                                uint64_t counter) {
    View ov = to_view(out, "trunc_normal_", "tensor", true);
    py::gil_scoped_release nogil;
    trunc_normal_fill(ov, mean, std_, a, b, seed, counter);
  }, py::arg("out"), py::arg("mean"), py::arg("std"), py::arg("a"), py::arg("b"), py::arg("seed"),
     py::arg("counter"));
  m.def("orthogonalize", [](py::handle a) {
    View av = to_view(a, "orthogonal_", "matrix", true);
    py::gil_scoped_release nogil;
    orthogonalize(av);
  }, py::arg("a"), "In place: a (m, n) float64 matrix, m >= n, becomes Q of its QR with R's diagonal positive.");
}
