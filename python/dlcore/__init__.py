"""dlcore: a deep-learning library with C++ (and CUDA) kernels under a thin Python API.

PyTorch-style: dlcore.nn.Module, dlcore.optim, loss.backward().
Keras-style:   dlcore.Sequential([...]).compile(...).fit(...).
"""
import builtins
import platform

from . import _C
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .device import device
from .dtype import bool_, double, dtype, float32, float64, get_default_dtype, int64, long, set_default_dtype
from .tensor import (Generator, Tensor, abs, all, amax, any, amin, add, arange, argmax, argmin, broadcast_to, cat,
                     chunk, clamp, clip, concatenate, cos, default_generator, div, empty, empty_like, exp,
                     expand, expm1, eye, flatten, from_dlpack, from_numpy, full, full_like,
                     gather, index_select, isinf, isnan, log, log1p,
                     manual_seed, matmul, max, maximum, mean, min, minimum, mul, neg, norm, normal,
                     one_hot, ones, ones_like, permute, pow, rand, randint, randn, randperm, relu,
                     reshape, sigmoid, sign, sin, split, sqrt, squeeze, stack,
                     std, sub, sum, tanh, tensor, transpose, uniform, unsqueeze, use_generator, var, view,
                     where, zeros, zeros_like, current_generator)
from .tensor import (as_tensor, flip, is_floating_point, is_tensor, log_softmax, logsumexp, rand_like, randint_like,
                     randn_like, softmax)
from .tensor import (argsort, bmm, cumsum, einsum, index_add, linspace, masked_fill, mm, multinomial, narrow, numel,
                     scatter_add, sort, square, topk, tril, triu, unbind)
from . import cuda
from . import nn, optim  # noqa: F401  (optimizers, lr schedules)
from . import replay  # noqa: F401  (dlcore.compile's capture and replay of a training step)
from .nn import functional  # noqa: F401  (dlcore.functional: the same namespace as dlcore.nn.functional)
from ._ops._args import integer as _integer
from . import autograd, callbacks, data, datasets, layers, metrics, models, serialization, trainer  # noqa: F401
from . import accelerator, backends, distributions  # noqa: F401
from . import onnx  # noqa: F401  (dlcore.onnx.export; the onnx package is imported only when exporting)
from . import tuning  # noqa: F401  (GridSearch / RandomSearch / OptunaSearch)
from . import word2vec  # noqa: F401  (gensim-style Word2Vec)
from .graph import Input  # noqa: F401
from .models import Model, Sequential  # noqa: F401
from .serialization import load, load_model, save  # noqa: F401
# the namespaces Keras code imports (keras.utils' helpers and torch.utils.data's path in utils)
from . import initializers, losses, ops, optimizers, random, regularizers, utils  # noqa: F401
from .trainer import GradientTape  # noqa: F401

__all__ = ["autograd", "models", "trainer", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled", "device", "bool_",
           "dtype", "float32", "float64", "get_default_dtype", "int64", "set_default_dtype",
           "Generator", "Tensor", "abs", "amax", "amin", "add", "arange", "argmax", "argmin",
           "broadcast_to", "cat", "chunk", "clamp", "clip", "concatenate", "cos",
           "default_generator", "div", "empty", "empty_like", "exp", "expand", "expm1", "eye",
           "flatten", "from_dlpack", "from_numpy", "full", "full_like", "gather", "index_select",
           "isinf", "isnan", "log", "log1p", "manual_seed", "matmul", "max", "maximum", "mean",
           "min", "minimum", "mul", "neg", "norm", "normal", "one_hot", "ones", "ones_like",
           "permute", "pow", "rand", "randint", "randn", "randperm", "relu", "reshape", "sigmoid",
           "sign", "sin", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "tanh",
           "tensor", "transpose", "uniform", "unsqueeze", "use_generator", "var", "view", "where",
           "zeros", "zeros_like", "current_generator", "cuda", "nn", "optim", "functional",
           "callbacks", "data", "datasets", "layers", "metrics", "onnx", "serialization", "Input", "Model",
           "Sequential", "load", "load_model", "save", "set_num_threads", "get_num_threads",
           "config",
           "distributions", "utils",
           "accelerator", "double", "long", "float", "int", "bool", "rand_like", "randn_like",
           "randint_like", "flip", "log_softmax", "logsumexp", "softmax", "inference_mode", "as_tensor",
           "is_tensor", "is_floating_point", "backends", "compile", "replay", "tuning",
           # the namespaces Keras code imports
           "initializers", "losses", "ops", "optimizers", "random", "regularizers", "GradientTape",
           "bmm", "masked_fill", "mm", "narrow", "numel", "square", "unbind", "tril", "triu", "multinomial",
           "sort", "argsort", "topk", "cumsum", "linspace", "einsum", "scatter_add", "index_add",
           "word2vec"]

__version__ = "0.1.0"


def set_num_threads(n: int) -> None:
    """Sets the size of dlcore's one thread pool (default: DLCORE_NUM_THREADS, OMP_NUM_THREADS
    or the number of cores)."""
    _C.set_num_threads(_integer(n, "set_num_threads", "n", 1))


def compile(model=None, *, strict=False, **options):  # noqa: A001 - PyTorch's name
    """``dlcore.compile(step_fn)``: the training step ``step_fn`` (zero_grad, forward, loss,
    backward, optimizer step; returns the loss) recorded once per input signature and replayed
    without Python dispatch or graph building, bitwise equal to the eager step (dlcore.replay,
    docs/compile.md); ``strict=True`` raises instead of falling back to eager steps when the
    step cannot be replayed. Used as a decorator too. A module (torch.compile's usual argument)
    is returned as it is: dlcore's kernels are compiled ahead of time and a module's forward is
    not a whole step; other torch.compile options are accepted and ignored."""
    if model is None:
        return lambda m: compile(m, strict=strict, **options)
    if isinstance(model, nn.Module):
        return model
    return replay.compile_step(model, strict=strict)


def get_num_threads() -> int:
    return _C.get_num_threads()


def _cpu_name():
    """The CPU's model name (from /proc/cpuinfo on Linux, else the platform module)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def config() -> dict:
    """Build and run-time configuration: version, CPU, ISA in use, threads, CUDA built/available."""
    return {
        "version": __version__,
        "cpu": _cpu_name(),
        "isa": _C.isa(),
        "supported_isas": list(_C.supported_isas()),
        "num_threads": _C.get_num_threads(),
        "cuda_built": builtins.bool(_C.cuda_built),
        "cuda_available": cuda.is_available(),
    }


# PyTorch's dtype names that are also Python's types: bound last, so that nothing above reads
# them as the types (dlcore.int is int64, dlcore's integer dtype; PyTorch's int is int32)
float = float32  # noqa: A001
int = int64  # noqa: A001
bool = bool_  # noqa: A001
