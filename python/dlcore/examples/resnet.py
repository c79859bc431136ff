"""A residual network on Fashion-MNIST, written as a Keras-style functional model
(dlcore.Input, dlcore.layers, dlcore.Model, compile / fit), trained with augmentation from
dlcore.data (random crops of the zero-padded image and horizontal flips). Prints the test
accuracy, the epochs and the time per epoch.

    python -m dlcore.examples.resnet            # width 24, 7 epochs: about 20 minutes on 2 cores
    python -m dlcore.examples.resnet --full     # wider (32) and deeper (2 blocks a stage), 20 epochs: hours
    python -m dlcore.examples.resnet --write-results   # also rewrite docs/RESULTS.md's section

Model (channels-last, every convolution 3x3 "same" without bias, followed by batch norm):
  Input(28, 28) - Reshape(28, 28, 1) - Conv2D(w) - BN - ReLU
  stage 1: `blocks` residual blocks of width w at 28x28
  stage 2: `blocks` blocks of width 2w, the first with stride 2 (14x14)
  stage 3: `blocks` blocks of width 4w, the first with stride 2 (7x7)
  GlobalAveragePooling2D - Dense(10, softmax)
A block: Conv2D - BN - ReLU - Conv2D - BN, Add with the shortcut, ReLU. The shortcut is the
block's input itself, or a 1x1 Conv2D (with the block's stride) and BN where the shape changes.

The images enter as (28, 28): dlcore.data's augmentations work on the last two axes of a
batch, (N, H, W), so they apply to the DataLoader's batches as they are; the model's Reshape
then adds the channels-last axis. Training: Adam, the learning rate following a cosine from
--lr down to 0 over the epochs (a LearningRateScheduler callback), sparse categorical
cross-entropy.
"""
from __future__ import annotations

import argparse
import math
import sys

import dlcore
from dlcore import layers
from dlcore.callbacks import LearningRateScheduler
from dlcore.data import Compose, DataLoader, RandomCrop, RandomHorizontalFlip

from . import _common

__all__ = ["residual_block", "resnet", "augmentation", "cosine_schedule", "parse_args", "main"]


def residual_block(x, filters, strides=1, momentum=0.9, name="block"):
    """One basic residual block on the KerasTensor x (channels-last): two 3x3 convolutions with
    batch norm, added to the shortcut (x itself, or a 1x1 projection with batch norm where the
    stride or the width changes), then ReLU. Its layers are named `name`_conv1, ..., `name`_add."""
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn2")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(momentum=momentum, name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def resnet(width=16, blocks=1, classes=10, momentum=0.9):
    """The functional model: (N, 28, 28) images in [0, 1] -> class probabilities (N, classes).
    momentum: the batch norms' (0.9, PyTorch's 0.1, rather than Keras's 0.99: the moving
    statistics follow the training within a few hundred steps, which a short run needs)."""
    inp = dlcore.Input((28, 28), name="image")
    x = layers.Reshape((28, 28, 1), name="channels_last")(inp)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=momentum, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, mult in enumerate((1, 2, 4)):
        for b in range(blocks):
            x = residual_block(x, width * mult, strides=2 if (stage and b == 0) else 1, momentum=momentum,
                               name=f"stage{stage + 1}_block{b + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(classes, activation="softmax", name="classifier")(x)
    return dlcore.Model(inp, out, name="resnet")


def augmentation(padding=2, flip=True):
    """The DataLoader transform: random translation by up to `padding` pixels (a crop of the
    zero-padded image) and a random left-right flip, on batches of (N, H, W) images; None when
    both are off."""
    steps = [RandomCrop(padding=padding)] if padding else []
    steps += [RandomHorizontalFlip()] if flip else []
    return Compose(steps) if steps else None


def cosine_schedule(epochs, lr):
    """schedule(epoch) for LearningRateScheduler: lr * (1 + cos(pi * epoch / epochs)) / 2."""
    return lambda epoch: lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.resnet",
                                description="A residual network (functional model) on Fashion-MNIST with "
                                            "augmentation.")
    p.add_argument("--epochs", type=int, default=None, help="default 7 (20 with --full)")
    p.add_argument("--train-size", type=int, default=None, help="training images (default all 60000)")
    p.add_argument("--test-size", type=int, default=None, help="test images (default all 10000)")
    p.add_argument("--width", type=int, default=None, help="channels of the first stage (default 24, 32 with --full)")
    p.add_argument("--blocks", type=int, default=None, help="residual blocks per stage (default 1, 2 with --full)")
    p.add_argument("--padding", type=int, default=2, help="random-crop padding in pixels (0: no augmentation)")
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns {'test_accuracy', 'test_loss', 'epochs', 'seconds_per_epoch', 'history',
    'parameters', 'model', ...}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    epochs = args.epochs or (20 if args.full else 7)
    width = args.width or (32 if args.full else 24)
    blocks = args.blocks or (2 if args.full else 1)
    ntr = args.train_size
    (xtr, ytr), (xte, yte) = _common.load_fashion(args, ntr, args.test_size)
    xtr, xte = xtr.reshape(-1, 28, 28), xte.reshape(-1, 28, 28)
    loader = DataLoader((xtr, ytr), batch_size=args.batch_size, shuffle=True,
                        transform=augmentation(args.padding, not args.no_flip))
    model = resnet(width, blocks)
    n_params = sum(p.numel() for p in model.parameters())
    n_add = sum(isinstance(layer, layers.Add) for layer in model.layers)
    aug = ", ".join(filter(None, [f"random crop (padding {args.padding})" if args.padding else "",
                                  "" if args.no_flip else "horizontal flip"])) or "none"
    print(f"ResNet: width {width}, {blocks} block(s) per stage, {n_add} residual additions, {n_params:,} "
          f"parameters; {len(xtr)} training / {len(xte)} test images, {epochs} epochs; augmentation: {aug}")
    model.compile(optimizer={"name": "adam", "lr": args.lr}, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t = _common.Timer()
    hist = model.fit(loader, epochs=epochs, verbose=0 if args.quiet else 2,
                     callbacks=[LearningRateScheduler(cosine_schedule(epochs, args.lr))])
    train_secs = t()
    loss, acc = model.evaluate(xte, yte, batch_size=500)
    per_epoch = train_secs / max(epochs, 1)
    print(f"test accuracy {acc:.4f} (loss {loss:.4f}) after {epochs} epochs; {train_secs:.0f} s training, "
          f"{per_epoch:.0f} s per epoch")
    out = {"test_accuracy": acc, "test_loss": loss, "epochs": epochs, "seconds": timer(),
           "train_seconds": train_secs, "seconds_per_epoch": per_epoch, "history": hist.history,
           "parameters": n_params, "residual_adds": n_add, "model": model}
    if args.write_results:
        target = 0.93
        verdict = (f"meets the issue's target of {target}" if acc >= target else
                   f"misses the issue's target of {target} by {target - acc:.4f}")
        rows = ["| model | parameters | epochs | training images | test accuracy | s per epoch |",
                "|---|---|---|---|---|---|",
                f"| ResNet, width {width}, {blocks} block(s) per stage | {n_params:,} | {epochs} | {len(xtr)} | "
                f"{acc:.4f} | {per_epoch:.0f} |",
                f"\nTest accuracy {acc:.4f} on {len(xte)} test images: {verdict} (PyTorch's ResNet18 with "
                f"augmentation reaches 0.949 on this data, with 11M parameters and many more epochs). "
                f"Augmentation: {aug}; batch {args.batch_size}, Adam, learning rate {args.lr} decayed by a cosine "
                f"over the epochs, seed {args.seed}; {train_secs:.0f} s of training in all."]
        if acc < target:
            rows.append(f"\nWhy: the default run is sized for about 20 minutes on 2 cores, and the small network "
                        f"is still underfitting after {epochs} epochs (its training accuracy of the last epoch, on "
                        f"augmented images, is {hist.history['accuracy'][-1]:.4f}); `--full` trains a wider "
                        f"network (32) with two blocks per stage for 20 epochs, hours on 2 cores.")
        _common.write_results(args, "resnet", "Residual network (functional model, augmentation)", argv, rows,
                              seconds=out["seconds"])
        print(f"wrote {args.results_file}")
    return out


if __name__ == "__main__":
    main()
