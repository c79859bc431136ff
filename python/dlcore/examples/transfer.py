"""Transfer learning on Fashion-MNIST: a CNN trained on classes 0-4 (T-shirt, trouser,
pullover, dress, coat) lends its convolutional layers, frozen, to a classifier of classes 5-9
(sandal, shirt, sneaker, bag, ankle boot) that trains only a new head on 500 labelled images per
class; the same network trained from scratch on the same 2,500 images for the same epochs is the
comparison, and so is fine-tuning every layer from the pre-trained weights. Prints the test
accuracies (on the 5,000 test images of classes 5-9).

    python -m dlcore.examples.transfer            # a few minutes on 2 cores
    python -m dlcore.examples.transfer --full     # longer pre-training and fine-tuning

Model (PyTorch-style modules, Keras-style compile / fit):
  features: Conv2d(1, 32, 3, pad 1) - ReLU - MaxPool2d(2) - Conv2d(32, 64, 3, pad 1) - ReLU - MaxPool2d(2)
  head:     Flatten - Dropout(0.3) - Linear(3136, 128) - ReLU - Linear(128, 5)
Fine-tuning freezes the features with ``features.requires_grad_(False)``; the optimizer made by
fit sees only the head's parameters. (No batch norm in the features: its running statistics
would keep moving in training mode even with frozen weights.)
"""
from __future__ import annotations

import argparse
import sys

import dlcore
from dlcore import nn

from . import _common

__all__ = ["features", "head", "classifier", "train", "parse_args", "main"]

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def features():
    """The convolutional feature extractor: (N, 1, 28, 28) -> (N, 64, 7, 7)."""
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def head(classes=5):
    """The classifier head on the 64x7x7 features."""
    return nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, classes))


def classifier(feats=None, classes=5):
    """dlcore.Sequential([features, head]) (new features unless given)."""
    return dlcore.Sequential([feats if feats is not None else features(), head(classes)])


def train(model, x, y, epochs, batch_size=64, lr=1e-3, verbose=0):
    """Keras-style compile + fit with Adam on the trainable parameters; returns the History."""
    model.compile(optimizer={"name": "adam", "lr": lr}, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.transfer",
                                description="Transfer a Fashion-MNIST CNN from classes 0-4 to classes 5-9.")
    p.add_argument("--pretrain-size", type=int, default=None,
                   help="training images of classes 0-4 to pre-train on (default and --full: all ~30000)")
    p.add_argument("--pretrain-epochs", type=int, default=None, help="default 3 (10 with --full)")
    p.add_argument("--per-class", type=int, default=500, help="labelled images per class of 5-9")
    p.add_argument("--epochs", type=int, default=None, help="fine-tuning / scratch epochs (default 10, 20 with --full)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns {'pretrain_accuracy', 'transfer_accuracy', 'scratch_accuracy', ..., 'models'}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    pre_epochs = args.pretrain_epochs or (10 if args.full else 3)
    epochs = args.epochs or (20 if args.full else 10)
    verbose = 0 if args.quiet else 2
    (xtr, ytr), (xte, yte) = _common.load_fashion(args, None, None)
    xs, ys = _common.class_subset(xtr, ytr, SOURCE)
    xs, ys = xs[:args.pretrain_size], ys[:args.pretrain_size]
    xs_te, ys_te = _common.class_subset(xte, yte, SOURCE)
    xt, yt = _common.class_subset(xtr, ytr, TARGET, per_class=args.per_class)
    xt_te, yt_te = _common.class_subset(xte, yte, TARGET)

    print(f"pre-training on {len(xs)} images of classes 0-4 for {pre_epochs} epochs")
    dlcore.manual_seed(args.seed)
    source = classifier()
    train(source, xs, ys, pre_epochs, args.batch_size, args.lr, verbose)
    pre_acc = source.evaluate(xs_te, ys_te, batch_size=500)[1]
    print(f"classes 0-4: test accuracy {pre_acc:.4f}")

    print(f"fine-tuning a new head on frozen features: {len(xt)} images of classes 5-9, {epochs} epochs")
    feats = source[0]
    feats.requires_grad_(False)
    dlcore.manual_seed(args.seed + 1)
    tuned = classifier(feats)
    trainable = sum(p.numel() for p in tuned.parameters() if p.requires_grad)
    hist_t = train(tuned, xt, yt, epochs, args.batch_size, args.lr, verbose)
    tr_acc = tuned.evaluate(xt_te, yt_te, batch_size=500)[1]

    print(f"fine-tuning every layer, starting from the pre-trained features: {len(xt)} images, {epochs} epochs")
    dlcore.manual_seed(args.seed + 1)
    feats_all = features()
    feats_all.load_state_dict(feats.state_dict())  # a trainable copy of the pre-trained weights
    whole = classifier(feats_all)
    train(whole, xt, yt, epochs, args.batch_size, args.lr, verbose)
    all_acc = whole.evaluate(xt_te, yt_te, batch_size=500)[1]

    print(f"training the same network from scratch on the same {len(xt)} images, {epochs} epochs")
    dlcore.manual_seed(args.seed + 1)
    scratch = classifier()
    hist_s = train(scratch, xt, yt, epochs, args.batch_size, args.lr, verbose)
    sc_acc = scratch.evaluate(xt_te, yt_te, batch_size=500)[1]
    total = sum(p.numel() for p in scratch.parameters())
    print(f"classes 5-9 test accuracy: transfer (frozen features, new head) {tr_acc:.4f}; "
          f"all layers fine-tuned from the pre-trained features {all_acc:.4f}; from scratch {sc_acc:.4f}")
    out = {"pretrain_accuracy": pre_acc, "transfer_accuracy": tr_acc, "scratch_accuracy": sc_acc,
           "finetune_all_accuracy": all_acc,
           "transfer_loss": hist_t.history["loss"], "scratch_loss": hist_s.history["loss"],
           "trainable_transfer": trainable, "trainable_scratch": total, "seconds": timer(),
           "models": {"source": source, "transfer": tuned, "finetune_all": whole, "scratch": scratch}}
    if args.write_results:
        rows = ["| model (classes 5-9, 500 labelled images per class) | trained parameters | test accuracy |",
                "|---|---|---|",
                f"| frozen features from classes 0-4 + new head | {trainable:,} | {tr_acc:.4f} |",
                f"| pre-trained features and new head, all layers trained | {total:,} | {all_acc:.4f} |",
                f"| the same network from scratch | {total:,} | {sc_acc:.4f} |",
                f"\nPre-training: {len(xs)} images of classes 0-4, {pre_epochs} epochs, test accuracy on classes "
                f"0-4 {pre_acc:.4f}. Each classes 5-9 model: {len(xt)} images, {epochs} epochs, batch "
                f"{args.batch_size}, Adam lr {args.lr}, seed {args.seed}; test: the {len(xt_te)} test images of "
                f"classes 5-9."]
        _common.write_results(args, "transfer", "Transfer learning (frozen conv features)", argv, rows,
                              seconds=out["seconds"])
        print(f"wrote {args.results_file}")
    return out


if __name__ == "__main__":
    main()
