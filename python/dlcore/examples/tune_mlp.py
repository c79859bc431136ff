"""Hyperparameter search for the Fashion-MNIST MLP with dlcore.tuning: width, dropout, learning
rate and batch size, scored on a validation split of the training images; the best model
(restored with the weights of its best epoch) is then evaluated once on the test set.

    python -m dlcore.examples.tune_mlp                    # random search, 10 trials, a few minutes on 2 cores
    python -m dlcore.examples.tune_mlp --search grid      # a grid over width x learning rate
    python -m dlcore.examples.tune_mlp --search optuna    # TPE + median pruning (needs optuna)
    python -m dlcore.examples.tune_mlp --full             # 30 trials of 15 epochs

Model (PyTorch-style modules, Keras-style compile / fit): Flatten - Linear(784, units) - ReLU -
Dropout - Linear(units, units / 2) - ReLU - Dropout - Linear(units / 2, 10); Adam.
"""
from __future__ import annotations

import argparse
import sys

import dlcore
from dlcore import nn
from dlcore.tuning import GridSearch, LogUniform, OptunaSearch, RandomSearch, Uniform

from . import _common

__all__ = ["build_mlp", "parse_args", "main"]


def build_mlp(units=256, dropout=0.2, lr=1e-3):
    """The main job's MLP with a variable width, compiled with Adam(lr)."""
    model = dlcore.Sequential([
        nn.Flatten(),
        nn.Linear(784, units), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(units, units // 2), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(units // 2, 10),
    ])
    model.compile(optimizer={"name": "adam", "lr": lr}, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.tune_mlp",
                                description="Tune the Fashion-MNIST MLP with dlcore.tuning.")
    p.add_argument("--search", choices=("random", "grid", "optuna"), default="random")
    p.add_argument("--trials", type=int, default=None, help="random / optuna trials (default 10, 30 with --full)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per trial (default 5, 15 with --full)")
    p.add_argument("--train-size", type=int, default=None,
                   help="training images, of which --val-split is validation (default all 60000)")
    p.add_argument("--val-split", type=float, default=0.2)
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the search; returns {'search': the search object, 'test_accuracy', 'best_params', 'best_score'}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    trials = args.trials or (30 if args.full else 10)
    epochs = args.epochs or (15 if args.full else 5)
    ntr = args.train_size
    (xtr, ytr), (xte, yte) = _common.load_fashion(args, ntr, None)
    verbose = 0 if args.quiet else 1
    common = dict(objective="val_accuracy", seed=args.seed, verbose=verbose)
    if args.search == "grid":
        space = {"units": [128, 256, 512], "lr": [3e-4, 1e-3, 3e-3], "dropout": 0.2, "batch_size": 128,
                 "epochs": epochs}
        search = GridSearch(build_mlp, space, **common)
    else:
        space = {"units": [64, 128, 256, 512], "dropout": Uniform(0.0, 0.5), "lr": LogUniform(1e-4, 1e-2),
                 "batch_size": [64, 128, 256], "epochs": epochs}
        cls = RandomSearch if args.search == "random" else OptunaSearch
        search = cls(build_mlp, space, n_trials=trials, **common)
    print(f"{args.search} search: {len(xtr)} training images ({args.val_split:.0%} of them validation), "
          f"{epochs} epochs per trial")
    try:
        search.fit(xtr, ytr, validation_split=args.val_split)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    table = search.results_table()
    print(table)
    best = search.best_model()
    test_loss, test_acc = best.evaluate(xte, yte, batch_size=500)
    print(f"best: {_fmt(search.best_params)}, val_accuracy {search.best_score:.4f} "
          f"(epoch {search.best_trial.best_epoch}); test accuracy {test_acc:.4f}")
    out = {"search": search, "test_accuracy": test_acc, "best_params": search.best_params,
           "best_score": search.best_score, "seconds": timer()}
    if args.write_results:
        rows = [f"{args.search.capitalize()} search over {len(search.trials)} configurations, {len(xtr)} training "
                f"images of which the last {args.val_split:.0%} are the validation split, {epochs} epochs each, "
                f"objective val_accuracy (best epoch; its weights are the ones restored), seed {args.seed}.", "",
                f"Best: {_fmt(search.best_params)}: validation accuracy {search.best_score:.4f}, "
                f"**test accuracy {test_acc:.4f}** (the test set is used once, for the restored best model).",
                "", "```", table, "```"]
        _common.write_results(args, "tune_mlp", "Hyperparameter search (MLP, dlcore.tuning)", argv, rows,
                              seconds=out["seconds"])
        print(f"wrote {args.results_file}")
    return out


def _fmt(params):
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


if __name__ == "__main__":
    main()
