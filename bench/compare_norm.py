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
import time

import numpy as np


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cases(dlcore, torch):
    from dlcore import nn

    r = np.random.default_rng(0)
    out = []

    def bn_case():
        shape = (64, 32, 28, 28)
        x_np = r.normal(size=shape).astype(np.float32)
        dy_np = r.normal(size=shape).astype(np.float32)
        dbn, tbn = nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32)
        dx, ddy = dlcore.tensor(x_np, requires_grad=True), dlcore.tensor(dy_np)
        tx, tdy = torch.tensor(x_np, requires_grad=True), torch.from_numpy(dy_np)

        def d():
            dx.grad = None
            dbn.zero_grad()
            dbn(dx).backward(ddy)

        def t():
            tx.grad = None
            tbn.zero_grad()
            tbn(tx).backward(tdy)

        return "BatchNorm2d fwd+bwd (64, 32, 28, 28)", d, t

    def ln_case():
        shape = (4096, 1024)
        x_np = r.normal(size=shape).astype(np.float32)
        dy_np = r.normal(size=shape).astype(np.float32)
        dln, tln = nn.LayerNorm(1024), torch.nn.LayerNorm(1024)
        dx, ddy = dlcore.tensor(x_np, requires_grad=True), dlcore.tensor(dy_np)
        tx, tdy = torch.tensor(x_np, requires_grad=True), torch.from_numpy(dy_np)

        def d():
            dx.grad = None
            dln.zero_grad()
            dln(dx).backward(ddy)

        def t():
            tx.grad = None
            tln.zero_grad()
            tln(tx).backward(tdy)

        return "LayerNorm fwd+bwd (4096, 1024)", d, t

    def ln_fwd_case():
        x_np = r.normal(size=(4096, 1024)).astype(np.float32)
        dln, tln = nn.LayerNorm(1024), torch.nn.LayerNorm(1024)
        dx, tx = dlcore.tensor(x_np), torch.from_numpy(x_np)

        def d():
            with dlcore.no_grad():
                dln(dx)

        def t():
            with torch.no_grad():
                tln(tx)

        return "LayerNorm fwd only (4096, 1024)", d, t

    def bn_fwd_case():
        x_np = r.normal(size=(64, 32, 28, 28)).astype(np.float32)
        dbn, tbn = nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32)
        dx, tx = dlcore.tensor(x_np), torch.from_numpy(x_np)

        def d():
            with dlcore.no_grad():
                dbn(dx)

        def t():
            with torch.no_grad():
                tbn(tx)

        return "BatchNorm2d fwd only (64, 32, 28, 28)", d, t

    def bn1d_case():
        shape = (4096, 1024)
        x_np = r.normal(size=shape).astype(np.float32)
        dy_np = r.normal(size=shape).astype(np.float32)
        dbn, tbn = nn.BatchNorm1d(1024), torch.nn.BatchNorm1d(1024)
        dx, ddy = dlcore.tensor(x_np, requires_grad=True), dlcore.tensor(dy_np)
        tx, tdy = torch.tensor(x_np, requires_grad=True), torch.from_numpy(dy_np)

        def d():
            dx.grad = None
            dbn.zero_grad()
            dbn(dx).backward(ddy)

        def t():
            tx.grad = None
            tbn.zero_grad()
            tbn(tx).backward(tdy)

        return "BatchNorm1d fwd+bwd (4096, 1024)", d, t

    def drop_case():
        shape = (64, 32, 28, 28)
        x_np = r.normal(size=shape).astype(np.float32)
        dy_np = r.normal(size=shape).astype(np.float32)
        dd, td = nn.Dropout(0.5), torch.nn.Dropout(0.5)
        dx, ddy = dlcore.tensor(x_np, requires_grad=True), dlcore.tensor(dy_np)
        tx, tdy = torch.tensor(x_np, requires_grad=True), torch.from_numpy(dy_np)

        def d():
            dx.grad = None
            dd(dx).backward(ddy)

        def t():
            tx.grad = None
            td(tx).backward(tdy)

        return "Dropout(0.5) fwd+bwd (64, 32, 28, 28)", d, t

    for c in (bn_case, bn_fwd_case, ln_case, ln_fwd_case, bn1d_case, drop_case):
        out.append(c())
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import dlcore
    import torch

    dlcore.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads} reps={args.reps} isa={dlcore._C.isa()} torch={torch.__version__}")
    print(f"{'case':42s} {'dlcore ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    for name, d, t in cases(dlcore, torch):
        for _ in range(2):  # warm-up
            d()
            t()
        td, tt = [], []
        for _ in range(args.reps):  # interleaved
            td.append(_time(d))
            tt.append(_time(t))
        md, mt = statistics.median(td) * 1e3, statistics.median(tt) * 1e3
        print(f"{name:42s} {md:10.3f} {mt:10.3f} {mt / md:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
