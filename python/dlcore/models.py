"""Keras-style models on dlcore.nn modules: Sequential and the functional Model (Input ->
layers -> outputs, with branches and merges), both with the training API of trainer.py
(compile / fit / evaluate / predict / save).

Both model classes are nn.Modules: ``model.parameters()``, ``state_dict()``, a hand-written
PyTorch loop and ``dlcore.optim`` work on them unchanged.
"""
from __future__ import annotations

from . import nn
from .graph import KerasTensor, is_symbolic, symbolic_call
from .nn.module import Module
from .tensor import Tensor
from .trainer import TrainingMixin, _arr, _t

__all__ = ["Sequential", "Model"]


class Sequential(TrainingMixin, nn.Sequential):
    """A stack of layers: Sequential([layers.Dense(128, activation='relu'), layers.Dense(10)])
    or Sequential(nn.Linear(784, 128), nn.ReLU(), ...). It is an nn.Sequential, so PyTorch-style
    code works on it too. ``input_shape`` (per sample) builds lazy layers at once."""

    def __init__(self, layers=None, *more, input_shape=None, name=None):
        if isinstance(layers, Module):
            layers = [layers] + list(more)
        elif layers is None:
            layers = list(more)
        super().__init__(layers)
        object.__setattr__(self, "name", name or "sequential")
        if input_shape is not None:
            self.build(tuple(input_shape) if not isinstance(input_shape, int) else (input_shape,))

    def add(self, layer):
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected a Module, got {type(layer).__name__}")
        self.append(layer)
        object.__setattr__(self, "_all_built", False)
        return self

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
        object.__setattr__(self, "_input_spec", [(tuple(t.shape[1:]), str(t.dtype)) for t in ins])

    @property
    def inputs(self):
        return self._graph["inputs"] if self._graph else None

    @property
    def outputs(self):
        return self._graph["outputs"] if self._graph else None

    @property
    def layers(self):
        return list(self.children())

    def forward(self, *args):
        g = self._graph
        if g is None:
            raise NotImplementedError("a subclassed Model must define forward()")
        if len(args) == 1 and isinstance(args[0], (list, tuple)) and len(g["inputs"]) > 1:
            args = tuple(args[0])
        if len(args) != len(g["inputs"]):
            raise ValueError(f"Model: expected {len(g['inputs'])} inputs, got {len(args)}")
        vals = {}
        for t, a in zip(g["inputs"], args):
            a = a if isinstance(a, Tensor) else _t(_arr(a))
            if tuple(a.shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(f"Model: input has per-sample shape {tuple(a.shape[1:])}, the Input "
                                 f"was declared with {tuple(t.shape[1:])}")
            vals[id(t)] = a

        def get(a):
            if isinstance(a, KerasTensor):
                return vals[id(a)]
            if isinstance(a, (list, tuple)):
                return type(a)(get(b) for b in a)
            return a

        for node in g["nodes"]:
            out = node.layer(*[get(a) for a in node.args], **node.kwargs)
            outs = out if isinstance(out, (tuple, list)) else [out]
            for kt, o in zip(node.outputs, outs):
                vals[id(kt)] = o
        res = [vals[id(t)] for t in g["outputs"]]
        return res[0] if g["single_output"] else res

    def __call__(self, *args, **kwargs):
        if is_symbolic(args):  # a model used as a layer inside another graph
            return symbolic_call(self, args, kwargs)
        return self.forward(*args, **kwargs)
