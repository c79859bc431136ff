#!/usr/bin/env python
"""Per-op Python overhead: a chain of 100 elementwise ops on small tensors, dlcore against
PyTorch, interleaved in one run, medians reported.

    python bench/compare.py overhead [--threads 1] [--size 16]

The chain (25 times: mul by a tensor, add a tensor, tanh, sub a scalar) runs on (size, size)
float32 tensors, in three modes:
  no_grad   forward only, no graph recorded;
  forward   forward with a graph (the weights require grad);
  fwd+bwd   forward, then backward through all 100 ops.
On tensors this small the kernels take well under a microsecond, so the figure is what one op
costs in Python dispatch, argument checks, allocation and graph bookkeeping.
"""
from benchutil import fmt, interleaved, markdown_table, stat, try_torch, write_out

N_OPS = 100


def add_arguments(p):
    p.add_argument("--size", type=int, default=16, help="the tensors are (size, size)")


def _chain(x, w, b):
    y = x
    for _ in range(N_OPS // 4):
        y = (y * w + b).tanh() - 0.5
    return y


def _contenders(lib, n, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    xa, wa, ba = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(3))
    if lib == "dlcore":
        import dlcore as m
        grad_off = m.no_grad
        mk = m.tensor
    else:
        import torch as m
        grad_off = m.no_grad
        mk = m.tensor
    x = mk(xa)
    w, b = mk(wa, requires_grad=True), mk(ba, requires_grad=True)

    def no_grad():
        with grad_off():
            _chain(x, w, b)

    def forward():
        _chain(x, w, b)

    def fwd_bwd():
        w.grad = b.grad = None
        _chain(x, w, b).sum().backward()

    return {"no_grad": no_grad, "forward": forward, "fwd+bwd": fwd_bwd}


def main(args):
    from benchutil import apply_threads
    apply_threads(args.threads)
    torch = try_torch()
    libs = ["dlcore"] + (["torch"] if torch is not None else [])
    runs = {lib: _contenders(lib, args.size) for lib in libs}
    rounds = args.repeat or (3 if args.quick else 9)
    rows = []
    for mode in ("no_grad", "forward", "fwd+bwd"):
        res = interleaved({lib: runs[lib][mode] for lib in libs}, rounds=rounds, min_sample=0.1)
        us = {lib: stat(res[lib], args.stat) * 1e6 / N_OPS for lib in libs}
        ratio = us["torch"] / us["dlcore"] if "torch" in us else None
        rows.append([mode, fmt(us["dlcore"], 2), fmt(us.get("torch"), 2), fmt(ratio, 2)])
    print(f"\n{N_OPS}-op elementwise chain on ({args.size}, {args.size}) float32, {args.threads} thread(s), "
          f"{args.stat} of {rounds} interleaved rounds: microseconds per op")
    table = markdown_table(["mode", "dlcore us/op", "PyTorch us/op", "PyTorch / dlcore"], rows)
    print(table)
    write_out(args, table)
