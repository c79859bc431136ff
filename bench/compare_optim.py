"""Adam step over 10 M float32 parameters (10 tensors of 1 M): dlcore (one fused C++ call)
vs torch.optim.Adam (default = single-tensor loop on CPU, foreach=True, fused=True), timed
side by side in one run, interleaved, medians, ratio = torch time / dlcore time (>1: dlcore
faster). Also SGD-momentum and clip_grad_norm_ over the same tensors.

    PYTHONPATH=python python bench/compare_optim.py [--reps 15] [--threads 2] [--tensors 10] [--size 1000000]
(or `python bench/compare.py optim ...` where the dispatcher exists)."""
import argparse
import statistics

import numpy as np
from benchutil import block_time, calls_per_block


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tensors", type=int, default=10)
    ap.add_argument("--size", type=int, default=1_000_000)
    a = ap.parse_args(argv)

    import dlcore
    from dlcore import optim
    from dlcore.nn import utils as U
    dlcore.set_num_threads(a.threads)
    try:
        import torch
        torch.set_num_threads(a.threads)
    except ImportError:
        torch = None

    r = np.random.default_rng(0)
    p0 = [r.standard_normal(a.size).astype(np.float32) for _ in range(a.tensors)]
    g0 = [r.standard_normal(a.size).astype(np.float32) * 1e-2 for _ in range(a.tensors)]

    cases = {}
    dp = [dlcore.tensor(p.copy(), requires_grad=True) for p in p0]
    for p, g in zip(dp, g0):
        p.grad = dlcore.tensor(g)
    d_adam = optim.Adam(dp, lr=1e-3)
    d_sgd = optim.SGD(dp, lr=1e-3, momentum=0.9)
    cases["Adam"] = {"dlcore": d_adam.step}
    cases["SGD momentum"] = {"dlcore": d_sgd.step}
    cases["clip_grad_norm_"] = {"dlcore": lambda: U.clip_grad_norm_(dp, 1e9)}
    if torch is not None:
        def tparams():
            ps = [torch.tensor(p.copy(), requires_grad=True) for p in p0]
            for p, g in zip(ps, g0):
                p.grad = torch.tensor(g)
            return ps
        for label, kw in (("torch default", {}), ("torch foreach", {"foreach": True}),
                          ("torch fused", {"fused": True})):
            cases["Adam"][label] = torch.optim.Adam(tparams(), lr=1e-3, **kw).step
        for label, kw in (("torch default", {}), ("torch foreach", {"foreach": True})):
            cases["SGD momentum"][label] = torch.optim.SGD(tparams(), lr=1e-3, momentum=0.9, **kw).step
        tp = tparams()
        cases["clip_grad_norm_"]["torch default"] = lambda: torch.nn.utils.clip_grad_norm_(tp, 1e9)

    n = a.tensors * a.size
    print(f"optimizer step over {a.tensors} x {a.size:,} float32 = {n / 1e6:.1f} M parameters, "
          f"{a.threads} threads, median of {a.reps} interleaved reps")
    for name, impls in cases.items():
        for f in impls.values():  # warm-up (allocates state)
            f()
            f()
        calls = {k: calls_per_block(f) for k, f in impls.items()}
        times = {k: [] for k in impls}
        for _ in range(a.reps):
            for k, f in impls.items():
                times[k].append(block_time(f, calls[k]) * 1e3)
        med = {k: statistics.median(v) for k, v in times.items()}
        d = med["dlcore"]
        line = f"  {name:16s} dlcore {d:8.2f} ms"
        for k, v in med.items():
            if k != "dlcore":
                line += f" | {k} {v:8.2f} ms ({v / d:4.2f}x)"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
