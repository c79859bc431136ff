"""dlcore.tuning: the grid is the Cartesian product, random draws are seeded and never repeat,
the results are sorted by the objective, the best model carries the weights that scored, fit
arguments in the space reach fit, the Optuna pruning callback stops training, and OptunaSearch
runs only where optuna is installed."""
import random
import sys
import types

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.tuning import (Choice, GridSearch, IntUniform, LogUniform, OptunaPruning, OptunaSearch,
                           RandomSearch, Uniform)


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _build(units=8, lr=1e-2):
    m = dlcore.Sequential([nn.Linear(6, units), nn.ReLU(), nn.Linear(units, 2)])
    m.compile(optimizer={"name": "adam", "lr": lr}, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_grid_runs_every_combination_and_sorts_the_results():
    x, y = _data()
    s = GridSearch(_build, {"units": [4, 16], "lr": (1e-3, 3e-2), "epochs": 3}, objective="val_accuracy",
                   verbose=0)
    assert s.direction == "max"
    assert s.combinations() == [{"units": u, "lr": lr, "epochs": 3} for u in (4, 16) for lr in (1e-3, 3e-2)]
    s.fit(x, y, validation_split=0.25, batch_size=32)
    assert [t.params for t in s.trials] == s.combinations()
    scores = [t.score for t in s.results]
    assert scores == sorted(scores, reverse=True)
    assert s.best_score == scores[0] == max(max(t.history["val_accuracy"]) for t in s.trials)
    for t in s.trials:  # 'epochs' from the space reached fit
        assert len(t.history["loss"]) == 3
        assert t.history["val_accuracy"][t.best_epoch - 1] == t.score
    table = s.results_table().splitlines()
    assert "val_accuracy" in table[0] and len(table) == 2 + 4
    assert table[2].split()[2] == f"{s.best_score:.4f}"


def test_loss_objective_is_minimised():
    x, y = _data()
    s = GridSearch(_build, {"lr": [1e-4, 3e-2], "epochs": 2}, verbose=0).fit(x, y)
    assert s.direction == "min" and s.objective == "val_loss"
    assert s.best_score == min(min(t.history["val_loss"]) for t in s.trials)


def test_best_model_holds_the_weights_that_scored():
    x, y = _data()
    s = GridSearch(_build, {"units": [4, 12], "epochs": 4}, objective="val_loss", verbose=0)
    s.fit(x, y, validation_split=0.25, batch_size=32)
    best = s.best_model()
    cut = int(len(x) * 0.75)
    loss = best.evaluate(x[cut:], y[cut:], batch_size=32)[0]
    assert loss == pytest.approx(s.best_score, rel=1e-5)
    assert best[0].out_features == s.best_params["units"]


def test_trials_are_seeded_alike_and_directory_saves_each_trial(tmp_path):
    x, y = _data()
    s = GridSearch(_build, {"units": [8, 8], "epochs": 2}, seed=3, directory=tmp_path, verbose=0)
    s.fit(x, y, validation_split=0.25)
    a, b = s.trials
    assert a.history == b.history  # same seed, same hyperparameters: the same run
    m = dlcore.load_model(a.path)
    cut = int(len(x) * 0.75)
    assert m.evaluate(x[cut:], y[cut:])[0] == pytest.approx(a.score, rel=1e-5)


def test_random_search_is_seeded_draws_from_the_space_and_never_repeats():
    space = {"units": Choice([4, 8]), "lr": LogUniform(1e-4, 1e-1), "d": Uniform(0.1, 0.2),
             "k": IntUniform(1, 3), "fixed": "a"}
    s = RandomSearch(_build, space, n_trials=5, seed=1, verbose=0)
    d1 = [s.draw(random.Random(7)) for _ in range(3)]
    assert d1 == [s.draw(random.Random(7)) for _ in range(3)]
    rng = random.Random(0)
    for _ in range(200):
        p = s.draw(rng)
        assert p["units"] in (4, 8) and 1e-4 <= p["lr"] <= 1e-1 and 0.1 <= p["d"] <= 0.2
        assert p["k"] in (1, 2, 3) and p["fixed"] == "a"
    x, y = _data()
    small = RandomSearch(_build, {"units": [4, 8, 16], "epochs": 1}, n_trials=10, seed=0, verbose=0).fit(x, y)
    assert sorted(t.params["units"] for t in small.trials) == [4, 8, 16]  # exhausted after 3, no repeats


def test_bad_spaces_and_builders_fail_clearly():
    with pytest.raises(ValueError, match="GridSearch: space\\['lr'\\] is a range"):
        GridSearch(_build, {"lr": LogUniform(1e-3, 1e-1)})
    with pytest.raises(ValueError, match="low < high"):
        Uniform(2, 1)
    with pytest.raises(ValueError, match="IntUniform"):
        IntUniform(1.5, 3)
    x, y = _data()
    with pytest.raises(KeyError, match="objective 'val_auc' is not among fit's logs"):
        GridSearch(_build, {"units": [4]}, objective="val_auc", verbose=0).fit(x, y)
    uncompiled = lambda units: dlcore.Sequential([nn.Linear(6, units)])  # noqa: E731
    with pytest.raises(ValueError, match="not compiled"):
        GridSearch(uncompiled, {"units": [4]}, verbose=0).fit(x, y)
    with pytest.raises(TypeError, match="unknown fit arguments \\['epochz'\\]"):
        GridSearch(_build, {"units": [4]}, verbose=0).fit(x, y, epochz=3)
    with pytest.raises(RuntimeError, match="no trial has finished"):
        GridSearch(_build, {"units": [4]}).best_model()


class _FakeTrial:
    """Optuna's trial interface as OptunaPruning uses it: prune after the second report."""

    def __init__(self):
        self.reports = []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= 2


def test_pruning_callback_reports_every_epoch_and_stops_training():
    x, y = _data()
    m = _build()
    cb = OptunaPruning(_FakeTrial(), "val_loss")
    h = m.fit(x, y, epochs=6, validation_split=0.25, callbacks=[cb], verbose=0)
    assert cb.pruned and len(h.history["loss"]) == 2
    assert [s for s, _ in cb.trial.reports] == [0, 1]
    assert [v for _, v in cb.trial.reports] == h.history["val_loss"]


def test_optuna_search_without_optuna_says_what_to_install():
    try:
        import optuna  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install optuna"):
            OptunaSearch(_build, {"units": [4, 8]}, n_trials=2, verbose=0).fit(*_data())
    else:
        pytest.skip("optuna is installed: the next test runs the study")


def test_optuna_search_runs_a_study():
    pytest.importorskip("optuna")
    x, y = _data()
    s = OptunaSearch(_build, {"units": [4, 8], "lr": LogUniform(1e-3, 1e-1), "epochs": 2}, n_trials=4,
                     objective="val_accuracy", verbose=0).fit(x, y)
    assert len(s.trials) == 4 and s.best_score == max(t.score for t in s.trials)
    assert s.study.best_value == pytest.approx(s.best_score) or any(t.status == "pruned" for t in s.trials)


def _fake_optuna():
    """A stand-in for the optuna module with the calls OptunaSearch makes: a study whose trials
    take the first value of a choice and a range's low end, and a pruner that prunes trial 1
    after its first report."""
    class TrialPruned(Exception):
        pass

    class FakeOptunaTrial:
        def __init__(self, number):
            self.number, self.reports = number, []

        def suggest_categorical(self, name, values):
            return values[self.number % len(values)]

        def suggest_float(self, name, low, high, log=False):
            return low if not log else high

        def suggest_int(self, name, low, high):
            return low

        def report(self, value, step):
            self.reports.append((step, value))

        def should_prune(self):
            return self.number == 1

    class Study:
        def __init__(self, direction):
            self.direction, self.values, self.states = direction, [], []

        def optimize(self, objective, n_trials):
            for i in range(n_trials):
                try:
                    self.values.append(objective(FakeOptunaTrial(i)))
                    self.states.append("complete")
                except TrialPruned:
                    self.values.append(None)
                    self.states.append("pruned")

    mod = types.ModuleType("optuna")
    mod.TrialPruned = TrialPruned
    mod.create_study = lambda direction, sampler, pruner: Study(direction)
    mod.samplers = types.SimpleNamespace(TPESampler=lambda seed: ("tpe", seed))
    mod.pruners = types.SimpleNamespace(MedianPruner=lambda: "median")
    return mod


def test_optuna_search_glue_with_a_stand_in_study(monkeypatch):
    """OptunaSearch's use of the optuna API (checked against a stand-in where optuna is absent):
    suggestions by distribution type, reports every epoch, pruned trials marked and stopped."""
    monkeypatch.setitem(sys.modules, "optuna", _fake_optuna())
    x, y = _data()
    space = {"units": [4, 8], "lr": LogUniform(1e-3, 3e-2), "epochs": 3}
    s = OptunaSearch(_build, space, n_trials=3, objective="val_accuracy", verbose=0).fit(x, y)
    assert s.study.direction == "maximize" and s.study.states == ["complete", "pruned", "complete"]
    assert [t.params["units"] for t in s.trials] == [4, 8, 4] and all(t.params["lr"] == 3e-2 for t in s.trials)
    assert [t.status for t in s.trials] == ["complete", "pruned", "complete"]
    assert len(s.trials[1].history["loss"]) == 1 and len(s.trials[0].history["loss"]) == 3
    assert s.study.values[0] == s.trials[0].score
