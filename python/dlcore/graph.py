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
from ._ops._args import shape_tuple
from .dtype import get_default_dtype
from .tensor import Tensor, zeros

__all__ = ["KerasTensor", "Input", "symbolic_call", "is_symbolic"]

_EXAMPLE_BATCH = 2


class KerasTensor:
    """A symbolic tensor: shape (None, ...) plus the graph node that produces it, and the
    example batch it stands for."""

    def __init__(self, shape, dtype, node, index, example, name=None, alt=None):
        self.shape = shape
        self.dtype = dtype
        self.node = node
        self.index = index
        self.example = example
        self.name = name
        self.alt = alt  # a second example with other variable sizes (None: the shape has none)

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
        for a in tuple(self.args) + tuple(self.kwargs.values()):
            for t in (a if isinstance(a, (list, tuple)) else [a]):
                if isinstance(t, KerasTensor):
                    out.append(t.node)
        return out


# a None (variable) size in Input's shape stands for this size in the example batch; a second
# example, one longer, runs alongside it: the output sizes that differ between the two are None
_EXAMPLE_LEN = 13


def Input(shape, dtype=None, name=None, batch_size=None, sparse=None, batch_shape=None):
    """A symbolic input of per-sample ``shape`` (no batch dimension), e.g. Input((1, 28, 28));
    a None size is a variable one (Input(shape=(None,), dtype="int32") for token sequences of
    any length). dtype "int32" / "int16" / "uint8" mean int64, dlcore's integer type.
    batch_shape=(None, ...) may be given instead of shape. The default dtype is dlcore's
    default float dtype (float32; Keras's floatx), as set by dlcore.set_default_dtype."""
    if batch_shape is not None:
        shape = tuple(batch_shape)[1:]
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"Input: shape must be a tuple of sizes, got {type(shape).__name__}")
    known = shape_tuple(tuple(_EXAMPLE_LEN if s is None else s for s in shape), "Input", "shape")
    if any(s < 0 for s in known):
        raise ValueError(f"Input: shape {tuple(shape)} has a negative size")
    if isinstance(dtype, str) and dtype in ("int32", "int16", "int8", "uint8", "uint16", "uint32"):
        dtype = "int64"
    if dtype is None:
        dtype = get_default_dtype()
    node = _Node(None, (), {})
    ex = zeros(_EXAMPLE_BATCH, *known, dtype=dtype)
    per_sample = tuple(None if s is None else k for s, k in zip(shape, known))
    alt = None
    if any(s is None for s in shape):
        alt = zeros(_EXAMPLE_BATCH, *(_EXAMPLE_LEN + 1 if s is None else s for s in shape), dtype=ex.dtype)
    kt = KerasTensor((None,) + per_sample, ex.dtype, node, 0, ex, name, alt)
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


def _example(a, alt=False):
    if isinstance(a, KerasTensor):
        return a.alt if alt and a.alt is not None else a.example
    if isinstance(a, (list, tuple)):
        return type(a)(_example(b, alt) for b in a)
    return a


def _has_alt(args):
    return any(isinstance(t, KerasTensor) and t.alt is not None
               for a in args for t in (a if isinstance(a, (list, tuple)) else [a]))


def symbolic_call(layer, args, kwargs):
    """Records layer(*args) in the graph; runs it on the example batch (eval mode, no grad)."""
    variable = _has_alt(tuple(args) + tuple(kwargs.values()))
    try:
        with no_grad(), eval_mode():
            out = layer(*[_example(a) for a in args], **{k: _example(v) for k, v in kwargs.items()})
            out2 = layer(*[_example(a, True) for a in args], **{k: _example(v, True) for k, v in kwargs.items()}) \
                if variable else None
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
    outs2 = (list(out2) if isinstance(out2, (tuple, list)) else [out2]) if variable else [None] * len(outs)
    for i, (o, o2) in enumerate(zip(outs, outs2)):
        if not isinstance(o, Tensor):
            raise TypeError(f"{type(layer).__name__} returned a {type(o).__name__}; graph layers must "
                            f"return Tensors")
        # a size that follows an Input's variable (None) size - it differs between the two
        # examples - stays None
        shape = tuple(o.shape[1:])
        alt = None
        if isinstance(o2, Tensor) and tuple(o2.shape) != tuple(o.shape):
            shape = tuple(None if s != s2 else s for s, s2 in zip(shape, o2.shape[1:]))
            alt = o2.detach()
        node.outputs.append(KerasTensor((None,) + shape, o.dtype, node, i, o.detach(), alt=alt))
    return node.outputs if isinstance(out, (tuple, list)) else node.outputs[0]
