"""Keras image layers, channels_last against channels_first, on the main CNN's shapes (batch 64,
28x28, conv 1->32 and 32->64, 3x3 'same'): the cost of Keras's default layout over dlcore's
channels-first kernels. Forward + backward of one layer (or of the run conv-pool-conv) per
call, interleaved rounds, medians (a benchmark, not a test).

    python bench/compare.py keras_layout [--threads 1] [--batch 64]

Rows:
  convN: arrays in   one Conv2D fed a real (N, H, W, C) array and given an (N, H, W, C) gradient:
                     the layer copies both to channels-first (the edge of a run of image layers;
                     for conv1, C = 1, the input permute is free)
  convN: in a run    input and gradient as neighbouring image layers hand them over: permuted
                     views of channels-first memory, taken without a copy
  run                Conv2D(32) - MaxPooling2D - Conv2D(64): data enter and leave once
  run + Flatten      the same plus Flatten (both formats flatten in Keras's (H, W, C) order)
  CNN body           the main CNN's convolutional part as Keras code writes it: [Conv2D -
                     BatchNormalization - Activation("relu") - MaxPooling2D] x 2 - Flatten
ratio = channels_first time / channels_last time (< 1: channels_last is slower). With --threads 1
the clock is this process's CPU time.
"""
import time

import numpy as np

import benchutil as bu


def add_arguments(p):
    p.add_argument("--batch", type=int, default=64)


def main(args):
    import dlcore
    from dlcore import layers
    bu.apply_threads(args.threads)
    n = args.batch
    r = np.random.default_rng(0)

    def image(c, hw, fmt):
        a = r.standard_normal((n, hw, hw, c)).astype(np.float32)
        return dlcore.tensor(a if fmt == "channels_last" else np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    def step(model, x, g):
        def run():
            y = model(x)
            y.backward(g)
            for p in model.parameters():
                p.grad = None
        return run

    def grad_view(shape, fmt):
        """A gradient as the next channels-last image layer hands it back: a permuted view of
        channels-first memory (channels_first: the plain array)."""
        if fmt == "channels_first":
            return dlcore.ones(*shape)
        nn_, h, w, c = shape
        return dlcore.ones(nn_, c, h, w).permute(0, 2, 3, 1)

    def make(rows, fmt):
        conv1 = layers.Conv2D(32, 3, padding="same", data_format=fmt)
        conv2 = layers.Conv2D(64, 3, padding="same", data_format=fmt)
        x1, x2 = image(1, 28, fmt), image(32, 14, fmt)
        y1, y2 = conv1(x1), conv2(x2)
        rows["conv1: arrays in"][fmt] = step(conv1, x1, dlcore.ones(*y1.shape))
        rows["conv1: in a run"][fmt] = step(conv1, x1, grad_view(tuple(y1.shape), fmt))
        rows["conv2: arrays in"][fmt] = step(conv2, x2, dlcore.ones(*y2.shape))
        pool = layers.MaxPooling2D(data_format=fmt)
        with dlcore.no_grad():
            xv = pool(conv1(x1))  # channels_last: a permuted view of channels-first memory
        rows["conv2: in a run"][fmt] = step(conv2, xv, grad_view(tuple(y2.shape), fmt))
        run = dlcore.Sequential([conv1, layers.MaxPooling2D(data_format=fmt), conv2])
        rows["run conv-pool-conv"][fmt] = step(run, x1, dlcore.ones(*run(x1).shape))
        flat = dlcore.Sequential([conv1, layers.MaxPooling2D(data_format=fmt), conv2, layers.Flatten(data_format=fmt)])
        rows["run + Flatten"][fmt] = step(flat, x1, dlcore.ones(*flat(x1).shape))
        ax = -1 if fmt == "channels_last" else 1
        cnn = dlcore.Sequential([
            layers.Conv2D(32, 3, padding="same", data_format=fmt), layers.BatchNormalization(axis=ax),
            layers.Activation("relu"), layers.MaxPooling2D(data_format=fmt),
            layers.Conv2D(64, 3, padding="same", data_format=fmt), layers.BatchNormalization(axis=ax),
            layers.Activation("relu"), layers.MaxPooling2D(data_format=fmt), layers.Flatten(data_format=fmt)])
        rows["CNN body"][fmt] = step(cnn, x1, dlcore.ones(*cnn(x1).shape))

    names = ["conv1: arrays in", "conv1: in a run", "conv2: arrays in", "conv2: in a run", "run conv-pool-conv",
             "run + Flatten", "CNN body"]
    rows = {k: {} for k in names}
    for fmt in ("channels_first", "channels_last"):
        make(rows, fmt)
    out = []
    for k in names:
        clock = time.process_time if bu.threads() == 1 else time.perf_counter  # CPU time: load-robust
        t = bu.interleaved(rows[k], rounds=args.repeat or 7, clock=clock)
        cf, cl = bu.stat(t["channels_first"], args.stat), bu.stat(t["channels_last"], args.stat)
        out.append((k, bu.fmt(cf * 1e3, 2), bu.fmt(cl * 1e3, 2), bu.fmt(cf / cl, 2)))
    print(f"batch {n}, threads {bu.threads()}, fwd+bwd ms per call ({args.stat})")
    print(bu.markdown_table(["case", "channels_first ms", "channels_last ms", "ratio cf/cl"], out))
