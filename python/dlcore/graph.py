"""The symbolic graph of Keras-style functional models: ``Input`` makes a :class:`KerasTensor`,
and calling a layer (or a Model) on KerasTensors records a graph node instead of computing.
dlcore.Model(inputs, outputs) replays the recorded nodes (python/dlcore/models.py).

Each KerasTensor carries a small concrete example batch, run through every layer as the graph
is built: that builds lazy layers and gives the output shapes. This module sits below the
layers: it needs only what a layer is (a Module with ``training``), not the layer classes.
"""
from __future__ import annotations


from .autograd import no_grad
from .nn.module import eval_mode, registered
from .ops._args import shape_tuple
from .tensor import Tensor, zeros

__all__ = ["KerasTensor", "Input", "symbolic_call", "is_symbolic"]

_EXAMPLE_BATCH = 2


class KerasTensor:
    """A symbolic tensor: shape (None, ...) plus the graph node that produces it, and the
    example batch it stands for."""

    def __init__(self, shape, dtype, node, index, example, name=None):
        self.shape = shape
        self.dtype = dtype
        self.node = node
        self.index = index
        self.example = example
        self.name = name

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype}{' name=' + self.name if self.name else ''}>"

    # a + b, a - b, a * b are the merge layers layers.Add / Subtract / Multiply (looked up in
    # the module registry: the layer classes sit above this module)
    def __add__(self, other):
        return registered("layers.Add")()([self, other])

    def __sub__(self, other):
        return registered("layers.Subtract")()([self, other])

    def __mul__(self, other):
        return registered("layers.Multiply")()([self, other])


class _Node:
    def __init__(self, layer, args, kwargs):
        self.layer = layer        # None for an Input
        self.args = args          # positional args: KerasTensor or list of KerasTensors
        self.kwargs = kwargs
        self.outputs = []

    def parents(self):
        out = []
        for a in self.args:
            for t in (a if isinstance(a, (list, tuple)) else [a]):
                if isinstance(t, KerasTensor):
                    out.append(t.node)
        return out


def Input(shape, dtype="float32", name=None):
    """A symbolic input of per-sample ``shape`` (no batch dimension), e.g. Input((1, 28, 28))."""
    shape = shape_tuple(shape, "Input", "shape")
    if any(s < 0 for s in shape):
        raise ValueError(f"Input: shape {shape} has a negative size")
    node = _Node(None, (), {})
    ex = zeros(_EXAMPLE_BATCH, *shape, dtype=dtype)
    kt = KerasTensor((None,) + shape, ex.dtype, node, 0, ex, name)
    node.outputs = [kt]
    return kt


def is_symbolic(args):
    """True when any argument (or any item of a list / tuple argument) is a KerasTensor."""
    for a in args:
        if isinstance(a, KerasTensor):
            return True
        if isinstance(a, (list, tuple)) and any(isinstance(b, KerasTensor) for b in a):
            return True
    return False


def _example(a):
    if isinstance(a, KerasTensor):
        return a.example
    if isinstance(a, (list, tuple)):
        return type(a)(_example(b) for b in a)
    return a


def symbolic_call(layer, args, kwargs):
    """Records layer(*args) in the graph; runs it on the example batch (eval mode, no grad)."""
    try:
        with no_grad(), eval_mode():
            out = layer(*[_example(a) for a in args], **kwargs)
    except Exception as e:
        shapes = [getattr(a, "shape", None) for a in args]
        msg = f"while calling {getattr(layer, 'name', type(layer).__name__)} on symbolic inputs {shapes}: {e}"
        try:
            err = type(e)(msg)
        except Exception:
            raise e
        raise err from e
    node = _Node(layer, tuple(args), dict(kwargs))
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"{type(layer).__name__} returned a {type(o).__name__}; graph layers must "
                            f"return Tensors")
        node.outputs.append(KerasTensor((None,) + tuple(o.shape[1:]), o.dtype, node, i, o.detach()))
    return node.outputs if isinstance(out, (tuple, list)) else node.outputs[0]
