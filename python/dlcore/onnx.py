"""Export to ONNX for deployment: ``dlcore.onnx.export(model, example_input, path)`` (PyTorch's
form) and ``model.export(path, format="onnx")`` (Keras's form, on dlcore.Sequential / Model).

How the graph is captured: the model runs once on the example input (eval mode, no grad)
while ``autograd.Function.apply`` - the one door every dlcore op goes through - is wrapped so
that each op call on this thread is recorded with its arguments and outputs. Each recorded op
is then mapped to ONNX nodes by one converter function per op (``_CONVERTERS``, filled by the
``@_converter("Name")`` decorator: to export a new op, add one function). Tensors that no
recorded op produced (parameters, buffers, constants made inside forward) become initializers;
an op whose inputs are all such constants is folded away. This covers nn.Sequential, Keras
Sequential and functional models and user Modules whose forward is straight-line code over
dlcore ops, whatever their nesting; like torch.jit.trace, Python control flow is frozen as it
ran.

The model runs a second time on a changed input (values rolled; the dynamic axes grown by one)
to check what the first run cannot show: the recorded op sequence must be the same, every
constant must be the same (a tensor computed from the input outside dlcore's ops - through
``.numpy()``, raw arrays or Python numbers - would otherwise be frozen silently into the file),
and the shapes that change with a dynamic axis become ``-1`` in Reshape targets (one per
reshape; more is refused).

Refused with NotImplementedError, by name: a dlcore module or Keras layer class that is not in
``SUPPORTED_MODULES`` (checked before tracing, so the error names the layer), an op with no
converter, training-mode batch norm or dropout, RNN ``lengths`` / packed sequences, and
tensors changed in place outside the recorded ops (the one in-place form handled is
``inplace=True`` activations: the tensor then stands for the activation's result).

Nothing here needs the ``onnx`` package until an export runs (``pip install dlcore[onnx]``);
the NumPy conversion of weights into initializers is an edge of the library.
"""
from __future__ import annotations

import threading

from .autograd import Function, no_grad
from .nn.module import Module, eval_mode
from .tensor import Tensor, cat, tensor

__all__ = ["export", "SUPPORTED_MODULES", "supported_ops"]

# dlcore classes a model may contain (user classes are traced through, whatever their name).
# Containers and the modules / layers whose ops all have converters below.
SUPPORTED_MODULES = frozenset({
    # containers and models
    "Module", "Sequential", "ModuleList", "ModuleDict", "Model",
    # dlcore.nn
    "Linear", "Identity", "Flatten", "Reshape", "Conv1d", "Conv2d", "ConvTranspose2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "Embedding", "RNN", "LSTM", "GRU",
    "ReLU", "ReLU6", "Sigmoid", "Tanh", "SELU", "SiLU", "Mish", "Hardsigmoid", "Hardswish", "Softsign",
    "LogSigmoid", "LeakyReLU", "ELU", "CELU", "GELU", "Swish", "Softplus", "Hardtanh", "PReLU",
    "Softmax", "LogSoftmax",
    # dlcore.layers (Keras style)
    "Dense", "Activation", "Lambda", "Conv2D", "MaxPooling2D", "AveragePooling2D",
    "BatchNormalization", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "Conv1D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling1D", "AveragePooling1D",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
})

# where the library's own module classes live (user classes and the examples' are traced through)
_LIBRARY = ("dlcore.nn.", "dlcore.layers.", "dlcore.models", "dlcore.distributed.", "dlcore.graph")

_CONVERTERS = {}
_lock = threading.Lock()  # one export at a time: tracing swaps Function.apply process-wide
_INT64_MAX, _INT64_MIN = 2 ** 63 - 1, -2 ** 63
# ops whose result may be copied back into their input (inplace=True activations, nn/activation.py)
_INPLACE = {"Activation"}
# ops whose tensor input may reach them as a raw array the tracer cannot link (see _index_source)
_SEARCHES_INPUT = {"Embedding"}


def _converter(*names):
    def register(fn):
        for n in names:
            _CONVERTERS[n] = fn
        return fn
    return register


def supported_ops():
    """Names of the dlcore autograd ops (Function classes) that have an ONNX converter."""
    return sorted(_CONVERTERS)


# ---- tracing -----------------------------------------------------------------------------------

class _Call:
    __slots__ = ("fn", "args", "outs", "in_versions", "out_versions")

    def __init__(self, fn, args, outs, in_versions):
        self.fn, self.args, self.outs, self.in_versions = fn, args, outs, in_versions
        self.out_versions = [o._data.version if isinstance(o, Tensor) else None for o in outs]


class _Output:
    """Stands for the op of a _Call that names a model output."""


def _trace(model, args):
    """(recorded calls, the model's output) for model(*args) in eval mode without grad."""
    calls, depth, me = [], [0], threading.get_ident()
    saved = Function.__dict__["apply"]
    inner = saved.__func__

    def apply(cls, *a):
        if depth[0] or threading.get_ident() != me:
            return inner(cls, *a)
        vers = [x._data.version if isinstance(x, Tensor) else None for x in a]
        depth[0] += 1
        try:
            out = inner(cls, *a)
        finally:
            depth[0] -= 1
        calls.append(_Call(cls, a, out if isinstance(out, tuple) else (out,), vers))
        return out

    with _lock:
        Function.apply = classmethod(apply)
        try:
            with no_grad(), eval_mode():
                out = model(*args)
        finally:
            Function.apply = saved
    return calls, out


def _flatten(out, where):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o, where)]
    raise NotImplementedError(f"{where}: the model returned a {type(out).__name__}; only tensors and "
                              f"(nested) tuples / lists of tensors can be exported")


def _check_modules(model):
    for path, m in model.named_modules():
        cls = type(m)
        if cls.__module__.startswith(_LIBRARY) and cls.__name__ not in SUPPORTED_MODULES:
            where = f"'{path}'" if path else "the model"
            raise NotImplementedError(
                f"dlcore.onnx.export: {where} is a {cls.__name__} ({cls.__module__}), which has no ONNX "
                f"export; supported dlcore modules and layers: {', '.join(sorted(SUPPORTED_MODULES))} "
                f"(and user Modules whose forward uses them and the ops in dlcore.onnx.supported_ops())")


# ---- graph building ----------------------------------------------------------------------------

_ELEM = {"float32": 1, "int64": 7, "bool": 9, "float64": 11}  # onnx.TensorProto codes


def _elem(dtype):
    key = str(dtype).replace("dlcore.", "")
    if key not in _ELEM:
        raise NotImplementedError(f"dlcore.onnx.export: dtype {dtype} has no ONNX mapping here "
                                  f"(supported: {sorted(_ELEM)})")
    return _ELEM[key]


class _Builder:
    def __init__(self, onnx, opset, dynamic):
        self.onnx, self.helper, self.opset, self.dynamic = onnx, onnx.helper, opset, dynamic
        self.nodes, self.inits = [], []
        self.names, self.versions, self.ptrs, self.consts = {}, {}, {}, {}
        self.inplace = {}     # id(tensor) -> name of the last same-shaped result computed from it
        self.poisoned = {}    # id(tensor) -> why it cannot be exported
        self.keep = []        # tensors named here stay alive, so their ids stay unique
        self.tracked2 = set()
        self.n = 0
        self.call = self.call2 = None

    def fresh(self, hint):
        """A new value / node name; the "dl::" prefix keeps it apart from the user's input and output names."""
        self.n += 1
        return f"dl::{hint}_{self.n}"

    def node(self, op, inputs, n_out=1, **attrs):
        outs = [self.fresh(op) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs, name=self.fresh("n_" + op), **attrs))
        return outs[0] if n_out == 1 else outs

    def ints(self, values):
        name = self.fresh("shape")
        self.inits.append(self.helper.make_tensor(name, 7, [len(values)], [int(v) for v in values]))
        return name

    def scalar(self, v, like_dtype, shape=()):
        name = self.fresh("c")
        elem = _elem(like_dtype)
        n = 1
        for s in shape:
            n *= s
        vals = [bool(v)] * n if elem == 9 else [int(v)] * n if elem == 7 else [float(v)] * n
        self.inits.append(self.helper.make_tensor(name, elem, list(shape), vals))
        return name

    def const(self, t, hint="w"):
        """An initializer holding tensor / array t (named once per tensor object)."""
        key = id(t)
        if key in self.consts:
            return self.consts[key]
        arr = (t.detach()._data if isinstance(t, Tensor) else t).to("cpu").numpy()  # a host copy for CUDA
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(arr.copy(), name))
        self.consts[key] = name
        self.keep.append(t)
        return name

    def bind(self, t, name, version=None):
        self.names[id(t)] = name
        self.versions[id(t)] = t._data.version if version is None else version
        self.ptrs[t._data.data_ptr()] = (name, tuple(t.shape), t._data.numel())
        self.keep.append(t)

    def is_tracked(self, a):
        if isinstance(a, Tensor):
            return id(a) in self.names or id(a) in self.poisoned
        if hasattr(a, "data_ptr") and hasattr(a, "numel"):
            hit = self.ptrs.get(a.data_ptr())
            return hit is not None and hit[2] == a.numel()
        return False

    def where(self):
        return "the model's output" if self.call.fn is _Output else f"an input of op {self.call.fn.__name__}"

    def _check_constant(self, a, a2):
        """a (untracked in run 1) must be the same constant in run 2."""
        where = self.where()
        if a2 is None or a2 is a:
            return
        if isinstance(a2, Tensor) and id(a2) in self.tracked2:
            raise NotImplementedError(f"dlcore.onnx.export: {where} is a constant in one run and "
                                      f"computed from the input in another")
        if isinstance(a, Tensor) != isinstance(a2, Tensor) or tuple(a.shape) != tuple(a2.shape) or \
                not _same_values(a, a2):
            raise NotImplementedError(
                f"dlcore.onnx.export: {where} (shape {tuple(a.shape)}) depends on the model's input "
                f"but was not computed by dlcore ops the exporter sees (e.g. made with Python numbers, "
                f".numpy() or the input's size); it cannot be exported"
                + (" with a dynamic axis (export with static shapes, or compute it with dlcore ops)"
                   if self.dynamic else ""))

    def value(self, i):
        """The ONNX name of argument i of the current call."""
        a = self.call.args[i]
        a2 = self.call2.args[i] if self.call2 is not None else None
        if isinstance(a, Tensor):
            if id(a) in self.poisoned:
                raise NotImplementedError(f"dlcore.onnx.export: {self.where()} is computed from "
                                          f"{self.poisoned[id(a)]}, which has no ONNX export")
            if id(a) in self.names:
                if self.call.in_versions[i] != self.versions[id(a)]:
                    if id(a) not in self.inplace:
                        raise NotImplementedError(
                            f"dlcore.onnx.export: {self.where()} (shape {tuple(a.shape)}) was changed in "
                            f"place outside the recorded ops; it cannot be exported")
                    self.names[id(a)], self.versions[id(a)] = self.inplace.pop(id(a)), self.call.in_versions[i]
                return self.names[id(a)]
            self._check_constant(a, a2)
            return self.const(a)
        if a is None:
            return ""
        if self.is_tracked(a):
            name, shape, _ = self.ptrs[a.data_ptr()]
            if shape != tuple(a.shape):
                raise NotImplementedError(f"dlcore.onnx.export: {self.where()} takes a raw view of shape "
                                          f"{tuple(a.shape)} of a traced tensor of shape {shape}; it cannot be "
                                          f"exported")
            return name
        self._check_constant(a, a2)
        return self.const(a)

    def arg(self, i):
        return self.call.args[i]

    def in_shape(self, i):
        return tuple(self.call.args[i].shape)

    def out_shape(self, k=0):
        """Shape of output k, with -1 where it changes with a dynamic axis (at most one)."""
        s1 = tuple(self.call.outs[k].shape)
        if not self.dynamic or self.call2 is None:
            return s1
        s2 = tuple(self.call2.outs[k].shape)
        diff = [j for j, (a, b) in enumerate(zip(s1, s2)) if a != b]
        if len(diff) > 1:
            raise NotImplementedError(f"dlcore.onnx.export: op {self.call.fn.__name__} makes shape {s1} whose dims "
                                      f"{diff} all change with the dynamic axes; only one can be inferred")
        return tuple(-1 if j in diff else s for j, s in enumerate(s1))

    def out(self, k, name):
        t = self.call.outs[k]
        self.bind(t, name, self.call.out_versions[k])
        a0 = self.call.args[0] if self.call.fn.__name__ in _INPLACE else None
        if isinstance(a0, Tensor) and id(a0) in self.names and tuple(a0.shape) == tuple(t.shape) \
                and a0.dtype == t.dtype:
            self.inplace[id(a0)] = name

    def poison(self, k, why):
        self.poisoned[id(self.call.outs[k])] = why
        self.keep.append(self.call.outs[k])

    def reduce(self, op, x, axes, keepdim, ndim):
        axes = list(axes) if axes else list(range(ndim))
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [x, self.ints(axes)], keepdims=int(bool(keepdim)))
        return self.node(op, [x], axes=axes, keepdims=int(bool(keepdim)))

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes)])


def _same_values(a, b):
    ta = a if isinstance(a, Tensor) else Tensor._wrap(a)
    tb = b if isinstance(b, Tensor) else Tensor._wrap(b)
    if ta.dtype != tb.dtype:
        return False
    if ta.numel() == 0:
        return True
    return bool((ta == tb).all())


def _tracked_ids(args, calls):
    """ids of the tensors of a run that depend on its inputs (what the builder names in run 1)."""
    ids = {id(a) for a in args}
    ptrs = {a._data.data_ptr() for a in args}
    for c in calls:
        if any((isinstance(a, Tensor) and id(a) in ids) or
               (not isinstance(a, Tensor) and hasattr(a, "data_ptr") and a.data_ptr() in ptrs) for a in c.args):
            ids.update(id(o) for o in c.outs)
            ptrs.update(o._data.data_ptr() for o in c.outs if isinstance(o, Tensor))
    return ids


def _unsupported(b):
    raise NotImplementedError(f"dlcore.onnx.export: op {b.call.fn.__name__} has no ONNX export; "
                              f"supported ops: {', '.join(supported_ops())}")


# ---- converters: one per dlcore op (python/dlcore/ops/) -----------------------------------------

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "Maximum": "Max",
           "Minimum": "Min", "MatMul": "MatMul"}
_UNARY = {"Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "Sin": "Sin", "Cos": "Cos"}


@_converter(*_BINARY)
def _binary(b):
    b.out(0, b.node(_BINARY[b.call.fn.__name__], [b.value(0), b.value(1)]))


@_converter(*_UNARY)
def _unary(b):
    b.out(0, b.node(_UNARY[b.call.fn.__name__], [b.value(0)]))


@_converter("Log1p", "Expm1")
def _log1p_expm1(b):
    x, dt = b.value(0), b.arg(0).dtype
    if b.call.fn.__name__ == "Log1p":
        b.out(0, b.node("Log", [b.node("Add", [x, b.scalar(1, dt)])]))
    else:
        b.out(0, b.node("Sub", [b.node("Exp", [x]), b.scalar(1, dt)]))


@_converter("Where")
def _where(b):
    b.out(0, b.node("Where", [b.value(0), b.value(1), b.value(2)]))


@_converter("Affine")
def _affine(b):
    x, dt = b.value(0), b.arg(0).dtype
    a, c = b.arg(1), b.arg(2)
    if a != 1:
        x = b.node("Mul", [x, b.scalar(a, dt)])
    if c != 0:
        x = b.node("Add", [x, b.scalar(c, dt)])
    b.out(0, x if (a != 1 or c != 0) else b.node("Identity", [x]))


@_converter("PowScalar")
def _pow_scalar(b):
    b.out(0, b.node("Pow", [b.value(0), b.scalar(b.arg(1), b.arg(0).dtype)]))


@_converter("Clip")
def _clip(b):
    dt = b.arg(0).dtype
    lo, hi = b.arg(1), b.arg(2)
    bounds = ["" if v is None else b.scalar(v, dt) for v in (lo, hi)]
    b.out(0, b.node("Clip", [b.value(0)] + bounds))


@_converter("Cast")
def _cast(b):
    b.out(0, b.node("Cast", [b.value(0)], to=_elem(b.call.outs[0].dtype)))


@_converter("Contiguous", "ToDevice")
def _identity(b):
    b.out(0, b.node("Identity", [b.value(0)]))


@_converter("Sum", "Mean", "Amax", "Amin")
def _reduce(b):
    op = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Amax": "ReduceMax", "Amin": "ReduceMin"}[b.call.fn.__name__]
    b.out(0, b.reduce(op, b.value(0), b.arg(1), b.arg(2), len(b.in_shape(0))))


@_converter("Reshape", "View")
def _reshape(b):
    b.out(0, b.node("Reshape", [b.value(0), b.ints(b.out_shape(0))]))


@_converter("Permute")
def _permute(b):
    b.out(0, b.node("Transpose", [b.value(0)], perm=list(b.arg(1))))


@_converter("Pad")
def _pad(b):
    """Constant padding (F.pad, Keras 'same' padding and ZeroPadding2D / Cropping2D): ONNX's
    Pad takes all begins then all ends; a negative amount crops there too."""
    pads = list(b.arg(1))
    amounts = [int(lo) for lo, _ in pads] + [int(hi) for _, hi in pads]
    b.out(0, b.node("Pad", [b.value(0), b.ints(amounts), b.scalar(b.arg(2), b.arg(0).dtype)],
                    mode="constant"))


@_converter("Expand")
def _expand(b):
    shape = [1 if s == -1 else s for s in b.out_shape(0)]
    b.out(0, b.node("Expand", [b.value(0), b.ints(shape)]))


@_converter("Concat")
def _concat(b):
    xs = [b.value(i) for i in range(1, len(b.call.args))]
    b.out(0, b.node("Concat", xs, axis=int(b.arg(0)) % len(b.in_shape(1))))


@_converter("Split")
def _split(b):
    sizes, axis = list(b.arg(1)), int(b.arg(2))
    outs = b.node("Split", [b.value(0), b.ints(sizes)], n_out=len(sizes), axis=axis)
    for k, name in enumerate(outs if len(sizes) > 1 else [outs]):
        b.out(k, name)


@_converter("GetItem")
def _getitem(b):
    x, ndim = b.value(0), len(b.in_shape(0))
    items = list(b.arg(1)) if isinstance(b.arg(1), tuple) else [b.arg(1)]
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (ndim - used)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    ax = pos = 0
    for it in items:
        if it is None:
            unsqueeze.append(pos)
            pos += 1
        elif isinstance(it, slice):
            if it != slice(None):
                step = 1 if it.step is None else int(it.step)
                lo = (0 if step > 0 else -1) if it.start is None else int(it.start)
                hi = (_INT64_MAX if step > 0 else _INT64_MIN) if it.stop is None else int(it.stop)
                starts, ends, axes, steps = starts + [lo], ends + [hi], axes + [ax], steps + [step]
            ax, pos = ax + 1, pos + 1
        else:
            i = int(it)
            end = _INT64_MAX if i == -1 else i + 1
            starts, ends, axes, steps = starts + [i], ends + [end], axes + [ax], steps + [1]
            squeeze.append(ax)
            ax += 1
    if axes:
        x = b.node("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        x = b.squeeze(x, squeeze)
    if unsqueeze:
        x = b.unsqueeze(x, unsqueeze)
    b.out(0, x if (axes or squeeze or unsqueeze) else b.node("Identity", [x]))


@_converter("IndexSelect")
def _index_select(b):
    b.out(0, b.node("Gather", [b.value(0), b.value(2)], axis=int(b.arg(1))))


@_converter("Gather")
def _gather(b):
    b.out(0, b.node("GatherElements", [b.value(0), b.value(2)], axis=int(b.arg(1))))


@_converter("Linear")
def _linear(b):
    x, w = b.value(0), b.value(1)
    bias = b.value(2) if b.arg(2) is not None else None
    if len(b.in_shape(0)) == 2:
        y = b.node("Gemm", [x, w] + ([bias] if bias else []), transB=1)
    else:
        y = b.node("MatMul", [x, b.node("Transpose", [w], perm=[1, 0])])
        if bias:
            y = b.node("Add", [y, bias])
    b.out(0, b.node("Relu", [y]) if b.arg(3) else y)


def _act_expr(b, x, op, p0, p1, dt):
    """ONNX nodes for dlcore._C.Act code `op` (PyTorch's definitions)."""
    def c(v):
        return b.scalar(v, dt)

    simple = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softsign": "Softsign", "selu": "Selu"}
    if op in simple:
        return b.node(simple[op], [x])
    if op == "leaky_relu":
        return b.node("LeakyRelu", [x], alpha=float(p0))
    if op == "elu":
        return b.node("Elu", [x], alpha=float(p0))
    if op == "celu":
        return b.node("Celu", [x], alpha=float(p0))
    if op == "relu6":
        return b.node("Clip", [x, c(0.0), c(6.0)])
    if op == "hard_tanh":
        return b.node("Clip", [x, c(p0), c(p1)])
    if op == "hard_sigmoid":
        return b.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if op == "hard_swish":
        return b.node("HardSwish", [x])
    if op == "silu":  # x * sigmoid(beta x)
        z = x if p0 == 1.0 else b.node("Mul", [x, c(p0)])
        return b.node("Mul", [x, b.node("Sigmoid", [z])])
    if op == "softplus":  # log(1 + exp(beta x)) / beta
        if p0 == 1.0:
            return b.node("Softplus", [x])
        return b.node("Div", [b.node("Softplus", [b.node("Mul", [x, c(p0)])]), c(p0)])
    if op == "mish":
        return b.node("Mul", [x, b.node("Tanh", [b.node("Softplus", [x])])])
    if op == "log_sigmoid":
        return b.node("Neg", [b.node("Softplus", [b.node("Neg", [x])])])
    if op == "gelu":  # x/2 (1 + erf(x / sqrt 2))
        e = b.node("Erf", [b.node("Mul", [x, c(0.7071067811865476)])])
        return b.node("Mul", [b.node("Mul", [x, c(0.5)]), b.node("Add", [e, c(1.0)])])
    if op == "gelu_tanh":  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = b.node("Mul", [b.node("Mul", [x, x]), x])
        inner = b.node("Mul", [b.node("Add", [x, b.node("Mul", [x3, c(0.044715)])]), c(0.7978845608028654)])
        return b.node("Mul", [b.node("Mul", [x, c(0.5)]), b.node("Add", [b.node("Tanh", [inner]), c(1.0)])])
    raise NotImplementedError(f"dlcore.onnx.export: activation {op!r} has no ONNX export")


@_converter("Activation")
def _activation(b):
    b.out(0, _act_expr(b, b.value(0), b.arg(1).name, b.arg(2), b.arg(3), b.arg(0).dtype))


@_converter("Prelu")
def _prelu(b):
    x, w, nd = b.value(0), b.value(1), len(b.in_shape(0))
    if b.in_shape(1)[0] > 1 and nd > 1:  # per channel on dim 1
        w = b.node("Reshape", [w, b.ints([b.in_shape(1)[0]] + [1] * (nd - 2))])
    b.out(0, b.node("PRelu", [x, w]))


@_converter("Softmax", "LogSoftmax")
def _softmax(b):
    b.out(0, b.node(b.call.fn.__name__, [b.value(0)], axis=int(b.arg(1))))


@_converter("Conv2d")
def _conv2d(b):
    stride, pad, dil, groups = b.arg(3), b.arg(4), b.arg(5), b.arg(6)
    ins = [b.value(0), b.value(1)] + ([b.value(2)] if b.arg(2) is not None else [])
    w = b.in_shape(1)
    b.out(0, b.node("Conv", ins, kernel_shape=list(w[2:]), strides=list(stride), dilations=list(dil),
                    group=int(groups), pads=[pad[0], pad[2], pad[1], pad[3]]))


@_converter("ConvTranspose2d")
def _conv_transpose2d(b):
    stride, pad, out_hw, dil, groups = b.arg(3), b.arg(4), b.arg(5), b.arg(6), b.arg(7)
    ins = [b.value(0), b.value(1)] + ([b.value(2)] if b.arg(2) is not None else [])
    x, w = b.in_shape(0), b.in_shape(1)
    pads = [pad[0], pad[2], pad[1], pad[3]]
    outpad = [out_hw[i] - ((x[2 + i] - 1) * stride[i] - pads[i] - pads[i + 2] + dil[i] * (w[2 + i] - 1) + 1)
              for i in range(2)]
    b.out(0, b.node("ConvTranspose", ins, kernel_shape=list(w[2:]), strides=list(stride), dilations=list(dil),
                    group=int(groups), pads=pads, output_padding=outpad))


@_converter("MaxPool2d")
def _max_pool2d(b):
    k, s, p, d, ceil = b.arg(1), b.arg(2), b.arg(3), b.arg(4), b.arg(5)
    b.out(0, b.node("MaxPool", [b.value(0)], kernel_shape=list(k), strides=list(s), dilations=list(d),
                    pads=[p[0], p[1], p[0], p[1]], ceil_mode=int(bool(ceil))))
    b.poison(1, "max pooling's indices (return_indices=True)")


@_converter("AvgPool2d")
def _avg_pool2d(b):
    k, s, p, ceil, count_pad, div = (b.arg(i) for i in range(1, 7))
    if div:
        raise NotImplementedError("dlcore.onnx.export: avg_pool2d with divisor_override has no ONNX export")
    b.out(0, b.node("AveragePool", [b.value(0)], kernel_shape=list(k), strides=list(s),
                    pads=[p[0], p[1], p[0], p[1]], ceil_mode=int(bool(ceil)), count_include_pad=int(bool(count_pad))))


@_converter("AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
def _adaptive_pool(b):
    is_max = b.call.fn.__name__ == "AdaptiveMaxPool2d"
    hw, out = b.in_shape(0)[2:], tuple(b.arg(1))
    if out == (1, 1):
        y = b.node("GlobalMaxPool" if is_max else "GlobalAveragePool", [b.value(0)])
    elif all(h % o == 0 for h, o in zip(hw, out)):  # equal windows: a plain pool
        k = [h // o for h, o in zip(hw, out)]
        y = b.node("MaxPool" if is_max else "AveragePool", [b.value(0)], kernel_shape=k, strides=k)
    else:
        raise NotImplementedError(f"dlcore.onnx.export: adaptive pooling from {hw} to {out} (windows of "
                                  f"unequal size) has no ONNX export")
    b.out(0, y)
    if is_max:
        b.poison(1, "adaptive max pooling's indices")


@_converter("BatchNorm")
def _batch_norm(b):
    # relu: a fused BatchNorm + ReLU (nn.Sequential); the running-var rule (last) plays no part in inference
    x, w, bias, rm, rv, training, _, eps, relu, _ = b.call.args
    if training:
        raise NotImplementedError("dlcore.onnx.export: batch norm on batch statistics (training mode, or "
                                  "track_running_stats=False) has no ONNX export")
    c, dt = b.in_shape(0)[1], x.dtype
    scale = b.value(1) if w is not None else b.scalar(1.0, dt, (c,))
    shift = b.value(2) if bias is not None else b.scalar(0.0, dt, (c,))
    y = b.node("BatchNormalization", [b.value(0), scale, shift, b.value(3), b.value(4)], epsilon=float(eps))
    b.out(0, b.node("Relu", [y]) if relu else y)


@_converter("LayerNorm")
def _layer_norm(b):
    x, w, bias, k, eps = b.call.args
    if b.opset < 17:
        raise NotImplementedError("dlcore.onnx.export: layer norm needs opset_version >= 17")
    shape = tuple(x.shape[-k:])
    scale = b.value(1) if w is not None else b.scalar(1.0, x.dtype, shape)
    shift = b.value(2) if bias is not None else b.scalar(0.0, x.dtype, shape)
    b.out(0, b.node("LayerNormalization", [b.value(0), scale, shift], axis=-int(k), epsilon=float(eps)))


@_converter("Dropout")
def _dropout(b):
    raise NotImplementedError("dlcore.onnx.export: dropout ran in training mode; export runs the model in "
                              "eval mode, where dropout is the identity (was it called with training=True?)")


def _index_source(b, idx, shape):
    """The traced tensor of `shape` whose values the flat index array `idx` holds: nn.Embedding
    flattens its input with raw array calls (a view, or a copy when the input is not contiguous),
    which the tracer does not see. None when no traced tensor matches."""
    if b.is_tracked(idx):
        name, src_shape, _ = b.ptrs[idx.data_ptr()]
        if src_shape == shape:
            return name
    flat = Tensor._wrap(idx)
    for t in reversed(b.keep):
        if id(t) in b.names and t.dtype == flat.dtype and tuple(t.shape) == shape and \
                bool((t.reshape(-1) == flat).all()):
            return b.names[id(t)]
    return None


@_converter("Embedding")
def _embedding(b):
    idx, out_shape = b.call.args[1], tuple(b.arg(2))
    with no_grad():
        src = _index_source(b, idx, out_shape[:-1])
    shape = out_shape[:-1]
    if src is None:
        if not b.is_tracked(b.arg(0)):
            b._check_constant(idx, b.call2.args[1] if b.call2 is not None else None)
            return  # a lookup of constant indices in a constant table: folded
        src, shape = b.value(1), tuple(idx.shape)
    y = b.node("Gather", [b.value(0), src], axis=0)
    if shape != out_shape[:-1]:
        y = b.node("Reshape", [y, b.ints(b.out_shape(0))])
    b.out(0, y)


# PyTorch's gate blocks -> ONNX's: LSTM i f g o -> i o f c; GRU r z n -> z r h
_GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn_tanh": [0], "rnn_relu": [0]}


def _rnn_weights(b, w_ih, w_hh, b_ih, b_hh, mode):
    """(W, R, B) tensors of one direction in ONNX's layout: (1, G*H, I), (1, G*H, H), (1, 2*G*H)."""
    order = _GATE_ORDER[mode]
    h = w_hh.shape[1]

    def reorder(t):
        return cat([t[k * h:(k + 1) * h] for k in order], 0)

    for t in (w_ih, w_hh, b_ih, b_hh):
        if t is not None and b.is_tracked(t):
            raise NotImplementedError("dlcore.onnx.export: RNN weights computed inside forward have no ONNX export")
    with no_grad():
        w = reorder(w_ih).unsqueeze(0)
        r = reorder(w_hh).unsqueeze(0)
        if b_ih is None:
            bias = tensor([0.0] * (2 * len(order) * h), dtype=w_ih.dtype).unsqueeze(0)
        else:
            bias = cat([reorder(b_ih), reorder(b_hh)], 0).unsqueeze(0)
    return w, r, bias


def _rnn(b, x, dirs, mode, states):
    """ONNX RNN / GRU / LSTM node over time-major x; dirs: [(w_ih, w_hh, b_ih, b_hh)] per direction,
    states: [(h0, c0)] per direction (arg indices or None). Returns (Y, Y_h, Y_c) names."""
    op = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}[mode]
    parts = [_rnn_weights(b, *d, mode) for d in dirs]
    with no_grad():
        w, r, bias = (cat([p[j] for p in parts], 0) if len(parts) > 1 else parts[0][j] for j in range(3))
    h = dirs[0][1].shape[1]
    ins = [x, b.const(w), b.const(r), b.const(bias), ""]

    def initial(j):
        if states[0][j] is None:
            return ""
        hs = [b.unsqueeze(b.value(s[j]), [0]) for s in states]
        return hs[0] if len(hs) == 1 else b.node("Concat", hs, axis=0)

    ins.append(initial(0))
    if op == "LSTM":
        ins.append(initial(1))
    attrs = {"hidden_size": int(h), "direction": "bidirectional" if len(dirs) == 2 else
             ("reverse" if b.call.fn.__name__ == "RNNLayer" and b.arg(9) else "forward")}
    if op == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch applies r to (W_hn h + b_hn)
    if op == "RNN":
        attrs["activations"] = ["Relu" if mode == "rnn_relu" else "Tanh"] * len(dirs)
    while ins and ins[-1] == "":
        ins.pop()
    outs = b.node(op, ins, n_out=3 if op == "LSTM" else 2, **attrs)
    return outs if op == "LSTM" else list(outs) + [None]


@_converter("RNNLayer")
def _rnn_layer(b):
    mode = b.arg(7).name
    if b.arg(8) is not None:
        raise NotImplementedError("dlcore.onnx.export: RNNs with lengths / packed sequences have no ONNX export")
    y, yh, yc = _rnn(b, b.value(0), [b.call.args[3:7]], mode, [(1 if b.arg(1) is not None else None,
                                                              2 if b.arg(2) is not None else None)])
    b.out(0, b.squeeze(y, [1]))
    b.out(1, b.squeeze(yh, [0]))
    if yc is not None:
        b.out(2, b.squeeze(yc, [0]))


@_converter("BiRNNLayer")
def _bi_rnn_layer(b):
    a = b.call.args
    mode = a[13].name
    if a[14] is not None:
        raise NotImplementedError("dlcore.onnx.export: RNNs with lengths / packed sequences have no ONNX export")
    st = [tuple(i if a[i] is not None else None for i in pair) for pair in ((1, 2), (3, 4))]
    y, yh, yc = _rnn(b, b.value(0), [a[5:9], a[9:13]], mode, st)
    k = 3 if yc is not None else 2
    for d in range(2):
        idx = b.ints([d])
        b.out(d * k, b.squeeze(b.node("Gather", [y, idx], axis=1), [1]))
        b.out(d * k + 1, b.squeeze(b.node("Gather", [yh, idx], axis=0), [0]))
        if yc is not None:
            b.out(d * k + 2, b.squeeze(b.node("Gather", [yc, idx], axis=0), [0]))


# ---- export ------------------------------------------------------------------------------------

def _as_args(example_input):
    if isinstance(example_input, Tensor):
        return (example_input,)
    if isinstance(example_input, list) and example_input and not isinstance(example_input[0], (Tensor, list, tuple)):
        return (tensor(example_input),)
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    return tuple(t if isinstance(t, Tensor) else tensor(t) for t in items)


def _axes_of(spec, name, ndim):
    """{axis: label} from a dynamic_axes entry ({axis: label} or [axes])."""
    if isinstance(spec, dict):
        out = {int(k): str(v) for k, v in spec.items()}
    elif isinstance(spec, (list, tuple)):
        out = {int(k): f"{name}_dim{int(k)}" for k in spec}
    else:
        raise TypeError(f"dlcore.onnx.export: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of "
                        f"axes, got {type(spec).__name__}")
    norm = {}
    for ax, label in out.items():
        if ndim is not None and not -ndim <= ax < ndim:
            raise ValueError(f"dlcore.onnx.export: dynamic_axes[{name!r}] names axis {ax}, but {name!r} has "
                             f"{ndim} dims")
        norm[ax % ndim if ndim else ax] = label
    return norm


def _changed_input(x, axes):
    """x with its values rolled by one element and each axis in `axes` grown by one."""
    with no_grad():
        y = x
        if x.numel() > 1:
            flat = x.reshape(-1)
            y = cat([flat[1:], flat[:1]], 0).reshape(tuple(x.shape))
        for ax in sorted(axes):
            y = cat([y, y[(slice(None),) * ax + (slice(0, 1),)]], ax)
    return y


def export(model, example_input, path, opset_version=17, input_names=None, output_names=None, dynamic_axes=None,
           verbose=False):
    """Writes `model` (an nn.Module: nn.Sequential, a Keras Sequential / functional Model, or a
    user Module built from dlcore modules and ops) as an ONNX file at `path` (a path or a
    binary file object) and returns the onnx.ModelProto it wrote.

    ``example_input``: a tensor or a tuple of tensors (array data is converted) - the model
    runs on it once in eval mode; shapes are those of the example except the axes named in
    ``dynamic_axes`` ({input or output name: {axis: label}} or {name: [axes]}), e.g.
    ``dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}`` for any batch size.
    Default names: "input" / "output" (or "input_0", ... when there are several).
    ``opset_version``: 14 or later (layer norm needs 17). Raises NotImplementedError naming the
    layer or op when something in the model has no ONNX mapping. Needs the ``onnx`` package."""
    import onnx  # optional dependency: only an export needs it

    if not isinstance(model, Module):
        raise TypeError(f"dlcore.onnx.export: model must be a dlcore nn.Module, got {type(model).__name__}")
    opset = int(opset_version)
    if not 14 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"dlcore.onnx.export: opset_version must be in [14, {onnx.defs.onnx_opset_version()}] "
                         f"(the installed onnx's newest), got {opset_version}")
    _check_modules(model)
    args = _as_args(example_input)
    n_in = len(args)
    in_names = list(input_names) if input_names is not None else (["input"] if n_in == 1 else
                                                                   [f"input_{i}" for i in range(n_in)])
    if len(in_names) != n_in or len(set(in_names)) != n_in:
        raise ValueError(f"dlcore.onnx.export: input_names {in_names} must name each of the {n_in} inputs once")
    dynamic_axes = dict(dynamic_axes or {})
    in_axes = [_axes_of(dynamic_axes.pop(n), n, a.ndim) if n in dynamic_axes else {} for n, a in zip(in_names, args)]
    dynamic = any(in_axes)

    # a first, unrecorded run builds what is built lazily (a Keras layer's weights are made,
    # with recorded-looking initializer ops, at its first call)
    with no_grad(), eval_mode():
        model(*args)
    calls, out = _trace(model, args)
    outs = _flatten(out, "dlcore.onnx.export")
    n_out = len(outs)
    out_names = list(output_names) if output_names is not None else (["output"] if n_out == 1 else
                                                                      [f"output_{i}" for i in range(n_out)])
    if len(out_names) != n_out or len(set(out_names)) != n_out or set(out_names) & set(in_names):
        raise ValueError(f"dlcore.onnx.export: output_names {out_names} must name each of the model's {n_out} "
                         f"outputs once, apart from the input names")
    unknown = set(dynamic_axes) - set(out_names)
    if unknown:
        raise ValueError(f"dlcore.onnx.export: dynamic_axes names {sorted(unknown)}, which are neither inputs "
                         f"{in_names} nor outputs {out_names}")
    out_axes = [_axes_of(dynamic_axes[n], n, t.ndim) if n in dynamic_axes else {} for n, t in zip(out_names, outs)]

    # the second run: a changed input; its ops must match the first run's
    args2 = tuple(_changed_input(a, ax) for a, ax in zip(args, in_axes))
    try:
        calls2, out2 = _trace(model, args2)
    except Exception as e:
        if dynamic:
            raise NotImplementedError(f"dlcore.onnx.export: the model fails on an input with other sizes along "
                                      f"the dynamic axes ({type(e).__name__}: {e}); export with static shapes") from e
        calls2, out2 = None, None
    if calls2 is not None and [c.fn for c in calls2] != [c.fn for c in calls]:
        raise NotImplementedError("dlcore.onnx.export: the model runs different ops for a different input "
                                  "(Python control flow on the input's values or sizes); it cannot be exported "
                                  "as one graph")
    outs2 = _flatten(out2, "dlcore.onnx.export") if calls2 is not None else None

    b = _Builder(onnx, opset, dynamic)
    if calls2 is not None:
        b.tracked2 = _tracked_ids(args2, calls2)
    graph_inputs = []
    for a, name, axes in zip(args, in_names, in_axes):
        b.bind(a, name)
        shape = [axes.get(i, s) for i, s in enumerate(a.shape)]
        graph_inputs.append(onnx.helper.make_tensor_value_info(name, _elem(a.dtype), shape))
    for i, call in enumerate(calls):
        b.call, b.call2 = call, (calls2[i] if calls2 is not None else None)
        if not any(b.is_tracked(a) for a in call.args) and call.fn.__name__ not in _SEARCHES_INPUT:
            continue  # every input a constant: the outputs stay constants (folded)
        bad = [b.poisoned[id(a)] for a in call.args if isinstance(a, Tensor) and id(a) in b.poisoned]
        if bad:  # computed from something with no ONNX form: fails only if an output needs it
            for o in call.outs:
                b.poisoned[id(o)] = bad[0]
                b.keep.append(o)
            continue
        conv = _CONVERTERS.get(call.fn.__name__, _unsupported)
        if verbose:
            print(f"dlcore.onnx.export: {call.fn.__name__} -> ONNX")
        conv(b)
    graph_outputs = []
    for k, (t, name, axes) in enumerate(zip(outs, out_names, out_axes)):
        b.call = _Call(_Output, (t,), (), [t._data.version])
        b.call2 = _Call(_Output, (outs2[k],), (), [None]) if outs2 is not None else None
        src = b.value(0)
        b.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=b.fresh("n_output")))
        shape = list(t.shape)
        if outs2 is not None and dynamic:
            shape = [None if a != c else a for a, c in zip(t.shape, outs2[k].shape)]
        shape = [axes.get(i, s) for i, s in enumerate(shape)]
        graph_outputs.append(onnx.helper.make_tensor_value_info(name, _elem(t.dtype), shape))
    graph = onnx.helper.make_graph(b.nodes, type(model).__name__, graph_inputs, graph_outputs, b.inits)
    # the IR version that goes with the opset (not the newest one), so older runtimes read the file
    proto = onnx.helper.make_model_gen_version(graph, producer_name="dlcore",
                                               opset_imports=[onnx.helper.make_opsetid("", opset)])
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, path)
    return proto
