"""dlcore vs PyTorch recurrent layers, side by side in one run (interleaved, medians).

    PYTHONPATH=python python bench/compare_rnn.py [--reps N] [--threads 2] [--clock wall|cpu]
    (or: python bench/compare.py rnn ...)

Each sample is a block of back-to-back calls (benchutil.block_time) after --gap S (default
0.02) seconds of untimed sleep: both libraries' thread pools spin for a while after a parallel
region (PyTorch's libgomp by default for milliseconds, dlcore's pool up to 200 us), and on a
2-core machine a still-spinning worker of the library that just ran takes a core from the one
being timed.

--clock cpu times each call by the process CPU clock: on a machine shared with other jobs this
is a steadier proxy with --threads 1 (with 2 threads it also counts the pools' spin-waiting, so
use the wall clock, the default, for the 2-thread table).

Cases (issue 5): LSTM T50 B32 I128 H256; LSTM T100 B64 I64 H128 2 layers bidirectional;
GRU T50 B32 I128 H256; LSTM T200 B1 I64 H512 (latency). Forward is timed under no_grad;
forward+backward is loss = output.sum() + h_n.sum() then backward(). float32.
"""
import argparse
import statistics
import sys
import time

import numpy as np

import benchutil as bu

CASES = [
    ("LSTM T50 B32 I128 H256", "LSTM", 50, 32, 128, 256, 1, False),
    ("LSTM T100 B64 I64 H128 L2 bidir", "LSTM", 100, 64, 64, 128, 2, True),
    ("GRU T50 B32 I128 H256", "GRU", 50, 32, 128, 256, 1, False),
    ("LSTM T200 B1 I64 H512", "LSTM", 200, 1, 64, 512, 1, False),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="", help="substring filter on the case names")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--gap", type=float, default=0.02, help="untimed sleep (s) before each timed call")
    args = ap.parse_args(argv)
    import torch
    import dlcore
    from dlcore import nn

    dlcore.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    bu.GAP = args.gap
    print(f"threads={args.threads} reps={args.reps} clock={args.clock} gap={args.gap}s (median ms; ratio = torch / dlcore, >1 means dlcore is faster)")
    print(f"{'case':34s} {'fwd dl':>8s} {'fwd pt':>8s} {'ratio':>6s} {'f+b dl':>8s} {'f+b pt':>8s} {'ratio':>6s}")
    rows = []
    for name, mode, T, B, I, H, L, bi in CASES:
        if args.only and args.only not in name:
            continue
        tm = getattr(torch.nn, mode)(I, H, num_layers=L, bidirectional=bi)
        dm = getattr(nn, mode)(I, H, num_layers=L, bidirectional=bi)
        dm.load_state_dict(tm.state_dict())
        x = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
        xt, xd = torch.tensor(x), dlcore.tensor(x)

        def fwd_pt():
            with torch.no_grad():
                tm(xt)

        def fwd_dl():
            with dlcore.no_grad():
                dm(xd)

        def fb_pt():
            tm.zero_grad()
            o, h = tm(xt)
            h = h[0] if mode == "LSTM" else h
            (o.sum() + h.sum()).backward()

        def fb_dl():
            dm.zero_grad()
            o, h = dm(xd)
            h = h[0] if mode == "LSTM" else h
            (o.sum() + h.sum()).backward()

        res = {}
        for key, fd, fp in (("fwd", fwd_dl, fwd_pt), ("fb", fb_dl, fb_pt)):
            kd, kp = bu.calls_per_block(fd), bu.calls_per_block(fp)  # also the warm-up
            td, tp = [], []
            for _ in range(args.reps):  # interleaved
                td.append(bu.block_time(fd, kd, clock))
                tp.append(bu.block_time(fp, kp, clock))
            res[key] = (statistics.median(td) * 1e3, statistics.median(tp) * 1e3)
        (fd_, fp_), (bd_, bp_) = res["fwd"], res["fb"]
        print(f"{name:34s} {fd_:8.2f} {fp_:8.2f} {fp_ / fd_:6.2f} {bd_:8.2f} {bp_:8.2f} {bp_ / bd_:6.2f}", flush=True)
        rows.append((name, fd_, fp_, bd_, bp_))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
