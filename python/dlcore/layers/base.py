"""The Keras-style Layer base class and activations by Keras name.

A Layer is an nn.Module (so it works in nn.Sequential, with optimizers and state_dict) that
infers its input size on the first call (``Dense(128)`` needs no in_features) and, called on
symbolic tensors from ``dlcore.Input``, records a node of a functional ``dlcore.Model``
(python/dlcore/graph.py).

Image layout is Keras's: the image layers take ``data_format="channels_last"`` (N, ..., C) by
default, or "channels_first" (N, C, ...). Internally they compute channels-first (dlcore's
kernels, as PyTorch's, are NCHW) and hand channels-last results back as permuted *views* of
NCHW memory, so a run of channels-last layers moves no data between layers: the next layer's
permute gives back the contiguous NCHW tensor (``to_channels_first`` / ``from_channels_first``).
Layer weights read and written with ``get_weights`` / ``set_weights`` are in Keras's layouts
(Conv2D kernel (kh, kw, in, out), Dense kernel (in, out)); ``state_dict`` keeps dlcore.nn's.
"""
from __future__ import annotations

import copy
import functools
import inspect
import re
import threading

from .. import initializers
from ..autograd import no_grad
from ..dtype import canonical as dtype_of
from ..graph import is_symbolic, symbolic_call
from ..nn import activation as A
from ..nn.module import Module, Parameter, eval_mode
from ..tensor import Generator, Tensor, tensor, use_generator, zeros

__all__ = ["Layer", "WeightLists", "get_activation", "get_initializer", "init_keras_layout", "data_format_arg", "image_rank",
           "image_input", "to_channels_first", "from_channels_first", "memory_order", "in_memory_order"]

_counters = {}
_build_lock = threading.RLock()


def _auto_name(cls_name):
    """Keras's default layer name: the class name in snake case (Dense -> dense, LSTM -> lstm,
    SimpleRNN -> simple_rnn, Conv2D -> conv2d), numbered from the second one on."""
    base = re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls_name)).lower()
    n = _counters.get(base, 0)
    _counters[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _match_dtype(module, x):
    """module cast to x's float dtype when x is a float64 tensor (layers build in float32)."""
    if isinstance(x, Tensor) and x.dtype.is_floating_point and x.dtype != "float32":
        module.to(dtype=x.dtype)
    return module


_ACTIVATIONS = {"relu": A.relu, "sigmoid": A.sigmoid, "tanh": A.tanh,
                "softmax": functools.partial(A.softmax, dim=-1),
                "log_softmax": functools.partial(A.log_softmax, dim=-1),
                "gelu": A.gelu, "elu": A.elu, "selu": A.selu, "leaky_relu": A.leaky_relu,
                "softplus": A.softplus, "silu": A.silu, "swish": A.silu, "mish": A.mish,
                "hardswish": A.hardswish, "hardsigmoid": A.hardsigmoid, "relu6": A.relu6,
                "softsign": A.softsign}


def get_activation(name):
    """An activation function by Keras name (None / 'linear' -> None, the identity); a
    callable is returned as is. softmax and log_softmax act on the last axis."""
    if name is None or name == "linear":
        return None
    if callable(name):
        return name
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[key]


def _as_input(a, layer):
    """A layer input as a Tensor (array data converted, onto the layer's device: its first
    weight's), a list of them, or a TypeError."""
    if isinstance(a, Tensor):
        return a
    if isinstance(a, (list, tuple)) and a and all(isinstance(b, Tensor) for b in a):
        return a
    if isinstance(a, (list, tuple)) and a and any(isinstance(b, Tensor) or hasattr(b, "__array__") for b in a):
        return type(a)(_as_input(b, layer) for b in a)  # several inputs (merge layers), some arrays
    if hasattr(a, "__array__") or isinstance(a, (list, tuple)):
        return tensor(a, device=next((p.device for p in layer.parameters()), None))
    raise TypeError(f"{type(layer).__name__} '{layer.name}': input must be a dlcore Tensor or array data, "
                    f"got {type(a).__name__}")


def _keras_kwargs(init):
    """Wraps a Layer subclass's __init__: pops input_shape / input_dim / batch_input_shape
    (kept as ``layer.input_shape_hint``, the per-sample shape), so every layer takes them -
    except an argument of the layer's own of that name (Embedding's input_dim)."""
    own = set(inspect.signature(init).parameters)

    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        hint = None
        if "input_shape" in kwargs:
            hint = kwargs.pop("input_shape")
            hint = (hint,) if isinstance(hint, int) else tuple(hint)
        if "input_dim" in kwargs and "input_dim" not in own:
            hint = (kwargs.pop("input_dim"),)
        if "batch_input_shape" in kwargs:
            hint = tuple(kwargs.pop("batch_input_shape"))[1:]
        init(self, *args, **kwargs)
        if hint is not None:
            self.__dict__["input_shape_hint"] = hint
        if self.__dict__.get("_weights_dtype") is not None and self.built:  # weights made in __init__
            self.to(dtype=self.__dict__["_weights_dtype"])
    wrapped.__wrapped_keras__ = True
    return wrapped


@functools.lru_cache(maxsize=None)
def _takes(fn, arg):
    """Whether function fn has a parameter named arg (or **kwargs)."""
    try:
        ps = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return arg in ps or any(p.kind == p.VAR_KEYWORD for p in ps.values())


def _call_flags(cls):
    """(whether it takes mask=, whether it takes training=) for a Layer class's call: Keras's
    call() when the class has one, else forward()."""
    fn = getattr(cls, "call", None) or cls.forward
    return _takes(fn, "mask"), _takes(fn, "training")


@functools.lru_cache(maxsize=None)
def _build_takes_x(fn):
    """Whether a build method takes the example input after input_shape (dlcore's layers do;
    a user's Keras-style build(self, input_shape) does not)."""
    try:
        ps = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    except (TypeError, ValueError):
        return True
    return len(ps) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in ps)


class WeightLists:
    """Keras's weight lists over a Module's parameters and buffers, for layers (Layer) and
    models (TrainingMixin)."""

    @property
    def weights(self):
        """Every weight (parameters, then buffers such as running statistics)."""
        return list(self.parameters()) + list(self.buffers())

    @property
    def trainable_weights(self):
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        return [p for p in self.parameters() if not p.requires_grad] + list(self.buffers())


class Layer(WeightLists, Module):
    """Base class: build(input_shape) runs once, on the first call, with the input's shape
    (batch dimension included); calling on a symbolic tensor records a graph node instead.

    Keras conventions it keeps: a subclass may define call(inputs, ...) instead of forward,
    and build(self, input_shape) with self.add_weight(...); every layer takes input_shape= /
    input_dim= (read by Sequential); a call takes NumPy data and the keyword arguments
    training= (True / False: this call runs in that mode) and mask= (passed on to layers whose
    forward takes it, dropped for the others); compute_mask gives the mask a layer hands to
    the next one (Sequential and Model pass masks along: Embedding(mask_zero=True) -> LSTM).
    get_weights / set_weights list the weights in Keras's order and layouts: a layer whose
    modules keep another layout (Dense's nn.Linear (out, in), Conv2D's (out, in, kh, kw))
    says how to convert in ``_keras_weights``; layers that hold their weights in Keras's
    layout (add_weight, the recurrent layers) need nothing."""

    supports_masking = False
    _call_flags = (False, False)  # (takes mask=, takes training=), per class

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._call_flags = _call_flags(cls)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "__wrapped_keras__", False):
            cls.__init__ = _keras_kwargs(init)

    def __init__(self, name=None, **kwargs):
        super().__init__()
        bad = sorted(set(kwargs) - {"dtype", "trainable"})
        if bad:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {bad}")
        self.name = name or _auto_name(type(self).__name__)
        self.built = False
        if kwargs.get("trainable") is False:
            self.__dict__["_frozen"] = True
        if kwargs.get("dtype") is not None:  # Keras's dtype="float64": the weights' dtype
            self.__dict__["_weights_dtype"] = dtype_of(kwargs["dtype"])

    def build(self, input_shape, x=None):
        self.built = True

    def forward(self, *args, **kwargs):
        if getattr(type(self), "call", None) is None:
            raise NotImplementedError(f"{type(self).__name__}: a layer defines forward() or call()")
        return self.call(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        if is_symbolic(args) or (kwargs and is_symbolic(tuple(kwargs.values()))):
            return symbolic_call(self, args, kwargs)
        if not (len(args) == 1 and isinstance(args[0], Tensor)):
            # the first input is required; a later None is an optional input left out (MHA's key)
            args = tuple(a if a is None and i else _as_input(a, self) for i, a in enumerate(args))
        if not self.built:
            with _build_lock:  # two threads calling an unbuilt model build each layer once
                if not self.built:
                    first = args[0]
                    shape = [tuple(t.shape) for t in first] if isinstance(first, (list, tuple)) else tuple(first.shape)
                    if _build_takes_x(type(self).build):
                        self.build(shape, first)
                    else:
                        self.build(shape)
                    self.built = True
                    if self.__dict__.get("_weights_dtype") is not None:
                        self.to(dtype=self.__dict__["_weights_dtype"])
                    if self.__dict__.get("_frozen"):
                        self.requires_grad_(False)
        takes_mask, takes_training = self._call_flags
        training = kwargs.get("training") if kwargs else None
        if kwargs:
            if "mask" in kwargs and not takes_mask:
                del kwargs["mask"]
            if "training" in kwargs and not takes_training:
                del kwargs["training"]
        if takes_training and training is None:
            kwargs["training"] = self.training  # Keras's learning phase: fit trains, predict infers
        if training is not None:  # this call and every layer inside it run in that mode
            with eval_mode(bool(training)):
                return self.forward(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: the input's mask for layers that keep the time
        axis (supports_masking), else None."""
        return mask if self.supports_masking else None

    # -- Keras's weight API --
    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, **kwargs):
        """A new weight of ``shape`` registered on the layer (a Parameter, initialised by a
        Keras initializer name or object); trainable=False makes it a non-trainable weight."""
        w = Parameter(initializers.get(initializer)(tuple(shape or ()), dtype=dtype),
                      requires_grad=bool(trainable))
        name = name or f"weight_{len(self._parameters)}"
        setattr(self, name, w)
        return w

    @property
    def trainable(self):
        """False freezes the layer's weights (requires_grad off), as Keras's layer.trainable."""
        return not self.__dict__.get("_frozen", False)

    @trainable.setter
    def trainable(self, flag):
        self.__dict__["_frozen"] = not flag
        self.requires_grad_(bool(flag))

    def get_config(self):
        return {"name": self.name}

    def extra_repr(self):
        cfg = {k: v for k, v in self.get_config().items() if k != "name"}
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())

    # -- Keras-layout weights and shapes --
    def _keras_weights(self):
        """[(tensor, to_keras, from_keras)] in Keras's weight order: to_keras maps dlcore's tensor
        to Keras's layout, from_keras back (None: the same layout). The one hook for Keras-layout
        weights: get_weights / set_weights (the layer's and the model's) and the initializers
        (drawn in Keras's layout, so with Keras's fans) go through it. Default: the layer's own
        floating parameters and buffers as stored (registration order), then each sub-layer's
        Keras weights (a wrapper's inner layer) - PyTorch's integer batch counter is no weight."""
        return [s for s in _module_slots(self) if s[0].dtype.is_floating_point]

    def get_weights(self):
        """This layer's weights as NumPy arrays in Keras's order and layouts."""
        return _read_weights(_weight_slots(self))

    def set_weights(self, weights):
        """Sets the weights from arrays in Keras's order and layouts (as get_weights returns them)."""
        _write_weights(_weight_slots(self), weights, f"{type(self).__name__} '{self.name}'",
                       "" if self.built else " (it is not built yet)", self)

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape`` (batch dim first, None allowed there),
        found by running a copy of the layer on a zero batch: the shape rules are the kernels'
        own. The layer itself is neither built nor changed, and no random number is drawn from
        dlcore's generator."""
        multi = bool(input_shape) and isinstance(input_shape[0], (tuple, list))
        shapes = [tuple(s) for s in input_shape] if multi else [tuple(input_shape)]
        for s in shapes:
            if any(d is None for d in s[1:]):
                raise ValueError(f"{type(self).__name__} '{self.name}': compute_output_shape needs every "
                                 f"dim but the batch dim, got {s}")
        xs = [zeros(2 if s[0] is None else s[0], *s[1:]) for s in shapes]
        layer = self if self.built else copy.deepcopy(self)
        with no_grad(), eval_mode(), use_generator(Generator(0)):
            y = layer(xs) if multi else layer(xs[0])
        none_batch = shapes[0][0] is None
        fix = (lambda t: (None,) + tuple(t.shape[1:])) if none_batch else (lambda t: tuple(t.shape))
        return [fix(t) for t in y] if isinstance(y, (tuple, list)) else fix(y)


# ---- weights in Keras's order and layouts ---------------------------------------------------------

def _weight_slots(module):
    """[(tensor, to_keras, from_keras)] for every weight of module in Keras's order: a dlcore
    layer's own Keras-layout weights (none before it is built), any other module's parameters
    and persistent buffers as its state_dict holds them, module by module."""
    if isinstance(module, Layer):
        return module._keras_weights() if module.built else []
    return _module_slots(module)


def _module_slots(module):
    """A module's own parameters and persistent buffers as stored, then its children's weight slots."""
    out = []
    skip = module.__dict__.get("_non_persistent", set())
    for store in (module._parameters, module._buffers):
        out += [(t, None, None) for name, t in store.items() if t is not None and name not in skip]
    for child in module._modules.values():
        if child is not None:
            out += _weight_slots(child)
    return out


def _read_weights(slots):
    return [(f(t) if f else t).detach().cpu().numpy().copy() for t, f, _ in slots]


def _write_weights(slots, weights, who, note="", module=None):
    """Copies arrays (Keras layouts) into the slots' tensors, after checking every count and shape
    (a wrong shape is reported with the weight's name in module)."""
    weights = list(weights)
    if len(weights) != len(slots):
        raise ValueError(f"{who}: set_weights got {len(weights)} arrays for {len(slots)} weights{note}")
    new = []
    for i, ((t, to_k, from_k), w) in enumerate(zip(slots, weights)):
        w = tensor(w, dtype=t.dtype)
        want = tuple((to_k(t) if to_k else t).shape)
        if tuple(w.shape) != want:
            names = {} if module is None else {id(v): k for it in (module.named_parameters(), module.named_buffers())
                                               for k, v in it}
            of = f" of {names[id(t)]!r}" if id(t) in names else ""
            raise ValueError(f"{who}: set_weights{of}: weight {i} has shape {tuple(w.shape)}, expected {want}")
        new.append(from_k(w) if from_k else w)
    with no_grad():
        for (t, _, _), w in zip(slots, new):
            t.copy_(w)


# ---- initializers by Keras name ----------------------------------------------------------------

def get_initializer(identifier, op="initializer", arg="kernel_initializer"):
    """A Keras initializer from dlcore.initializers (the one table of Keras names: glorot_uniform,
    he_normal, orthogonal, zeros, ...), an Initializer object or a callable(shape, dtype=None);
    a bad name raises ValueError naming op and arg. It is called with a shape in Keras's layout
    (a kernel (in, out), a conv kernel (*kernel_size, in, out)), so fans are Keras's: use
    init_keras_layout to fill a weight that dlcore keeps in another layout."""
    try:
        return initializers.get(identifier)
    except ValueError as e:
        raise ValueError(f"{op}: unknown {arg} {identifier!r} ({e})") from None


def init_keras_layout(t, initializer, to_keras=None, from_keras=None):
    """Fills tensor t with initializer's values drawn in Keras's layout (its shape is to_keras(t)'s,
    as in a _keras_weights slot), stored back in t's own layout."""
    with no_grad():
        w = initializer(tuple((to_keras(t) if to_keras else t).shape), dtype=t.dtype)
        t.copy_(from_keras(w) if from_keras else w)


# ---- image layout ------------------------------------------------------------------------------

def data_format_arg(data_format, op):
    """'channels_last' (also for None, Keras's default image_data_format) or 'channels_first'."""
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def image_rank(layer, shape, rank):
    """Checks that an image layer's input shape has rank + 2 dims (ValueError naming the layer, the
    layout its data_format expects and the shape)."""
    if len(shape) != rank + 2:
        dims = "H, W" if rank == 2 else "L"
        layout = f"(N, {dims}, C)" if layer.data_format == "channels_last" else f"(N, C, {dims})"
        raise ValueError(f"{type(layer).__name__} '{layer.name}': expects {rank + 2}-D input {layout} "
                         f"({layer.data_format}), got shape {tuple(shape)}")


def image_input(layer, x, rank, need_float=True):
    """x checked for an image layer of this spatial rank (a Tensor with rank + 2 dims, float),
    returned as a channels-first view."""
    cls = type(layer).__name__
    if not isinstance(x, Tensor):
        raise TypeError(f"{cls} '{layer.name}': input must be a dlcore Tensor, got {type(x).__name__}")
    image_rank(layer, x.shape, rank)
    if need_float and not x.dtype.is_floating_point:
        raise TypeError(f"{cls} '{layer.name}': input must be a float tensor, got {x.dtype}")
    return to_channels_first(x, layer.data_format)


def to_channels_first(x, data_format):
    """x (N, *spatial, C) as a (N, C, *spatial) view when data_format is channels_last."""
    if data_format == "channels_first":
        return x
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def from_channels_first(y, data_format):
    """y (N, C, *spatial) as a (N, *spatial, C) view when data_format is channels_last."""
    if data_format == "channels_first":
        return y
    return y.permute(0, *range(2, y.ndim), 1)



def memory_order(x):
    """The permutation of x's dims that is contiguous memory when x is a permuted view of
    contiguous memory (the channels-last output of an image layer); None otherwise (also when x
    is contiguous already)."""
    if not isinstance(x, Tensor) or x.ndim < 3 or x.is_contiguous():
        return None
    perm = tuple(sorted(range(x.ndim), key=lambda d: -x.stride(d)))
    return perm if x.permute(perm).is_contiguous() else None


def _inverse(perm):
    return tuple(sorted(range(len(perm)), key=perm.__getitem__))


def in_memory_order(fn, x):
    """fn(x) for an elementwise fn, computed in x's memory order: a permuted view (the channels-last
    output of an image layer) gives a result laid out like x, so the next image layer still finds
    channels-first memory instead of copying. Other inputs: plain fn(x)."""
    perm = memory_order(x)
    if perm is None:
        return fn(x)
    return fn(x.permute(perm)).permute(_inverse(perm))
