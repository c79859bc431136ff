"""Normalization / dropout: dlcore vs PyTorch side by side in one run (interleaved, medians).

    PYTHONPATH=python python bench/compare_norm.py [--reps 15] [--threads 2]
    (or: python bench/compare.py norm ...)

Cases (training mode, forward + backward with a given upstream gradient):
  BatchNorm2d   x (64, 32, 28, 28) float32
  LayerNorm     x (4096, 1024)     float32, normalized_shape 1024
  BatchNorm1d   x (4096, 1024)     float32
  Dropout p=0.5 x (64, 32, 28, 28) float32
ratio = PyTorch time / dlcore time (> 1: dlcore is faster).
"""
import argparse
import statistics
import sys

import numpy as np
from benchutil import block_time, calls_per_block


def cases(dlcore, torch):
    from dlcore import nn

    r = np.random.default_rng(0)

    def fwd_bwd(label, shape, dmod, tmod):
        """Training-mode forward + backward of the same module in both frameworks."""
        x_np = r.normal(size=shape).astype(np.float32)
        dy_np = r.normal(size=shape).astype(np.float32)
        dx, ddy = dlcore.tensor(x_np, requires_grad=True), dlcore.tensor(dy_np)
        tx, tdy = torch.tensor(x_np, requires_grad=True), torch.from_numpy(dy_np)

        def d():
            dx.grad = None
            dmod.zero_grad()
            dmod(dx).backward(ddy)

        def t():
            tx.grad = None
            tmod.zero_grad()
            tmod(tx).backward(tdy)

        return f"{label} fwd+bwd {shape}", d, t

    def fwd_only(label, shape, dmod, tmod):
        x_np = r.normal(size=shape).astype(np.float32)
        dx, tx = dlcore.tensor(x_np), torch.from_numpy(x_np)

        def d():
            with dlcore.no_grad():
                dmod(dx)

        def t():
            with torch.no_grad():
                tmod(tx)

        return f"{label} fwd only {shape}", d, t

    # In this order, so that every case draws the same inputs from r as before.
    return [
        fwd_bwd("BatchNorm2d", (64, 32, 28, 28), nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32)),
        fwd_only("BatchNorm2d", (64, 32, 28, 28), nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32)),
        fwd_bwd("LayerNorm", (4096, 1024), nn.LayerNorm(1024), torch.nn.LayerNorm(1024)),
        fwd_only("LayerNorm", (4096, 1024), nn.LayerNorm(1024), torch.nn.LayerNorm(1024)),
        fwd_bwd("BatchNorm1d", (4096, 1024), nn.BatchNorm1d(1024), torch.nn.BatchNorm1d(1024)),
        fwd_bwd("Dropout(0.5)", (64, 32, 28, 28), nn.Dropout(0.5), torch.nn.Dropout(0.5)),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="statistic over the interleaved samples (min = best round, for a loaded machine)")
    args = ap.parse_args(argv)

    import dlcore
    import torch

    dlcore.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads} reps={args.reps} ({args.stat}) isa={dlcore._C.isa()} torch={torch.__version__}")
    print(f"{'case':42s} {'dlcore ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    for name, d, t in cases(dlcore, torch):
        kd, kt = calls_per_block(d), calls_per_block(t)  # also the warm-up
        td, tt = [], []
        for _ in range(args.reps):  # interleaved
            td.append(block_time(d, kd))
            tt.append(block_time(t, kt))
        agg = min if args.stat == "min" else statistics.median
        md, mt = agg(td) * 1e3, agg(tt) * 1e3
        print(f"{name:42s} {md:10.3f} {mt:10.3f} {mt / md:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
