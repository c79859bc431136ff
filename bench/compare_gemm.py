"""GEMM side by side: dlcore (C.matmul) vs NumPy (OpenBLAS) vs PyTorch (if importable).

GFLOP/s = 2*M*N*K / median seconds. '% peak' is against this machine's measured FMA peak
for the same thread count (dlcore._C.fma_peak_gflops: 12 independent FMA chains per core, per-thread CPU clock;
float64 peak is taken as half the float32 one).
"""
import time

import numpy as np

import benchutil as bu

SQUARES = [256, 512, 1024, 2048]
# (M, K, N): MLP layers, conv-as-GEMM (im2col), attention-ish, small / skinny and GEMV-like shapes
DL_SHAPES = [(128, 784, 256), (128, 256, 128), (64, 4608, 512), (32, 512, 2048), (3136, 576, 64),
             (100, 300, 50), (1, 1024, 1024)]
# The MLP 784-256-128-10 at batch 128 as its training step calls GEMM (python/dlcore/ops.py
# Linear): forward x @ w.T ("nt": B is a transposed view), backward-data g @ w ("nn"),
# backward-weight g.T @ x ("tn": A is a transposed view).
MLP_SHAPES = [((128, 784, 256), "nt"), ((128, 256, 128), "nt"), ((128, 128, 10), "nt"),
              ((128, 256, 784), "nn"), ((128, 128, 256), "nn"), ((128, 10, 128), "nn"),
              ((256, 128, 784), "tn"), ((128, 128, 256), "tn"), ((10, 128, 128), "tn")]


def add_arguments(p):
    p.add_argument("--dtypes", default="float32,float64", help="comma list")
    p.add_argument("--shapes", default="", help="only these, e.g. 2048,128x784x256")
    p.add_argument("--cputime", action="store_true",
                   help="time CPU seconds of this process (needs --threads 1): single-thread "
                        "speeds that other processes on a shared machine barely disturb")


def main(args):
    import dlcore._C as C
    info = bu.apply_threads(args.threads)
    torch = bu.try_torch()
    note, fair = bu.environment_note()
    nt = bu.threads()
    peak32 = max(C.fma_peak_gflops(nt) for _ in range(2))
    cases = []
    dtypes = args.dtypes.split(",")
    for dt in dtypes:
        sq = SQUARES if not args.quick else [256, 1024]
        if dt == "float64" and not args.quick:
            sq = SQUARES
        cases += [(dt, (n, n, n), "square", "nn") for n in sq]
        if dt == "float32":
            cases += [(dt, s, "DL", "nn") for s in DL_SHAPES]
            cases += [(dt, s, "MLP " + lay, lay) for s, lay in MLP_SHAPES]
    if args.shapes:
        want = []
        for tok in args.shapes.split(","):
            want.append(tuple(int(v) for v in tok.split("x")) if "x" in tok else (int(tok),) * 3)
        cases = [c for c in cases if c[1] in want]
    if args.cputime and nt != 1:
        raise SystemExit("--cputime needs --threads 1 (pool threads that spin would be counted)")
    clock = time.process_time if args.cputime else time.perf_counter
    rounds = args.repeat or (3 if args.quick else 9)
    min_sample = 0.02 if args.quick else 0.08
    rng = np.random.default_rng(0)
    rows = []
    print(f"# GEMM: dlcore vs NumPy {np.__version__} vs PyTorch {torch.__version__ if torch else '(absent)'}")
    print(f"threads={nt} ({info}), dlcore isa={C.isa()}, blocking f32={C.gemm_blocking('float32')} "
          f"f64={C.gemm_blocking('float64')}")
    print(note)
    print(f"measured FMA peak (float32, {nt} threads): {peak32:.1f} GFLOP/s\n", flush=True)
    for dt, (M, K, N), kind, lay in cases:
        # "t": the operand is a transposed view of a row-major array (no copy on any side)
        a = rng.standard_normal((K, M) if lay[0] == "t" else (M, K)).astype(dt)
        b = rng.standard_normal((N, K) if lay[1] == "t" else (K, N)).astype(dt)
        a = a.T if lay[0] == "t" else a
        b = b.T if lay[1] == "t" else b
        out = np.empty((M, N), dt)
        contenders = {
            "dlcore": lambda: C.matmul(a, b, out),
            "numpy": lambda: np.matmul(a, b, out=out),
        }
        if torch is not None:
            ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
            contenders["torch"] = lambda: torch.matmul(ta, tb, out=tout)
        res = bu.interleaved(contenders, rounds=rounds, min_sample=min_sample, clock=clock)
        flops = 2.0 * M * N * K
        gf = {n: flops / bu.stat(v, args.stat) / 1e9 for n, v in res.items()}
        peak = peak32 if dt == "float32" else peak32 / 2
        rows.append([f"{M}x{K}x{N}", dt, kind, bu.fmt(gf["dlcore"]), bu.fmt(gf["numpy"]),
                     bu.fmt(gf.get("torch")), bu.fmt(gf["dlcore"] / gf["numpy"], 2),
                     bu.fmt(gf["dlcore"] / gf["torch"], 2) if "torch" in gf else "-",
                     bu.fmt(100 * gf["dlcore"] / peak, 0)])
        print(" ".join(str(c) for c in rows[-1]), flush=True)
    table = bu.markdown_table(
        ["MxKxN", "dtype", "kind", "dlcore GF/s", "NumPy GF/s", "PyTorch GF/s", "dl/NumPy", "dl/PyTorch",
         "dl % peak"], rows)
    header = (f"threads={nt}, isa={C.isa()}, FMA peak f32 {peak32:.1f} GFLOP/s; {note}; "
              f"{args.stat} of {rounds} interleaved rounds, {'CPU' if args.cputime else 'wall'} time")
    print("\n" + header + "\n\n" + table)
    bu.write_out(args, header + "\n\n" + table)
    return 0
