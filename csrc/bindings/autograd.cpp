// Bindings: the hot half of python/dlcore/autograd.py - grad mode (per thread) and
// Function.apply, which unwraps the tensor arguments, records the graph node when needed and
// wraps the outputs. Written against the C API because it runs once per op: in Python it was
// most of the cost of a small op. The semantics are those documented in autograd.py.
#include <Python.h>
#include <structmember.h>

#include <algorithm>
#include <array>
#include <utility>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bindings/common.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/elementwise_math.h"

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

// A slot's value (borrowed; null when the slot was never set).
PyObject* peek(PyObject* obj, Py_ssize_t offset) {
  return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset);
}

// The slots apply reads on every Variable argument and writes on every node (autograd.Variable's
// and autograd.Function's __slots__, shared by all their subclasses), read off their member
// descriptors: a slot is two loads where getattr is a type lookup and a descriptor call.
struct VariableSlots {
  Py_ssize_t data = 0, requires_grad = 0, node = 0, out_index = 0;
} g_var;
struct FunctionSlots {
  PyTypeObject* type = nullptr;
  Py_ssize_t inputs = 0, needs = 0, saved = 0, freed = 0, n_outputs = 0;
  PyObject* apply = nullptr;  // Function.__dict__['apply'] as set_function_type found it
} g_fn;

// Variable slot `offset` of a (new reference), by getattr when the slot is empty (which raises
// the AttributeError a Python read would).
PyObject* var_slot(PyObject* a, Py_ssize_t offset, PyObject* name) {
  PyObject* v = peek(a, offset);
  if (v) {
    Py_INCREF(v);
    return v;
  }
  return PyObject_GetAttr(a, name);
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
    if (!wrap) {  // a Tensor new_tensor made: its slots
      put(t.ptr(), g_tensor.requires_grad, Py_True);
      put(t.ptr(), g_tensor.node, ctx);
      if (index) put(t.ptr(), g_tensor.out_index, py::int_(index).ptr());
      return t;
    }
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

// ctx.<name> = value: the Function slot when cls is an autograd.Function, else setattr.
void set_ctx(PyObject* ctx, bool slots, Py_ssize_t offset, PyObject* name, PyObject* value) {
  if (slots) put(ctx, offset, value);
  else set(ctx, name, value);
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
      raw = var_slot(a, g_var.data, n.data);
      if (!raw) throw py::error_already_set();
      PyObject* rg = var_slot(a, g_var.requires_grad, n.requires_grad);
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
  const bool slots = g_fn.type && PyObject_TypeCheck(ctx.ptr(), g_fn.type);
  PyTuple_SET_ITEM(call_args.ptr(), 0, ctx.inc_ref().ptr());
  static PyObject* empty = PyTuple_New(0);
  set_ctx(ctx.ptr(), slots, g_fn.saved, n.saved, empty);
  set_ctx(ctx.ptr(), slots, g_fn.freed, n.freed, Py_False);
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
        py::object rg = py::reinterpret_steal<py::object>(var_slot(a, g_var.requires_grad, n.requires_grad));
        if (!rg) throw py::error_already_set();
        need = rg.ptr() == Py_True;
        if (need) {
          py::object node = py::reinterpret_steal<py::object>(var_slot(a, g_var.node, n.node));
          if (!node) throw py::error_already_set();
          if (node.is_none()) {
            edge = py::reinterpret_borrow<py::object>(a);
          } else {
            py::object idx = py::reinterpret_steal<py::object>(var_slot(a, g_var.out_index, n.out_index));
            if (!idx) throw py::error_already_set();
            edge = py::reinterpret_steal<py::object>(PyTuple_Pack(2, node.ptr(), idx.ptr()));
            if (!edge) throw py::error_already_set();
          }
        }
      }
      PyTuple_SET_ITEM(inputs.ptr(), i, edge.release().ptr());
      PyObject* flag = need ? Py_True : Py_False;
      Py_INCREF(flag);
      PyTuple_SET_ITEM(needs.ptr(), i, flag);
    }
    set_ctx(ctx.ptr(), slots, g_fn.inputs, n.inputs, inputs.ptr());
    set_ctx(ctx.ptr(), slots, g_fn.needs, n.needs, needs.ptr());
  } else {
    set_ctx(ctx.ptr(), slots, g_fn.needs, n.needs, Py_None);  // not recorded: save_for_backward keeps nothing
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
    static PyObject* one = PyLong_FromLong(1);
    set_ctx(ctx.ptr(), slots, g_fn.n_outputs, n.n_outputs, one);
    py::object t = wrap_output(wrap.ptr(), out.ptr(), ctx.ptr(), track, 0);
    if (track && !differentiable(out.ptr())) set_ctx(ctx.ptr(), slots, g_fn.inputs, n.inputs, Py_None);  // no graph from here
    return t;
  }
  Py_ssize_t k = PyTuple_GET_SIZE(out.ptr());
  set_ctx(ctx.ptr(), slots, g_fn.n_outputs, n.n_outputs, py::int_(k).ptr());
  py::tuple results(k);
  for (Py_ssize_t i = 0; i < k; ++i)
    PyTuple_SET_ITEM(results.ptr(), i,
                     wrap_output(wrap.ptr(), PyTuple_GET_ITEM(out.ptr(), i), ctx.ptr(), track, i).release().ptr());
  return std::move(results);
}

// ---- the backward engine (autograd.backward's walk; autograd._walk is the reference) ----
//
// One walk from a root (node, output index, gradient), in the order _walk takes: the same
// depth-first topological order, each node's backward called with its output gradients summed
// over its consumers in the same order, each leaf's gradient summed over its uses and handed to
// leaf._accumulate_grad(g, True) after its last use. The references the walk holds while it
// calls _accumulate_grad mirror _walk's (the node's incoming gradients, what its backward
// returned, the leaf's summed gradient), so that the refcount test of gradient stealing, which
// autograd._calibrate_stealing measures through both walks, means the same here.

struct EngineNames {
  PyObject *inputs, *needs, *n_outputs, *tensor_hooks, *retained, *backward, *accumulate, *saved, *freed;
};
EngineNames& engine_names() {
  static EngineNames n{PyUnicode_InternFromString("inputs"),        PyUnicode_InternFromString("needs_input_grad"),
                       PyUnicode_InternFromString("n_outputs"),     PyUnicode_InternFromString("_tensor_hooks"),
                       PyUnicode_InternFromString("_retained"),     PyUnicode_InternFromString("backward"),
                       PyUnicode_InternFromString("_accumulate_grad"), PyUnicode_InternFromString("saved"),
                       PyUnicode_InternFromString("freed")};
  return n;
}

py::object get(PyObject* obj, PyObject* name) {
  PyObject* v = PyObject_GetAttr(obj, name);
  if (!v) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(v);
}

bool truthy(PyObject* obj) {
  int r = PyObject_IsTrue(obj);
  if (r < 0) throw py::error_already_set();
  return r;
}

// `slot` + g (autograd._accumulate): g itself into an empty slot, else a new array a + b.
void accumulate(py::object& slot, PyObject* g) {
  if (!slot) {
    slot = py::reinterpret_borrow<py::object>(g);
  } else {
    slot = binary_call(BinaryOp::add, slot, g, py::none());
  }
}

struct NodeState {
  py::object node, inputs, needs;   // needs: needs_input_grad
  std::vector<py::object> pending;  // the gradient of each output so far (empty: none yet)
};

struct LeafState {
  Py_ssize_t uses = 0;  // edges from the nodes of the walk that still have to run
  py::object grad;      // summed so far
};

// An edge's (node, output index) when it is a non-leaf's (a tuple), else nullptr.
PyObject* edge_node(PyObject* edge) { return PyTuple_CheckExact(edge) ? PyTuple_GET_ITEM(edge, 0) : nullptr; }

void backward_walk(py::handle root, Py_ssize_t root_index, py::handle root_grad, bool retain_graph,
                   py::handle node_grads) {
  EngineNames& n = engine_names();
  // the topological order of autograd._topo_order: depth-first from the root, a node placed
  // after every node that consumes its outputs
  std::vector<NodeState> order;
  std::unordered_map<PyObject*, size_t> position;
  {
    std::unordered_set<PyObject*> seen;
    std::vector<std::pair<py::object, bool>> stack;
    std::vector<NodeState> post;
    stack.emplace_back(py::reinterpret_borrow<py::object>(root), false);
    while (!stack.empty()) {
      auto [node, done] = std::move(stack.back());
      stack.pop_back();
      if (done) {
        NodeState st;
        st.node = std::move(node);
        post.push_back(std::move(st));
        continue;
      }
      if (!seen.insert(node.ptr()).second) continue;
      stack.emplace_back(node, true);
      py::object inputs = get(node.ptr(), n.inputs);
      if (inputs.is_none()) continue;
      py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(inputs.ptr(), "Function.inputs"));
      if (!seq) throw py::error_already_set();
      Py_ssize_t k = PySequence_Fast_GET_SIZE(seq.ptr());
      for (Py_ssize_t i = 0; i < k; ++i) {
        PyObject* src = edge_node(PySequence_Fast_GET_ITEM(seq.ptr(), i));
        if (src && !seen.count(src)) stack.emplace_back(py::reinterpret_borrow<py::object>(src), false);
      }
    }
    order.assign(std::make_move_iterator(post.rbegin()), std::make_move_iterator(post.rend()));
  }
  // each node's edges, and the uses of each leaf over the walk
  std::unordered_map<PyObject*, LeafState> leaves;
  for (size_t p = 0; p < order.size(); ++p) {
    NodeState& st = order[p];
    position.emplace(st.node.ptr(), p);
    py::object inputs = get(st.node.ptr(), n.inputs);
    if (inputs.is_none()) continue;
    st.inputs = py::reinterpret_steal<py::object>(PySequence_Tuple(inputs.ptr()));
    if (!st.inputs) throw py::error_already_set();
    py::object needs = get(st.node.ptr(), n.needs);
    st.needs = py::reinterpret_steal<py::object>(PySequence_Tuple(needs.ptr()));
    if (!st.needs) throw py::error_already_set();
    Py_ssize_t k = std::min(PyTuple_GET_SIZE(st.inputs.ptr()), PyTuple_GET_SIZE(st.needs.ptr()));
    for (Py_ssize_t i = 0; i < k; ++i) {
      PyObject* inp = PyTuple_GET_ITEM(st.inputs.ptr(), i);
      if (truthy(PyTuple_GET_ITEM(st.needs.ptr(), i)) && !edge_node(inp)) ++leaves[inp].uses;
    }
  }
  auto slot_of = [&](size_t p, Py_ssize_t index) -> py::object& {
    NodeState& st = order[p];
    if (st.pending.empty()) {
      Py_ssize_t count = get(st.node.ptr(), n.n_outputs).cast<Py_ssize_t>();
      st.pending.resize(static_cast<size_t>(count));
    }
    DLCORE_CHECK(index >= 0 && static_cast<size_t>(index) < st.pending.size(), IndexError,
                 "backward: output index ", index, " out of range for ", st.pending.size(), " outputs");
    return st.pending[static_cast<size_t>(index)];
  };
  accumulate(slot_of(0, root_index), root_grad.ptr());

  for (NodeState& st : order) {
    PyObject* node = st.node.ptr();
    // the node's output gradients (as a list when its tensor hooks / retain_grad ran on them)
    py::object grads_list;
    std::vector<PyObject*> call;  // node, gradients...: the backward call's arguments
    bool any = false;
    if (!st.pending.empty()) {
      py::object hooks = get(node, n.tensor_hooks), retained = get(node, n.retained);
      if (truthy(hooks.ptr()) || truthy(retained.ptr())) {
        py::list list(st.pending.size());
        for (size_t i = 0; i < st.pending.size(); ++i)
          PyList_SET_ITEM(list.ptr(), i, (st.pending[i] ? st.pending[i] : py::none()).inc_ref().ptr());
        st.pending.clear();
        grads_list = py::reinterpret_steal<py::object>(PyObject_CallFunctionObjArgs(node_grads.ptr(), node,
                                                                                    list.ptr(), nullptr));
        if (!grads_list) throw py::error_already_set();
        grads_list = py::reinterpret_steal<py::object>(PySequence_Fast(grads_list.ptr(), "_node_grads"));
        if (!grads_list) throw py::error_already_set();
        call.push_back(node);
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(grads_list.ptr()); ++i) {
          PyObject* g = PySequence_Fast_GET_ITEM(grads_list.ptr(), i);
          any = any || g != Py_None;
          call.push_back(g);
        }
      } else {
        call.push_back(node);
        for (py::object& g : st.pending) {
          any = any || static_cast<bool>(g);
          call.push_back(g ? g.ptr() : Py_None);
        }
      }
    }
    py::object result;  // what the backward returned (kept, as _walk keeps its in_grads, to the node's end)
    PyObject* single = nullptr;
    PyObject* const* in_grads = nullptr;
    Py_ssize_t n_in = 0;
    if (any) {
      py::object fn = get(reinterpret_cast<PyObject*>(Py_TYPE(node)), n.backward);
      result = py::reinterpret_steal<py::object>(PyObject_Vectorcall(fn.ptr(), call.data(), call.size(), nullptr));
      if (!result) throw py::error_already_set();
      if (PyTuple_Check(result.ptr())) {
        in_grads = &PyTuple_GET_ITEM(result.ptr(), 0);
        n_in = PyTuple_GET_SIZE(result.ptr());
      } else {
        single = result.ptr();  // a single gradient: _walk's 1-tuple
        in_grads = &single;
        n_in = 1;
      }
    }
    if (st.inputs) {
      Py_ssize_t k = std::min(PyTuple_GET_SIZE(st.inputs.ptr()), PyTuple_GET_SIZE(st.needs.ptr()));
      for (Py_ssize_t i = 0; i < k; ++i) {
        if (!truthy(PyTuple_GET_ITEM(st.needs.ptr(), i))) continue;
        PyObject* inp = PyTuple_GET_ITEM(st.inputs.ptr(), i);
        PyObject* ig = i < n_in ? in_grads[i] : Py_None;
        if (PyObject* src = edge_node(inp)) {
          if (ig == Py_None) continue;
          auto it = position.find(src);
          if (it == position.end()) throw std::runtime_error("backward: a graph edge leads to a node outside the walk");
          Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(inp, 1));
          if (index == -1 && PyErr_Occurred()) throw py::error_already_set();
          accumulate(slot_of(it->second, index), ig);
          continue;
        }
        LeafState& leaf = leaves[inp];
        if (ig != Py_None) accumulate(leaf.grad, ig);
        if (--leaf.uses == 0 && leaf.grad) {
          py::object g = std::move(leaf.grad);
          PyObject* args[] = {inp, g.ptr(), Py_True};
          PyObject* r = PyObject_VectorcallMethod(n.accumulate, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
          if (!r) throw py::error_already_set();
          Py_DECREF(r);
        }
      }
    }
    if (!retain_graph && n_in > 0) {
      set(node, n.saved, py::tuple().ptr());
      set(node, n.freed, Py_True);
    }
    st.pending.clear();  // the node's gradients go now, as _walk's do (memory, and stealing's refcounts)
    st.pending.shrink_to_fit();
  }
}


// ---- Tensor's arithmetic operators and activation methods (tensor.py) ----
//
// `a * b`, `y - 0.5`, `x.tanh()` are the commonest ops of all, and on small tensors their cost
// was mostly Python: the operator method, the operand checks, Function.apply, the forward. For
// the common cases - another tensor of the same dtype, or a Python float / int with a float
// tensor; a float tensor for the activations - these C methods call the Function class's apply
// directly (the same node tensor.py's method makes), or, when no graph is recorded, the same
// kernel the forward calls, with no node at all. Every other case goes to the Python method
// they replace, which stays the reference; so does every call while Function.apply is not the
// plain C++ apply (anomaly mode, the ONNX exporter's trace: whoever wraps that one door sees
// every op) or while a dlcore.compile recording has them switched off (_C.set_fast_operators).

enum class FastKind : int { add, sub, rsub, mul, act };

struct FastOperator {
  FastKind kind = FastKind::add;
  PyObject* slow = nullptr;       // tensor.py's method
  PyObject* function = nullptr;   // the Function for two tensors (Add, Sub, Mul) or the activation
  PyObject* affine = nullptr;     // elementwise.Affine, for a Python number
  PyObject* act = nullptr;        // the activation's _C.Act value
  ActOp act_op{};
};

constexpr int kMaxFastOperators = 16;
FastOperator g_fast[kMaxFastOperators];
PyMethodDef g_fast_defs[kMaxFastOperators];
int g_fast_count = 0;
bool g_fast_enabled = true;

// The Array of a Variable argument (borrowed), or null when it is not a Tensor over an Array.
PyObject* tensor_array(PyObject* t) {
  if (!g_tensor.type || !PyObject_TypeCheck(t, g_tensor.type)) return nullptr;
  PyObject* d = peek(t, g_tensor.data);
  return d && is_array(d) ? d : nullptr;
}

bool requires_grad(PyObject* t) { return peek(t, g_tensor.requires_grad) == Py_True; }

PyObject* call_slow(const FastOperator& f, PyObject* const* args, Py_ssize_t n) {
  return PyObject_Vectorcall(f.slow, args, n, nullptr);
}

PyObject* call_apply(PyObject* cls, std::initializer_list<PyObject*> items) {
  py::tuple args(items.size());
  Py_ssize_t i = 0;
  for (PyObject* o : items) PyTuple_SET_ITEM(args.ptr(), i++, py::reinterpret_borrow<py::object>(o).release().ptr());
  return apply(cls, py::reinterpret_borrow<py::args>(args)).release().ptr();
}

PyObject* fast_binary(const FastOperator& f, PyObject* self, PyObject* other) {
  PyObject* a = tensor_array(self);
  if (!a) return nullptr;
  const Array& av = array_ref(a);
  if (PyObject* b = tensor_array(other)) {  // two tensors of one dtype (rsub: tensor.py's method)
    if (f.kind == FastKind::rsub || array_ref(b).dtype != av.dtype) return nullptr;
    if (t_grad_enabled && (requires_grad(self) || requires_grad(other))) return call_apply(f.function, {self, other});
    BinaryOp op = f.kind == FastKind::add ? BinaryOp::add : f.kind == FastKind::sub ? BinaryOp::sub : BinaryOp::mul;
    return new_tensor(binary_call(op, a, b, py::none()).ptr());
  }
  // a float tensor and a Python float / int (not bool): one affine kernel, x * s + t
  if (!is_float(av.dtype) || !(PyFloat_CheckExact(other) || PyLong_CheckExact(other))) return nullptr;
  double o = PyFloat_CheckExact(other) ? PyFloat_AS_DOUBLE(other) : PyLong_AsDouble(other);
  if (o == -1.0 && PyErr_Occurred()) return nullptr;  // (an int beyond a double: the Python path raises)
  double scale = 1.0, shift = 0.0;
  switch (f.kind) {
    case FastKind::add: shift = o; break;
    case FastKind::sub: shift = -o; break;
    case FastKind::rsub: scale = -1.0; shift = o; break;
    default: scale = o; break;
  }
  if (t_grad_enabled && requires_grad(self)) {
    py::object sc = py::float_(scale), sh = py::float_(shift);
    return call_apply(f.affine, {self, sc.ptr(), sh.ptr()});
  }
  return new_tensor(unary_call(UnaryOp::mul_scalar, a, scale, shift, py::none()).ptr());
}

PyObject* fast_act(const FastOperator& f, PyObject* self) {
  PyObject* a = tensor_array(self);
  if (!a || !is_float(array_ref(a).dtype)) return nullptr;
  static PyObject* zero = PyFloat_FromDouble(0.0);
  if (t_grad_enabled && requires_grad(self)) return call_apply(f.function, {self, f.act, zero, zero});
  if (!array_ref(a).is_contiguous()) return nullptr;  // (the forward makes it contiguous first)
  return new_tensor(act_forward_call(f.act_op, a, 0.0, 0.0, py::none()).ptr());
}

template <int K>
PyObject* fast_method(PyObject* self, PyObject* const* args, Py_ssize_t n) {
  const FastOperator& f = g_fast[K];
  PyObject* full[2] = {self, n > 0 ? args[0] : nullptr};
  try {
    static PyObject* apply_name = PyUnicode_InternFromString("apply");
    if (g_fast_enabled && n == (f.kind == FastKind::act ? 0 : 1) &&
        _PyType_Lookup(g_fn.type, apply_name) == g_fn.apply) {
      PyObject* r = f.kind == FastKind::act ? fast_act(f, self) : fast_binary(f, self, args[0]);
      if (r || PyErr_Occurred()) {
        if (!r) PyErr_Clear();  // fall back below: the Python method gives the error in its terms
        else return r;
      }
    }
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception&) {
    // a kernel's error: the Python method repeats the call and raises it in its own terms
  }
  return call_slow(f, full, n + 1);
}

template <int... K>
std::array<PyCFunction, sizeof...(K)> fast_table(std::integer_sequence<int, K...>) {
  return {reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_method<K>))...};
}
}  // namespace
}  // namespace dlcore

DLCORE_BINDINGS(autograd) {
  using namespace dlcore;
  m.def("is_grad_enabled", [] { return t_grad_enabled; }, "Whether this thread records autograd graphs.");
  m.def("set_grad_enabled", [](bool on) { t_grad_enabled = on; }, py::arg("mode"));
  m.def("set_variable_type", [](py::handle type) {
    DLCORE_CHECK(PyType_Check(type.ptr()), TypeError, "set_variable_type: expected a class");
    auto* t = reinterpret_cast<PyTypeObject*>(type.ptr());
    g_var = {slot_offset(t, "_data"), slot_offset(t, "requires_grad"), slot_offset(t, "_node"),
             slot_offset(t, "_out_index")};
    Py_INCREF(type.ptr());  // kept for the life of the process
    g_variable_type = t;
  }, "Tells Function.apply which objects are tensors (autograd.Variable and its subclasses).");
  m.def("set_function_type", [](py::handle type) {
    DLCORE_CHECK(PyType_Check(type.ptr()), TypeError, "set_function_type: expected a class");
    auto* t = reinterpret_cast<PyTypeObject*>(type.ptr());
    g_fn = {nullptr, slot_offset(t, "inputs"), slot_offset(t, "needs_input_grad"), slot_offset(t, "saved"),
            slot_offset(t, "freed"), slot_offset(t, "n_outputs"), nullptr};
    PyObject* apply = PyDict_GetItemString(t->tp_dict, "apply");
    DLCORE_CHECK(apply != nullptr, TypeError, "set_function_type: the class has no apply");
    Py_INCREF(apply);
    g_fn.apply = apply;
    Py_INCREF(type.ptr());  // kept for the life of the process
    g_fn.type = t;
  }, "Tells Function.apply where the graph nodes' slots are (autograd.Function's __slots__).");
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
  m.def("backward_walk", &backward_walk, py::arg("node"), py::arg("out_index"), py::arg("grad"),
        py::arg("retain_graph"), py::arg("node_grads"),
        "The backward engine's walk from one root (autograd.backward; autograd._walk is its Python "
        "reference): node's output out_index gets grad, every leaf's summed gradient goes to its "
        "_accumulate_grad(g, True) after its last use; node_grads is autograd._node_grads, called for "
        "nodes with tensor hooks or retain_grad.");
  m.def("install_fast_operator", [](py::handle type, const std::string& name, const std::string& kind,
                                     py::handle slow, py::handle function, py::handle affine, py::handle act) {
    static const char* kinds[] = {"add", "sub", "rsub", "mul", "act"};
    DLCORE_CHECK(PyType_Check(type.ptr()), TypeError, "install_fast_operator: expected a class");
    DLCORE_CHECK(g_fast_count < kMaxFastOperators, ValueError, "install_fast_operator: too many operators");
    int k = int(std::find_if(std::begin(kinds), std::end(kinds), [&](const char* s) { return kind == s; }) - kinds);
    DLCORE_CHECK(k < 5, ValueError, "install_fast_operator: unknown kind '", kind, "'");
    static const auto table = fast_table(std::make_integer_sequence<int, kMaxFastOperators>());
    FastOperator& f = g_fast[g_fast_count];
    f.kind = FastKind(k);
    f.slow = slow.inc_ref().ptr();
    f.function = function.inc_ref().ptr();
    f.affine = affine.inc_ref().ptr();
    f.act = act.inc_ref().ptr();
    if (f.kind == FastKind::act) f.act_op = act.cast<ActOp>();
    static std::vector<std::string> names;  // PyMethodDef keeps the pointer
    names.reserve(kMaxFastOperators);
    names.push_back(name);
    g_fast_defs[g_fast_count] = {names.back().c_str(), table[g_fast_count], METH_FASTCALL, nullptr};
    PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(type.ptr()), &g_fast_defs[g_fast_count]);
    if (!descr) throw py::error_already_set();
    ++g_fast_count;
    py::object d = py::reinterpret_steal<py::object>(descr);
    if (PyObject_SetAttrString(type.ptr(), name.c_str(), d.ptr()) < 0) throw py::error_already_set();
  }, "Replaces type.<name> (tensor.py's method `slow`) by a C method taking the common cases directly "
     "(autograd.cpp: the Tensor operator fast path); kind: add, sub, rsub, mul or act.");
  m.def("set_fast_operators", [](bool on) { g_fast_enabled = on; }, py::arg("on"),
        "Off: the installed operators always call their Python methods (a dlcore.compile recording).");
  m.def("function_apply", &apply, py::arg("cls"),
        "Function.apply(cls, *args): forward on the raw arrays of the tensor arguments, outputs wrapped "
        "by the first tensor argument's _wrap, the call recorded as a graph node when grad mode is on and "
        "an input requires grad.");
}
