"""The main job: train an MLP or a CNN on Fashion-MNIST (70,000 real 28x28 images) and print
the test accuracy and the seconds per epoch.

    python -m dlcore.examples.fashion_mnist --model mlp --epochs 15
    python -m dlcore.examples.fashion_mnist --model cnn --epochs 15 --threads 2
    dlcore-train fashion-mnist --model cnn
    mpirun -np 2 dlcore-train fashion-mnist --model cnn      # data parallel, 2 processes

Under mpirun (or with --distributed) the job trains data-parallel (dlcore.distributed,
docs/distributed.md): --batch-size stays the global batch, so 1 and N processes train the same
model; each process gets an equal share of the host's cores; only rank 0 prints and writes
checkpoints; --resume restarts a job (any process count) from rank 0's last checkpoint.

Data: /usr/share/datasets/fashion-mnist/ (``apt-get install dataset-fashion-mnist``), or
--data DIR, or $DLCORE_DATA. Nothing is downloaded.

Models (PyTorch layout, Keras-style training loop):
  mlp: Flatten - Linear(784, 256) - ReLU - Dropout(0.2) - Linear(256, 128) - ReLU - Dropout(0.2)
       - Linear(128, 10)
  cnn: [Conv2d(1, 32, 3, pad 1) - BatchNorm2d - ReLU - MaxPool2d(2)]
       - [Conv2d(32, 64, 3, pad 1) - BatchNorm2d - ReLU - MaxPool2d(2)] - Dropout(0.25)
       - Flatten - Linear(3136, 128) - ReLU - Dropout(0.5) - Linear(128, 10)
Adam (lr 1e-3, cosine-decayed over the run by default; --schedule none keeps it constant),
cross-entropy on logits, batch 64 (cnn) / 128 (mlp), seed 0.
"""
import argparse
import math
import sys
import time

import dlcore
import dlcore.distributed as dist
from dlcore import nn, optim
from dlcore.data import _launcher_world

__all__ = ["build_mlp", "build_cnn", "parse_args", "main"]


def build_mlp(dropout=0.2):
    return dlcore.Sequential([
        nn.Flatten(),
        nn.Linear(784, 256), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(128, 10),
    ])


def build_cnn():
    return dlcore.Sequential([
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    ])


def parse_args(argv=None, prog=None):
    p = argparse.ArgumentParser(prog=prog, description="Train an MLP or CNN on Fashion-MNIST with dlcore.")
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=None, help="default 128 (mlp) / 64 (cnn)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--schedule", choices=("none", "cosine"), default="cosine",
                   help="learning rate over epochs: constant, or cosine decay from --lr to ~0")
    p.add_argument("--threads", type=int, default=None, help="dlcore threads (default: all cores)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="directory with the IDX files")
    p.add_argument("--dataset", choices=("fashion-mnist", "mnist"), default="fashion-mnist")
    p.add_argument("--save", default=None, help="save the trained model (.safetensors)")
    p.add_argument("--checkpoint", default=None,
                   help="save a resumable checkpoint here after every epoch")
    p.add_argument("--resume", default=None, help="continue training from this checkpoint")
    p.add_argument("--plot", default=None, help="write the loss/accuracy curves to this PNG")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    p.add_argument("--distributed", action="store_true",
                   help="data parallel over the MPI job (automatic under mpirun -np N, N > 1)")
    p.add_argument("--sync-bn", action="store_true",
                   help="distributed: BatchNorm statistics over the global batch (SyncBatchNorm)")
    return p.parse_args(argv)


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    distributed = args.distributed or _launcher_world()[1] > 1
    procs, rank = 1, 0
    if distributed:  # before anything else: the thread pool is sized per process here
        w = dist.init(threads=args.threads or "auto")
        procs, rank = w.size, w.rank
    elif args.threads:
        dlcore.set_num_threads(args.threads)
    say = print if rank == 0 else (lambda *a, **k: None)
    dlcore.manual_seed(args.seed)
    load = dlcore.datasets.fashion_mnist if args.dataset == "fashion-mnist" else dlcore.datasets.mnist
    try:
        (xtr, ytr), (xte, yte) = load(args.data)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
        xte, yte = xte[:max(args.limit // 6, 100)], yte[:max(args.limit // 6, 100)]
    bs = args.batch_size or (64 if args.model == "cnn" else 128)

    initial_epoch = 0
    if args.resume:
        model = dlcore.load_model(args.resume)
        initial_epoch = model.completed_epochs
        say(f"resumed from {args.resume} after epoch {initial_epoch}")
    else:
        model = build_mlp() if args.model == "mlp" else build_cnn()
        model.build((1, 28, 28))
        model.compile(optimizer=optim.Adam(model.parameters(), lr=args.lr),
                      loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
    if args.verbose and rank == 0:
        model.summary()
        print(f"{args.dataset}: {len(xtr)} training / {len(xte)} test images, batch {bs}, "
              f"{procs} process{'es' if procs > 1 else ''} x {dlcore.get_num_threads()} threads, "
              f"ISA {dlcore.config()['isa']}")

    epoch_times = []
    timer = dlcore.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: epoch_times.append(-time.perf_counter()),
        on_epoch_end=lambda e, logs: epoch_times.__setitem__(-1, epoch_times[-1] + time.perf_counter()))
    cbs = [timer, dlcore.callbacks.TerminateOnNaN()]
    if args.schedule == "cosine":
        total = args.epochs
        cbs.append(dlcore.callbacks.LearningRateScheduler(
            lambda e: args.lr * 0.5 * (1.0 + math.cos(math.pi * e / total))))
    if args.checkpoint:
        cbs.append(dlcore.callbacks.ModelCheckpoint(args.checkpoint, save_best_only=False))
    # the test set is only watched (val_* columns), never used to choose anything
    strategy = dist.DataParallel(sync_batchnorm=args.sync_bn) if distributed else False
    hist = model.fit(xtr, ytr, batch_size=bs, epochs=args.epochs, initial_epoch=initial_epoch,
                     validation_data=(xte, yte), callbacks=cbs, verbose=args.verbose,
                     distributed=strategy)
    loss, acc = model.evaluate(xte, yte, batch_size=512, distributed=strategy)
    done = len(epoch_times)
    # epoch_times include the per-epoch test evaluation; report training time separately too
    per_epoch = sum(epoch_times) / max(done, 1)
    say(f"{args.dataset} {args.model}: test accuracy {acc:.4f} (loss {loss:.4f}) after "
        f"{initial_epoch + done} epochs; {per_epoch:.2f} s per epoch (incl. test pass), "
        f"{procs} process{'es' if procs > 1 else ''} x {dlcore.get_num_threads()} threads")
    if args.save and rank == 0:
        model.save(args.save)
        print(f"saved {args.save}")
    if args.plot and rank == 0:
        try:
            hist.plot(args.plot, title=f"{args.dataset} {args.model}")
            print(f"wrote {args.plot}")
        except ImportError as e:
            print(f"(no plot: {e})", file=sys.stderr)
    return 0 if acc > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
