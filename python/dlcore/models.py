"""Keras-style models on dlcore.nn modules: Sequential and the functional Model (Input ->
layers -> outputs, with branches and merges), both with the training API of trainer.py
(compile / fit / evaluate / predict / save).

Both model classes are nn.Modules: ``model.parameters()``, ``state_dict()``, a hand-written
PyTorch loop and ``dlcore.optim`` work on them unchanged.
"""
from __future__ import annotations

import functools
import inspect

from . import nn
from .graph import _EXAMPLE_LEN, KerasTensor, is_symbolic, symbolic_call
from .layers import Layer
from .nn.module import Module, _fused_pair
from .dtype import get_default_dtype
from .tensor import Tensor
from .trainer import TrainingMixin, _arr, _call_mode, _t

__all__ = ["Sequential", "Model"]


@functools.lru_cache(maxsize=None)
def _call_takes_training(cls):
    """Whether a Keras-style Model subclass's call() has a ``training`` parameter."""
    try:
        return "training" in inspect.signature(cls.call).parameters
    except (TypeError, ValueError):
        return False


class Sequential(TrainingMixin, nn.Sequential):
    """A stack of layers: Sequential([layers.Dense(128, activation='relu'), layers.Dense(10)])
    or Sequential(nn.Linear(784, 128), nn.ReLU(), ...). It is an nn.Sequential, so PyTorch-style
    code works on it too. ``input_shape`` (per sample) builds lazy layers at once."""

    def __init__(self, layers=None, *more, input_shape=None, name=None, trainable=True):
        if isinstance(layers, (Module, KerasTensor)):
            layers = [layers] + list(more)
        elif layers is None:
            layers = list(more)
        if not isinstance(layers, dict):  # an OrderedDict of named layers stays one
            layers = list(layers)
        inp = layers.pop(0) if isinstance(layers, list) and layers and isinstance(layers[0], KerasTensor) else None
        super().__init__(layers)
        object.__setattr__(self, "name", name or "sequential")
        if input_shape is None and inp is not None:  # Sequential([dlcore.Input(shape), ...])
            input_shape, dtype = inp.shape[1:], str(inp.dtype)
        else:
            dtype = str(get_default_dtype())
        if input_shape is None and len(self):  # Keras's Dense(64, input_shape=(784,)) first
            input_shape = next(iter(self)).__dict__.get("input_shape_hint")
        if input_shape is not None:
            shape = tuple(input_shape) if not isinstance(input_shape, int) else (input_shape,)
            object.__setattr__(self, "_variable_dims", tuple(i for i, s in enumerate(shape) if s is None))
            self.build(tuple(_EXAMPLE_LEN if s is None else s for s in shape), dtype=dtype)
        if not trainable:
            self.requires_grad_(False)

    def add(self, layer):
        """Appends a layer; a first layer declaring input_shape= builds the model, as in Keras.
        ``add(dlcore.Input(shape))`` on an empty model sets the shape the next layer builds with."""
        if isinstance(layer, KerasTensor) and not len(self):
            object.__setattr__(self, "_pending_input", layer)
            return self
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected a Module, got {type(layer).__name__}")
        self.append(layer)
        object.__setattr__(self, "_all_built", False)
        if len(self) == 1:
            inp = self.__dict__.pop("_pending_input", None)
            shape = inp.shape[1:] if inp is not None else layer.__dict__.get("input_shape_hint")
            if shape is not None:
                object.__setattr__(self, "_variable_dims", tuple(i for i, s in enumerate(shape) if s is None))
                self.build(tuple(_EXAMPLE_LEN if s is None else s for s in shape),
                           dtype=str(inp.dtype) if inp is not None else str(get_default_dtype()))
        return self

    def forward(self, x, mask=None):
        """Runs the layers in turn; a Keras mask (from Embedding(mask_zero=True) or Masking) is
        handed from each layer to the next through ``compute_mask``. Without a mask, a layer
        that fuses with the next one (BatchNorm followed by ReLU) runs the pair in one call."""
        mods = tuple(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            if mask is not None:
                y = m(x, mask=mask) if isinstance(m, Layer) else m(x)
                mask = m.compute_mask(x, mask) if isinstance(m, Layer) else None
            else:
                y = _fused_pair(mods, i, x)
                if y is not None:
                    x, i = y, i + 2
                    continue
                y = m(x)
                if isinstance(m, Layer) and type(m).compute_mask is not Layer.compute_mask:
                    mask = m.compute_mask(x)  # a mask source: Embedding(mask_zero=True), Masking
            x = y
            i += 1
        return x

    def __call__(self, *args, training=None, **kwargs):
        if is_symbolic(args):  # a Sequential used as a layer inside a functional graph
            return symbolic_call(self, args, kwargs)
        if not (len(args) == 1 and isinstance(args[0], Tensor)):
            args = tuple(a if isinstance(a, Tensor) else _t(_arr(a)) for a in args)
        if training is None:
            return self.forward(*args, **kwargs)
        with _call_mode(training):
            return self.forward(*args, **kwargs)

    def pop(self):
        if not len(self):
            raise IndexError("Sequential.pop: the model has no layers")
        del self._modules[list(self._modules)[-1]]

    @property
    def layers(self):
        return list(self)


class Model(TrainingMixin, Module):
    """Functional model: Model(inputs, outputs) replays the layer calls recorded between the
    Input tensors and the outputs (branches and merges allowed, shared layers share weights).
    Model() with no arguments is for subclassing: define forward()."""

    def __init__(self, inputs=None, outputs=None, name=None):
        super().__init__()
        object.__setattr__(self, "name", name or "model")
        object.__setattr__(self, "_graph", None)
        if inputs is None and outputs is None:
            return
        ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for t in ins + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model: inputs and outputs must be symbolic tensors from "
                                f"dlcore.Input / layer calls, got {type(t).__name__}")
        for t in ins:
            if t.node.layer is not None:
                raise ValueError("Model: every input must come straight from dlcore.Input(...)")
        order, seen = [], set()

        def visit(node, stack):
            if id(node) in seen:
                return
            if id(node) in stack:
                raise ValueError("Model: the graph has a cycle")
            stack.add(id(node))
            for p in node.parents():
                visit(p, stack)
            stack.discard(id(node))
            seen.add(id(node))
            order.append(node)

        for t in outs:
            visit(t.node, set())
        input_nodes = {id(t.node) for t in ins}
        for node in order:
            if node.layer is None and id(node) not in input_nodes:
                raise ValueError("Model: the outputs depend on an Input that is not in 'inputs'")
        nodes = [n for n in order if n.layer is not None]
        names = set()
        for node in nodes:
            layer = node.layer
            nm = getattr(layer, "name", None) or f"layer_{len(names)}"
            if nm in self._modules and self._modules[nm] is not layer:
                raise ValueError(f"Model: two different layers are named {nm!r}")
            if nm not in self._modules:
                self.add_module(nm, layer)
            names.add(nm)
        object.__setattr__(self, "_graph", {"inputs": ins, "outputs": outs, "nodes": nodes,
                                            "single_output": not isinstance(outputs, (list, tuple))})
        object.__setattr__(self, "_input_spec", [(tuple(_EXAMPLE_LEN if s is None else s for s in t.shape[1:]),
                                                  str(t.dtype)) for t in ins])

    @property
    def inputs(self):
        return self._graph["inputs"] if self._graph else None

    @property
    def outputs(self):
        return self._graph["outputs"] if self._graph else None

    @property
    def layers(self):
        return list(self.children())

    def forward(self, *args, **kwargs):
        g = self._graph
        if g is None:
            if "call" in dir(type(self)):  # Keras-style subclass
                if "training" not in kwargs and _call_takes_training(type(self)):
                    kwargs["training"] = self.training  # fit trains, evaluate / predict infer
                return self.call(*args, **kwargs)
            raise NotImplementedError("a subclassed Model must define forward() (or Keras's call())")
        if len(args) == 1 and isinstance(args[0], (list, tuple)) and len(g["inputs"]) > 1:
            args = tuple(args[0])
        if len(args) != len(g["inputs"]):
            raise ValueError(f"Model: expected {len(g['inputs'])} inputs, got {len(args)}")
        vals = {}
        for t, a in zip(g["inputs"], args):
            a = a if isinstance(a, Tensor) else _t(_arr(a))
            if a.ndim != len(t.shape) or any(s is not None and s != n for s, n in zip(t.shape[1:], a.shape[1:])):
                raise ValueError(f"Model: input has per-sample shape {tuple(a.shape[1:])}, the Input "
                                 f"was declared with {tuple(t.shape[1:])}")
            vals[id(t)] = a

        def get(a):
            if isinstance(a, KerasTensor):
                return vals[id(a)]
            if isinstance(a, (list, tuple)):
                return type(a)(get(b) for b in a)
            return a

        masks = {}  # Keras masks (Embedding(mask_zero=True) -> RNN) passed along single-input layers
        for node in g["nodes"]:
            args = [get(a) for a in node.args]
            kwargs = {k: get(v) for k, v in node.kwargs.items()}
            mask = masks.get(id(node.args[0])) if len(node.args) == 1 and not isinstance(node.args[0], list) else None
            if mask is not None and "mask" not in kwargs and isinstance(node.layer, (Layer, Sequential)):
                kwargs["mask"] = mask
            out = node.layer(*args, **kwargs)
            outs = out if isinstance(out, (tuple, list)) else [out]
            for kt, o in zip(node.outputs, outs):
                vals[id(kt)] = o
            if isinstance(node.layer, Layer) and len(args) == 1:
                m = node.layer.compute_mask(args[0], kwargs.get("mask"))
                if m is not None:
                    masks[id(node.outputs[0])] = m
        res = [vals[id(t)] for t in g["outputs"]]
        return res[0] if g["single_output"] else res

    def __call__(self, *args, training=None, **kwargs):
        if is_symbolic(args):  # a model used as a layer inside another graph
            return symbolic_call(self, args, kwargs)
        with _call_mode(training):
            return self.forward(*args, **kwargs)
