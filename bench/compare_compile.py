#!/usr/bin/env python
"""Captured-and-replayed training steps (dlcore.compile) against the eager step and PyTorch's
eager step, on issue 18's workloads, in one run:

    python bench/compare.py compile [--threads 2] [--rounds 7] [--model mlp|cnn|lstm|all]
    python bench/compare.py compile --threads 1 --cpu-time --fit   (CPU time: robust to other load;
                                                                     + a Fashion-MNIST epoch through fit)
    python bench/compare_compile.py --profile mlp     (where an eager step's time goes)

Workloads (Adam 1e-3, cross-entropy, float32): MLP 784-256-128-10 ReLU + dropout 0.2, batch 128;
CNN conv3x3 1->32 + BN + ReLU + maxpool, conv3x3 32->64 + BN + ReLU + maxpool, dense 128 +
dropout 0.5, dense 10, batch 64; LSTM language model: embedding 65->128, LSTM 256, T=64, B=32,
linear to 65. Seeded random data of the right shapes (the time of a step does not depend on the
values). Every contender is timed in the same rounds in rotating order (benchutil.interleaved);
medians are printed with the ratios eager / replay and PyTorch / replay (above 1: replay faster).
Before timing, the script checks that replay and eager give bitwise-equal losses and weights.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchutil  # noqa: E402

def add_arguments(p):
    p.add_argument("--model", choices=("mlp", "cnn", "lstm", "all"), default="all")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per contender")
    p.add_argument("--profile", default="", help="cProfile one workload's eager step (mlp, cnn or lstm)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--fit", action="store_true",
                   help="also one Fashion-MNIST epoch of the MLP through fit, jit_compile False / True")
    p.add_argument("--cpu-time", action="store_true",
                   help="time CPU seconds of this process (use with --threads 1: robust to other load)")


def _parse(argv):
    return benchutil.standalone_parser(__doc__, add_arguments).parse_args(argv)


def _data(kind, n_batches=4, seed=0):
    import numpy as np
    r = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        if kind == "mlp":
            out.append((r.random((128, 784), dtype=np.float32), r.integers(0, 10, 128)))
        elif kind == "cnn":
            out.append((r.random((64, 1, 28, 28), dtype=np.float32), r.integers(0, 10, 64)))
        else:
            seq = r.integers(0, 65, (32, 65))
            out.append((seq[:, :-1].copy(), seq[:, 1:].copy()))
    return out


def _workload(fw, kind, seed=0):
    """(model, optimizer, step_fn(x, y) -> loss) for one workload in framework fw (dlcore or
    torch: the same names build the same model)."""
    nn = fw.nn
    fw.manual_seed(seed)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.ReLU(),
                              nn.Dropout(0.2), nn.Linear(128, 10))
    elif kind == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(128, 10))
    else:
        model = _LM(fw)
    opt = fw.optim.Adam(model.parameters(), lr=1e-3)
    ce = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = ce(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def _LM(fw):
    nn = fw.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(65, 128)
            self.lstm = nn.LSTM(128, 256, batch_first=True)
            self.head = nn.Linear(256, 65)

        def forward(self, x):
            h, _ = self.lstm(self.emb(x))
            return self.head(h)
    return LM()


def dl_workload(kind, seed=0):
    """(model, optimizer, step_fn(x, y) -> loss) for one workload in dlcore."""
    import dlcore
    return _workload(dlcore, kind, seed)


def torch_workload(kind):
    """The same workload in PyTorch."""
    import torch
    return _workload(torch, kind)


def check_bitwise(kind, steps=6):
    """Eager and replayed training from the same weights on the same batches: (losses equal,
    parameters equal)."""
    import dlcore
    data = _data(kind)
    runs = []
    for compiled in (False, True):
        model, opt, step = dl_workload(kind)
        fn = dlcore.compile(step) if compiled else step
        gen = dlcore.Generator(1)
        losses = []
        with dlcore.use_generator(gen):
            for i in range(steps):
                x, y = data[i % len(data)]
                losses.append(fn(dlcore.from_numpy(x), dlcore.from_numpy(y)).detach().numpy().tobytes())
        runs.append((losses, [p.detach().numpy().tobytes() for p in model.parameters()]))
    return runs[0][0] == runs[1][0], runs[0][1] == runs[1][1]


def profile(kind):
    import cProfile
    import pstats
    import dlcore
    _, _, step = dl_workload(kind)
    batches = [(dlcore.from_numpy(x), dlcore.from_numpy(y)) for x, y in _data(kind)]
    for x, y in batches:
        step(x, y)
    n = 40 if kind == "mlp" else 8
    pr = cProfile.Profile()
    pr.enable()
    for i in range(n):
        step(*batches[i % len(batches)])
    pr.disable()
    st = pstats.Stats(pr)
    total = st.total_tt
    builtin = sum(v[2] for k, v in st.stats.items() if k[0] == "~")  # C functions' own time
    print(f"{kind}: {1e3 * total / n:.2f} ms per step under cProfile; C functions (kernels, pybind11 calls) "
          f"{1e3 * builtin / n:.2f} ms, Python {1e3 * (total - builtin) / n:.2f} ms "
          f"({100 * (total - builtin) / total:.0f}%)")
    st.sort_stats("tottime").print_stats(12)


def times(kind, rounds, use_torch, clock):
    import dlcore
    data = _data(kind)
    batches = [(dlcore.from_numpy(x), dlcore.from_numpy(y)) for x, y in data]
    _, _, eager = dl_workload(kind)
    _, _, step = dl_workload(kind)
    replay = dlcore.compile(step)
    state = {"i": 0}

    def runner(fn, bs):
        def go():
            fn(*bs[state["i"] % len(bs)])
            state["i"] += 1
        return go
    contenders = {"dlcore eager": runner(eager, batches), "dlcore replay": runner(replay, batches)}
    torch = benchutil.try_torch() if use_torch else None
    if torch is not None:
        _, _, tstep = torch_workload(kind)
        tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
        contenders["PyTorch eager"] = runner(tstep, tb)
    min_sample = 0.05 if kind == "mlp" else 0.15
    res = benchutil.interleaved(contenders, rounds=rounds, min_sample=min_sample, clock=clock)
    return {k: benchutil.median(v) for k, v in res.items()}


def fit_epochs(rounds, clock):
    """Seconds per Fashion-MNIST epoch of the MLP (batch 128) through Keras-style fit, with and
    without jit_compile, alternating (random images when the data set is not installed)."""
    import numpy as np
    import dlcore
    L = dlcore.layers
    try:
        (x, y), _ = dlcore.datasets.fashion_mnist()
        x = (x.reshape(len(x), 784) / 255.0).astype(np.float32)
    except FileNotFoundError:
        r = np.random.default_rng(0)
        x, y = r.random((60000, 784), dtype=np.float32), r.integers(0, 10, 60000)
    models = {}
    for jit in (False, True):
        dlcore.manual_seed(0)
        m = dlcore.Sequential([L.Dense(256, activation="relu"), L.Dropout(0.2), L.Dense(128, activation="relu"),
                               L.Dropout(0.2), L.Dense(10)])
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
        models["fit jit_compile=True" if jit else "fit"] = m
    out = {k: [] for k in models}
    for r in range(rounds):
        for k in (list(models) if r % 2 == 0 else list(models)[::-1]):
            t0 = clock()
            models[k].fit(x, y, batch_size=128, epochs=1, verbose=0)
            out[k].append(clock() - t0)
    return {k: benchutil.median(v) for k, v in out.items()}


def main(argv=None):
    args = argv if isinstance(argv, argparse.Namespace) else _parse(argv)
    benchutil.setup_threads(args.threads)
    benchutil.apply_threads(args.threads)
    if args.profile:
        profile(args.profile)
        return 0
    kinds = ("mlp", "cnn", "lstm") if args.model == "all" else (args.model,)
    rounds = 3 if args.quick else (getattr(args, "repeat", 0) or args.rounds)
    import dlcore
    print(f"CPU: {dlcore.config()['cpu']} ({dlcore.config()['isa']}), {args.threads} threads; "
          f"{'CPU' if args.cpu_time else 'wall'} time, medians of {rounds} interleaved rounds "
          f"(a shared machine: expect noise)")
    rows = []
    for kind in kinds:
        same_loss, same_params = check_bitwise(kind)
        if not (same_loss and same_params):
            print(f"{kind}: replay is NOT bitwise equal to eager (losses {same_loss}, parameters {same_params})")
            return 1
        t = times(kind, rounds, not args.no_torch, time.process_time if args.cpu_time else time.perf_counter)
        tt = t.get("PyTorch eager")
        rows.append([kind, f"{1e3 * t['dlcore eager']:.3f}", f"{1e3 * t['dlcore replay']:.3f}",
                     f"{t['dlcore eager'] / t['dlcore replay']:.2f}x",
                     "-" if tt is None else f"{1e3 * tt:.3f}",
                     "-" if tt is None else f"{tt / t['dlcore replay']:.2f}x"])
    table = benchutil.markdown_table(["workload", "eager ms", "replay ms", "eager / replay", "PyTorch eager ms",
                                      "PyTorch / replay"], rows)
    print(table)
    benchutil.write_out(args, table)
    print("replay bitwise equal to eager (losses and weights over 6 steps): yes")
    if args.fit:
        f = fit_epochs(3 if args.quick else 5, time.process_time if args.cpu_time else time.perf_counter)
        print(f"Fashion-MNIST MLP epoch through fit (batch 128): {f['fit']:.3f} s eager, "
              f"{f['fit jit_compile=True']:.3f} s with jit_compile=True "
              f"({f['fit'] / f['fit jit_compile=True']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
