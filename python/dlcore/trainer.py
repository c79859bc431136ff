"""The Keras-style training API shared by dlcore.Sequential and dlcore.Model (TrainingMixin):
compile / fit / evaluate / predict / train_on_batch / test_on_batch / summary / save, the loss
wrapper, optimizers by name, and the data path (in-memory arrays or a user's loader, batched by
dlcore.data.DataLoader).

Conventions (PyTorch's, where Keras and PyTorch differ):
- loss objects and plain callables are called loss(y_pred, y_true); a callable whose first
  parameter is named ``y_true`` is called Keras-style, loss(y_true, y_pred).
- loss names ('sparse_categorical_crossentropy', 'categorical_crossentropy',
  'binary_crossentropy') assume the model outputs logits, unless its last layer is a softmax /
  sigmoid activation (Keras's Dense(10, activation='softmax')), in which case they take
  probabilities - or say so explicitly: compile(..., from_logits=False).
- images are channels-first (N, C, H, W).
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import inspect

import numpy as np

from . import callbacks as cbm
from . import data, nn, onnx, optim, replay, serialization
from . import metrics as metrics_mod
from . import losses as keras_losses
from . import optimizers as keras_optimizers
from .autograd import no_grad
from .distributed import strategy as dist
from .graph import _EXAMPLE_BATCH, _EXAMPLE_LEN
from .layers import Layer, TimeDistributed
from .layers.base import WeightLists, _read_weights, _weight_slots, _write_weights
from .nn.activation import log_softmax
from .nn.loss import BCEWithLogitsLoss, CrossEntropyLoss
from .nn.module import Module, eval_mode
from .nn.regularizers import regularization_loss
from ._ops._args import integer
from .optim import Optimizer
from .dtype import bool_, float32, float64, get_default_dtype
from .tensor import Generator, Tensor, cat, clip, from_numpy, log, ones, rand, tensor, use_generator, zeros

__all__ = ["TrainingMixin", "GradientTape"]


# ---- losses ------------------------------------------------------------------------------------

def _reduce_rows(v):
    """Per-sample values: mean over every axis but the first."""
    return v.mean(tuple(range(1, v.ndim))) if v.ndim > 1 else v


# the loss names compile() takes, and the loss each one means
_LOSS_NAMES = {"sparse_categorical_crossentropy": "scce", "categorical_crossentropy": "cce",
               "binary_crossentropy": "bce", "mse": "mse", "mean_squared_error": "mse",
               "mae": "mae", "mean_absolute_error": "mae", "cross_entropy": "scce",
               "crossentropy": "scce", "nll": "nll"}


class _Loss:
    """Wraps a loss (name, nn loss module or callable) as fn(pred, target, weight) -> scalar.
    With sample weights, the mean of weight * per-sample loss (Keras's sum_over_batch_size)."""

    _EPS = 1e-7

    def __init__(self, loss, from_logits):
        self.spec = loss
        self.from_logits = from_logits
        self.keras_order = False
        if isinstance(loss, str):
            self.name = loss.lower()
            self._per_sample = self._named(self.name)
        else:
            self.name = getattr(loss, "__name__", type(loss).__name__)
            self._per_sample = None
            if callable(loss) and not isinstance(loss, Module):
                try:
                    first = next(iter(inspect.signature(loss).parameters), "")
                    self.keras_order = first == "y_true"
                except (TypeError, ValueError):
                    pass

    def _named(self, name):
        aliases = _LOSS_NAMES
        if name not in aliases:
            close = difflib.get_close_matches(name, aliases, 1)
            raise ValueError(f"unknown loss {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f"; known: {sorted(aliases)} or pass a loss object "
                             f"(e.g. dlcore.nn.CrossEntropyLoss()) or a callable")
        kind = aliases[name]
        eps = self._EPS
        if kind == "scce":
            if self.from_logits:
                ce = CrossEntropyLoss(reduction="none")
                return lambda p, t: ce(p, _sparse_labels(name, p, t))
            return lambda p, t: -log(clip(p, eps, 1.0)).gather(1, _sparse_labels(name, p, t).reshape(-1, 1)).reshape(-1)
        if kind == "nll":
            return lambda p, t: -p.gather(1, t.reshape(-1, 1)).reshape(-1)
        if kind == "cce":
            if self.from_logits:
                return lambda p, t: -(_one_hot_labels(name, p, t) * log_softmax(p, dim=-1)).sum(-1)
            return lambda p, t: -(_one_hot_labels(name, p, t) * log(clip(p, eps, 1.0))).sum(-1)
        if kind == "bce":
            if self.from_logits:
                bce = BCEWithLogitsLoss(reduction="none")
                return lambda p, t: _reduce_rows(bce(p, t.reshape(p.shape).type(p.dtype)))

            def bce_p(p, t):
                t = t.reshape(p.shape).type(p.dtype)
                pc = clip(p, eps, 1.0 - eps)
                return _reduce_rows(-(t * log(pc) + (1.0 - t) * log(1.0 - pc)))
            return bce_p
        if kind == "mse":
            return lambda p, t: _reduce_rows((p - t.reshape(p.shape).type(p.dtype)) ** 2)
        return lambda p, t: _reduce_rows((p - t.reshape(p.shape).type(p.dtype)).abs())

    def __call__(self, pred, target, weight=None):
        if self._per_sample is not None:
            per = self._per_sample(pred, target)
            return (per * weight).mean() if weight is not None else per.mean()
        fn = self.spec
        if weight is None:
            return fn(target, pred) if self.keras_order else fn(pred, target)
        if hasattr(fn, "reduction"):
            per_sample = copy.copy(fn)  # never mutate the shared loss: other threads may use it
            per_sample.reduction = "none"
            per = per_sample(target, pred) if self.keras_order else per_sample(pred, target)
            return (_reduce_rows(per) * weight).mean()
        raise ValueError(f"class_weight / sample_weight need a loss with a per-sample form: a loss "
                         f"name or a loss module with a 'reduction' attribute, not {self.name}")


def _sparse_labels(name, p, t):
    """The labels of a sparse categorical loss: int64 class indices, one per sample; float or
    one-hot labels get a message saying which loss fits."""
    if t.dtype.is_floating_point or t.dtype == bool_:
        if t.ndim == 2 and p.ndim == 2 and tuple(t.shape) == tuple(p.shape):
            raise ValueError(f"loss '{name}': the labels have shape {tuple(t.shape)}, like the "
                             f"predictions: they look one-hot. Use loss='categorical_crossentropy' for "
                             f"one-hot labels, or pass class indices (y.argmax(1))")
        raise ValueError(f"loss '{name}' takes int64 class indices, got {t.dtype} labels of shape "
                         f"{tuple(t.shape)}: convert them (y.astype('int64') / y.long()); for one-hot "
                         f"or probability labels use loss='categorical_crossentropy'")
    if t.ndim == 2 and t.shape[1] == 1:
        t = t.reshape(-1)
    return t


def _one_hot_labels(name, p, t):
    """The labels of a categorical loss: one-hot / probability rows like the predictions; class
    indices get a message saying which loss fits."""
    if tuple(t.shape) != tuple(p.shape):
        if not t.dtype.is_floating_point and t.ndim <= 1 + (t.ndim == 2 and t.shape[-1] == 1):
            raise ValueError(f"loss '{name}' takes one-hot labels of shape {tuple(p.shape)}, got class "
                             f"indices of shape {tuple(t.shape)}: use loss='sparse_categorical_crossentropy' "
                             f"(or one-hot the labels with dlcore.data.to_categorical)")
        raise ValueError(f"loss '{name}': labels of shape {tuple(t.shape)} do not match the "
                         f"predictions' shape {tuple(p.shape)}")
    return t if t.dtype == p.dtype else t.type(p.dtype)


def _output_activation(model):
    """'softmax' / 'sigmoid' when the model's last layer is that activation, else None."""
    last = None
    if isinstance(model, nn.Sequential) and len(model):
        last = list(model)[-1]
        while isinstance(last, nn.Sequential) and len(last):
            last = list(last)[-1]
    elif getattr(model, "_graph", None) is not None and len(model._graph["outputs"]) == 1:
        last = model._graph["outputs"][0].node.layer
    while isinstance(last, TimeDistributed):  # a per-step head: its inner layer's activation
        last = last.layer
    if last is None:
        return None
    act = getattr(last, "activation", None)
    if isinstance(act, str):
        return act.lower()
    name = type(last).__name__.lower()
    if name in ("softmax", "sigmoid"):
        return name
    return None


# ---- optimizers --------------------------------------------------------------------------------

_OPT_NAMES = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad, "adadelta": optim.Adadelta, "adamax": optim.Adamax,
              "nadam": optim.NAdam, "lion": optim.Lion}


def _optimizer_class(name):
    cls = _OPT_NAMES.get(name.lower())
    if cls is None:
        close = difflib.get_close_matches(name.lower(), _OPT_NAMES, 1)
        raise ValueError(f"compile: unknown optimizer {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                         + f"; known: {sorted(_OPT_NAMES)} (or pass an Optimizer, a class or a factory "
                         f"taking the parameters)")
    return cls


def _make_optimizer(spec, params):
    if isinstance(spec, keras_optimizers.Optimizer):  # Keras-style: bound to the weights now
        return spec.build(params)
    if isinstance(spec, str):  # Keras's optimizer of that name, with all of Keras's defaults
        _optimizer_class(spec)
        return keras_optimizers.get(spec).build(params)
    if isinstance(spec, dict):
        spec = dict(spec)
        cls = _optimizer_class(spec.pop("name"))
        if "learning_rate" in spec:
            spec["lr"] = spec.pop("learning_rate")
        return cls(params, **spec)
    if callable(spec):  # a class or factory taking the parameters (e.g. functools.partial)
        return spec(params)
    raise TypeError(f"compile: optimizer must be a name, an Optimizer, a dict or a callable taking "
                    f"parameters, got {type(spec).__name__}")


# ---- data helpers ------------------------------------------------------------------------------

def _arr(a):
    """User data as a Tensor (kept as is) or a NumPy array of a dtype dlcore holds: NumPy data
    stays on the host, shared with dlcore by fit's loader (_shared_column) or converted batch by
    batch (the NumPy edge of fit / evaluate / predict)."""
    if isinstance(a, Tensor):
        return a
    if hasattr(a, "detach") and hasattr(a, "numpy"):  # torch
        return a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype == np.float64 or a.dtype == np.float32 or a.dtype == np.int64 or a.dtype == np.bool_:
        return a
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    return a


def _inputs(x, float_dtype):
    """x -> list of arrays (a list / tuple of arrays means several model inputs). Float NumPy
    data takes the model's float dtype, as Keras casts inputs to its floatx (float64 arrays would
    otherwise meet float32 weights); tensors are used as given."""
    out = []
    for a in (x if isinstance(x, (list, tuple)) else [x]):
        a = _arr(a)
        if not isinstance(a, Tensor) and a.dtype.kind == "f" and a.dtype != np.dtype(float_dtype):
            a = a.astype(np.dtype(float_dtype))
        out.append(a)
    return out


def _t(a):
    return a if isinstance(a, Tensor) else tensor(a)


def _weight_dtype(a):
    """The float dtype sample weights take next to input a: a's, when a is float."""
    name = str(a.dtype)
    return float64 if name == "float64" else float32


def _is_loader(x):
    return hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, Tensor, list, tuple))


def _split_batch(b):
    """A batch from a user DataLoader -> (inputs list, y, sample_weight); a batch of inputs
    alone (a tensor / array, or a 1-tuple) has y None (for a custom train_step)."""
    if isinstance(b, tuple) and len(b) == 1:
        b = b[0]
    if isinstance(b, Tensor) or hasattr(b, "__array__"):
        return [b], None, None
    if isinstance(b, (tuple, list)):
        if len(b) == 2:
            return [b[0]] if not isinstance(b[0], (list, tuple)) else list(b[0]), b[1], None
        if len(b) == 3:
            return [b[0]] if not isinstance(b[0], (list, tuple)) else list(b[0]), b[1], b[2]
    raise ValueError("fit: a data loader must yield (x, y) or (x, y, sample_weight) batches")


def _array_loader(xs, y, w, batch_size, shuffle, run=None, even=True):
    """A dlcore.data.DataLoader over in-memory arrays: the inputs, then y and w when given.
    Shuffling draws from dlcore's default generator (dlcore.manual_seed). With a distributed
    run (batch_size per process), this process's shard of the same order."""
    arrays = list(xs) + [a for a in (y, w) if a is not None]
    n = xs[0].shape[0]
    for i, a in enumerate(arrays):
        if a.shape[0] != n:
            raise ValueError(f"fit: input arrays have different sample counts: {n} vs "
                             f"{a.shape[0]} (array {i})")
    sampler = run.sampler(n, batch_size, shuffle, even) if run is not None else None
    return data.DataLoader(data.TensorDataset(*(_shared_column(a) for a in arrays)), batch_size=batch_size,
                           shuffle=shuffle and sampler is None, sampler=sampler)


def _shared_column(a):
    """A NumPy column as a CPU Tensor over the same memory (no copy), so that each batch is one
    index_select into dlcore's memory rather than NumPy's fancy indexing and then a conversion;
    the array itself where dlcore cannot share it (a bool or other dtype index_select does not
    take, a byte-swapped or misaligned array)."""
    if isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64, np.int64):
        try:
            return from_numpy(a)
        except (TypeError, ValueError):
            pass
    return a


def _check_samples(op, xs):
    """ValueError naming op when the input arrays hold no samples (or are 0-d)."""
    for i, a in enumerate(xs):
        if getattr(a, "ndim", 1) == 0:
            raise ValueError(f"{op}: input {i} is a 0-d array; inputs need a leading sample dimension")
    if xs[0].shape[0] == 0:
        raise ValueError(f"{op}: the input has 0 samples (shape {tuple(xs[0].shape)}); there is "
                         f"nothing to {'train on' if op == 'fit' else op}")


def _batch_size_of(xs):
    return int(xs[0].shape[0])


def _to_device(t, device):
    """A batch tensor on the model's device (None and tensors already there pass through)."""
    if t is None or device is None or not isinstance(t, Tensor) or t.device == device:
        return t
    return t.to(device)


class _Batches:
    """(inputs, y, sample_weight) batches of Tensors from a DataLoader: one made by
    _array_loader (n_inputs arrays, then y and w when present), or a user's loader yielding
    (x, y) or (x, y, sample_weight) (n_inputs=None; class_weight applied here)."""

    def __init__(self, loader, n_inputs=None, has_y=True, has_w=False, class_weight=None, model=None):
        self.loader, self.n_inputs, self.has_y, self.has_w = loader, n_inputs, has_y, has_w
        self.class_weight, self.model = class_weight, model

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        k = self.n_inputs
        for b in self.loader:
            if k is not None:
                y = b[k] if self.has_y else None
                yield list(b[:k]), y, (b[k + self.has_y] if self.has_w else None)
                continue
            xs, y, w = _split_batch(b)
            xs = [_t(_arr(a)) for a in xs]
            y = _t(_arr(y)) if y is not None else None
            if self.class_weight or w is not None:
                w = self.model._weights(y, w, self.class_weight, _weight_dtype(xs[0]))
            yield xs, y, w


# ---- the training API --------------------------------------------------------------------------

def _model_rng(method):
    """Runs a TrainingMixin method with the model's own generator (model.generator) as the
    current generator, when it has one: dropout masks and shuffling then come from it."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        g = self.__dict__.get("_generator")
        with (use_generator(g) if g is not None else contextlib.nullcontext()):
            return method(self, *args, **kwargs)
    return run


def _call_mode(training):
    """The mode a call with Keras's ``training=`` argument runs in (None: the model's own)."""
    return contextlib.nullcontext() if training is None else eval_mode(bool(training))


class GradientTape:
    """Keras / TensorFlow's way of taking gradients in a custom ``train_step``, on dlcore's
    autograd (which records every op on tensors that require grad, tape or not)::

        with dlcore.GradientTape() as tape:
            loss = ...
        grads = tape.gradient(loss, model.trainable_weights)
        model.optimizer.apply(grads, model.trainable_weights)

    ``gradient`` runs loss.backward() once and returns the sources' gradients (None for a
    source the loss does not depend on), leaving their ``.grad`` as it was; other leaves the
    loss depends on accumulate into ``.grad`` as after any backward(). The PyTorch way works
    as well: ``model.zero_grad(); loss.backward(); grads = [w.grad for w in weights]``."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self._used = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def watch(self, tensor):
        """Makes a tensor record gradients (requires_grad), like tape.watch."""
        tensor.requires_grad_(True)

    def gradient(self, target, sources):
        """d target / d sources: a list like sources (or one tensor for one source)."""
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a non-persistent tape "
                               "(use GradientTape(persistent=True))")
        self._used = True
        single = isinstance(sources, Tensor)
        srcs = [sources] if single else list(sources)
        saved = [v.grad for v in srcs]
        for v in srcs:
            v.grad = None
        try:
            target.backward(retain_graph=self.persistent)
            grads = [v.grad for v in srcs]
        finally:
            for v, g in zip(srcs, saved):
                v.grad = g
        return grads[0] if single else grads


class _Compiled:
    def __init__(self):
        self.optimizer_spec = None
        self.optimizer = None
        self.loss = None
        self.metric_specs = []
        self.metrics = []
        self.from_logits = True
        self.jit_compile = False
        self.train_fn = None  # the recorded and replayed train / evaluation steps (jit_compile=True)
        self.test_fn = None


class TrainingMixin(WeightLists):
    """compile / fit / evaluate / predict / train_on_batch / test_on_batch / summary / save for
    nn.Modules (mixed into Sequential and Model)."""

    # -- building --
    def _float_dtype(self):
        """The model's float dtype: its first float parameter's, else the default (float32)."""
        for p in self.parameters():
            if p.dtype.is_floating_point:
                return p.dtype
        return get_default_dtype()

    def _device(self):
        """The model's device: its first parameter's or buffer's, else the device given to
        Module.to before the weights existed, else None (the batches are used where they are)."""
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return self.__dict__.get("_placed_on")

    def _on_device(self, xs, y, w):
        """Moves one batch (inputs, targets, sample weights) to the model's device: fit,
        evaluate, predict and the *_on_batch methods take host data and run where the model is."""
        device = self._device()
        if device is None:
            return xs, y, w
        return [_to_device(x, device) for x in xs], _to_device(y, device), _to_device(w, device)

    def _lazy_unbuilt(self):
        return [m for m in self.modules() if isinstance(m, Layer) and not m.built]

    def build(self, input_shape, dtype=None):
        """Builds lazy layers with a zeros batch of per-sample ``input_shape`` (eval mode, no grad).
        Keras's batch shape, with a leading None - model.build((None, 784)) - is taken too.
        dtype: the default float dtype (dlcore.set_default_dtype) unless given."""
        if dtype is None:
            dtype = get_default_dtype()
        shapes = input_shape if (isinstance(input_shape, list) and input_shape and
                                 isinstance(input_shape[0], (tuple, list))) else [input_shape]
        shapes = [(sh,) if isinstance(sh, int) else tuple(sh) for sh in shapes]
        shapes = [sh[1:] if sh and sh[0] is None else sh for sh in shapes]
        xs = [zeros(_EXAMPLE_BATCH, *(_EXAMPLE_LEN if s is None else s for s in sh), dtype=dtype) for sh in shapes]
        with no_grad(), eval_mode():
            self(*xs)
        self._note_input(xs)
        return self

    def _note_input(self, xs):
        if self.__dict__.get("_input_spec") is None:
            object.__setattr__(self, "_input_spec", [(tuple(int(s) for s in x.shape[1:]), str(x.dtype)) for x in xs])

    @property
    def completed_epochs(self):
        """Epochs finished by fit (restored by load_model): pass it as fit(initial_epoch=...)."""
        return int(self.__dict__.get("_epoch") or 0)

    @property
    def generator(self):
        """The model's own dlcore.Generator (None: the current one, see dlcore.use_generator).
        fit / evaluate / predict / train_on_batch draw dropout masks and shuffles from it, so
        two models trained in two threads are each reproducible. Set a Generator or a seed.
        A submodule assigned as ``self.generator`` (Keras's GAN examples) takes the name over."""
        sub = self.__dict__.get("_modules", {}).get("generator")
        return sub if sub is not None else self.__dict__.get("_generator")

    @generator.setter
    def generator(self, g):
        object.__setattr__(self, "_generator", g if g is None or isinstance(g, Generator) else Generator(g))

    @property
    def optimizer(self):
        """The optimizer compile set up, over the trainable weights (made on first use)."""
        c = self.__dict__.get("_compiled")
        if c is None:
            return None
        if c.optimizer is None and c.optimizer_spec is not None and not self._lazy_unbuilt():
            self._ensure_optimizer()
        return c.optimizer

    # -- Keras 3's custom-training API (the weight lists come from WeightLists) --
    @property
    def trainable(self):
        """False freezes every weight (requires_grad off), as Keras's model.trainable = False;
        set it before compile (the optimizer takes the trainable weights)."""
        return any(p.requires_grad for p in self.parameters()) or not any(True for _ in self.parameters())

    @trainable.setter
    def trainable(self, flag):
        self.requires_grad_(bool(flag))
        for m in self.modules():
            if isinstance(m, Layer):
                m.__dict__["_frozen"] = not flag

    @property
    def metrics(self):
        """The metrics fit resets at each epoch and logs: after compile, a 'loss' tracker
        (metrics.Mean) and the compiled metrics, then every metrics.Metric the model holds as an
        attribute (a subclass's loss trackers). A subclass may override it, as in Keras."""
        out = []
        c = self.__dict__.get("_compiled")
        if c is not None:
            if self.__dict__.get("_loss_tracker") is None:
                object.__setattr__(self, "_loss_tracker", metrics_mod.Mean(name="loss"))
            out = [self._loss_tracker] + list(c.metrics)
        for k, v in self.__dict__.items():
            if isinstance(v, metrics_mod.Metric) and k != "_loss_tracker" and all(v is not m for m in out):
                out.append(v)
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of y_pred against y (Keras 3's Model.compute_loss)."""
        c = self._c()
        if c.loss is None:
            raise RuntimeError("compute_loss: compile() was called without a loss")
        return c.loss(y_pred, _t(_arr(y)), sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics with this batch and returns every metric's result."""
        p = y_pred.detach() if isinstance(y_pred, Tensor) else y_pred
        for m in self._c().metrics:
            m.update_state(y, p, sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        """One training step on ``data`` (x, (x, y) or (x, y, sample_weight)); returns the
        logs. Override it for custom training (fit then calls it on every batch and resets
        ``self.metrics`` at every epoch); this default is what fit does without one."""
        xs, y, w = _unpack_data(data)
        lv, nb = self._step(xs, y, w, True)
        self.metrics[0].update_state(lv, nb)
        return {"loss": self.metrics[0].result(), **self._metric_logs()}

    def test_step(self, data):
        """One evaluation step (called under no_grad in eval mode); returns the logs."""
        xs, y, w = _unpack_data(data)
        lv, nb = self._step(xs, y, w, False)
        self.metrics[0].update_state(lv, nb)
        return {"loss": self.metrics[0].result(), **self._metric_logs()}

    def _custom(self, name):
        """Whether the model's class overrides train_step / test_step."""
        return getattr(type(self), name) is not getattr(TrainingMixin, name)

    def _run_step(self, name, xs, y, w):
        """Calls the user's train_step / test_step with Keras's data layout; returns
        (float logs, batch size)."""
        xs, y, w = self._on_device(xs, y, w)
        x = xs[0] if len(xs) == 1 else list(xs)
        d = x if y is None and w is None else ((x, y) if w is None else (x, y, w))
        if name == "train_step":
            self.train()
            logs = self.train_step(d)
        else:
            with no_grad(), eval_mode():
                logs = self.test_step(d)
        if not isinstance(logs, dict):
            raise TypeError(f"{type(self).__name__}.{name} must return a dict of logs, got {type(logs).__name__}")
        return {k: (v.item() if isinstance(v, Tensor) else float(v)) for k, v in logs.items()}, _batch_size_of(xs)

    @property
    def stop_training(self):
        return self.__dict__.get("_stop_training", False)

    @stop_training.setter
    def stop_training(self, v):
        object.__setattr__(self, "_stop_training", bool(v))

    # -- compile --
    def compile(self, optimizer="adam", loss=None, metrics=None, from_logits=None, jit_compile=False):
        """optimizer: a name ('adam', 'sgd', 'rmsprop', ...: Keras's optimizer with all its defaults),
        an Optimizer instance, a dict {'name': 'adam', 'lr': 1e-3}, or a class / factory called
        with the parameters (e.g. functools.partial(dlcore.optim.Adam, lr=1e-3)).
        loss: a name, an nn loss module, or a callable. metrics: names, Metric objects or
        functions f(y_true, y_pred). jit_compile=True (Keras's name): fit / train_on_batch
        and evaluate / test_on_batch record the training (evaluation) step once per batch
        shape and replay it (dlcore.compile, docs/compile.md), bitwise equal to the eager step; "auto" (Keras's default) and False
        run it eagerly."""
        c = _Compiled()
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"compile: jit_compile must be True, False or 'auto', got {jit_compile!r}")
        c.jit_compile = jit_compile is True
        if from_logits is None:
            from_logits = _output_activation(self) not in ("softmax", "sigmoid")
        c.from_logits = bool(from_logits)
        c.optimizer_spec = optimizer
        if isinstance(optimizer, str):
            _optimizer_class(optimizer)  # a misspelled name fails now, not when fit starts
        elif isinstance(optimizer, dict):
            if not isinstance(optimizer.get("name"), str):
                raise ValueError(f"compile: an optimizer dict needs a 'name', got {optimizer!r}")
            _optimizer_class(optimizer["name"])
        elif not (isinstance(optimizer, (Optimizer, keras_optimizers.Optimizer)) or callable(optimizer)):
            raise TypeError(f"compile: optimizer must be a name, an Optimizer, a dict or a callable taking "
                            f"parameters, got {type(optimizer).__name__}")
        if isinstance(optimizer, Optimizer):
            if self._lazy_unbuilt():
                raise ValueError("compile: the model has layers that are not built yet, so an optimizer "
                                 "made from model.parameters() would miss their weights; build the "
                                 "model first (input_shape=..., model.build(shape) or an Input), or "
                                 "pass the optimizer by name / class")
            c.optimizer = optimizer
        c.loss = _Loss(loss, c.from_logits) if loss is not None else None
        loss_name = loss if isinstance(loss, str) else type(loss).__name__ if loss is not None else None
        if isinstance(loss, keras_losses.Loss):  # Keras's loss objects name their loss as compile's names do
            loss_name = {"huber_loss": "huber"}.get(loss.name, loss.name)
        if loss_name == "CrossEntropyLoss":
            loss_name = "sparse_categorical_crossentropy"
        if loss_name == "BCEWithLogitsLoss":
            loss_name = "binary_crossentropy"
        c.metric_specs = list(metrics or [])
        c.metrics = [metrics_mod.get(m, loss_name, c.from_logits) for m in c.metric_specs]
        object.__setattr__(self, "_compiled", c)
        return self

    def _c(self):
        c = self.__dict__.get("_compiled")
        if c is None:
            raise RuntimeError("call model.compile(optimizer, loss, metrics) before fit / evaluate / "
                               "train_on_batch")
        return c

    def _ensure_optimizer(self):
        c = self._c()
        if c.optimizer is None:
            c.optimizer = _make_optimizer(c.optimizer_spec, [p for p in self.parameters() if p.requires_grad])
        return c.optimizer

    # -- steps --
    def _forward(self, xs):
        out = self(*xs)
        self._note_input(xs)
        return out

    def _ensure_built(self, xs):
        if not self.__dict__.get("_all_built") and self._lazy_unbuilt():
            self.build([tuple(x.shape[1:]) for x in xs], dtype=str(xs[0].dtype))
            target = self.__dict__.get("_placed_on")
            if target is not None:  # model.to(device) came before the lazy weights existed
                self.to(target)
        object.__setattr__(self, "_all_built", True)

    def _step(self, xs, y, w, train, metrics=None):
        c = self._c()
        if c.loss is None:
            raise RuntimeError("compile() was called without a loss")
        if train:
            self.train()
            self._ensure_built(xs)
        xs, y, w = self._on_device(xs, y, w)
        if train:
            self._ensure_optimizer()
            loss, pred = self._core(c, "train_fn", self._train_core)(y, w, *xs)
        else:
            with no_grad(), eval_mode():  # the model's train/eval flag stays as it is
                loss, pred = self._core(c, "test_fn", self._test_core)(y, w, *xs)
        lv = loss.item()
        p = pred.detach()
        for m in (c.metrics if metrics is None else metrics):
            m.update_state(y, p, w)
        return lv, p.shape[0]

    @staticmethod
    def _core(c, slot, core):
        """The step to run: core itself, or with jit_compile its recorded and replayed form,
        made on first use and kept in c.<slot> (train_fn / test_fn)."""
        if not c.jit_compile:
            return core
        if getattr(c, slot) is None:
            setattr(c, slot, replay.compile_step(core))
        return getattr(c, slot)

    def _train_core(self, y, w, *xs):
        """zero_grad, forward, loss, backward, optimizer step: the part of a train step that
        jit_compile=True records and replays. Returns (loss, predictions)."""
        c = self._c()
        opt = c.optimizer
        opt.zero_grad()
        pred = self._forward(xs)
        loss = self._with_penalties(c.loss(pred, y, w))
        loss.backward()
        opt.step()
        return loss, pred

    def _test_core(self, y, w, *xs):
        """Forward and loss (under no_grad, in eval mode): the evaluation step jit_compile=True
        records and replays. Returns (loss, predictions)."""
        pred = self._forward(xs)
        return self._with_penalties(self._c().loss(pred, y, w)), pred

    def _with_penalties(self, loss):
        """loss plus the weight penalties attached to the model's layers (Keras's
        kernel_regularizer=... adds them to the training loss)."""
        if any(m.__dict__.get("_dlcore_regularizers") for m in self.modules()):
            loss = loss + regularization_loss(self).type(loss.dtype)
        return loss

    def _metric_logs(self, prefix="", metrics=None):
        return {prefix + m.name: float(m.result()) for m in (self._c().metrics if metrics is None else metrics)}

    def _reset_metrics(self):
        for m in self._c().metrics:
            m.reset_state()

    @_model_rng
    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics on this batch)."""
        xs = [_t(a) for a in _inputs(x, self._float_dtype())]
        yt = _t(_arr(y))
        w = self._weights(yt, sample_weight, class_weight)
        self._reset_metrics()
        lv, _ = self._step(xs, yt, w, True)
        return self._result(lv, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        xs = [_t(a) for a in _inputs(x, self._float_dtype())]
        yt = _t(_arr(y))
        w = _t(_arr(sample_weight)).to(dtype=_weight_dtype(xs[0])) if sample_weight is not None else None
        metrics = [m.fresh() for m in self._c().metrics]
        lv, _ = self._step(xs, yt, w, False, metrics)
        return self._result(lv, return_dict, metrics)

    def _result(self, lv, return_dict, metrics=None):
        logs = {"loss": lv, **self._metric_logs("", metrics)}
        if return_dict:
            return logs
        vals = list(logs.values())
        return vals[0] if len(vals) == 1 else vals

    def _weights(self, y, sample_weight, class_weight, dtype=float32):
        """Per-sample weights (Tensor) from sample_weight and/or class_weight {class: weight}."""
        w = None
        if sample_weight is not None:
            w = _t(_arr(sample_weight)).to(dtype=float64).reshape(-1)
        if class_weight:
            yt = _t(y)
            lab = yt.argmax(-1) if yt.ndim == 2 and yt.shape[1] > 1 else yt.reshape(-1)
            lab = (lab > 0.5).long() if lab.dtype.is_floating_point else lab.long()
            top = lab.max().item() if lab.numel() else 0
            table = ones(int(max(max(class_weight), top)) + 1, dtype=float64, device=lab.device)
            for k, v in class_weight.items():
                table[int(k)] = float(v)
            cw = table[lab]
            w = cw if w is None else w * cw
        return None if w is None else w.to(dtype=dtype)

    # -- fit --
    @_model_rng
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None,
            distributed=False):
        """Trains for ``epochs`` epochs (counting from initial_epoch) and returns a History.

        x, y: arrays / Tensors (x may be a list for several inputs), or x a DataLoader yielding
        (x, y) or (x, y, sample_weight) with y=None. validation_split takes the LAST fraction of
        the arrays (before shuffling), like Keras. class_weight {class: weight} scales each
        sample's loss. verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        distributed: True or a dlcore.distributed.DataParallel trains data-parallel over the
        processes of an MPI job (batch_size is then the global batch; docs/distributed.md)."""
        c = self._c()
        custom = self._custom("train_step")
        batch_size = integer(batch_size, "fit", "batch_size", 1)
        epochs = integer(epochs, "fit", "epochs", 0)
        initial_epoch = integer(initial_epoch, "fit", "initial_epoch", 0)
        if initial_epoch > epochs:
            raise ValueError(f"fit: initial_epoch ({initial_epoch}) is greater than epochs ({epochs}); "
                             f"epochs is the index of the last epoch, not a count of further epochs")
        if steps_per_epoch is not None:
            steps_per_epoch = integer(steps_per_epoch, "fit", "steps_per_epoch", 1)
        if validation_batch_size is not None:
            validation_batch_size = integer(validation_batch_size, "fit", "validation_batch_size", 1)
        if verbose not in (0, 1, 2):
            raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
        run = dist.run(distributed)
        if run is not None and custom:
            raise ValueError("fit: distributed= does not run an overridden train_step (its gradients are not "
                             "averaged over the processes); use the compiled loss, or train without distributed")
        if run is not None:
            batch_size, global_batch = run.local_batch(batch_size), batch_size
            callbacks = run.callbacks(callbacks or [])
            verbose = verbose if run.rank == 0 else 0
        if isinstance(x, data.Dataset):
            x = data.DataLoader(x, batch_size=batch_size, shuffle=shuffle and run is None,
                                sampler=run.sampler(len(x), batch_size, shuffle) if run is not None else None)
        if _is_loader(x):
            if y is not None:
                raise ValueError("fit: pass y=None when x is a data loader")
            if run is not None:
                run.check_loader(x)
            train_iter, n_train = _Batches(x, class_weight=class_weight, model=self), None
            try:
                steps = len(x)
            except TypeError:
                steps = None
        else:
            xs = _inputs(x, self._float_dtype())
            ya = _arr(y) if y is not None else None
            if ya is None and not custom:
                raise ValueError("fit: y is required with array inputs (or override train_step)")
            wa = _arr(sample_weight) if sample_weight is not None else None
            _check_samples("fit", xs)
            if validation_split and validation_data is None:
                if not 0.0 < validation_split < 1.0:
                    raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
                n = xs[0].shape[0]
                cut = int(n * (1.0 - validation_split))
                if cut <= 0 or cut >= n:
                    raise ValueError(f"validation_split={validation_split} leaves an empty split of {n} samples")
                validation_data = ([a[cut:] for a in xs] if len(xs) > 1 else xs[0][cut:],
                                   ya[cut:] if ya is not None else None)
                xs, ya = [a[:cut] for a in xs], (ya[:cut] if ya is not None else None)
                wa = wa[:cut] if wa is not None else None
            if class_weight:
                wa = self._weights(ya, wa, class_weight, float64)
            if wa is not None:
                wa = _t(wa).to(dtype=_weight_dtype(xs[0]))
            train_iter = _Batches(_array_loader(xs, ya, wa, batch_size, shuffle, run), len(xs), ya is not None,
                                  wa is not None)
            n_train = xs[0].shape[0]
            steps = len(train_iter)
        if steps_per_epoch is not None:
            steps = int(steps_per_epoch)

        history = cbm.History()
        cbs = list(callbacks or [])
        cl = cbm.CallbackList(cbs + ([cbm.ProgbarLogger(verbose)] if verbose else []) + [history], self)
        metric_names = [m.name for m in self.metrics] if custom else ["loss"] + [m.name for m in c.metrics]
        cl.set_params({"epochs": epochs, "steps": steps, "samples": n_train, "verbose": verbose,
                       "batch_size": batch_size, "metrics": metric_names +
                       (["val_" + k for k in metric_names] if validation_data is not None else [])})
        self.stop_training = False
        cl.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            if custom:  # Keras resets model.metrics (a custom train_step's trackers) every epoch
                for m in self.metrics:
                    m.reset_state()
            cl.on_epoch_begin(epoch)
            loss_mean = metrics_mod.Mean()
            logs = {}
            i_seen = 0
            for i, (xs_b, y_b, w_b) in enumerate(train_iter):
                i_seen = i + 1
                if steps_per_epoch is not None and i >= steps_per_epoch:
                    break
                cl.on_train_batch_begin(i, {"size": _batch_size_of(xs_b)})
                if custom:
                    logs, nb = self._run_step("train_step", xs_b, y_b, w_b)
                    cl.on_train_batch_end(i, {**logs, "size": nb})
                else:
                    if run is None:
                        lv, nb = self._step(xs_b, y_b, w_b, True)
                    else:  # gradients averaged over the ranks during backward, the loss logged globally
                        if run.reducer is None:
                            self._ensure_built(xs_b)
                            run.attach(self, self._ensure_optimizer())
                        with run.step():
                            lv, nb = self._step(xs_b, y_b, w_b, True)
                        lv, nb = run.reduce_step(lv, nb)
                    loss_mean.update_state(lv, nb)
                    logs = {"loss": loss_mean.result(), **self._metric_logs()}
                    cl.on_train_batch_end(i, {**logs, "size": nb, "batch_loss": lv})
                if self.stop_training:
                    break
            if run is not None:
                logs.update(run.metric_logs(c.metrics))
            if i_seen == 0 and not self.stop_training:
                raise ValueError(f"fit: the training data yielded no batches in epoch {epoch + 1} "
                                 f"(an empty dataset or data loader): nothing would be trained")
            if validation_data is not None and not self.stop_training:
                vx, vy, vw = _unpack_val(validation_data)
                vbs = validation_batch_size or (batch_size if run is None else global_batch)
                vlogs = self.evaluate(vx, vy, batch_size=vbs, sample_weight=vw, verbose=0,
                                      return_dict=True, _internal=True, distributed=run or False)
                logs.update({"val_" + k: v for k, v in vlogs.items()})
            object.__setattr__(self, "_epoch", epoch + 1)
            cl.on_epoch_end(epoch, logs)
            if run is not None:
                self.stop_training = run.any(self.stop_training)
            if self.stop_training:
                break
        if run is not None:
            run.detach()
        cl.on_train_end(logs)
        return history

    # -- evaluate / predict --
    @_model_rng
    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, sample_weight=None,
                 return_dict=False, callbacks=None, _internal=False, distributed=False):
        """Mean loss (and metrics) over the data, in eval mode without gradients. Returns the
        loss, [loss, metric...] or a dict with return_dict=True. Safe to call from several
        threads at once: it counts into its own metric states and never flips the model's
        train / eval flag. distributed=True: each process of an MPI job evaluates its share of
        the arrays, the results cover all of them."""
        c = self._c()  # compiled?
        custom = self._custom("test_step")
        batch_size = integer(batch_size, "evaluate", "batch_size", 1)
        metrics = [m.fresh() for m in c.metrics]
        loss_mean = metrics_mod.Mean()
        run = distributed if isinstance(distributed, dist.FitRun) else dist.run(distributed)
        if run is not None:
            if custom:
                raise ValueError("evaluate: distributed= does not run an overridden test_step; evaluate "
                                 "without distributed")
            batch_size = -(-int(batch_size) // run.world.size)
        if isinstance(x, data.Dataset):
            x = data.DataLoader(x, batch_size=batch_size,
                                sampler=run.sampler(len(x), batch_size, False, even=False) if run is not None else None)
        if _is_loader(x):
            it = _Batches(x)
        else:
            xs = _inputs(x, self._float_dtype())
            _check_samples("evaluate", xs)
            if y is None and not custom:
                raise ValueError("evaluate: y is required with array inputs (or override test_step)")
            ya = _arr(y) if y is not None else None
            wa = _t(_arr(sample_weight)).to(dtype=_weight_dtype(xs[0])) if sample_weight is not None else None
            it = _Batches(_array_loader(xs, ya, wa, batch_size, False, run, even=False), len(xs), ya is not None,
                          wa is not None)
        if custom:  # the user's test_step counts into model.metrics, as in Keras
            for m in self.metrics:
                m.reset_state()
            logs = {}
            for xs_b, y_b, w_b in it:
                logs, _ = self._run_step("test_step", xs_b, y_b, w_b)
            if not logs:
                raise ValueError("evaluate: the data yielded no samples (an empty dataset or data loader)")
            return logs if return_dict else (list(logs.values()) if len(logs) > 1 else list(logs.values())[0])
        seen = 0
        for xs_b, y_b, w_b in it:
            lv, nb = self._step(xs_b, y_b, w_b, False, metrics)
            loss_mean.update_state(lv, nb if w_b is None else w_b.sum().item() or nb)
            seen += nb
        if run is not None:  # a rank's share may be empty; the job's total may not
            logs = {"loss": run.reduce_mean(loss_mean), **run.metric_logs(metrics)}
            seen = run.any(seen > 0, "evaluate sample check")
        else:
            logs = {"loss": loss_mean.result(), **self._metric_logs("", metrics)}
        if not seen:
            raise ValueError("evaluate: the data yielded no samples (an empty dataset or data loader)")
        if verbose and (run is None or run.rank == 0):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        vals = list(logs.values())
        return vals[0] if len(vals) == 1 else vals

    @_model_rng
    def predict(self, x, batch_size=32, verbose=0):
        """Model outputs for x as a NumPy array, computed in batches in eval mode under no_grad
        (nothing is retained between batches, so calling it in a loop does not grow memory).
        Safe to call from several threads at once: the model's train / eval flag is not
        touched (see dlcore.nn.eval_mode)."""
        if isinstance(x, data.Dataset):
            x = data.DataLoader(x, batch_size=batch_size)
        if _is_loader(x):
            batches = (_split_batch(b)[0] if isinstance(b, (tuple, list)) and len(b) in (2, 3)
                       else [b] for b in x)
        else:
            xs = _inputs(x, self._float_dtype())
            _check_samples("predict", xs)
            batches = _array_loader(xs, None, None, integer(batch_size, "predict", "batch_size", 1), False)
        parts = []
        with no_grad(), eval_mode():
            for xs_b in batches:
                xs_b = [b if isinstance(b, Tensor) else _t(_arr(b)) for b in xs_b]
                xs_b, _, _ = self._on_device(xs_b, None, None)
                p = self(*xs_b)
                parts.append(list(p) if isinstance(p, (tuple, list)) else p)
        if not parts:
            raise ValueError("predict: the data yielded no batches (an empty dataset or data loader)")
        # the batches are joined on the model's device; NumPy sees the result once (the edge)
        if parts and isinstance(parts[0], list):
            return [cat([p[i] for p in parts]).cpu().numpy() for i in range(len(parts[0]))]
        return cat(parts).cpu().numpy()

    # -- summary --
    def _layer_rows(self):
        """(name, type, output shape, params) per top-level layer."""
        rows = []
        if self.__dict__.get("_graph") is not None:
            for i, t in enumerate(self._graph["inputs"]):
                rows.append((t.name or f"input_{i}", "Input", str(t.shape), 0))
            for node in self._graph["nodes"]:
                layer = node.layer
                shp = ", ".join(str(o.shape) for o in node.outputs)
                rows.append((getattr(layer, "name", ""), type(layer).__name__, shp,
                             sum(p.numel() for p in layer.parameters())))
            return rows
        spec = self.__dict__.get("_input_spec")
        x = x2 = None
        if spec is not None and len(spec) == 1:
            x = zeros(_EXAMPLE_BATCH, *spec[0][0], dtype=spec[0][1])
            var = self.__dict__.get("_variable_dims") or ()
            if var:  # a second example, longer along the variable sizes: the sizes that differ are None
                x2 = zeros(_EXAMPLE_BATCH, *(s + (i in var) for i, s in enumerate(spec[0][0])), dtype=spec[0][1])
        with no_grad(), eval_mode():
            for name, m in self.named_children():
                shp = "?"
                if x is not None:
                    try:
                        x = m(x)
                        x2 = m(x2) if x2 is not None else None
                        sizes = tuple(x.shape[1:])
                        if x2 is not None:
                            sizes = tuple(None if a != b else a for a, b in zip(sizes, x2.shape[1:]))
                        shp = str((None,) + sizes)
                    except Exception:
                        x = None
                rows.append((getattr(m, "name", name), type(m).__name__, shp,
                             sum(p.numel() for p in m.parameters())))
        return rows

    def summary(self, print_fn=None):
        """Prints a table of layers, output shapes and parameter counts (shapes need a built
        model: an Input, input_shape=..., build() or one call)."""
        print_fn = print_fn or print
        rows = self._layer_rows()
        unbuilt = self._lazy_unbuilt()
        w = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in
             enumerate(("Layer (name)", "Type", "Output shape", "Param #"))]
        w[0] = max(w[0], 12)
        line = "-" * (sum(w) + 9)
        print_fn(f'Model: "{type(self).__name__}"')
        print_fn(line)
        print_fn(f"{'Layer (name)':<{w[0]}}   {'Type':<{w[1]}}   {'Output shape':<{w[2]}}   {'Param #':>{w[3]}}")
        print_fn("=" * len(line))
        for r in rows:
            print_fn(f"{r[0]:<{w[0]}}   {r[1]:<{w[1]}}   {r[2]:<{w[2]}}   {r[3]:>{w[3]},}")
        print_fn("=" * len(line))
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        if unbuilt:
            names = ", ".join(getattr(m, "name", type(m).__name__) for m in unbuilt[:5])
            print_fn(f"The model is not built yet: {len(unbuilt)} layer(s) ({names}{', ...' if len(unbuilt) > 5 else ''}) "
                     f"have no weights, so their output shapes and parameters are unknown and not "
                     f"counted. Build it with model.build(input_shape), Sequential(..., input_shape=...), "
                     f"an Input, or one call on data.")
        print_fn(line)

    def count_params(self):
        return sum(p.numel() for p in self.parameters())

    # -- weights and saving --
    def get_weights(self):
        """Every weight as a NumPy array, layer by layer, in Keras's order and layouts for the
        dlcore.layers (Conv2D kernel (kh, kw, in, out), Dense kernel (in, out), ...) and as the
        state_dict holds them for dlcore.nn modules, so Keras models' weight lists carry over."""
        return _read_weights(_weight_slots(self))

    def set_weights(self, weights):
        """Sets every weight from arrays ordered and laid out as get_weights returns them."""
        _write_weights(_weight_slots(self), weights, type(self).__name__, "", self)

    def save(self, path, include_optimizer=True):
        """Saves architecture (JSON), weights, optimizer state, compile settings, the epoch and
        dlcore's generator state in one .safetensors file, atomically. See dlcore.serialization."""
        serialization.save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path):
        serialization.save(self.state_dict(), path)

    def load_weights(self, path, strict=True):
        return self.load_state_dict(serialization.load(path), strict=strict)

    def export(self, filepath, format="onnx", verbose=False, input_signature=None, opset_version=17):
        """Keras 3's model.export for deployment: format "onnx" writes an ONNX file (dlcore.onnx.export,
        which needs the ``onnx`` package) with a dynamic batch axis on every input and output. The
        example input comes from the model's known input shape (a built model) or from
        ``input_signature``: example arrays / tensors, or a shape such as (None, 1, 28, 28) (a list of
        them for several inputs). Returns the onnx.ModelProto."""
        if format != "onnx":
            raise ValueError(f"export: format {format!r} is not supported by dlcore; use format='onnx'")
        spec = self.__dict__.get("_input_spec")
        if input_signature is not None:
            sig = input_signature
            if isinstance(sig, tuple) and all(s is None or isinstance(s, int) for s in sig):
                sig = [sig]
            elif isinstance(sig, Tensor) or hasattr(sig, "__array__"):
                sig = [sig]
            xs, spec = [], []
            for s in sig:
                if isinstance(s, Tensor) or hasattr(s, "__array__"):
                    xs.append(s if isinstance(s, Tensor) else tensor(s))
                    spec.append(None)
                else:  # a shape with its batch axis first
                    xs.append(None)
                    spec.append((tuple(s)[1:], "float32"))
        elif spec is None:
            raise ValueError("export: the model's input shape is unknown; build it first (call it once, pass "
                             "input_shape, or start a functional model at dlcore.Input), or pass input_signature")
        else:
            xs = [None] * len(spec)
        with use_generator(Generator(0)):
            xs = [x if x is not None else (rand(_EXAMPLE_BATCH, *sp[0], dtype=sp[1]) if "float" in sp[1] else
                                             zeros(_EXAMPLE_BATCH, *sp[0], dtype=sp[1]))
                  for x, sp in zip(xs, spec)]
        graph = self.__dict__.get("_graph")
        in_names = [t.name or (f"input_{i}" if len(xs) > 1 else "input") for i, t in
                    enumerate(graph["inputs"])] if graph else (["input"] if len(xs) == 1 else
                                                              [f"input_{i}" for i in range(len(xs))])
        n_out = len(graph["outputs"]) if graph else 1
        out_names = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
        axes = {n: {0: "batch"} for n in in_names + out_names}
        return onnx.export(self, tuple(xs), filepath, opset_version=opset_version, input_names=in_names,
                           output_names=out_names, dynamic_axes=axes, verbose=verbose)


def _unpack_data(data):
    """Keras's batch layout - x, (x,), (x, y) or (x, y, sample_weight) - as (inputs, y, w)."""
    if isinstance(data, tuple) and len(data) in (1, 2, 3):
        x, y, w = (list(data) + [None, None])[:3]
    else:
        x, y, w = data, None, None
    xs = [_t(_arr(a)) for a in (x if isinstance(x, (list, tuple)) else [x])]
    return xs, (None if y is None else _t(_arr(y))), (None if w is None else _t(_arr(w)))


def _unpack_val(v):
    if _is_loader(v):
        return v, None, None
    if not isinstance(v, (tuple, list)) or len(v) not in (2, 3):
        raise ValueError("validation_data must be (x, y), (x, y, sample_weight) or a data loader")
    return v[0], v[1], v[2] if len(v) == 3 else None
