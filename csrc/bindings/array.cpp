// Bindings: dlcore.Array (core/array.h), the storage behind every Tensor on every device, and
// the dtype objects. The edges to NumPy live here and nowhere else in the bindings: the buffer
// protocol and numpy() (zero-copy, CPU), share() (a NumPy array's memory without a copy) and
// from_object() (a copy of Python data: scalars, nested lists, NumPy arrays).
#include <Python.h>

#include <cmath>
#include <cstring>

#include "bindings/common.h"
#include "core/device.h"
#include "ops/elementwise.h"

namespace dlcore {
namespace {

// ---- dtype objects ------------------------------------------------------------------------------

struct DTypeObj {
  DType code;
};

PyObject* g_dtype_objs[4] = {nullptr, nullptr, nullptr, nullptr};
PyTypeObject* g_array_type = nullptr;

const char* device_str(Device d) { return d == Device::cpu ? "cpu" : "cuda:0"; }

Device device_arg(const std::string& s) {
  if (s == "cpu") return Device::cpu;
  if (s == "cuda" || s == "cuda:0") return Device::cuda;
  if (s.rfind("cuda:", 0) == 0)
    throw ValueError(str("device '", s, "': dlcore uses one GPU, 'cuda' or 'cuda:0'"));
  throw ValueError(str("unknown device '", s, "'; expected 'cpu' or 'cuda'"));
}

// ---- NumPy edge -------------------------------------------------------------------------------

// Lets go of the NumPy array (or any Python object) whose memory a Storage used.
void release_python_owner(void*, size_t, void* owner) {
  auto* o = static_cast<PyObject*>(owner);
  if (!Py_IsInitialized()) return;  // interpreter gone: nothing to release into
  py::gil_scoped_acquire gil;
  Py_DECREF(o);
}

// An Array over a NumPy array's memory (no copy). The memory's lowest address becomes the
// storage's start, so negative strides keep working.
Array share(py::array a, const char* op) {
  py::dtype dt = a.dtype();
  std::string shape_s = py::str(a.attr("shape")).cast<std::string>();
  DLCORE_CHECK(dt.byteorder() != '>', TypeError, op, ": the array of shape ", shape_s,
               " is not in native byte order; use arr.astype(arr.dtype.newbyteorder('='))");
  char kind = dt.kind();
  int64_t item = dt.itemsize();
  DType d;
  if (kind == 'f' && item == 4) d = DType::f32;
  else if (kind == 'f' && item == 8) d = DType::f64;
  else if (kind == 'i' && item == 8) d = DType::i64;
  else if (kind == 'b' && item == 1) d = DType::b8;
  else
    throw TypeError(str(op, ": unsupported dtype ", std::string(py::str(dt)), " (argument of shape ", shape_s,
                        "); dlcore supports float32, float64, int64 and bool (convert with .astype(...))"));
  DLCORE_CHECK(a.ndim() <= kMaxDims, ValueError, op, ": the array has ", a.ndim(), " dimensions; dlcore supports at most ",
               kMaxDims);
  auto addr = reinterpret_cast<uintptr_t>(a.data());
  bool aligned = addr % item == 0;
  Shape shape(a.ndim()), strides(a.ndim());
  int64_t lo = 0, hi = 0;
  bool empty = false;
  for (int i = 0; i < (int)a.ndim(); ++i) {
    shape[i] = a.shape(i);
    int64_t sb = a.strides(i);
    aligned = aligned && sb % item == 0;
    strides[i] = item ? sb / item : 0;
    if (shape[i] == 0) empty = true;
    int64_t span = strides[i] * (shape[i] - 1);
    (span < 0 ? lo : hi) += span;
  }
  DLCORE_CHECK(aligned, ValueError, op, ": the array of shape ", shape_s, " is misaligned for ", dtype_name(d),
               " (strides ", std::string(py::str(a.attr("strides"))), "); pass np.ascontiguousarray(arr)");
  if (empty) lo = hi = 0;
  char* base = static_cast<char*>(const_cast<void*>(a.data())) + lo * item;
  size_t bytes = (size_t)((hi - lo + 1) * item);
  auto st = wrap_storage(base, bytes, Device::cpu, release_python_owner, a.inc_ref().ptr());
  return over_storage(st, d, shape, strides, -lo, a.writeable());
}

// The dtype dlcore gives data that comes without one: floats take the default float dtype,
// except NumPy float32/float64 arrays and NumPy float scalars, which keep theirs (as in PyTorch);
// integers become int64, booleans bool.
DType inferred_dtype(const py::array& arr, bool from_numpy, DType default_float, const char* op) {
  py::dtype dt = arr.dtype();
  char kind = dt.kind();
  if (kind == 'f') {
    if (from_numpy && dt.itemsize() == 4) return DType::f32;
    if (from_numpy && dt.itemsize() == 8) return DType::f64;
    return default_float;
  }
  if (kind == 'i' || kind == 'u') return DType::i64;
  if (kind == 'b') return DType::b8;
  throw TypeError(str(op, ": cannot make a tensor from data of type ", std::string(py::str(dt)),
                      "; dlcore holds float32, float64, int64 and bool"));
}

// A new Array holding a copy of `obj` (Python scalar, nested sequence, NumPy array or Array).
Array from_object(py::handle obj, py::handle dtype, DType default_float, Device device, const char* op) {
  if (is_array(obj)) {
    const Array& a = array_ref(obj);
    Array r = empty(device, dtype.is_none() ? a.dtype : dtype_arg(dtype), a.shape_vec());
    copy_(r, a, op);
    return r;
  }
  py::module_ np = py::module_::import("numpy");
  bool from_numpy = py::isinstance<py::array>(obj) || py::isinstance(obj, np.attr("floating"));
  py::array arr;
  try {
    arr = np.attr("asarray")(obj);
  } catch (py::error_already_set& e) {
    throw TypeError(str(op, ": cannot make a tensor from ", std::string(py::str(py::type::of(obj).attr("__name__"))),
                        " (", e.what(), ")"));
  }
  char kind = arr.dtype().kind();
  DLCORE_CHECK(kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b', TypeError, op,
               ": cannot make a tensor from data of type ", std::string(py::str(arr.dtype())),
               "; dlcore holds float32, float64, int64 and bool");
  DType d = dtype.is_none() ? inferred_dtype(arr, from_numpy, default_float, op) : dtype_arg(dtype);
  if (kind == 'u' && arr.dtype().itemsize() == 8 && arr.size() > 0) {
    // uint64 values above 2**63 - 1 do not fit int64: refuse rather than wrap
    uint64_t mx = np.attr("max")(arr).cast<uint64_t>();
    DLCORE_CHECK(mx <= (uint64_t)INT64_MAX || is_float(d), ValueError, op, ": value ", mx,
                 " does not fit in int64 (the largest is 9223372036854775807)");
  }
  py::dtype want = numpy_dtype(d);
  if (!arr.dtype().is(want) && !arr.dtype().equal(want)) arr = arr.attr("astype")(want);
  else if (!arr.attr("flags").attr("aligned").cast<bool>()) arr = arr.attr("copy")();  // share() needs alignment
  Array src = share(arr, op);
  Array r = empty(device, d, src.shape_vec());
  copy_(r, src, op);
  return r;
}

py::array to_numpy(py::handle self) {
  const Array& a = array_ref(self);
  DLCORE_CHECK(a.device() == Device::cpu, TypeError, "numpy(): the tensor is on ", device_str(a.device()),
               "; copy it to the host first with .cpu()");
  ++numpy_crossings().exports;
  int64_t item = a.itemsize();
  std::vector<py::ssize_t> shape(a.shape, a.shape + a.ndim), strides(a.ndim);
  for (int i = 0; i < a.ndim; ++i) strides[i] = a.strides[i] * item;
  py::array out(numpy_dtype(a.dtype), shape, strides, a.data(), self);
  if (!a.writable) py::detail::array_proxy(out.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return out;
}

// ---- indexing -----------------------------------------------------------------------------------

bool is_int_like(py::handle h) {
  if (PyBool_Check(h.ptr())) return false;
  if (PyLong_Check(h.ptr())) return true;
  return !is_array(h) && !py::isinstance<py::array>(h) && PyIndex_Check(h.ptr());
}

// a[index] for a basic index: ints, slices (any step), None, Ellipsis, or a tuple of them.
// Raises TypeError for anything else (the Python layer handles advanced indices itself).
Array basic_index(const Array& a, py::handle index) {
  py::tuple items = py::isinstance<py::tuple>(index) ? py::reinterpret_borrow<py::tuple>(index) : py::make_tuple(index);
  int consuming = 0, ellipses = 0;
  for (auto it : items) {
    if (it.is_none()) continue;
    if (it.ptr() == Py_Ellipsis) {
      ++ellipses;
      continue;
    }
    if (PySlice_Check(it.ptr()) || is_int_like(it)) {
      ++consuming;
      continue;
    }
    throw TypeError(str("index: ", std::string(py::str(py::type::of(it).attr("__name__"))),
                        " is not a basic index (int, slice, None or ...)"));
  }
  DLCORE_CHECK(ellipses <= 1, IndexError, "an index can only have a single ellipsis ('...')");
  DLCORE_CHECK(consuming <= a.ndim, IndexError, "too many indices for a tensor of shape ", shape_str(a.shape, a.ndim),
               ": ", consuming, " were indexed");
  Shape shape, strides;
  int64_t offset = a.offset;
  int d = 0;
  for (auto it : items) {
    if (it.is_none()) {
      shape.push_back(1);
      strides.push_back(d < a.ndim ? a.strides[d] * a.shape[d] : 1);
    } else if (it.ptr() == Py_Ellipsis) {
      for (int k = 0; k < a.ndim - consuming; ++k, ++d) {
        shape.push_back(a.shape[d]);
        strides.push_back(a.strides[d]);
      }
    } else if (PySlice_Check(it.ptr())) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(it.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
      DLCORE_CHECK(step != 0, ValueError, "index: slice step cannot be zero");
      Py_ssize_t len = PySlice_AdjustIndices((Py_ssize_t)a.shape[d], &start, &stop, step);
      if (len > 0) offset += start * a.strides[d];
      shape.push_back(len);
      strides.push_back(a.strides[d] * step);
      ++d;
    } else {
      PyObject* as_int = PyNumber_Index(it.ptr());
      if (!as_int) throw py::error_already_set();
      int64_t i = py::reinterpret_steal<py::int_>(as_int).cast<int64_t>();
      int64_t n = a.shape[d];
      DLCORE_CHECK(i >= -n && i < n, IndexError, "index ", i, " is out of bounds for dimension ", d, " with size ", n);
      offset += (i < 0 ? i + n : i) * a.strides[d];
      ++d;
    }
  }
  for (; d < a.ndim; ++d) {
    shape.push_back(a.shape[d]);
    strides.push_back(a.strides[d]);
  }
  DLCORE_CHECK(shape.size() <= (size_t)kMaxDims, IndexError, "index: the result would have ", shape.size(),
               " dims; dlcore supports at most ", kMaxDims);
  return as_strided(a, shape, strides, offset);
}

// The value of a[index] = value as an Array of a's dtype on a's device.
Array value_array(const Array& like, py::handle value) {
  if (is_array(value)) return array_ref(value);
  return from_object(value, dtype_object(like.dtype), like.dtype, like.device(), "__setitem__");
}

// Drops leading size-1 dims of src beyond dst's ndim (as NumPy does for a[...] = value).
Array fit_value(Array src, int ndim) {
  while (src.ndim > ndim && src.shape[0] == 1) src = squeeze(src, {0});
  return src;
}

py::object scalar_of(const Array& a) {
  Array h = to_device(a, Device::cpu);
  const void* p = h.data();
  switch (h.dtype) {
    case DType::f32: return py::float_(*static_cast<const float*>(p));
    case DType::f64: return py::float_(*static_cast<const double*>(p));
    case DType::i64: return py::int_(*static_cast<const int64_t*>(p));
    case DType::b8: return py::bool_(*static_cast<const bool*>(p));
  }
  return py::none();
}

Shape shape_args(py::args args, const char* op) {
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0])))
    return args[0].cast<Shape>();
  Shape s;
  for (auto a : args) {
    DLCORE_CHECK(is_int_like(a), TypeError, op, ": sizes must be ints, got ",
                 std::string(py::str(py::type::of(a).attr("__name__"))));
    s.push_back(a.cast<int64_t>());
  }
  return s;
}

}  // namespace

bool is_array(py::handle obj) { return g_array_type && Py_TYPE(obj.ptr()) == g_array_type; }
Array& array_ref(py::handle obj) {
  // An exact Array instance has pybind11's simple layout: its value pointer is read directly
  // (this runs for every tensor argument of every kernel call).
  auto* inst = reinterpret_cast<py::detail::instance*>(obj.ptr());
  if (is_array(obj) && inst->simple_layout && inst->simple_value_holder[0])
    return *static_cast<Array*>(inst->simple_value_holder[0]);
  return obj.cast<Array&>();
}
py::object wrap_array(Array a) { return py::cast(std::move(a)); }
py::object dtype_object(DType d) { return py::reinterpret_borrow<py::object>(g_dtype_objs[(int)d]); }
bool dtype_code(py::handle obj, DType& out) {
  for (int i = 0; i < 4; ++i)
    if (obj.ptr() == g_dtype_objs[i]) {
      out = (DType)i;
      return true;
    }
  return false;
}

}  // namespace dlcore

DLCORE_BINDINGS(array) {
  using namespace dlcore;
  py::class_<DTypeObj>(m, "dtype", "A tensor element type: dlcore.float32, float64, int64 or bool.")
      .def_property_readonly("name", [](const DTypeObj& d) { return dtype_name(d.code); })
      .def_property_readonly("itemsize", [](const DTypeObj& d) { return dtype_size(d.code); })
      .def_property_readonly("is_floating_point", [](const DTypeObj& d) { return is_float(d.code); })
      .def_property_readonly("dtype", [](const DTypeObj& d) { return numpy_dtype(d.code); },
                             "The matching NumPy dtype (so np.dtype(dlcore.float32) works).")
      .def("__repr__", [](const DTypeObj& d) { return std::string("dlcore.") + dtype_name(d.code); })
      .def("__str__", [](const DTypeObj& d) { return std::string(dtype_name(d.code)); })
      .def("__hash__", [](const DTypeObj& d) { return py::hash(py::str(dtype_name(d.code))); })
      // the dtype objects are singletons: identity decides between two of them at once
      .def("__eq__", [](py::handle self, py::handle o) -> bool {
        if (Py_TYPE(o.ptr()) == Py_TYPE(self.ptr())) return self.ptr() == o.ptr();
        return dtype_like_name(o) == dtype_name(self.cast<const DTypeObj&>().code);
      })
      .def("__ne__", [](py::handle self, py::handle o) -> bool {
        if (Py_TYPE(o.ptr()) == Py_TYPE(self.ptr())) return self.ptr() != o.ptr();
        return dtype_like_name(o) != dtype_name(self.cast<const DTypeObj&>().code);
      });
  const DType codes[4] = {DType::f32, DType::f64, DType::i64, DType::b8};
  for (DType c : codes) {
    py::object o = py::cast(DTypeObj{c});
    g_dtype_objs[(int)c] = o.release().ptr();  // one reference kept for the life of the process
    m.attr(c == DType::b8 ? "bool_" : dtype_name(c)) = py::reinterpret_borrow<py::object>(g_dtype_objs[(int)c]);
  }

  auto cls = py::class_<Array>(m, "Array", py::buffer_protocol(),
                               "dlcore's n-d array: shared storage on one device + dtype + shape + strides "
                               "(in elements) + offset. Views share the storage.");
  g_array_type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  cls.def_buffer([](Array& a) -> py::buffer_info {
       DLCORE_CHECK(a.device() == Device::cpu, TypeError, "the tensor is on ", device_str(a.device()),
                    "; copy it to the host first with .cpu()");
       ++numpy_crossings().exports;
       int64_t item = a.itemsize();
       std::vector<py::ssize_t> shape(a.shape, a.shape + a.ndim), strides(a.ndim);
       for (int i = 0; i < a.ndim; ++i) strides[i] = a.strides[i] * item;
       const char* fmt = a.dtype == DType::f32 ? "f" : a.dtype == DType::f64 ? "d" : a.dtype == DType::i64 ? "q" : "?";
       return py::buffer_info(a.data(), item, fmt, a.ndim, shape, strides, !a.writable);
     })
      .def_property_readonly("shape", [](const Array& a) {
        PyObject* t = PyTuple_New(a.ndim);
        for (int i = 0; i < a.ndim; ++i) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(a.shape[i]));
        return py::reinterpret_steal<py::tuple>(t);
      })
      .def_property_readonly("ndim", [](const Array& a) { return a.ndim; })
      .def_property_readonly("size", &Array::numel)
      .def("numel", &Array::numel)
      .def_property_readonly("dtype", [](const Array& a) { return dtype_object(a.dtype); })
      .def_property_readonly("itemsize", &Array::itemsize)
      .def_property_readonly("nbytes", [](const Array& a) { return a.numel() * a.itemsize(); })
      .def_property_readonly("device", [](const Array& a) { return device_str(a.device()); })
      .def_property_readonly("strides", [](const Array& a) { return py::tuple(py::cast(a.strides_vec())); },
                             "Strides in elements (not bytes).")
      .def_property_readonly("offset", [](const Array& a) { return a.offset; })
      .def_property_readonly("writable", [](const Array& a) { return a.writable; })
      .def_property_readonly("storage_nbytes", [](const Array& a) { return a.storage->bytes; })
      .def_property_readonly("version", [](const Array& a) { return a.storage->version; },
                             "How many writes the storage has seen (autograd checks saved arrays with it).")
      .def("storage_refs", [](const Array& a) { return a.storage.use_count(); },
           "How many Arrays (this one included) share this array's storage.")
      .def("data_ptr", [](const Array& a) { return reinterpret_cast<uintptr_t>(a.data()); })
      .def("is_contiguous", &Array::is_contiguous)
      .def("shares_storage", [](const Array& a, const Array& b) { return a.storage->data == b.storage->data; })
      .def("may_overlap", [](const Array& a, const Array& b) { return may_overlap(a, b); })
      .def("__len__", [](const Array& a) {
        DLCORE_CHECK(a.ndim > 0, TypeError, "len() of a 0-d tensor");
        return a.shape[0];
      })
      .def("__repr__", [](const Array& a) {
        return str("Array(shape=", shape_str(a.shape, a.ndim), ", dtype=", dtype_name(a.dtype), ", device=",
                   device_str(a.device()), ")");
      })
      // views
      .def("reshape", [](const Array& a, py::args s) { return reshape(a, shape_args(s, "reshape")); })
      .def("view", [](const Array& a, py::args s) { return view(a, shape_args(s, "view")); })
      .def("permute", [](const Array& a, py::args s) { return permute(a, shape_args(s, "permute")); })
      .def("transpose", [](const Array& a, int64_t d0, int64_t d1) { return transpose(a, d0, d1); },
           py::arg("dim0"), py::arg("dim1"))
      .def_property_readonly("T", [](const Array& a) {
        std::vector<int64_t> d(a.ndim);
        for (int i = 0; i < a.ndim; ++i) d[i] = a.ndim - 1 - i;
        return permute(a, d);
      })
      .def("expand", [](const Array& a, py::args s) { return expand(a, shape_args(s, "expand")); })
      .def("unsqueeze", [](const Array& a, int64_t d) { return unsqueeze(a, d); }, py::arg("dim"))
      .def("squeeze", [](const Array& a, py::object dim) {
        std::vector<int64_t> dims;
        if (!dim.is_none()) dims = py::isinstance<py::int_>(dim) ? std::vector<int64_t>{dim.cast<int64_t>()}
                                                                   : dim.cast<std::vector<int64_t>>();
        return squeeze(a, dims);
      }, py::arg("dim") = py::none())
      .def("narrow", [](const Array& a, int64_t d, int64_t s, int64_t n) { return narrow(a, d, s, n); },
           py::arg("dim"), py::arg("start"), py::arg("length"))
      .def("select", [](const Array& a, int64_t d, int64_t i) { return select(a, d, i); }, py::arg("dim"), py::arg("index"))
      .def("as_strided", [](const Array& a, Shape shape, Shape strides, std::optional<int64_t> offset) {
        return as_strided(a, shape, strides, offset);
      }, py::arg("size"), py::arg("stride"), py::arg("storage_offset") = py::none())
      .def("__getitem__", [](const Array& a, py::handle idx) { return basic_index(a, idx); })
      .def("__setitem__", [](const Array& a, py::handle idx, py::handle value) {
        Array dst = basic_index(a, idx);
        // a Python number fills directly (ints only while a double holds them exactly)
        bool exact_int = PyLong_Check(value.ptr()) && std::fabs(value.cast<double>()) <= 9007199254740992.0;
        if (PyFloat_Check(value.ptr()) || exact_int) {
          double v = value.cast<double>();
          py::gil_scoped_release nogil;
          fill_(dst, v, "__setitem__");
          return;
        }
        Array src = fit_value(value_array(a, value), dst.ndim);
        py::gil_scoped_release nogil;
        copy_(dst, src, "__setitem__");
      })
      // copies
      .def("contiguous", [](const Array& a) { return contiguous(a); })
      .def("clone", [](const Array& a) {
        py::gil_scoped_release nogil;
        return clone(a);
      })
      .def("astype", [](const Array& a, py::handle d) {
        DType t = dtype_arg(d);
        py::gil_scoped_release nogil;
        return astype(a, t);
      }, py::arg("dtype"))
      .def("to", [](const Array& a, const std::string& dev) {
        Device d = device_arg(dev);
        py::gil_scoped_release nogil;
        return to_device(a, d);
      }, py::arg("device"))
      .def("copy_", [](const Array& a, py::handle src) {
        Array s = is_array(src) ? array_ref(src) : value_array(a, src);
        py::gil_scoped_release nogil;
        copy_(a, s);
      }, py::arg("src"))
      .def("fill_", [](const Array& a, double v) {
        py::gil_scoped_release nogil;
        fill_(a, v);
      }, py::arg("value"))
      .def("numpy", [](py::handle self) { return to_numpy(self); },
           "A NumPy array sharing this array's memory (CPU only).")
      .def("item", [](const Array& a) {
        DLCORE_CHECK(a.numel() == 1, ValueError, "item(): only one-element tensors can be converted to Python "
                     "scalars; this one has shape ", shape_str(a.shape, a.ndim));
        return scalar_of(a);
      })
      .def("tolist", [](py::handle self) {
        const Array& a = array_ref(self);
        if (a.device() != Device::cpu) return to_numpy(wrap_array(to_device(a, Device::cpu))).attr("tolist")();
        return to_numpy(self).attr("tolist")();
      })
      .def("__dlpack__", [](py::handle self, py::kwargs kw) { return to_numpy(self).attr("__dlpack__")(**kw); })
      .def("__dlpack_device__", [](const Array& a) {
        DLCORE_CHECK(a.device() == Device::cpu, TypeError, "__dlpack__: only CPU tensors are exported for now");
        return py::make_tuple(1, 0);
      });

  m.def("empty", [](Shape shape, py::handle dtype, const std::string& device) {
    return empty(device_arg(device), dtype_arg(dtype), shape);
  }, py::arg("shape"), py::arg("dtype"), py::arg("device") = "cpu");
  m.def("zeros", [](Shape shape, py::handle dtype, const std::string& device) {
    Device d = device_arg(device);
    DType t = dtype_arg(dtype);
    py::gil_scoped_release nogil;
    return zeros(d, t, shape);
  }, py::arg("shape"), py::arg("dtype"), py::arg("device") = "cpu");
  m.def("full", [](Shape shape, double value, py::handle dtype, const std::string& device) {
    Device d = device_arg(device);
    DType t = dtype_arg(dtype);
    py::gil_scoped_release nogil;
    return full(d, t, shape, value);
  }, py::arg("shape"), py::arg("value"), py::arg("dtype"), py::arg("device") = "cpu");
  m.def("arange", [](double start, double stop, double step, py::handle dtype, const std::string& device) {
    DLCORE_CHECK(step != 0, ValueError, "arange: step must be nonzero");
    DLCORE_CHECK(std::isfinite(start) && std::isfinite(stop), ValueError, "arange: start and end must be finite, got ",
                 start, " and ", stop);
    double span = std::ceil((stop - start) / step);
    int64_t n = span > 0 ? (int64_t)span : 0;
    DType t = dtype_arg(dtype);
    Array h = empty(Device::cpu, t, {n});
    for (int64_t i = 0; i < n; ++i) {
      double v = start + (double)i * step;
      switch (t) {
        case DType::f32: static_cast<float*>(h.data())[i] = (float)v; break;
        case DType::f64: static_cast<double*>(h.data())[i] = v; break;
        case DType::i64: static_cast<int64_t*>(h.data())[i] = (int64_t)std::llround(v); break;
        case DType::b8: static_cast<bool*>(h.data())[i] = v != 0; break;
      }
    }
    return to_device(h, device_arg(device));
  }, py::arg("start"), py::arg("stop"), py::arg("step"), py::arg("dtype"), py::arg("device") = "cpu");
  m.def("from_object", [](py::handle obj, py::handle dtype, py::handle default_float, const std::string& device,
                          const char* op) {
    return from_object(obj, dtype, dtype_arg(default_float), device_arg(device), op);
  }, py::arg("obj"), py::arg("dtype") = py::none(), py::arg("default_float") = "float32", py::arg("device") = "cpu",
     py::arg("op") = "tensor",
     "A new Array holding a copy of obj (a Python scalar, nested sequence, NumPy array or Array).");
  m.def("share", [](py::handle obj, const char* op) {
    DLCORE_CHECK(py::isinstance<py::array>(obj), TypeError, op, ": expected a numpy.ndarray, got ",
                 std::string(py::str(py::type::of(obj).attr("__name__"))));
    return share(py::reinterpret_borrow<py::array>(obj), op);
  }, py::arg("array"), py::arg("op") = "from_numpy",
     "An Array over a NumPy array's memory, without a copy (writes are seen by both).");
  m.def("from_dlpack", [](py::handle obj) {
    py::object arr = py::module_::import("numpy").attr("from_dlpack")(obj);
    return share(py::reinterpret_borrow<py::array>(arr), "from_dlpack");
  }, py::arg("obj"), "An Array over a DLPack producer's CPU memory, without a copy.");
  m.def("empty_cache", [] { return release_cached_memory(); },
        "Frees the CPU memory blocks dlcore keeps for reuse; returns the bytes freed.");
  m.def("numpy_crossings", [] {
    auto& c = numpy_crossings();
    return py::make_tuple(c.imports, c.exports);
  }, "(imports, exports): NumPy arrays that reached a kernel, and Arrays handed to NumPy, since start.");
}
