"""dlcore.tuning: hyperparameter search over a model-builder function and fit arguments.

A search space is a dict {name: values}. Names that are arguments of ``Model.fit``
(batch_size, epochs, shuffle, class_weight, ...) go to fit; every other name is passed to the
builder, ``build(**params)``, which returns a compiled model (Keras-style ``Sequential`` /
``Model``, or any module with the TrainingMixin). Values are:

- a list / tuple or ``Choice([...])``: one of these values;
- ``Uniform(low, high)``, ``LogUniform(low, high)``, ``IntUniform(low, high)`` (both ends
  included): a range, for RandomSearch and OptunaSearch;
- anything else: a fixed value.

Each trial trains a fresh model (after ``dlcore.manual_seed(seed)``, so trials differ only in
their hyperparameters) with a validation split (Keras's: the last fraction of the arrays) or
validation data, and scores it by the best epoch's value of ``objective`` (a key of fit's
history, e.g. 'val_accuracy' or 'val_loss'; 'max' for accuracy-like names, else 'min'). The
weights of that epoch are kept for the best trial, so ``best_model()`` returns the very model
that scored; with ``directory=`` every trial's model is also saved there (``model.save``, so
``dlcore.load_model`` restores it).

    search = RandomSearch(build, {"units": [128, 256], "lr": LogUniform(1e-4, 3e-3),
                                  "batch_size": [64, 128], "epochs": 3}, n_trials=8)
    search.fit(x, y, validation_split=0.2)
    print(search.results_table())
    model = search.best_model()

OptunaSearch (needs the optional package optuna: ``pip install optuna`` or dlcore's extra
``[search]``) samples the same spaces with an Optuna study and prunes unpromising trials after
any epoch through the ``OptunaPruning`` callback. Without optuna it raises ImportError when
run; nothing else here depends on it.
"""
from __future__ import annotations

import inspect
import itertools
import math
import os
import random
import time

from .callbacks import Callback
from .tensor import manual_seed
from .trainer import TrainingMixin

__all__ = ["Choice", "Uniform", "LogUniform", "IntUniform", "Trial", "GridSearch", "RandomSearch",
           "OptunaSearch", "OptunaPruning", "FIT_ARGS"]

# FIT_ARGS: the space names that go to Model.fit rather than to the builder; fit's other
# arguments a search sets itself (never part of a search space)
_RESERVED = {"self", "x", "y", "callbacks", "validation_split", "validation_data", "verbose", "initial_epoch"}
FIT_ARGS = frozenset(p for p in inspect.signature(TrainingMixin.fit).parameters) - _RESERVED
_MAX_NAMES = ("acc", "auc", "precision", "recall", "f1", "iou", "r2")


# ---- search spaces -----------------------------------------------------------------------------

class Choice:
    """One of a list of values."""

    def __init__(self, values):
        self.values = list(values)
        if not self.values:
            raise ValueError("Choice: needs at least one value")

    def sample(self, rng):
        return rng.choice(self.values)

    def __repr__(self):
        return f"Choice({self.values!r})"


class Uniform:
    """A float drawn uniformly from [low, high]."""

    def __init__(self, low, high):
        self.low, self.high = float(low), float(high)
        if not self.low < self.high:
            raise ValueError(f"{type(self).__name__}: needs low < high, got low={low}, high={high}")

    def sample(self, rng):
        return rng.uniform(self.low, self.high)

    def __repr__(self):
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"


class LogUniform(Uniform):
    """A float whose logarithm is uniform on [log low, log high] (learning rates, decays)."""

    def __init__(self, low, high):
        super().__init__(low, high)
        if self.low <= 0:
            raise ValueError(f"LogUniform: needs 0 < low, got low={low}")

    def sample(self, rng):
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


class IntUniform:
    """An integer drawn uniformly from low..high, both included."""

    def __init__(self, low, high):
        self.low, self.high = int(low), int(high)
        if self.low != low or self.high != high or self.low > self.high:
            raise ValueError(f"IntUniform: needs integers low <= high, got low={low!r}, high={high!r}")

    def sample(self, rng):
        return rng.randint(self.low, self.high)

    def __repr__(self):
        return f"IntUniform({self.low}, {self.high})"


def _dist(v):
    """A space entry as a distribution (lists and tuples are choices), or None for a fixed value."""
    if isinstance(v, (Choice, Uniform, IntUniform)):
        return v
    if isinstance(v, (list, tuple)):
        return Choice(v)
    return None


# ---- trials and the search loop ---------------------------------------------------------------

class Trial:
    """One trained configuration: ``number``, ``params``, ``score`` (the objective at the best
    epoch), ``best_epoch`` (1-based), ``history`` (fit's History.history), ``seconds``,
    ``status`` ('complete' or 'pruned') and ``path`` (the saved model, with directory=)."""

    def __init__(self, number, params):
        self.number, self.params = number, dict(params)
        self.score, self.best_epoch, self.history = None, None, {}
        self.seconds, self.status, self.path = 0.0, "complete", None

    def __repr__(self):
        return f"Trial({self.number}, score={self.score}, params={self.params})"


class _KeepBest(Callback):
    """Tracks the objective over epochs and copies the weights of its best epoch."""

    def __init__(self, objective, better):
        super().__init__()
        self.objective, self.better = objective, better
        self.best, self.best_epoch, self.weights = None, None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.objective not in logs:
            raise KeyError(f"tuning: objective {self.objective!r} is not among fit's logs {sorted(logs)}; "
                           f"'val_*' objectives need validation_split or validation_data, metrics need "
                           f"compile(metrics=[...]) in the builder")
        v = float(logs[self.objective])
        if not math.isnan(v) and (self.best is None or self.better(v, self.best)):
            self.best, self.best_epoch = v, epoch + 1
            self.weights = {k: t.detach().clone() for k, t in self.model.state_dict().items()}


class _Search:
    """The trial loop and the results shared by GridSearch, RandomSearch and OptunaSearch."""

    def __init__(self, build, space, objective="val_loss", direction=None, seed=0, directory=None, verbose=1):
        if not callable(build):
            raise TypeError(f"{type(self).__name__}: build must be a function returning a compiled model, "
                            f"got {type(build).__name__}")
        if not isinstance(space, dict) or not space:
            raise ValueError(f"{type(self).__name__}: space must be a non-empty dict {{name: values}}, got {space!r}")
        if direction is None:
            direction = "max" if any(k in objective.lower() for k in _MAX_NAMES) else "min"
        if direction not in ("min", "max"):
            raise ValueError(f"{type(self).__name__}: direction must be 'min' or 'max', got {direction!r}")
        self.build, self.space, self.objective, self.direction = build, dict(space), objective, direction
        self.seed, self.directory, self.verbose = seed, directory, verbose
        self.trials = []
        self._best_weights = None

    def _better(self, a, b):
        return a > b if self.direction == "max" else a < b

    def _split(self, params):
        fit_kw = {k: v for k, v in params.items() if k in FIT_ARGS}
        return {k: v for k, v in params.items() if k not in FIT_ARGS}, fit_kw

    def _make(self, params):
        model_kw, _ = self._split(params)
        manual_seed(self.seed)
        model = self.build(**model_kw)
        if not isinstance(model, TrainingMixin):
            raise TypeError(f"{type(self).__name__}: build(**{model_kw}) returned {type(model).__name__}; it must "
                            f"return a Keras-style model (dlcore.Sequential / dlcore.Model), compiled")
        if model.__dict__.get("_compiled") is None:
            raise ValueError(f"{type(self).__name__}: build(**{model_kw}) returned a model that is not compiled; "
                             f"call model.compile(optimizer, loss, metrics) in the builder")
        return model

    def _run_trial(self, params, x, y, fit_kwargs, extra_callbacks=()):
        trial = Trial(len(self.trials), params)
        model = self._make(params)
        _, fit_kw = self._split(params)
        keep = _KeepBest(self.objective, self._better)
        t0 = time.perf_counter()
        kw = {k: v for k, v in fit_kwargs.items() if k != "callbacks"}
        cbs = list(fit_kwargs.get("callbacks") or ()) + list(extra_callbacks) + [keep]
        hist = model.fit(x, y, **{**kw, **fit_kw}, callbacks=cbs, verbose=0)
        trial.seconds = time.perf_counter() - t0
        trial.history, trial.score, trial.best_epoch = hist.history, keep.best, keep.best_epoch
        if keep.weights is not None:
            best = self.best_trial
            if best is None or self._better(trial.score, best.score):
                self._best_weights = keep.weights
            if self.directory:
                model.load_state_dict(keep.weights)
                os.makedirs(self.directory, exist_ok=True)
                trial.path = os.path.join(self.directory, f"trial_{trial.number:03d}.safetensors")
                model.save(trial.path)
        self.trials.append(trial)
        if self.verbose:
            shown = "n/a" if trial.score is None else f"{trial.score:.4f}"
            print(f"trial {trial.number}: {self.objective} {shown} (epoch {trial.best_epoch}) in "
                  f"{trial.seconds:.1f} s  {_fmt_params(params)}")
        return trial

    def _fit_kwargs(self, validation_split, validation_data, fit_kwargs):
        bad = sorted(set(fit_kwargs) - FIT_ARGS - {"callbacks"})
        if bad:
            raise TypeError(f"{type(self).__name__}.fit: unknown fit arguments {bad}; fit takes {sorted(FIT_ARGS)}")
        kw = dict(fit_kwargs)
        if validation_data is not None:
            kw["validation_data"] = validation_data
        elif validation_split:
            kw["validation_split"] = validation_split
        return kw

    # -- results --
    @property
    def best_trial(self):
        """The trial with the best score (None before any trial finished)."""
        done = [t for t in self.trials if t.score is not None]
        if not done:
            return None
        return min(done, key=lambda t: -t.score if self.direction == "max" else t.score)

    @property
    def best_params(self):
        """The best trial's hyperparameters (builder and fit arguments together)."""
        t = self.best_trial
        return None if t is None else dict(t.params)

    @property
    def best_score(self):
        t = self.best_trial
        return None if t is None else t.score

    @property
    def results(self):
        """The trials sorted by score, best first (trials without a score last)."""
        scored = sorted((t for t in self.trials if t.score is not None),
                        key=lambda t: -t.score if self.direction == "max" else t.score)
        return scored + [t for t in self.trials if t.score is None]

    def best_model(self):
        """A model built with the best parameters holding the weights of the best trial's best
        epoch (the model that scored best_score)."""
        t = self.best_trial
        if t is None:
            raise RuntimeError(f"{type(self).__name__}.best_model: no trial has finished; call fit first")
        model = self._make(t.params)
        model.load_state_dict(self._best_weights)
        return model

    def results_table(self, max_rows=None):
        """The trials as a text table sorted by the objective, best first."""
        rows = self.results[:max_rows]
        keys = list(self.space)
        head = ["rank", "trial", self.objective, "epoch", "seconds", "status"] + keys
        body = [[str(i + 1), str(t.number), "n/a" if t.score is None else f"{t.score:.4f}", str(t.best_epoch),
                 f"{t.seconds:.1f}", t.status] + [_fmt(t.params.get(k)) for k in keys] for i, t in enumerate(rows)]
        w = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(head)]
        line = lambda r: "  ".join(c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
        return "\n".join([line(head), "  ".join("-" * n for n in w)] + [line(r) for r in body])


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _fmt_params(p):
    return ", ".join(f"{k}={_fmt(v)}" for k, v in p.items())


class GridSearch(_Search):
    """Every combination of the space's values (lists / Choice; fixed values stay fixed).

    GridSearch(build, space, objective='val_loss', direction=None, seed=0, directory=None, verbose=1)
    .fit(x, y, validation_split=0.2, validation_data=None, **fit_kwargs) trains one model per
    combination, in the order of itertools.product over the space's keys."""

    def __init__(self, build, space, objective="val_loss", direction=None, seed=0, directory=None, verbose=1):
        super().__init__(build, space, objective, direction, seed, directory, verbose)
        for k, v in self.space.items():
            if isinstance(v, (Uniform, IntUniform)):
                raise ValueError(f"GridSearch: space[{k!r}] is a range {v!r}; a grid needs a list of values "
                                 f"(use RandomSearch or OptunaSearch for ranges)")

    def combinations(self):
        """The list of parameter dicts the grid runs."""
        keys = list(self.space)
        values = [d.values if (d := _dist(self.space[k])) is not None else [self.space[k]] for k in keys]
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]

    def fit(self, x, y, validation_split=0.2, validation_data=None, **fit_kwargs):
        kw = self._fit_kwargs(validation_split, validation_data, fit_kwargs)
        for params in self.combinations():
            self._run_trial(params, x, y, kw)
        return self


class RandomSearch(_Search):
    """n_trials configurations drawn from the space (seeded with ``seed``); a configuration
    already tried is drawn again, and the search ends early when a finite space is exhausted.

    RandomSearch(build, space, n_trials=10, objective='val_loss', direction=None, seed=0,
                 directory=None, verbose=1)"""

    def __init__(self, build, space, n_trials=10, objective="val_loss", direction=None, seed=0, directory=None,
                 verbose=1):
        super().__init__(build, space, objective, direction, seed, directory, verbose)
        if int(n_trials) != n_trials or n_trials < 1:
            raise ValueError(f"RandomSearch: n_trials must be a positive integer, got {n_trials!r}")
        self.n_trials = int(n_trials)

    def draw(self, rng):
        """One configuration drawn with the random.Random `rng`."""
        return {k: (d.sample(rng) if (d := _dist(v)) is not None else v) for k, v in self.space.items()}

    def fit(self, x, y, validation_split=0.2, validation_data=None, **fit_kwargs):
        kw = self._fit_kwargs(validation_split, validation_data, fit_kwargs)
        rng = random.Random(self.seed)
        seen = []
        for _ in range(self.n_trials):
            for _attempt in range(100):
                params = self.draw(rng)
                if params not in seen:
                    break
            else:
                break  # the space holds no configuration not yet tried
            seen.append(params)
            self._run_trial(params, x, y, kw)
        return self


# ---- Optuna (optional) -------------------------------------------------------------------------

class OptunaPruning(Callback):
    """Reports ``monitor`` to an Optuna trial after every epoch and stops training when the
    study's pruner says so (``pruned`` is then True; OptunaSearch marks the trial pruned).
    Works with any object with Optuna's ``report(value, step)`` and ``should_prune()``."""

    def __init__(self, trial, monitor="val_loss"):
        super().__init__()
        self.trial, self.monitor, self.pruned = trial, monitor, False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"OptunaPruning: {self.monitor!r} is not among fit's logs {sorted(logs)}")
        self.trial.report(float(logs[self.monitor]), epoch)
        if self.trial.should_prune():
            self.pruned = True
            self.model.stop_training = True


def _suggest(trial, name, v):
    d = _dist(v)
    if d is None:
        return v
    if isinstance(d, Choice):
        return trial.suggest_categorical(name, d.values)
    if isinstance(d, IntUniform):
        return trial.suggest_int(name, d.low, d.high)
    return trial.suggest_float(name, d.low, d.high, log=isinstance(d, LogUniform))


class OptunaSearch(_Search):
    """An Optuna study over the space (its sampler, TPE by default, seeded with ``seed``),
    pruning trials through OptunaPruning (its pruner, MedianPruner by default). Needs the
    optional package optuna; ``study`` is the optuna.Study after fit.

    OptunaSearch(build, space, n_trials=20, objective='val_loss', direction=None, seed=0,
                 directory=None, verbose=1, sampler=None, pruner=None)"""

    def __init__(self, build, space, n_trials=20, objective="val_loss", direction=None, seed=0, directory=None,
                 verbose=1, sampler=None, pruner=None):
        super().__init__(build, space, objective, direction, seed, directory, verbose)
        self.n_trials, self.sampler, self.pruner, self.study = int(n_trials), sampler, pruner, None

    def fit(self, x, y, validation_split=0.2, validation_data=None, **fit_kwargs):
        try:
            import optuna
        except ImportError as e:
            raise ImportError("OptunaSearch needs the optional package optuna (pip install optuna, or "
                              "dlcore's extra [search]); GridSearch and RandomSearch need nothing") from e
        kw = self._fit_kwargs(validation_split, validation_data, fit_kwargs)
        study = optuna.create_study(
            direction="maximize" if self.direction == "max" else "minimize",
            sampler=self.sampler or optuna.samplers.TPESampler(seed=self.seed),
            pruner=self.pruner or optuna.pruners.MedianPruner())

        def objective(ot):
            params = {k: _suggest(ot, k, v) for k, v in self.space.items()}
            pruning = OptunaPruning(ot, self.objective)
            trial = self._run_trial(params, x, y, kw, [pruning])
            if pruning.pruned:
                trial.status = "pruned"
                raise optuna.TrialPruned()
            return trial.score

        study.optimize(objective, n_trials=self.n_trials)
        self.study = study
        return self
