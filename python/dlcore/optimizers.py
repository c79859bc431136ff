"""dlcore.optimizers: Keras 3's optimizer classes (``keras.optimizers``), thin over dlcore.optim.

A Keras optimizer is made without the variables it will update - ``Adam(learning_rate=1e-3)``
- and binds them on the first ``apply(grads, variables)`` / ``apply_gradients(zip(grads,
variables))`` or when ``model.compile(optimizer=...)`` hands it the model's weights. Then it
holds one dlcore.optim optimizer (``.optimizer``; one fused update per step) and passes every
other attribute to it (``param_groups``, ``state_dict``, ``learning_rate``...).

Arguments take Keras's names and defaults (learning_rate, beta_1, beta_2, epsilon=1e-7, rho,
momentum, nesterov, weight_decay) and so do the update rules: the dlcore.optim kernels run
their Keras branch (the parameter groups' ``keras`` entry; csrc/ops/optim_math.h). So
``weight_decay`` is decoupled for every optimizer (variable *= 1 - learning_rate * weight_decay
before the update); SGD's velocity holds -learning_rate * gradient; RMSprop divides by
sqrt(velocity + epsilon) (centered: sqrt(velocity - average_gradient^2 + epsilon)) and its
momentum accumulates the increment; Adagrad divides by sqrt(accumulator + epsilon); Adam / AdamW
add epsilon to sqrt(v) before the bias correction; Adamax adds epsilon to u after the max;
Nadam's momentum schedule is beta_1 (1 - 0.5 * 0.96^t).
"""
from __future__ import annotations

from . import optim

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "Nadam", "Lion", "get"]


class Optimizer:
    """A Keras-style optimizer: the dlcore.optim class and its options, bound to variables
    on first use (``build``)."""

    _cls = None

    def __init__(self, learning_rate=0.001, _extra=None, **options):
        extra = sorted(set(_extra or ()) - {"name"})
        if extra:
            raise TypeError(f"{type(self).__name__}: unsupported argument(s) {extra} (gradient clipping: "
                            f"dlcore.nn.utils.clip_grad_norm_ in a custom train_step)")
        self._options = {"lr": float(learning_rate), **options}
        self.optimizer = None
        self._variables = None

    def build(self, variables):
        """Binds the optimizer to ``variables`` (the trainable weights) and returns the
        dlcore.optim optimizer that updates them."""
        variables = list(variables)
        if self.optimizer is not None:
            if [id(v) for v in variables] != self._variables:
                raise ValueError(f"{type(self).__name__}: this optimizer already updates other variables; "
                                 f"make one optimizer per model (or per set of weights)")
            return self.optimizer
        self.optimizer = self._cls(variables, **self._options)
        self.optimizer.defaults["keras"] = True  # Keras's update rules (also for groups added later)
        for group in self.optimizer.param_groups:
            group["keras"] = True
        self._variables = [id(v) for v in variables]
        return self.optimizer

    def apply(self, grads, trainable_variables=None):
        """One update of trainable_variables by grads (bound to those variables on first use)."""
        if self.optimizer is None:
            if trainable_variables is None:
                raise ValueError(f"{type(self).__name__}.apply: the first call needs trainable_variables")
            self.build(trainable_variables)
        self.optimizer.apply(grads, trainable_variables)

    def apply_gradients(self, grads_and_vars):
        """apply with (gradient, variable) pairs: ``apply_gradients(zip(grads, vars))``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    @property
    def learning_rate(self):
        return self.optimizer.learning_rate if self.optimizer is not None else self._options["lr"]

    @learning_rate.setter
    def learning_rate(self, lr):
        self._options["lr"] = float(lr)
        if self.optimizer is not None:
            self.optimizer.learning_rate = lr

    def __getattr__(self, name):
        inner = self.__dict__.get("optimizer")
        if inner is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}"
                                 + ("" if inner is not None else " (before it is built by compile or apply)"))
        return getattr(inner, name)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._options.items())})"


def _wd(weight_decay):
    return 0.0 if weight_decay is None else float(weight_decay)


class SGD(Optimizer):
    """SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None)."""

    _cls = optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, **kwargs):
        super().__init__(learning_rate, kwargs, momentum=float(momentum), nesterov=bool(nesterov),
                         weight_decay=_wd(weight_decay))


class Adam(Optimizer):
    """Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)."""

    _cls = optim.Adam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, **kwargs):
        super().__init__(learning_rate, kwargs, betas=(float(beta_1), float(beta_2)), eps=float(epsilon),
                         amsgrad=bool(amsgrad), weight_decay=_wd(weight_decay))


class AdamW(Optimizer):
    """AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7)."""

    _cls = optim.AdamW

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, kwargs, betas=(float(beta_1), float(beta_2)), eps=float(epsilon),
                         amsgrad=bool(amsgrad), weight_decay=_wd(weight_decay))


class RMSprop(Optimizer):
    """RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)."""

    _cls = optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, **kwargs):
        super().__init__(learning_rate, kwargs, alpha=float(rho), momentum=float(momentum), eps=float(epsilon),
                         centered=bool(centered), weight_decay=_wd(weight_decay))


class Adagrad(Optimizer):
    """Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)."""

    _cls = optim.Adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, kwargs, initial_accumulator_value=float(initial_accumulator_value),
                         eps=float(epsilon), weight_decay=_wd(weight_decay))


class Adadelta(Optimizer):
    """Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-7)."""

    _cls = optim.Adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, **kwargs):
        super().__init__(learning_rate, kwargs, rho=float(rho), eps=float(epsilon), weight_decay=_wd(weight_decay))


class Adamax(Optimizer):
    """Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)."""

    _cls = optim.Adamax

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, kwargs, betas=(float(beta_1), float(beta_2)), eps=float(epsilon),
                         weight_decay=_wd(weight_decay))


class Nadam(Optimizer):
    """Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)."""

    _cls = optim.NAdam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, kwargs, betas=(float(beta_1), float(beta_2)), eps=float(epsilon),
                         weight_decay=_wd(weight_decay))


class Lion(Optimizer):
    """Lion(learning_rate=0.001, beta_1=0.9, beta_2=0.99)."""

    _cls = optim.Lion

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, **kwargs):
        super().__init__(learning_rate, kwargs, betas=(float(beta_1), float(beta_2)), weight_decay=_wd(weight_decay))


_NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
          "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam, "lion": Lion}


def get(identifier):
    """An optimizer by Keras name ('adam', ...) with Keras's defaults, or the object itself."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"optimizers.get: unknown optimizer {identifier!r}; known: {sorted(_NAMES)}")
