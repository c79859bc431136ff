"""linear (the gemm family's functional form), the Linear module and simple shape layers
(Identity, Flatten, Reshape)."""
import math

from .._ops import _args, gemm
from ..tensor import _t, empty, flatten, reshape
from . import init
from .module import Module, Parameter

__all__ = ["linear", "Linear", "Identity", "Flatten", "Reshape"]


def linear(input, weight, bias=None, *, relu=False):
    """y = input @ weight.T + bias, with weight (out_features, in_features) as in PyTorch: one
    GEMM with the bias fused into its epilogue. relu=True (a dlcore extension) also applies
    max(y, 0) in that epilogue. Shapes and dtypes are checked by the kernel."""
    x, w = _t(input), _t(weight)
    try:
        return gemm.Linear.apply(x, w, _t(bias) if bias is not None else None, bool(relu))
    except ValueError as e:  # the kernel's shape error, with a hint for un-flattened images
        if x.ndim >= 3 and w.ndim == 2 and math.prod(x.shape[1:]) == w.shape[1] != x.shape[-1]:
            raise ValueError(f"{e}; the input's per-sample shape {tuple(x.shape[1:])} holds exactly "
                             f"{w.shape[1]} values: flatten it first (nn.Flatten() / layers.Flatten() "
                             f"before the layer, or x.flatten(1))") from None
        raise


class Linear(Module):
    """y = x @ W.T + b with W (out_features, in_features), initialised like PyTorch:
    W ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a=sqrt(5)), b likewise."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        in_features = _args.integer(in_features, "Linear", "in_features", 1)
        out_features = _args.integer(out_features, "Linear", "out_features", 1)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype))
        self.bias = Parameter(empty(out_features, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = _args.integer(start_dim, "Flatten", "start_dim")
        self.end_dim = _args.integer(end_dim, "Flatten", "end_dim")

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)


class Reshape(Module):
    def __init__(self, *shape):
        super().__init__()
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        self.shape = tuple(_args.integer(s, "Reshape", "shape", -1) for s in shape)

    def forward(self, x):
        return reshape(x, (x.shape[0],) + tuple(self.shape))
