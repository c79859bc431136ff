// Shared by every bindings file: turning Python arrays into Views (with the checks that make
// bad input a Python exception instead of a crash), allocating outputs, and self-registration
// so that adding an op family is adding one file: DLCORE_BINDINGS(family) { m.def(...); }.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <vector>

#include "core/errors.h"
#include "core/view.h"

namespace py = pybind11;

namespace dlcore {

using BindFn = void (*)(py::module_&);
std::vector<std::pair<const char*, BindFn>>& binding_registry();

// A View of a NumPy array (or of a device array registered by the CUDA bindings).
// `op` and `arg` name the call and the argument in error messages.
View to_view(py::handle obj, const char* op, const char* arg, bool writable = false);
DType dtype_from_numpy(const py::dtype& dt, const char* op, const char* arg);
py::dtype numpy_dtype(DType d);
DType dtype_from_name(const std::string& name);

// A contiguous View of `obj`: the array itself when contiguous, else a copy made by dlcore's
// copy kernel, kept alive by `keep`.
View contiguous_view(py::handle obj, const char* op, const char* arg, py::object& keep);

// New uninitialised array on `device` (CPU: a NumPy array).
py::object alloc(Device device, DType dtype, const Shape& shape);
// An output: `out` when given (checked writable), else a new array.
py::object out_or_alloc(py::object out, Device device, DType dtype, const Shape& shape);

// Hooks the CUDA bindings set when the CUDA variant is built and a device array type exists.
struct DeviceHooks {
  std::function<bool(py::handle)> is_device_array;
  std::function<View(py::handle)> view_of;
  std::function<py::object(DType, const Shape&)> alloc;
};
DeviceHooks& cuda_hooks();

}  // namespace dlcore

#define DLCORE_BINDINGS(name)                                                         \
  static void dlcore_bind_##name(py::module_& m);                                     \
  static const bool dlcore_bind_##name##_registered =                                 \
      (::dlcore::binding_registry().push_back({#name, dlcore_bind_##name}), true);    \
  static void dlcore_bind_##name(py::module_& m)
