// Shared by every bindings file: turning arrays into Views (with the checks that make bad input
// a Python exception instead of a crash), allocating outputs as dlcore Arrays, and
// self-registration so that adding an op family is adding one file:
// DLCORE_BINDINGS(family) { m.def(...); }.
// Kernels take dlcore Arrays (core/array.h, bound in bindings/array.cpp). They also accept NumPy
// arrays, so that tests can call `_C` directly; the Python package never passes one
// (numpy_crossings() counts them, and tests check a training step makes none).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <vector>

#include "core/array.h"
#include "core/errors.h"
#include "core/view.h"

namespace py = pybind11;

namespace dlcore {

using BindFn = void (*)(py::module_&);
std::vector<std::pair<const char*, BindFn>>& binding_registry();

// A View of a dlcore Array (or of a NumPy array). `op` and `arg` name the call and the argument
// in error messages; `writable` checks the memory may be written.
View to_view(py::handle obj, const char* op, const char* arg, bool writable = false);
DType dtype_from_numpy(const py::dtype& dt, const char* op, const char* arg);
py::dtype numpy_dtype(DType d);
DType dtype_from_name(const std::string& name);
// The name a dtype-like object stands for: a dlcore dtype (its name), a string, a NumPy dtype or
// scalar type (.name / __name__), a PyTorch dtype ("torch.float32" -> "float32").
std::string dtype_like_name(py::handle o);
// A dtype argument: anything dtype_like_name reads; TypeError for dtypes dlcore does not hold.
DType dtype_arg(py::handle dtype);

// A contiguous View of `obj`: the array itself when contiguous, else a copy made by dlcore's
// copy kernel, kept alive by `keep`.
View contiguous_view(py::handle obj, const char* op, const char* arg, py::object& keep);

// A new uninitialised Array on `device`, as a Python object.
py::object alloc(Device device, DType dtype, const Shape& shape);
// An output: `out` when given (to_view checks it writable), else a new Array.
py::object out_or_alloc(py::object out, Device device, DType dtype, const Shape& shape);

// Releases the GIL for the kernel call when there is enough work for another Python thread to
// gain from it (`elements` >= 32768); for a small tensor the release and re-acquire would cost
// more than the kernel itself.
class NoGil {
 public:
  explicit NoGil(int64_t elements) {
    if (elements >= 32768) state_ = PyEval_SaveThread();
  }
  ~NoGil() {
    if (state_) PyEval_RestoreThread(state_);
  }
  NoGil(const NoGil&) = delete;
  NoGil& operator=(const NoGil&) = delete;

 private:
  PyThreadState* state_ = nullptr;
};

// _C.binary(op, a, b, out): `out` (or a new Array of the broadcast shape) = op(a, b)
// (bindings/elementwise.cpp); the backward engine (bindings/autograd.cpp) sums gradients with it.
enum class BinaryOp : int;
py::object binary_call(BinaryOp op, py::handle a, py::handle b, py::object out);
// _C.unary and _C.act_forward likewise (bindings/elementwise.cpp, bindings/activation.cpp);
// Tensor's C operators (bindings/autograd.cpp) call them when no graph is recorded.
enum class UnaryOp : int;
py::object unary_call(UnaryOp op, py::handle x, double p0, double p1, py::object out);
enum class ActOp : int;
py::object act_forward_call(ActOp op, py::handle x, double p0, double p1, py::object out);

// Python objects for Arrays and dtypes (bindings/array.cpp).
bool is_array(py::handle obj);
Array& array_ref(py::handle obj);
py::object wrap_array(Array a);
py::object dtype_object(DType d);
// True (and the code in `out`) when obj is one of dlcore's dtype objects.
bool dtype_code(py::handle obj, DType& out);

// How often NumPy memory crossed into a kernel (`imports`) and how often an Array's memory was
// handed to NumPy through the buffer protocol or numpy() (`exports`).
struct NumpyCrossings {
  int64_t imports = 0, exports = 0;
};
NumpyCrossings& numpy_crossings();

}  // namespace dlcore

#define DLCORE_BINDINGS(name)                                                         \
  static void dlcore_bind_##name(py::module_& m);                                     \
  static const bool dlcore_bind_##name##_registered =                                 \
      (::dlcore::binding_registry().push_back({#name, dlcore_bind_##name}), true);    \
  static void dlcore_bind_##name(py::module_& m)
