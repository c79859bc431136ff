// Bindings: GEMM family (ops/gemm.h).
#include "ops/gemm.h"

#include "bindings/common.h"

DLCORE_BINDINGS(gemm) {
  using namespace dlcore;
  m.def("matmul", [](py::handle a, py::handle b, py::object out) {
    View av = to_view(a, "matmul", "a"), bv = to_view(b, "matmul", "b");
    Shape s = matmul_out_shape(av, bv);
    out = out_or_alloc(out, av.device, av.dtype, s);
    View ov = to_view(out, "matmul", "out", true);
    { py::gil_scoped_release nogil; matmul(av, bv, ov); }
    return out;
  }, py::arg("a"), py::arg("b"), py::arg("out") = py::none());
}
