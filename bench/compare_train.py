#!/usr/bin/env python
"""Training side by side: the same model, the same initial weights (PyTorch's, copied into
dlcore), the same batches, in dlcore and in PyTorch, in one run.

    python bench/compare.py train [--threads 2] [--quick]
    python bench/compare_train.py [--threads 2] [--steps 20] [--model mlp|cnn|all]

1. Loss curves, float64: the first --steps training steps; prints both curves and the largest
   relative difference (they must agree to ~1e-10 when the same ops are used).
2. Time per training step, float32 (zero_grad + forward + loss + backward + optimizer step),
   interleaved rounds, medians: PyTorch, dlcore's plain loop, and dlcore's
   ``model.train_on_batch`` (the Keras-style API's overhead on top of the loop).
3. Peak RSS: each framework trains in its own fresh subprocess (on synthetic batches, so the
   data set is not counted; the torch process never imports dlcore); its VmHWM (peak RSS) is reported.

Models: MLP 784-256-128-10 (ReLU), and - when dlcore has Conv2d / BatchNorm2d / MaxPool2d -
the CNN of dlcore.examples.fashion_mnist (dropout left out so both frameworks compute the same
function). Optimizer Adam(1e-3) and cross-entropy when dlcore has them; otherwise SGD
(momentum 0.9) on mean squared error against one-hot targets, which uses foundation ops only
(the table says which). Data: the first Fashion-MNIST training images when installed, else
seeded random images.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from benchutil import GAP, standalone_parser, write_out

HERE = os.path.dirname(os.path.abspath(__file__))


def add_arguments(p):
    p.add_argument("--steps", type=int, default=20, help="steps compared in float64")
    p.add_argument("--model", choices=("mlp", "cnn", "all"), default="all")
    p.add_argument("--batch", type=int, default=0, help="batch size (default 128 MLP, 64 CNN)")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")


def _parse(argv):
    p = standalone_parser(__doc__, add_arguments)
    p.add_argument("--rss-child", default="", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---- models and data ---------------------------------------------------------------------------

def _have(dl, names):
    return all(getattr(dl.nn, n, None) is not None for n in names)


def _data(n, cnn, synthetic=False):
    import numpy as np
    try:
        if synthetic:
            raise FileNotFoundError
        import dlcore
        (x, y), _ = dlcore.datasets.fashion_mnist()
        x, y = x[:n].copy(), y[:n].copy()
        src = "Fashion-MNIST"
    except FileNotFoundError:
        r = np.random.default_rng(0)
        x = r.random((n, 1, 28, 28), dtype=np.float32)
        y = r.integers(0, 10, n)
        src = "random images"
    return (x if cnn else x.reshape(n, 784)), y.astype(np.int64), src


def _torch_model(kind):
    import torch.nn as tn
    if kind == "mlp":
        return tn.Sequential(tn.Linear(784, 256), tn.ReLU(), tn.Linear(256, 128), tn.ReLU(), tn.Linear(128, 10))
    return tn.Sequential(tn.Conv2d(1, 32, 3, padding=1), tn.BatchNorm2d(32), tn.ReLU(), tn.MaxPool2d(2),
                         tn.Conv2d(32, 64, 3, padding=1), tn.BatchNorm2d(64), tn.ReLU(), tn.MaxPool2d(2),
                         tn.Flatten(), tn.Linear(64 * 7 * 7, 128), tn.ReLU(), tn.Linear(128, 10))


def _dl_model(kind, dtype):
    import dlcore
    nn = dlcore.nn
    if kind == "mlp":
        m = dlcore.Sequential([nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)])
    else:
        m = dlcore.Sequential([nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10)])
    return m.to(dtype=dtype)


def _pair(kind, dtype):
    """(torch model, dlcore model with torch's initial weights)."""
    import torch
    torch.manual_seed(0)
    tm = _torch_model(kind).to(getattr(torch, dtype))
    dm = _dl_model(kind, dtype)
    dm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()
                        if not k.endswith("num_batches_tracked")}, strict=False)
    return tm, dm


def _setup(kind, dtype, tm, dm):
    """Loss and optimizer for both: Adam + cross-entropy when dlcore has them, else SGD + MSE."""
    import numpy as np
    import torch
    import dlcore
    full = getattr(dlcore.optim, "Adam", None) is not None and getattr(dlcore.nn, "CrossEntropyLoss", None) is not None
    if full:
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        dopt = dlcore.optim.Adam(dm.parameters(), lr=1e-3)
        tce = torch.nn.CrossEntropyLoss()
        dce = dlcore.nn.CrossEntropyLoss()
        tloss = lambda out, y, yh: tce(out, y)  # noqa: E731
        dloss = lambda out, y, yh: dce(out, y)  # noqa: E731
        what = "Adam(lr=1e-3) + cross-entropy"
    else:
        topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
        dopt = dlcore.optim.SGD(dm.parameters(), lr=0.05, momentum=0.9)
        tloss = lambda out, y, yh: ((out - yh) ** 2).mean()  # noqa: E731
        dloss = lambda out, y, yh: ((out - yh) ** 2).mean()  # noqa: E731
        what = "SGD(0.05, momentum 0.9) + MSE on one-hot (dlcore lacks Adam / CrossEntropyLoss here)"
    onehot = lambda y: np.eye(10, dtype=dtype)[y]  # noqa: E731
    return topt, dopt, tloss, dloss, onehot, what


def _batches(x, y, bs, steps):
    n = x.shape[0]
    out = []
    for i in range(steps):
        s = (i * bs) % (n - bs + 1)
        out.append((x[s:s + bs], y[s:s + bs]))
    return out


# ---- 1. loss curves ----------------------------------------------------------------------------

def loss_curves(kind, steps, bs):
    import numpy as np
    import torch
    import dlcore
    x, y, src = _data(max(steps * bs, bs), kind == "cnn")
    x = x.astype(np.float64)
    tm, dm = _pair(kind, "float64")
    topt, dopt, tloss, dloss, onehot, what = _setup(kind, "float64", tm, dm)
    tl, dlv = [], []
    for xb, yb in _batches(x, y, bs, steps):
        topt.zero_grad()
        l_t = tloss(tm(torch.from_numpy(xb)), torch.from_numpy(yb), torch.from_numpy(onehot(yb)))
        l_t.backward()
        topt.step()
        tl.append(l_t.item())
        dopt.zero_grad()
        l_d = dloss(dm(dlcore.from_numpy(xb)), dlcore.from_numpy(yb), dlcore.from_numpy(onehot(yb)))
        l_d.backward()
        dopt.step()
        dlv.append(l_d.item())
    rel = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(dlv, tl))
    return tl, dlv, rel, what, src


# ---- 2. time per step --------------------------------------------------------------------------

def step_times(kind, bs, rounds, threads):
    import torch
    import dlcore
    x, y, _ = _data(bs * 8, kind == "cnn")
    tm, dm = _pair(kind, "float32")
    topt, dopt, tloss, dloss, onehot, _ = _setup(kind, "float32", tm, dm)
    batches = _batches(x, y, bs, 8)
    tb = [(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(onehot(b))) for a, b in batches]
    db = [(dlcore.from_numpy(a), dlcore.from_numpy(b), dlcore.from_numpy(onehot(b))) for a, b in batches]
    state = {"i": 0}

    def t_step():
        xb, yb, yh = tb[state["i"] % 8]
        topt.zero_grad()
        tloss(tm(xb), yb, yh).backward()
        topt.step()
        state["i"] += 1

    def d_step():
        xb, yb, yh = db[state["i"] % 8]
        dopt.zero_grad()
        dloss(dm(xb), yb, yh).backward()
        dopt.step()
        state["i"] += 1

    km = dlcore.Sequential(list(_dl_model(kind, "float32")))
    km.load_state_dict(dm.state_dict())
    full = "Adam" in type(dopt).__name__
    if full:
        km.compile(optimizer=lambda p: dlcore.optim.Adam(p, lr=1e-3), loss=dlcore.nn.CrossEntropyLoss())
    else:
        km.compile(optimizer=lambda p: dlcore.optim.SGD(p, lr=0.05, momentum=0.9), loss="mse")

    def k_step():
        a, b = batches[state["i"] % 8]
        km.train_on_batch(a, b if full else onehot(b))
        state["i"] += 1

    fns = {"PyTorch": t_step, "dlcore loop": d_step, "dlcore train_on_batch": k_step}
    per_call = {k: [] for k in fns}
    for f in fns.values():  # warm-up
        f()
        f()
    calls = 3 if kind == "cnn" else 20
    for r in range(rounds):
        names = list(fns)
        names = names[r % 3:] + names[:r % 3]
        for k in names:
            time.sleep(GAP)
            t0 = time.perf_counter()
            for _ in range(calls):
                fns[k]()
            per_call[k].append((time.perf_counter() - t0) / calls)
    return {k: statistics.median(v) for k, v in per_call.items()}


# ---- 3. peak RSS -------------------------------------------------------------------------------

def rss_child(spec):
    framework, kind, bs, threads = spec.split(":")
    bs, threads = int(bs), int(threads)
    import resource
    import numpy as np
    x, y, _ = _data(bs * 4, kind == "cnn", synthetic=True)  # the framework's memory, not the data set's
    steps = 10 if kind == "cnn" else 30
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        m = _torch_model(kind)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        for i in range(steps):
            a = torch.from_numpy(x[(i % 4) * bs:(i % 4 + 1) * bs])
            b = torch.from_numpy(y[(i % 4) * bs:(i % 4 + 1) * bs])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(a), b).backward()
            opt.step()
    else:
        import dlcore
        import dlcore.optim  # noqa: F401
        dlcore.set_num_threads(threads)
        m = _dl_model(kind, "float32")
        if getattr(dlcore.optim, "Adam", None) is not None and getattr(dlcore.nn, "CrossEntropyLoss", None) is not None:
            opt, ce = dlcore.optim.Adam(m.parameters(), lr=1e-3), dlcore.nn.CrossEntropyLoss()
            lossf = lambda out, b: ce(out, b)  # noqa: E731
        else:
            opt = dlcore.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
            lossf = lambda out, b: ((out - dlcore.from_numpy(np.eye(10, dtype="float32")[b._data])) ** 2).mean()  # noqa: E731
        for i in range(steps):
            a = dlcore.from_numpy(x[(i % 4) * bs:(i % 4 + 1) * bs])
            b = dlcore.from_numpy(y[(i % 4) * bs:(i % 4 + 1) * bs])
            opt.zero_grad()
            lossf(m(a), b).backward()
            opt.step()
    # VmHWM (peak resident set of this address space); ru_maxrss would include the parent's
    # peak, because Linux carries it across fork + exec
    try:
        with open("/proc/self/status") as f:
            hwm = [ln for ln in f if ln.startswith("VmHWM:")][0].split()[1]
        print(int(hwm) / 1024.0)
    except (OSError, IndexError):
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def peak_rss(framework, kind, bs, threads):
    import dlcore  # the child imports the dlcore this process runs: installed, or the source tree
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(dlcore.__file__))) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child",
                        f"{framework}:{kind}:{bs}:{threads}"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return f"failed ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})"
    return f"{float(r.stdout.strip().splitlines()[-1]):.0f} MiB"


# ---- main --------------------------------------------------------------------------------------

def main(argv=None):
    args = argv if isinstance(argv, argparse.Namespace) else _parse(argv)
    if getattr(args, "rss_child", ""):
        rss_child(args.rss_child)
        return 0
    threads = args.threads or 2
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "DLCORE_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    try:
        import torch
    except ImportError:
        print("compare train: PyTorch is not installed; nothing to compare against. Install its CPU "
              "wheel: python -m pip install torch==2.13.0+cpu --extra-index-url "
              "https://download.pytorch.org/whl/cpu", file=sys.stderr)
        return 1
    import dlcore
    import dlcore.optim  # noqa: F401
    torch.set_num_threads(threads)
    dlcore.set_num_threads(threads)
    kinds = ["mlp", "cnn"] if args.model == "all" else [args.model]
    lines = [f"# dlcore vs PyTorch {torch.__version__}: training ({threads} threads, dlcore ISA "
             f"{dlcore.config()['isa']})", ""]
    for kind in kinds:
        if kind == "cnn" and not _have(dlcore, ("Conv2d", "BatchNorm2d", "MaxPool2d")):
            lines += ["## cnn: skipped (this dlcore has no nn.Conv2d / BatchNorm2d / MaxPool2d yet)", ""]
            continue
        bs = args.batch or (64 if kind == "cnn" else 128)
        steps = min(args.steps, 5) if args.quick else args.steps
        tl, dl, rel, what, src = loss_curves(kind, steps, bs)
        lines += [f"## {kind}, batch {bs}, {what}, data: {src}", "",
                  f"Loss curves over {steps} steps, float64 (max relative difference {rel:.2e}):", "",
                  "| step | PyTorch | dlcore |", "|---:|---:|---:|"]
        lines += [f"| {i + 1} | {a:.12f} | {b:.12f} |" for i, (a, b) in enumerate(zip(tl, dl))]
        rounds = args.repeat or (3 if args.quick else 7)
        t = step_times(kind, bs, rounds, threads)
        ref = t["PyTorch"]
        lines += ["", f"Time per training step, float32 (median of {rounds} interleaved rounds):", "",
                  "| contender | ms / step | PyTorch / contender |", "|---|---:|---:|"]
        lines += [f"| {k} | {v * 1e3:.2f} | {ref / v:.2f}x |" for k, v in t.items()]
        if not args.no_rss:
            lines += ["", "Peak RSS of a fresh process training this model (VmHWM):", "",
                      "| framework | peak RSS |", "|---|---:|",
                      f"| PyTorch | {peak_rss('torch', kind, bs, threads)} |",
                      f"| dlcore | {peak_rss('dlcore', kind, bs, threads)} |"]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    write_out(args, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
