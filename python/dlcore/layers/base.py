"""The Keras-style Layer base class and activations by Keras name.

A Layer is an nn.Module (so it works in nn.Sequential, with optimizers and state_dict) that
infers its input size on the first call (``Dense(128)`` needs no in_features) and, called on
symbolic tensors from ``dlcore.Input``, records a node of a functional ``dlcore.Model``
(python/dlcore/graph.py). Layout is PyTorch's: images are channels-first (N, C, H, W), so the
Keras feature / channel axis is axis 1.
"""
from __future__ import annotations

import functools
import inspect
import re
import threading

from .. import initializers
from ..dtype import canonical as dtype_of
from ..graph import is_symbolic, symbolic_call
from ..nn import activation as A
from ..nn.module import Module, Parameter, eval_mode
from ..tensor import Tensor, tensor

__all__ = ["Layer", "get_activation"]

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
    """A layer input as a Tensor (array data converted), a list of them, or a TypeError."""
    if isinstance(a, Tensor):
        return a
    if isinstance(a, (list, tuple)) and a and all(isinstance(b, Tensor) for b in a):
        return a
    if isinstance(a, (list, tuple)) and a and any(isinstance(b, Tensor) or hasattr(b, "__array__") for b in a):
        return type(a)(_as_input(b, layer) for b in a)  # several inputs (merge layers), some arrays
    if hasattr(a, "__array__") or isinstance(a, (list, tuple)):
        return tensor(a)
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


class Layer(Module):
    """Base class: build(input_shape) runs once, on the first call, with the input's shape
    (batch dimension included); calling on a symbolic tensor records a graph node instead.

    Keras conventions it keeps: a subclass may define call(inputs, ...) instead of forward,
    and build(self, input_shape) with self.add_weight(...); every layer takes input_shape= /
    input_dim= (read by Sequential); a call takes NumPy data and the keyword arguments
    training= (True / False: this call runs in that mode) and mask= (passed on to layers whose
    forward takes it, dropped for the others); compute_mask gives the mask a layer hands to
    the next one (Sequential and Model pass masks along: Embedding(mask_zero=True) -> LSTM).
    get_weights / set_weights list the weights in registration order, which for dlcore's
    Keras layers is Keras's order and layout."""

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
            args = tuple(_as_input(a, self) for a in args)
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
    def weights(self):
        """Every weight (parameters, then buffers such as running statistics)."""
        return list(self.parameters()) + list(self.buffers())

    @property
    def trainable_weights(self):
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        return [p for p in self.parameters() if not p.requires_grad] + list(self.buffers())

    @property
    def trainable(self):
        """False freezes the layer's weights (requires_grad off), as Keras's layer.trainable."""
        return not self.__dict__.get("_frozen", False)

    @trainable.setter
    def trainable(self, flag):
        self.__dict__["_frozen"] = not flag
        self.requires_grad_(bool(flag))

    def _weight_items(self):
        """(state_dict key, tensor) of the weights Keras lists, in its order (PyTorch's batch
        counter is not one of them)."""
        return [(k, v) for k, v in self.state_dict().items() if not k.endswith("num_batches_tracked")]

    def _to_keras(self, key, a):
        """A weight (NumPy) in Keras's layout; layers whose module keeps another layout
        (Dense's nn.Linear: (out, in)) override this and _from_keras."""
        return a

    def _from_keras(self, key, a):
        return a

    def get_weights(self):
        """The layer's weights as NumPy arrays (copies) in Keras's order and layout, so
        weights carry over between Keras and dlcore."""
        return [self._to_keras(k, v.detach().cpu().numpy()).copy() for k, v in self._weight_items()]

    def set_weights(self, weights):
        """Loads arrays given in get_weights' order and layout; shapes must match."""
        items = self._weight_items()
        weights = list(weights)
        if len(weights) != len(items):
            raise ValueError(f"{type(self).__name__} '{self.name}': set_weights got {len(weights)} "
                             f"arrays for {len(items)} weights ({[k for k, _ in items]})")
        sd = self.state_dict()
        for (k, v), w in zip(items, weights):
            want = self._to_keras(k, v.detach().cpu().numpy()).shape
            if tuple(getattr(w, "shape", ())) != tuple(want):
                raise ValueError(f"{type(self).__name__} '{self.name}': set_weights: weight {k!r} has "
                                 f"shape {tuple(want)}, got an array of shape {tuple(getattr(w, 'shape', ()))}")
            sd[k] = self._from_keras(k, w.detach().cpu().numpy() if hasattr(w, "detach") else w)
        self.load_state_dict(sd)

    def get_config(self):
        return {"name": self.name}

    def extra_repr(self):
        cfg = {k: v for k, v in self.get_config().items() if k != "name"}
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())
