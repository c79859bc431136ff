"""Side-by-side timing of dlcore's fused activation / loss kernels against PyTorch (CPU).

    PYTHONPATH=python python bench/compare_activations.py [--reps 15] [--threads 2]

Cases (float32, forward + backward through each library's autograd, same inputs):
  softmax-cross-entropy over (4096, 1000) logits with class-index targets (mean reduction),
  gelu / silu / relu on 4M elements (backward with a given upstream gradient).
Runs are interleaved (dlcore, torch, dlcore, ...) so machine load hits both alike; the table
shows medians (or --stat min) in ms and torch / dlcore (> 1 means dlcore is faster).
"""
import argparse

import numpy as np
from benchutil import block_time, calls_per_block


def _ms(times, stat="median"):
    return 1e3 * float(np.min(times) if stat == "min" else np.median(times))


def _cases(dlcore, F, torch, TF):
    r = np.random.default_rng(0)
    z = r.standard_normal((4096, 1000)).astype(np.float32)
    t = r.integers(0, 1000, 4096)
    x = r.standard_normal(4 << 20).astype(np.float32)
    g = r.standard_normal(4 << 20).astype(np.float32)
    tt = torch.from_numpy(t)
    tg = torch.from_numpy(g)
    gd = dlcore.tensor(g)

    def ce_d():
        a = dlcore.tensor(z, requires_grad=True)
        F.cross_entropy(a, dlcore.tensor(t)).backward()

    def ce_t():
        a = torch.tensor(z, requires_grad=True)
        TF.cross_entropy(a, tt).backward()

    zd, td_ = dlcore.from_numpy(z), dlcore.tensor(t)

    def ce_fwd_d():  # no copy of the logits on either side
        F.cross_entropy(zd, td_)

    def ce_fwd_t():
        with torch.no_grad():
            TF.cross_entropy(torch.from_numpy(z), tt)

    cases = [("cross_entropy (4096,1000) fwd+bwd", ce_d, ce_t),
             ("cross_entropy (4096,1000) fwd", ce_fwd_d, ce_fwd_t)]
    for name, fd, ft in (("gelu", F.gelu, TF.gelu), ("silu", F.silu, TF.silu), ("relu", F.relu, TF.relu)):
        def d(fd=fd):
            a = dlcore.tensor(x, requires_grad=True)
            fd(a).backward(gd)

        def tch(ft=ft):
            a = torch.tensor(x, requires_grad=True)
            ft(a).backward(tg)
        cases.append((f"{name} 4M fwd+bwd", d, tch))
    return cases


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="statistic over the interleaved samples (min = best round, for a loaded machine)")
    args = ap.parse_args(argv)

    import dlcore
    import dlcore.nn.functional as F
    import torch
    import torch.nn.functional as TF

    dlcore.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"dlcore {dlcore.__version__} isa={dlcore.config()['isa']} threads={args.threads}; "
          f"torch {torch.__version__} threads={torch.get_num_threads()}; reps={args.reps}, {args.stat} of interleaved blocks")
    print(f"{'case':38s} {'dlcore ms':>10s} {'torch ms':>10s} {'torch/dlcore':>13s}")
    for name, fd, ft in _cases(dlcore, F, torch, TF):
        kd, kt = calls_per_block(fd), calls_per_block(ft)  # also the warm-up
        td, tt = [], []
        for _ in range(args.reps):  # interleaved
            td.append(block_time(fd, kd))
            tt.append(block_time(ft, kt))
        md, mt = _ms(td, args.stat), _ms(tt, args.stat)
        print(f"{name:38s} {md:10.2f} {mt:10.2f} {mt / md:12.2f}x")


if __name__ == "__main__":
    main()
