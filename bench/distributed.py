#!/usr/bin/env python
"""Measurements behind docs/distributed.md (data parallelism over MPI). Not a timed test.

    python bench/distributed.py scaling [--limit N] [--repeat 2]   # Fashion-MNIST CNN epoch:
                                  # 1 process x 2 threads vs mpirun -np 2 x 1 thread, allreduce share
    python bench/distributed.py allreduce                          # allreduce time vs size, 2 ranks
    python bench/distributed.py step [--model cnn|resnet]          # per-process step time, 1 thread
    python bench/distributed.py model --step-ms CNN_MS RESNET_MS   # ring-allreduce model, 8..512 ranks

The ring model: an allreduce of n bytes over p processes costs 2(p-1) latency terms and moves
2(p-1)/p * n bytes in and out of every process; with the gradients in k buckets the latency
term is paid per bucket. Communication dominates once it outlasts the backward pass it hides
behind (about 2/3 of a step).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(1, os.path.join(ROOT, "python"))  # a development build (pip install . works too)


def _mpirun(n, args, env=None):
    cmd = [shutil.which("mpirun"), "-np", str(n), "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    e = dict(os.environ, **(env or {}))
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "python")] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    return subprocess.run(cmd + [sys.executable, os.path.abspath(__file__)] + args, env=e,
                          capture_output=True, text=True)


def _single(args, threads, env=None):
    e = dict(os.environ, **(env or {}), DLCORE_NUM_THREADS=str(threads))
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "python")] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, os.path.abspath(__file__)] + args, env=e, capture_output=True, text=True)


def _result(r):
    if r.returncode:
        sys.exit(f"run failed:\n{r.stdout}\n{r.stderr}")
    return json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])


# ---- workers (run inside the measured processes) ------------------------------------------------

def _grad_allreduce_ms(w, nbytes, reps=20):
    """Median time of an allreduce of nbytes (float32) through dlcore's communication thread,
    all ranks starting together (barrier)."""
    from dlcore import _C
    buf = _C.full((max(nbytes // 4, 1),), 1.0, _C.float32)
    times = []
    for _ in range(reps):
        w.barrier()
        t = time.perf_counter()
        w.allreduce_(buf)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def worker_epoch(a):
    import dlcore
    import dlcore.distributed as dist
    from dlcore.examples.fashion_mnist import build_cnn
    dist_on = a.procs > 1
    w = dist.init() if dist_on else None
    (xtr, ytr), _ = dlcore.datasets.fashion_mnist(None)
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    dlcore.manual_seed(0)
    model = build_cnn()
    model.build((1, 28, 28))
    model.compile(optimizer=dlcore.optim.Adam(model.parameters(), lr=1e-3),
                  loss=dlcore.nn.CrossEntropyLoss(), metrics=["accuracy"])
    strategy = dist.DataParallel() if dist_on else False
    model.fit(xtr[:512], ytr[:512], batch_size=64, epochs=1, verbose=0, distributed=strategy)  # warm-up
    times = []
    timer = dlcore.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: times.append(-time.perf_counter()),
        on_epoch_end=lambda e, logs: times.__setitem__(-1, times[-1] + time.perf_counter()))
    if dist_on:
        strategy = dist.DataParallel(overlap=not a.no_overlap)
    model.fit(xtr, ytr, batch_size=64, epochs=1, verbose=0, callbacks=[timer], distributed=strategy)
    out = {"procs": a.procs, "threads": dlcore.get_num_threads(), "epoch_s": times[0],
           "steps": -(-len(xtr) // 64)}
    if dist_on:
        st = strategy.reducer.stats
        nbytes = sum(b.nbytes for b in strategy.reducer.buckets)
        out.update(steps=st["steps"], comm_ms=1e3 * st["comm_s"] / st["steps"], wait_ms=1e3 * st["wait_s"] / st["steps"],
                   exposed_ms=1e3 * st["exposed_s"] / st["steps"], copy_ms=1e3 * st["copy_s"] / st["steps"],
                   grad_mb=nbytes / 2 ** 20, buckets=[round(b.nbytes / 2 ** 20, 3) for b in strategy.reducer.buckets],
                   isolated_allreduce_ms=_grad_allreduce_ms(w, nbytes))
    if w is None or w.rank == 0:
        print(json.dumps(out), flush=True)


def worker_allreduce(a):
    import dlcore.distributed as dist
    w = dist.init()
    rows = [(n, _grad_allreduce_ms(w, n, reps=30 if n < 2 ** 24 else 8))
            for n in [2 ** k for k in range(12, 27, 2)]]
    if w.rank == 0:
        print(json.dumps({"rows": rows}), flush=True)


def _resnet18():
    """CIFAR-style ResNet-18 (11.2 M parameters) for 1 x 28 x 28 inputs."""
    from dlcore import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x):
            y = self.b1(self.c1(x)).relu()
            return (self.b2(self.c2(y)) + self.short(x)).relu()

    layers = [nn.Conv2d(1, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))


def worker_step(a):
    import dlcore
    from dlcore.examples.fashion_mnist import build_cnn
    dlcore.manual_seed(0)
    model = build_cnn() if a.model == "cnn" else _resnet18()
    opt = dlcore.optim.Adam(model.parameters(), lr=1e-3)
    x, y = dlcore.randn(a.batch, 1, 28, 28), dlcore.randint(0, 10, (a.batch,))
    times = []
    for i in range(a.steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        dlcore.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t)
    n = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": a.model, "batch": a.batch, "threads": dlcore.get_num_threads(), "params": n,
                      "grad_mb": 4 * n / 2 ** 20, "step_ms": [round(1e3 * t, 1) for t in times[1:]]}), flush=True)


# ---- drivers ------------------------------------------------------------------------------------

def _busy():
    """CPU-bound processes of others right now (the measurement's neighbours), from ps."""
    r = subprocess.run(["ps", "-eo", "pcpu=,comm="], capture_output=True, text=True)
    return [ln.split(None, 1)[1] for ln in r.stdout.splitlines() if ln.split() and float(ln.split()[0]) > 20.0]


def scaling(a):
    lim = ["--limit", str(a.limit)] if a.limit else []
    runs = []
    for rep in range(a.repeat):
        load = os.getloadavg()[0]
        one = _result(_single(["_epoch", "--procs", "1"] + lim, 2))
        one1 = _result(_single(["_epoch", "--procs", "1"] + lim, 1))
        print(f"run {rep + 1} (load {load:.2f}, busy: {_busy()}): 1 process x 2 threads {one['epoch_s']:.1f} s/epoch "
              f"(step {1e3 * one['epoch_s'] / one['steps']:.1f} ms); 1 process x 1 thread {one1['epoch_s']:.1f} s",
              flush=True)
        for overlap in (True, False):
            two = _result(_mpirun(2, ["_epoch", "--procs", "2"] + lim + ([] if overlap else ["--no-overlap"])))
            print(f"run {rep + 1}: 2 processes x {two['threads']} thread, overlap={overlap}: "
                  f"{two['epoch_s']:.1f} s/epoch (speed-up {one['epoch_s'] / two['epoch_s']:.2f} over 1 x 2 threads, "
                  f"{one1['epoch_s'] / two['epoch_s']:.2f} over 1 x 1 thread), "
                  f"step {1e3 * two['epoch_s'] / two['steps']:.1f} ms; per step: allreduce "
                  f"{two['comm_ms']:.2f} ms after waiting {two['wait_ms']:.2f} ms for the peer, exposed at "
                  f"the end of backward {two['exposed_ms']:.2f} ms, pack/unpack {two['copy_ms']:.2f} ms; "
                  f"allreduce of the {two['grad_mb']:.2f} MB of gradients alone {two['isolated_allreduce_ms']:.2f} ms; "
                  f"buckets {two['buckets']} MB", flush=True)
            runs.append({"one": one, "one1": one1, "two": two, "overlap": overlap, "load": load})
    print(json.dumps(runs))


def allreduce(a):
    rows = _result(_mpirun(2, ["_allreduce"]))["rows"]
    print("bytes        ms      GB/s (algorithm bandwidth n / t)")
    for n, ms in rows:
        print(f"{n:>10} {ms:9.3f} {n / ms / 1e6:9.2f}")
    # least squares t = a + b n over bucket-sized messages (up to 16 MB)
    xs, ys = [n for n, _ in rows if n <= 2 ** 24], [ms / 1e3 for n, ms in rows if n <= 2 ** 24]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    print(f"fit: t = {1e6 * (my - b * mx):.1f} us + n / {1 / b / 1e9:.2f} GB/s; the smallest message "
          f"({rows[0][0]} B) takes {1e3 * rows[0][1]:.0f} us (the per-message latency for `model --alpha-us`)")


def step(a):
    print(json.dumps(_result(_single(["_step", "--model", a.model, "--batch", str(a.batch), "--steps",
                                      str(a.steps)], a.threads))))


LINKS = {  # per-message latency (s), bandwidth (bytes/s): assumed, typical figures
    "10 GbE (TCP)": (30e-6, 1.25e9),
    "100 Gb/s InfiniBand": (2e-6, 12.5e9),
}


def _buckets(name):
    """MB of each gradient bucket of the model (the reducer's default 1 MB / 4 MB caps)."""
    import dlcore.distributed as dist
    from dlcore.examples.fashion_mnist import build_cnn
    m = build_cnn() if name == "cnn" else _resnet18()
    return [b.nbytes / 2 ** 20 for b in dist.GradientReducer(m.parameters()).buckets]


def ring_ms(p, mb, alpha, bw):
    """Ring allreduce of mb MB over p processes: 2(p-1) steps of latency alpha, 2(p-1)/p of the
    data through every process's link of bandwidth bw."""
    return 1e3 * (2 * (p - 1) * alpha + 2 * (p - 1) / p * mb * 2 ** 20 / bw)


def model(a):
    step_ms = {"cnn": a.step_ms[0], "resnet18": a.step_ms[1]}
    links = {"this host, shared memory (measured)": (a.alpha_us * 1e-6, a.gbps * 1e9), **LINKS}
    print("| link | model (buckets) | p | allreduce ms | step ms | comm / backward | exposed ms | efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for link, (alpha, bw) in links.items():
        for m in ("cnn", "resnet18"):
            buckets = _buckets("cnn" if m == "cnn" else "resnet")
            for p in (8, 64, 512):
                ts = [ring_ms(p, mb, alpha, bw) for mb in buckets]
                t, bwd = sum(ts), step_ms[m] * 2 / 3
                # buckets reduce while backward runs; the last one can start only at its end
                exposed = max(t - ts[-1] - bwd, 0.0) + ts[-1]
                eff = step_ms[m] / (step_ms[m] + exposed)
                print(f"| {link} | {m} ({len(buckets)}) | {p} | {t:.1f} | {step_ms[m]:.0f} | {t / bwd:.2f} | "
                      f"{exposed:.1f} | {eff:.2f} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scaling")
    s.add_argument("--limit", type=int, default=None, help="training images (default: all 60,000)")
    s.add_argument("--repeat", type=int, default=2)
    sub.add_parser("allreduce")
    s = sub.add_parser("step")
    s.add_argument("--model", choices=("cnn", "resnet"), default="cnn")
    s.add_argument("--batch", type=int, default=32)
    s.add_argument("--steps", type=int, default=5)
    s.add_argument("--threads", type=int, default=1)
    s = sub.add_parser("model")
    s.add_argument("--step-ms", type=float, nargs=2, required=True, metavar=("CNN", "RESNET18"),
                   help="measured per-process step times (ms)")
    s.add_argument("--alpha-us", type=float, default=20.0, help="measured allreduce latency on this host")
    s.add_argument("--gbps", type=float, default=5.0, help="measured allreduce bandwidth on this host (GB/s)")
    for name in ("_epoch", "_allreduce", "_step"):
        s = sub.add_parser(name)
        s.add_argument("--procs", type=int, default=1)
        s.add_argument("--limit", type=int, default=None)
        s.add_argument("--model", default="cnn")
        s.add_argument("--batch", type=int, default=32)
        s.add_argument("--steps", type=int, default=5)
        s.add_argument("--no-overlap", action="store_true")
    a = p.parse_args(argv)
    {"scaling": scaling, "allreduce": allreduce, "step": step, "model": model, "_epoch": worker_epoch,
     "_allreduce": worker_allreduce, "_step": worker_step}[a.cmd](a)


if __name__ == "__main__":
    main()
