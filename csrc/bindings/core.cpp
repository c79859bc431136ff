// Bindings: threads, ISA choice, build configuration.
#include "bindings/common.h"
#include "core/cpu.h"
#include "core/parallel.h"
#include "core/storage.h"

DLCORE_BINDINGS(core) {
  using namespace dlcore;
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", [](int n) {
    DLCORE_CHECK(n >= 1, ValueError, "set_num_threads: n must be >= 1, got ", n);
    set_num_threads(n);
  }, py::arg("n"));
  m.def("isa", [] { return std::string(isa_name(current_isa())); });
  m.def("set_isa", [](const std::string& name) { set_isa(isa_from_name(name)); }, py::arg("name"));
  m.def("supported_isas", &supported_isas);
#ifdef DLCORE_WITH_CUDA
  m.attr("cuda_built") = true;
#else
  m.attr("cuda_built") = false;
#endif
  m.attr("max_dims") = kMaxDims;
  m.def("set_alloc_budget", &set_alloc_budget, py::arg("bytes"),
        "Caps the bytes this thread may allocate from now on (-1: no cap); returns the previous cap");
  m.def("alloc_budget", &alloc_budget);
}
