// Bindings: the hot half of python/dlcore/autograd.py - grad mode (per thread) and
// Function.apply, which unwraps the tensor arguments, records the graph node when needed and
// wraps the outputs. Written against the C API because it runs once per op: in Python it was
// most of the cost of a small op. The semantics are those documented in autograd.py.
#include <Python.h>
#include <structmember.h>

#include "bindings/common.h"

namespace dlcore {
namespace {

thread_local bool t_grad_enabled = true;
PyTypeObject* g_variable_type = nullptr;

// dlcore.Tensor, when registered: outputs are made straight into its slots (the slot offsets
// read from its member descriptors), without a call of Tensor._wrap.
struct TensorLayout {
  PyTypeObject* type = nullptr;
  Py_ssize_t data = 0, requires_grad = 0, grad = 0, node = 0, out_index = 0, base = 0, views = 0;
} g_tensor;

Py_ssize_t slot_offset(PyTypeObject* type, const char* name) {
  py::object d = py::reinterpret_steal<py::object>(PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), name));
  if (!d) throw py::error_already_set();
  DLCORE_CHECK(Py_IS_TYPE(d.ptr(), &PyMemberDescr_Type), TypeError, "set_tensor_type: '", name, "' is not a slot");
  return reinterpret_cast<PyMemberDescrObject*>(d.ptr())->d_member->offset;
}

void put(PyObject* obj, Py_ssize_t offset, PyObject* value) {
  PyObject** slot = reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset);
  Py_INCREF(value);
  Py_XSETREF(*slot, value);
}

// A new Tensor over `array` with no grad, no node and no base (what Tensor._wrap makes).
PyObject* new_tensor(PyObject* array) {
  PyObject* t = g_tensor.type->tp_alloc(g_tensor.type, 0);
  if (!t) return nullptr;
  static PyObject* zero = PyLong_FromLong(0);
  put(t, g_tensor.data, array);
  put(t, g_tensor.requires_grad, Py_False);
  put(t, g_tensor.grad, Py_None);
  put(t, g_tensor.node, Py_None);
  put(t, g_tensor.out_index, zero);
  put(t, g_tensor.base, Py_None);
  put(t, g_tensor.views, Py_None);
  return t;
}

struct Names {
  PyObject *data, *requires_grad, *node, *out_index, *wrap, *forward, *saved, *freed, *inputs, *needs, *n_outputs;
};
Names& names() {
  static Names n{PyUnicode_InternFromString("_data"),     PyUnicode_InternFromString("requires_grad"),
                 PyUnicode_InternFromString("_node"),     PyUnicode_InternFromString("_out_index"),
                 PyUnicode_InternFromString("_wrap"),     PyUnicode_InternFromString("forward"),
                 PyUnicode_InternFromString("saved"),     PyUnicode_InternFromString("freed"),
                 PyUnicode_InternFromString("inputs"),    PyUnicode_InternFromString("needs_input_grad"),
                 PyUnicode_InternFromString("n_outputs")};
  return n;
}

// Whether an output array may carry a gradient (float dtypes only).
bool differentiable(PyObject* out) {
  py::handle h(out);
  return is_array(h) && is_float(array_ref(h).dtype);
}

// Sets attr on obj, raising the pending Python error as a C++ exception.
void set(PyObject* obj, PyObject* name, PyObject* value) {
  if (PyObject_SetAttr(obj, name, value) < 0) throw py::error_already_set();
}

py::object wrap_output(PyObject* wrap, PyObject* out, PyObject* ctx, bool track, Py_ssize_t index) {
  py::object t = py::reinterpret_steal<py::object>(wrap ? PyObject_CallOneArg(wrap, out) : new_tensor(out));
  if (!t) throw py::error_already_set();
  if (track && differentiable(out)) {
    Names& n = names();
    set(t.ptr(), n.requires_grad, Py_True);
    set(t.ptr(), n.node, ctx);
    if (index) {
      py::object i = py::int_(index);
      set(t.ptr(), n.out_index, i.ptr());
    }
  }
  return t;
}

py::object apply(py::handle cls, py::args args) {
  Names& n = names();
  Py_ssize_t count = PyTuple_GET_SIZE(args.ptr());
  // (ctx, raw args...): the tuple forward is called with
  py::object call_args = py::reinterpret_steal<py::object>(PyTuple_New(count + 1));
  PyObject* first = nullptr;
  bool any_grad = false;
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* a = PyTuple_GET_ITEM(args.ptr(), i);
    PyObject* raw;
    if (g_variable_type && PyObject_TypeCheck(a, g_variable_type)) {
      if (!first) first = a;
      raw = PyObject_GetAttr(a, n.data);
      if (!raw) throw py::error_already_set();
      PyObject* rg = PyObject_GetAttr(a, n.requires_grad);
      if (!rg) {
        Py_DECREF(raw);
        throw py::error_already_set();
      }
      any_grad = any_grad || rg == Py_True;
      Py_DECREF(rg);
    } else {
      Py_INCREF(a);
      raw = a;
    }
    PyTuple_SET_ITEM(call_args.ptr(), i + 1, raw);
  }
  if (!first)
    throw TypeError(str(std::string(py::str(cls.attr("__name__"))), ".apply: needs at least one tensor argument"));
  bool track = any_grad && t_grad_enabled;
  py::object ctx = py::reinterpret_steal<py::object>(PyObject_CallNoArgs(cls.ptr()));
  if (!ctx) throw py::error_already_set();
  PyTuple_SET_ITEM(call_args.ptr(), 0, ctx.inc_ref().ptr());
  set(ctx.ptr(), n.saved, py::tuple().ptr());
  set(ctx.ptr(), n.freed, Py_False);
  if (track) {
    // inputs[i]: the edge to input i's history as it is NOW - a leaf that requires grad itself,
    // a non-leaf's (node, output index) pair (an in-place op may later give that tensor a new
    // node: this node's gradient still goes to the history it read), None otherwise
    py::tuple inputs(count), needs(count);
    for (Py_ssize_t i = 0; i < count; ++i) {
      PyObject* a = PyTuple_GET_ITEM(args.ptr(), i);
      bool need = false;
      py::object edge = py::none();
      if (PyObject_TypeCheck(a, g_variable_type)) {
        py::object rg = py::reinterpret_steal<py::object>(PyObject_GetAttr(a, n.requires_grad));
        if (!rg) throw py::error_already_set();
        need = rg.ptr() == Py_True;
        if (need) {
          py::object node = py::reinterpret_steal<py::object>(PyObject_GetAttr(a, n.node));
          if (!node) throw py::error_already_set();
          if (node.is_none()) {
            edge = py::reinterpret_borrow<py::object>(a);
          } else {
            py::object idx = py::reinterpret_steal<py::object>(PyObject_GetAttr(a, n.out_index));
            if (!idx) throw py::error_already_set();
            edge = py::reinterpret_steal<py::object>(PyTuple_Pack(2, node.ptr(), idx.ptr()));
            if (!edge) throw py::error_already_set();
          }
        }
      }
      PyTuple_SET_ITEM(inputs.ptr(), i, edge.release().ptr());
      PyTuple_SET_ITEM(needs.ptr(), i, py::bool_(need).release().ptr());
    }
    set(ctx.ptr(), n.inputs, inputs.ptr());
    set(ctx.ptr(), n.needs, needs.ptr());
  } else {
    set(ctx.ptr(), n.needs, Py_None);  // not recorded: save_for_backward keeps nothing
  }
  py::object forward = py::reinterpret_steal<py::object>(PyObject_GetAttr(cls.ptr(), n.forward));
  if (!forward) throw py::error_already_set();
  py::object out = py::reinterpret_steal<py::object>(PyObject_Call(forward.ptr(), call_args.ptr(), nullptr));
  if (!out) throw py::error_already_set();
  py::object wrap;  // stays empty when first is a Tensor: new_tensor makes the outputs
  if (!(g_tensor.type && PyObject_TypeCheck(first, g_tensor.type))) {
    wrap = py::reinterpret_steal<py::object>(PyObject_GetAttr(first, n.wrap));
    if (!wrap) throw py::error_already_set();
  }
  if (!PyTuple_Check(out.ptr())) {
    set(ctx.ptr(), n.n_outputs, py::int_(1).ptr());
    py::object t = wrap_output(wrap.ptr(), out.ptr(), ctx.ptr(), track, 0);
    if (track && !differentiable(out.ptr())) set(ctx.ptr(), n.inputs, Py_None);  // no graph from here
    return t;
  }
  Py_ssize_t k = PyTuple_GET_SIZE(out.ptr());
  set(ctx.ptr(), n.n_outputs, py::int_(k).ptr());
  py::tuple results(k);
  for (Py_ssize_t i = 0; i < k; ++i)
    PyTuple_SET_ITEM(results.ptr(), i,
                     wrap_output(wrap.ptr(), PyTuple_GET_ITEM(out.ptr(), i), ctx.ptr(), track, i).release().ptr());
  return std::move(results);
}

}  // namespace
}  // namespace dlcore

DLCORE_BINDINGS(autograd) {
  using namespace dlcore;
  m.def("is_grad_enabled", [] { return t_grad_enabled; }, "Whether this thread records autograd graphs.");
  m.def("set_grad_enabled", [](bool on) { t_grad_enabled = on; }, py::arg("mode"));
  m.def("set_variable_type", [](py::handle type) {
    DLCORE_CHECK(PyType_Check(type.ptr()), TypeError, "set_variable_type: expected a class");
    Py_INCREF(type.ptr());  // kept for the life of the process
    g_variable_type = reinterpret_cast<PyTypeObject*>(type.ptr());
  }, "Tells Function.apply which objects are tensors (autograd.Variable and its subclasses).");
  m.def("set_tensor_type", [](py::handle type) {
    DLCORE_CHECK(PyType_Check(type.ptr()), TypeError, "set_tensor_type: expected a class");
    auto* t = reinterpret_cast<PyTypeObject*>(type.ptr());
    TensorLayout l;
    l.data = slot_offset(t, "_data");
    l.requires_grad = slot_offset(t, "requires_grad");
    l.grad = slot_offset(t, "grad");
    l.node = slot_offset(t, "_node");
    l.out_index = slot_offset(t, "_out_index");
    l.base = slot_offset(t, "_base");
    l.views = slot_offset(t, "_views");
    Py_INCREF(type.ptr());  // kept for the life of the process
    l.type = t;
    g_tensor = l;
  }, "Lets Function.apply make its outputs as this class (dlcore.Tensor: the plain type Tensor._wrap makes).");
  m.def("function_apply", &apply, py::arg("cls"),
        "Function.apply(cls, *args): forward on the raw arrays of the tensor arguments, outputs wrapped "
        "by the first tensor argument's _wrap, the call recorded as a graph node when grad mode is on and "
        "an input requires grad.");
}
