#include "bindings/common.h"

#include "ops/elementwise.h"

namespace dlcore {

std::vector<std::pair<const char*, BindFn>>& binding_registry() {
  static std::vector<std::pair<const char*, BindFn>> r;
  return r;
}

NumpyCrossings& numpy_crossings() {
  static NumpyCrossings c;
  return c;
}

DType dtype_from_name(const std::string& name) {
  if (name == "float32") return DType::f32;
  if (name == "float64") return DType::f64;
  if (name == "int64") return DType::i64;
  if (name == "bool") return DType::b8;
  throw TypeError(str("unsupported dtype '", name, "': dlcore supports float32, float64, int64 and bool"));
}

py::dtype numpy_dtype(DType d) {
  switch (d) {
    case DType::f32: return py::dtype::of<float>();
    case DType::f64: return py::dtype::of<double>();
    case DType::i64: return py::dtype::of<int64_t>();
    case DType::b8: return py::dtype::of<bool>();
  }
  return py::dtype::of<float>();
}

DType dtype_from_numpy(const py::dtype& dt, const char* op, const char* arg) {
  char kind = dt.kind();
  int64_t size = dt.itemsize();
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 8) return DType::f64;
  if (kind == 'i' && size == 8) return DType::i64;
  if (kind == 'b' && size == 1) return DType::b8;
  throw TypeError(str(op, ": argument '", arg, "' has dtype ", std::string(py::str(dt)),
                      "; dlcore kernels take float32, float64, int64 or bool"));
}

std::string dtype_like_name(py::handle o) {
  if (py::isinstance<py::str>(o)) return o.cast<std::string>();
  std::string n;
  if (py::hasattr(o, "name") && py::isinstance<py::str>(o.attr("name")))
    n = o.attr("name").cast<std::string>();
  else if (PyType_Check(o.ptr()) && py::hasattr(o, "__name__"))
    n = o.attr("__name__").cast<std::string>();
  else
    n = py::str(o).cast<std::string>();
  if (n.rfind("torch.", 0) == 0) n = n.substr(6);
  if (n == "bool_") n = "bool";
  return n;
}

DType dtype_arg(py::handle dtype) {
  DType d;
  if (dtype_code(dtype, d)) return d;
  return dtype_from_name(dtype_like_name(dtype));
}

View to_view(py::handle obj, const char* op, const char* arg, bool writable) {
  if (is_array(obj)) {
    const Array& a = array_ref(obj);
    if (writable) check_writable(a, op, arg);
    return a.view();
  }
  if (!py::isinstance<py::array>(obj))
    throw TypeError(str(op, ": argument '", arg, "' must be an array, got ",
                        std::string(py::str(py::type::of(obj).attr("__name__")))));
  ++numpy_crossings().imports;
  py::array a = py::reinterpret_borrow<py::array>(obj);
  View v;
  v.dtype = dtype_from_numpy(a.dtype(), op, arg);
  DLCORE_CHECK(a.dtype().byteorder() != '>', TypeError, op, ": argument '", arg,
               "' is big-endian; convert it with .astype(its dtype.newbyteorder('='))");
  DLCORE_CHECK(a.ndim() <= kMaxDims, ValueError, op, ": argument '", arg, "' has ", a.ndim(),
               " dimensions; dlcore supports at most ", kMaxDims);
  if (writable)
    DLCORE_CHECK(a.writeable(), ValueError, op, ": argument '", arg, "' is a read-only array");
  int64_t item = dtype_size(v.dtype);
  v.ndim = (int)a.ndim();
  v.data = const_cast<void*>(a.data());
  DLCORE_CHECK(reinterpret_cast<uintptr_t>(v.data) % item == 0, ValueError, op, ": argument '", arg,
               "' is misaligned for ", dtype_name(v.dtype), " (address not a multiple of ", item,
               " bytes); pass a copy (np.ascontiguousarray)");
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = a.shape(i);
    int64_t s = a.strides(i);
    DLCORE_CHECK(s % item == 0, ValueError, op, ": argument '", arg, "' has a byte stride ", s,
                 " that is not a multiple of its item size ", item, " (shape ",
                 shape_str(v.shape, v.ndim), "); pass a copy (np.ascontiguousarray)");
    v.strides[i] = s / item;
  }
  return v;
}

py::object alloc(Device device, DType dtype, const Shape& shape) { return wrap_array(empty(device, dtype, shape)); }

View contiguous_view(py::handle obj, const char* op, const char* arg, py::object& keep) {
  View v = to_view(obj, op, arg);
  if (v.is_contiguous()) return v;
  Array c = empty(v.device, v.dtype, v.shape_vec());
  copy(v, c.view());
  keep = wrap_array(c);
  return c.view();
}

py::object out_or_alloc(py::object out, Device device, DType dtype, const Shape& shape) {
  if (out.is_none()) return alloc(device, dtype, shape);
  return out;
}

}  // namespace dlcore

PYBIND11_MODULE(_C, m) {
  m.doc() = "dlcore native kernels";
  // device memory exhausted: a RuntimeError subclass (dlcore.cuda.OutOfMemoryError), as PyTorch's
  py::register_exception<dlcore::OutOfMemoryError>(m, "OutOfMemoryError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dlcore::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const dlcore::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const dlcore::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    }
  });
  auto reg = dlcore::binding_registry();
  std::sort(reg.begin(), reg.end(),
            [](const auto& a, const auto& b) { return std::string(a.first) < b.first; });
  for (auto& [name, fn] : reg) fn(m);
}
