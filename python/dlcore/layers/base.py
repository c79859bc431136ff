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
import threading

from ..autograd import no_grad
from ..graph import is_symbolic, symbolic_call
from ..nn import activation as A
from ..nn import init
from ..nn.module import Module, eval_mode
from ..tensor import Generator, Tensor, tensor, use_generator, zeros

__all__ = ["Layer", "get_activation", "get_initializer", "data_format_arg", "image_rank", "image_input",
           "to_channels_first", "from_channels_first", "memory_order", "in_memory_order"]

_counters = {}
_build_lock = threading.RLock()


def _auto_name(cls_name):
    base = "".join("_" + c.lower() if c.isupper() else c for c in cls_name).lstrip("_")
    base = base.replace("2_d", "2d")
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
    if hasattr(a, "__array__") or isinstance(a, (list, tuple)):
        return tensor(a)
    raise TypeError(f"{type(layer).__name__} '{layer.name}': input must be a dlcore Tensor or array data, "
                    f"got {type(a).__name__}")


class Layer(Module):
    """Base class: ``build(input_shape)`` runs once, on the first call, with the input's shape
    (batch dimension included); calling on a symbolic tensor records a graph node instead."""

    def __init__(self, name=None):
        super().__init__()
        self.name = name or _auto_name(type(self).__name__)
        self.built = False

    def build(self, input_shape, x=None):
        self.built = True

    def __call__(self, *args, **kwargs):
        if is_symbolic(args):
            return symbolic_call(self, args, kwargs)
        if not self.built:
            args = tuple(_as_input(a, self) for a in args)
            with _build_lock:  # two threads calling an unbuilt model build each layer once
                if not self.built:
                    first = args[0]
                    shape = [tuple(t.shape) for t in first] if isinstance(first, (list, tuple)) else tuple(first.shape)
                    self.build(shape, first)
                    self.built = True
        return self.forward(*args, **kwargs)

    def get_config(self):
        return {"name": self.name}

    def extra_repr(self):
        cfg = {k: v for k, v in self.get_config().items() if k != "name"}
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())

    # -- Keras-layout weights and shapes --
    def _keras_weights(self):
        """[(tensor, to_keras, from_keras)] in Keras's weight order: to_keras maps dlcore's tensor
        to Keras's layout, from_keras back (None: the same layout). Default: the state_dict's
        floating tensors as stored."""
        return [(t, None, None) for t in self.state_dict().values() if t.dtype.is_floating_point]

    def get_weights(self):
        """This layer's weights as NumPy arrays in Keras's order and layouts."""
        return _read_weights(_weight_slots(self))

    def set_weights(self, weights):
        """Sets the weights from arrays in Keras's order and layouts (as get_weights returns them)."""
        _write_weights(_weight_slots(self), weights, f"{type(self).__name__} '{self.name}'",
                       "" if self.built else " (it is not built yet)")

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


def _write_weights(slots, weights, who, note=""):
    """Copies arrays (Keras layouts) into the slots' tensors, after checking every count and shape."""
    weights = list(weights)
    if len(weights) != len(slots):
        raise ValueError(f"{who}: set_weights got {len(weights)} arrays for {len(slots)} weights{note}")
    new = []
    for i, ((t, to_k, from_k), w) in enumerate(zip(slots, weights)):
        w = tensor(w, dtype=t.dtype)
        want = tuple((to_k(t) if to_k else t).shape)
        if tuple(w.shape) != want:
            raise ValueError(f"{who}: set_weights: weight {i} has shape {tuple(w.shape)}, expected {want}")
        new.append(from_k(w) if from_k else w)
    with no_grad():
        for (t, _, _), w in zip(slots, new):
            t.copy_(w)


# ---- initializers by Keras name ----------------------------------------------------------------

_INITIALIZERS = {"glorot_uniform": init.glorot_uniform, "glorot_normal": init.glorot_normal,
                 "he_uniform": init.he_uniform, "he_normal": init.he_normal,
                 "lecun_uniform": init.lecun_uniform, "lecun_normal": init.lecun_normal,
                 "zeros": init.zeros_, "ones": init.ones_}


def get_initializer(name, op="initializer", arg="kernel_initializer"):
    """An in-place initializer by Keras name (glorot_uniform, glorot_normal, he_uniform,
    he_normal, lecun_uniform, lecun_normal, zeros, ones) or a callable taking the tensor. Fans
    are computed from dlcore.nn's weight layout (out, in, *kernel), which gives Keras's fans for
    Dense and convolution kernels."""
    if callable(name):
        return name
    key = str(name).lower() if isinstance(name, str) else None
    if key not in _INITIALIZERS:
        raise ValueError(f"{op}: unknown {arg} {name!r}; known: {sorted(_INITIALIZERS)} or a callable")
    return _INITIALIZERS[key]


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
