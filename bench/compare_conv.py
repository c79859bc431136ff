"""Convolution and pooling, dlcore vs PyTorch side by side (interleaved runs, medians, 2 threads).

    PYTHONPATH=python python bench/compare_conv.py [--reps N] [--only SUBSTRING] [--no-memory] [--cpu-time]
    (or: python bench/compare.py conv ...)

--cpu-time measures process CPU time with ONE thread per library instead of wall time with two:
on a machine shared with other jobs it shows the work each library does (PyTorch's OpenMP
threads spin and dlcore's pool wakes late under load, which blurs 2-thread wall times).

Prints forward and forward+backward times (ms) and the ratio torch/dlcore (> 1: dlcore faster),
then the peak extra resident memory of forward+backward on the largest conv case, each library
measured alone in a fresh subprocess.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from benchutil import block_time, calls_per_block

# (name, kind, input shape, params)
CASES = [
    ("conv 3x3 p1  N64 C1 28x28 -> 32", "conv", (64, 1, 28, 28), dict(K=32, k=3, s=1, p=1, g=1)),
    ("conv 3x3 p1  N64 C32 28x28 -> 64", "conv", (64, 32, 28, 28), dict(K=64, k=3, s=1, p=1, g=1)),
    ("conv 3x3 p1  N32 C64 56x56 -> 64", "conv", (32, 64, 56, 56), dict(K=64, k=3, s=1, p=1, g=1)),
    ("conv 3x3 p1  N16 C128 28x28 -> 128", "conv", (16, 128, 28, 28), dict(K=128, k=3, s=1, p=1, g=1)),
    ("conv 1x1     N32 C256 14x14 -> 64", "conv", (32, 256, 14, 14), dict(K=64, k=1, s=1, p=0, g=1)),
    ("conv 3x3 s2  N32 C64 56x56 -> 128", "conv", (32, 64, 56, 56), dict(K=128, k=3, s=2, p=1, g=1)),
    ("depthwise 3x3 N32 C128 28x28 g128", "conv", (32, 128, 28, 28), dict(K=128, k=3, s=1, p=1, g=128)),
    ("convT 4x4 s2 p1 N64 C128 7x7 -> 64", "convT", (64, 128, 7, 7), dict(K=64, k=4, s=2, p=1, g=1)),
    ("max_pool2d 2x2 N64 C32 28x28", "maxpool", (64, 32, 28, 28), dict(k=2)),
]
LARGEST = 2  # N32 C64 56x56 -> 64: the most FLOPs and the largest activations


def make_inputs(kind, shape, prm, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape).astype(np.float32)
    if kind == "conv":
        w = r.standard_normal((prm["K"], shape[1] // prm["g"], prm["k"], prm["k"])).astype(np.float32) * 0.1
    elif kind == "convT":
        w = r.standard_normal((shape[1], prm["K"] // prm["g"], prm["k"], prm["k"])).astype(np.float32) * 0.1
    else:
        return x, None, None
    return x, w, r.standard_normal(prm["K"]).astype(np.float32)


def build(lib, kind, shape, prm):
    """Returns (forward(), forward_backward()) closures for one library."""
    x, w, b = make_inputs(kind, shape, prm)
    if lib == "torch":
        import torch
        import torch.nn.functional as tf
        X, W, B = (torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b))
        mod, no_grad = torch, torch.no_grad
        conv, convT, pool = tf.conv2d, tf.conv_transpose2d, tf.max_pool2d
    else:
        import dlcore
        import dlcore.nn.functional as F
        X, W, B = (dlcore.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b))
        mod, no_grad = dlcore, dlcore.no_grad
        conv, convT, pool = F.conv2d, F.conv_transpose2d, F.max_pool2d

    if kind == "conv":
        f = lambda: conv(X, W, B, prm["s"], prm["p"], 1, prm["g"])  # noqa: E731
    elif kind == "convT":
        f = lambda: convT(X, W, B, prm["s"], prm["p"])  # noqa: E731
    else:
        f = lambda: pool(X, prm["k"])  # noqa: E731
    params = [t for t in (X, W, B) if t is not None]
    gy = None

    def forward():
        with no_grad():
            return f()

    def forward_backward():
        nonlocal gy
        for t in params:
            t.grad = None
        y = f()
        if gy is None:
            gy = mod.tensor(np.ones(tuple(y.shape), np.float32))
        y.backward(gy)
        return y

    return forward, forward_backward


CLOCK = time.perf_counter


def bench_case(case, reps):
    name, kind, shape, prm = case
    fns = {lib: build(lib, kind, shape, prm) for lib in ("dlcore", "torch")}
    res = {}
    for mode in (0, 1):
        calls = {lib: calls_per_block(fns[lib][mode]) for lib in fns}  # also the warm-up
        times = {lib: [] for lib in fns}
        for _ in range(reps):  # interleaved
            for lib in fns:
                times[lib].append(block_time(fns[lib][mode], calls[lib], CLOCK) * 1e3)
        res[mode] = {lib: statistics.median(t) for lib, t in times.items()}
    return res


def peak_memory(lib, case_index):
    """Peak extra RSS (MiB) of one forward+backward, measured in a fresh process that imports only
    `lib`: the kernel's high-water mark is reset (/proc/self/clear_refs) after the inputs exist."""
    code = (
        "import sys; sys.path.insert(0, %r); import compare_conv as c\n"
        "c.set_threads(libs=(%r,)); name, kind, shape, prm = c.CASES[%d]\n"
        "fwd, fb = c.build(%r, kind, shape, prm)\n"
        "def rss(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key): return int(line.split()[1]) / 1024\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "base = rss('VmRSS:')\n"
        "fb()\n"
        "print(rss('VmHWM:') - base)\n"
        % (os.path.dirname(os.path.abspath(__file__)), lib, case_index, lib))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    if out.returncode:
        return float("nan")
    return float(out.stdout.strip().splitlines()[-1])


def set_threads(n=2, libs=("dlcore", "torch")):
    if "torch" in libs:
        import torch
        torch.set_num_threads(n)
    if "dlcore" in libs:
        import dlcore
        dlcore.set_num_threads(n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--cpu-time", action="store_true", help="1 thread, process CPU time instead of 2-thread wall time")
    args = ap.parse_args(argv)
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    set_threads(1 if args.cpu_time else 2)
    import dlcore
    import torch
    print(f"dlcore {dlcore.__version__} isa={dlcore._C.isa()} threads={dlcore.get_num_threads()} | "
          f"torch {torch.__version__} threads={torch.get_num_threads()} | float32, median of {args.reps}"
          + (" | CPU time (ms)" if args.cpu_time else " | wall time (ms)"))
    hdr = f"{'case':38s} {'fwd dl':>9s} {'fwd pt':>9s} {'pt/dl':>6s} | {'f+b dl':>9s} {'f+b pt':>9s} {'pt/dl':>6s}"
    print(hdr)
    print("-" * len(hdr))
    for case in CASES:
        if args.only and args.only not in case[0]:
            continue
        r = bench_case(case, args.reps)
        f, fb = r[0], r[1]
        print(f"{case[0]:38s} {f['dlcore']:9.2f} {f['torch']:9.2f} {f['torch'] / f['dlcore']:6.2f} | "
              f"{fb['dlcore']:9.2f} {fb['torch']:9.2f} {fb['torch'] / fb['dlcore']:6.2f}", flush=True)
    if not args.no_memory:
        name = CASES[LARGEST][0]
        dl, pt = peak_memory("dlcore", LARGEST), peak_memory("torch", LARGEST)
        print(f"\npeak extra RSS of forward+backward on '{name}': dlcore {dl:.1f} MiB, torch {pt:.1f} MiB "
              f"(input + weights allocated before the measurement)")


if __name__ == "__main__":
    main(sys.argv[1:])
