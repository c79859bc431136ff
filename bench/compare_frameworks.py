#!/usr/bin/env python
"""dlcore against the frameworks a user weighing speed would try instead: PyTorch eager,
torch.compile, JAX jit and Keras 3 on JAX: time per training step and peak memory, one process
per framework, measured in alternating rounds, medians (a benchmark, not a test).

    python bench/compare.py frameworks [--threads 2] [--quick] [--workloads mlp,cnn,lstm,epoch]
    python bench/compare.py frameworks --quick --frameworks dlcore   # smoke run, dlcore only

Workloads (the same shapes and hyperparameters everywhere, Adam(lr=1e-3), cross-entropy; each
step = zero the gradients + forward + loss + backward + optimizer step, dropout active):
  mlp    MLP 784-256-128-10, ReLU, dropout 0.2 after each hidden layer, batch 128
  cnn    [conv3x3 1->32 + BN + ReLU + maxpool2] - [conv3x3 32->64 + BN + ReLU + maxpool2] -
         dense 128 + ReLU + dropout 0.5 - dense 10, batch 64, 28x28 images
  lstm   language model: embedding 65->128, LSTM 256, T=64, B=32, linear to 65
  epoch  one Fashion-MNIST epoch (60000 images, shuffled) of the mlp at batch 128: dlcore's
         Keras-style `fit`, a PyTorch DataLoader loop, a jitted JAX loop, Keras 3 `fit` on JAX
The step workloads train on 8 fixed random batches (seeded), so no data pipeline is timed; the
epoch workload includes each framework's own batching and shuffling.

Contenders, each in its own subprocess (it never imports another framework):
  dlcore         the PyTorch-style loop on dlcore.nn / dlcore.optim (fit for `epoch`)
  dlcore.compile the same step under dlcore.compile (recorded once, replayed: docs/compile.md;
                 fit(jit_compile=True) for `epoch`): the counterpart of JAX's jit
  torch          PyTorch eager, default Adam
  torch.compile  torch.compile(model) plus a compiled optimizer step (PyTorch's recipe);
                 inductor needs a C++ compiler: a failure is reported as the row's result
  jax            plain jax.numpy models, jax.grad, a hand-written Adam (PyTorch's update rule),
                 the whole step under one jax.jit with the state donated; NHWC convolutions
  keras-jax      Keras 3 `fit` on the JAX backend (epoch only)
A framework that is not installed is skipped. Threads: every process is pinned (affinity, like
taskset) to the first --threads CPUs, and OMP/MKL/OpenBLAS/dlcore/torch thread counts are set to
--threads (XLA has no thread-count flag: the affinity mask bounds it).

Timing: every worker builds its model and warms up alone (the first step's time, which holds
any tracing / compilation, is reported separately as "first step"), then waits idle. Each
round asks every worker in turn (order rotated per round) to time one block of back-to-back
steps (at least --min-block seconds; JAX blocks until its results are ready); a worker lets
its threads go quiet before it answers, so it does not slow the next one. Medians over the
rounds; ratio = peer time / dlcore time (above 1: dlcore is faster). Peak RSS is the worker's
VmHWM at the end (for `epoch` it includes the 188 MB float32 data set each process holds).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import benchutil as bu

WORKLOADS = ("mlp", "cnn", "lstm", "epoch")
FRAMEWORKS = ("dlcore", "dlcore.compile", "torch", "torch.compile", "jax", "keras-jax")
# what each contender runs (epoch: torch.compile is not part of it; Keras only fits)
RUNS = {"mlp": FRAMEWORKS[:5], "cnn": FRAMEWORKS[:5], "lstm": FRAMEWORKS[:5],
        "epoch": ("dlcore", "dlcore.compile", "torch", "jax", "keras-jax")}
MODULES = {"dlcore": "dlcore", "dlcore.compile": "dlcore", "torch": "torch", "torch.compile": "torch", "jax": "jax",
           "keras-jax": "keras"}
LABELS = {"mlp": "MLP b128", "cnn": "CNN b64", "lstm": "LSTM LM b32 x T64",
          "epoch": "Fashion-MNIST MLP epoch"}
BATCH = {"mlp": 128, "cnn": 64, "lstm": 32, "epoch": 128}
VOCAB, EMB, HID, T = 65, 128, 256, 64


def add_arguments(p):
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated: " + ", ".join(FRAMEWORKS))
    p.add_argument("--min-block", type=float, default=0.0,
                   help="seconds per timed block of steps (default 0.5, --quick 0.2)")
    p.add_argument("--epoch-limit", type=int, default=0,
                   help="train the epoch workload on the first N images only (0 = all 60000)")
    p.add_argument("--omp-wait-policy", choices=("default", "passive"), default="default",
                   help="OMP_WAIT_POLICY of every worker: PyTorch's libgomp threads spin at barriers, and "
                        "when other processes load the cores a descheduled spinner stalls the step "
                        "(here the MLP's 2-thread step: 9-10 ms passive, 150-280 ms default); passive lets "
                        "them sleep instead")
    p.add_argument("--worker", default="", help=argparse.SUPPRESS)


def _parse(argv):
    return bu.standalone_parser(__doc__, add_arguments).parse_args(argv)


# ---- data (NumPy, the same in every worker) ----------------------------------------------------

def _batches(kind, n=8, seed=0):
    """n fixed random batches (x, y) for a step workload."""
    import numpy as np
    r = np.random.default_rng(seed)
    bs = BATCH[kind]
    out = []
    for _ in range(n):
        if kind == "mlp":
            x, y = r.random((bs, 784), dtype=np.float32), r.integers(0, 10, bs)
        elif kind == "cnn":
            x, y = r.random((bs, 1, 28, 28), dtype=np.float32), r.integers(0, 10, bs)
        else:
            seq = r.integers(0, VOCAB, (bs, T + 1))
            x, y = seq[:, :-1], seq[:, 1:]
        out.append((np.ascontiguousarray(x), np.ascontiguousarray(y).astype(np.int64)))
    return out


# ---- PyTorch-style models: dlcore.nn and torch.nn take the same code ---------------------------

def _torchlike_model(nn, kind):
    if kind in ("mlp", "epoch"):
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(128, 10))

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, EMB)
            self.lstm = nn.LSTM(EMB, HID, batch_first=True)
            self.out = nn.Linear(HID, VOCAB)

        def forward(self, x):
            h, _ = self.lstm(self.emb(x))
            return self.out(h).reshape(-1, VOCAB)
    return CharLM()


def _torchlike_step(lib, kind, compiled=False):
    """(step function over batch index, module) for dlcore or torch."""
    model = _torchlike_model(lib.nn, kind)
    model.train()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    ce = lib.nn.functional.cross_entropy
    fwd, ostep = model, None  # opt.step looked up at each call: dlcore.compile sees it run
    if compiled and lib.__name__ == "torch":
        fwd = lib.compile(model)
        ostep = lib.compile(opt.step)
    conv = lib.from_numpy
    data = [(conv(x), conv(y).reshape(-1)) for x, y in _batches(kind)]
    state = [0]

    def body(x, y):
        opt.zero_grad()
        loss = ce(fwd(x), y)
        loss.backward()
        (ostep or opt.step)()
        return loss
    if compiled and lib.__name__ == "dlcore":  # dlcore.compile takes the whole step
        body = lib.compile(body, strict=True)

    def step():
        x, y = data[state[0] % len(data)]
        state[0] += 1
        body(x, y)
    return step


def _epoch_data(path, limit):
    import numpy as np
    d = np.load(path)
    x, y = d["x"], d["y"]
    return (x[:limit], y[:limit]) if limit else (x, y)


def _dlcore_epoch(path, limit, jit=False):
    import dlcore
    x, y = _epoch_data(path, limit)
    model = _torchlike_model(dlcore.nn, "epoch")
    model = dlcore.Sequential(list(model))
    model.compile(optimizer=dlcore.optim.Adam(model.parameters(), lr=1e-3), loss=dlcore.nn.CrossEntropyLoss(),
                  jit_compile=jit)
    return lambda: model.fit(x, y, batch_size=BATCH["epoch"], epochs=1, shuffle=True, verbose=0)


def _torch_epoch(path, limit):
    import torch
    x, y = _epoch_data(path, limit)
    model = _torchlike_model(torch.nn, "epoch")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=BATCH["epoch"], shuffle=True)

    def epoch():
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return epoch


def _keras_epoch(path, limit):
    import keras
    x, y = _epoch_data(path, limit)
    L = keras.layers
    model = keras.Sequential([keras.Input((784,)), L.Dense(256, activation="relu"), L.Dropout(0.2),
                              L.Dense(128, activation="relu"), L.Dropout(0.2), L.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.fit(x, y, batch_size=BATCH["epoch"], epochs=1, shuffle=True, verbose=0)


# ---- JAX: plain jax.numpy, jax.grad, a hand Adam, one jit per step -----------------------------

def _jax_parts(kind):
    """(init(key) -> (params, buffers), loss(params, buffers, x, y, key) -> (loss, new buffers))."""
    import jax
    import jax.numpy as jnp

    def dense(key, fin, fout):
        kw, kb = jax.random.split(key)
        bound = 1.0 / fin ** 0.5
        return {"w": jax.random.uniform(kw, (fin, fout), jnp.float32, -bound, bound),
                "b": jax.random.uniform(kb, (fout,), jnp.float32, -bound, bound)}

    def dropout(x, rate, key):
        keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
        return jnp.where(keep, x / (1.0 - rate), 0.0)

    def xent(logits, y):
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    if kind in ("mlp", "epoch"):
        def init(key):
            k = jax.random.split(key, 3)
            return {"l1": dense(k[0], 784, 256), "l2": dense(k[1], 256, 128), "l3": dense(k[2], 128, 10)}, {}

        def loss(p, buf, x, y, key):
            k1, k2 = jax.random.split(key)
            h = dropout(jax.nn.relu(x @ p["l1"]["w"] + p["l1"]["b"]), 0.2, k1)
            h = dropout(jax.nn.relu(h @ p["l2"]["w"] + p["l2"]["b"]), 0.2, k2)
            return xent(h @ p["l3"]["w"] + p["l3"]["b"], y), buf
        return init, loss

    if kind == "cnn":
        def conv_init(key, cin, cout):
            kw, kb = jax.random.split(key)
            bound = 1.0 / (cin * 9) ** 0.5
            return {"w": jax.random.uniform(kw, (3, 3, cin, cout), jnp.float32, -bound, bound),
                    "b": jax.random.uniform(kb, (cout,), jnp.float32, -bound, bound),
                    "g": jnp.ones((cout,)), "beta": jnp.zeros((cout,))}

        def init(key):
            k = jax.random.split(key, 4)
            p = {"c1": conv_init(k[0], 1, 32), "c2": conv_init(k[1], 32, 64),
                 "d1": dense(k[2], 64 * 7 * 7, 128), "d2": dense(k[3], 128, 10)}
            buf = {f"c{i}": {"mean": jnp.zeros((c,)), "var": jnp.ones((c,))} for i, c in ((1, 32), (2, 64))}
            return p, buf

        def block(x, p, b):
            x = jax.lax.conv_general_dilated(x, p["w"], (1, 1), "SAME",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]
            mean = jnp.mean(x, axis=(0, 1, 2))
            var = jnp.var(x, axis=(0, 1, 2))
            n = x.shape[0] * x.shape[1] * x.shape[2]
            x = (x - mean) * jax.lax.rsqrt(var + 1e-5) * p["g"] + p["beta"]
            new = {"mean": 0.9 * b["mean"] + 0.1 * mean, "var": 0.9 * b["var"] + 0.1 * var * (n / (n - 1))}
            x = jax.nn.relu(x)
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
            return x, new

        def loss(p, buf, x, y, key):
            x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW batches in, NHWC inside (XLA's CPU layout)
            x, b1 = block(x, p["c1"], buf["c1"])
            x, b2 = block(x, p["c2"], buf["c2"])
            x = x.reshape(x.shape[0], -1)
            x = dropout(jax.nn.relu(x @ p["d1"]["w"] + p["d1"]["b"]), 0.5, key)
            return xent(x @ p["d2"]["w"] + p["d2"]["b"], y), {"c1": b1, "c2": b2}
        return init, loss

    def init(key):
        k = jax.random.split(key, 6)
        bound = 1.0 / HID ** 0.5
        u = lambda kk, shape: jax.random.uniform(kk, shape, jnp.float32, -bound, bound)  # noqa: E731
        return {"emb": jax.random.normal(k[0], (VOCAB, EMB)), "w_ih": u(k[1], (EMB, 4 * HID)),
                "w_hh": u(k[2], (HID, 4 * HID)), "b": u(k[3], (4 * HID,)) + u(k[4], (4 * HID,)),
                "out": dense(k[5], HID, VOCAB)}, {}

    def loss(p, buf, x, y, key):
        xp = p["emb"][x] @ p["w_ih"] + p["b"]  # (B, T, 4H): input projections of all steps at once
        h0 = jnp.zeros((x.shape[0], HID))

        def cell(carry, xt):
            h, c = carry
            i, f, g, o = jnp.split(xt + h @ p["w_hh"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h
        _, hs = jax.lax.scan(cell, (h0, h0), jnp.swapaxes(xp, 0, 1))
        hs = jnp.swapaxes(hs, 0, 1).reshape(-1, HID)
        return xent(hs @ p["out"]["w"] + p["out"]["b"], y.reshape(-1)), buf
    return init, loss


def _jax_trainer(kind):
    """(state, jitted step(state, x, y) -> (state, loss)); Adam as torch.optim.Adam computes it."""
    import jax
    import jax.numpy as jnp
    init, loss = _jax_parts(kind)
    params, buf = init(jax.random.PRNGKey(0))
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731 - m and v: two buffers (donated)
    state = {"p": params, "buf": buf, "m": zeros(), "v": zeros(), "t": jnp.zeros((), jnp.int32),
             "key": jax.random.PRNGKey(1)}
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    def step(s, x, y):
        key, sub = jax.random.split(s["key"])
        (lv, buf), g = jax.value_and_grad(loss, has_aux=True)(s["p"], s["buf"], x, y, sub)
        t = s["t"] + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, s["m"], g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, s["v"], g)
        c1 = 1 - b1 ** t.astype(jnp.float32)
        c2 = 1 - b2 ** t.astype(jnp.float32)
        p = jax.tree_util.tree_map(lambda p_, m_, v_: p_ - lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps),
                                   s["p"], m, v)
        return {"p": p, "buf": buf, "m": m, "v": v, "t": t, "key": key}, lv
    return state, jax.jit(step, donate_argnums=(0,))


def _jax_step(kind):
    import jax
    state, step = _jax_trainer(kind)
    data = [(jax.device_put(x), jax.device_put(y)) for x, y in _batches(kind)]
    box = [state, 0]

    def run():
        x, y = data[box[1] % len(data)]
        box[1] += 1
        box[0], _ = step(box[0], x, y)
    return run, lambda: jax.block_until_ready(box[0])


def _jax_epoch(path, limit):
    import jax
    import numpy as np
    x, y = _epoch_data(path, limit)
    box = list(_jax_trainer("epoch"))
    rng = np.random.default_rng(0)
    bs = BATCH["epoch"]

    def epoch():
        perm = rng.permutation(len(x))
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            box[0], _ = box[1](box[0], x[idx], y[idx])
        jax.block_until_ready(box[0])
    return epoch


# ---- the worker process ------------------------------------------------------------------------

def _peak_rss_mib():
    with open("/proc/self/status") as f:
        return int([ln for ln in f if ln.startswith("VmHWM:")][0].split()[1]) / 1024.0


def _version(fw):
    if fw == "keras-jax":
        import jax
        import keras
        return f"keras {keras.__version__} (jax {jax.__version__})"
    mod = __import__(MODULES[fw])
    return f"{MODULES[fw]} {mod.__version__}"


def worker(spec):
    """Runs one framework on one workload; speaks JSON lines with the parent over stdin/stdout."""
    fw, kind, threads, path, limit = spec.split("|")
    threads, limit = int(threads), int(limit)
    send = lambda **kw: print(json.dumps(kw), flush=True)  # noqa: E731
    try:
        if fw in ("dlcore", "dlcore.compile"):
            import dlcore
            dlcore.set_num_threads(threads)
            jit = fw == "dlcore.compile"
            run = _dlcore_epoch(path, limit, jit) if kind == "epoch" else _torchlike_step(dlcore, kind, jit)
            sync = None
        elif fw in ("torch", "torch.compile"):
            import torch
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            run = _torch_epoch(path, limit) if kind == "epoch" else _torchlike_step(torch, kind, fw == "torch.compile")
            sync = None
        elif fw == "jax":
            if kind == "epoch":
                run, sync = _jax_epoch(path, limit), None
            else:
                run, sync = _jax_step(kind)
        else:
            run, sync = _keras_epoch(path, limit), None
        t0 = time.perf_counter()
        run()
        if sync:
            sync()
        first = time.perf_counter() - t0
        for _ in range(0 if kind == "epoch" else 3):  # warm-up: recompiles, allocator, thread pools
            run()
        if sync:
            sync()
    except Exception as e:  # noqa: BLE001 - any failure is the row's result
        msg = f"{type(e).__name__}: {e}".strip().splitlines()
        send(error=(msg[0] if msg else type(e).__name__)[:300])
        return 1
    send(ready=True, first=first, version=_version(fw), rss=_peak_rss_mib())
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "time":
            time.sleep(bu.GAP)
            t0 = time.perf_counter()
            for _ in range(cmd["n"]):
                run()
            if sync:
                sync()
            dt = (time.perf_counter() - t0) / cmd["n"]
            bu.quiesce()  # this process's threads stop spinning before the next one is timed
            send(s=dt)
        elif cmd["op"] == "rss":
            send(rss=_peak_rss_mib())
        else:
            break
    return 0


class Worker:
    def __init__(self, fw, kind, threads, path, limit, policy):
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "DLCORE_NUM_THREADS"):
            env[var] = str(threads)
        if policy == "passive":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        env["TORCHINDUCTOR_COMPILE_THREADS"] = "1"  # no pool of compile processes beside the timed ones
        env["TORCHINDUCTOR_FORCE_DISABLE_CACHES"] = "1"  # compile time as a first run pays it, not from a cache
        if fw == "keras-jax":
            env["KERAS_BACKEND"] = "jax"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if MODULES[fw] == "dlcore":  # the dlcore this process would import (installed, or a source tree on the path)
            import importlib.util
            pkg = os.path.dirname(os.path.dirname(os.path.abspath(importlib.util.find_spec("dlcore").origin)))
            env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
        cpus = sorted(os.sched_getaffinity(0))[:threads]
        self.name, self.error = fw, None
        # stderr to a file, not a pipe nobody reads while the worker runs: compilers' warnings
        # would fill a pipe and block the worker
        self.err = tempfile.TemporaryFile("w+")
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                   f"{fw}|{kind}|{threads}|{path}|{limit}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  text=True, env=env, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        self.info = self._read()
        if self.info is None or "error" in self.info:
            self.error = (self.info or {}).get("error") or self._stderr_tail()
            self.close()

    def _read(self):
        while True:
            line = self.p.stdout.readline()
            if not line:
                return None
            if line.startswith("{"):
                return json.loads(line)

    def _stderr_tail(self):
        self.p.kill()
        status = self.p.wait()
        self.err.seek(0)
        err = [ln for ln in self.err.read().strip().splitlines() if ln.strip()]
        return err[-1][:300] if err else f"exit status {status}"

    def ask(self, **cmd):
        """The worker's answer; RuntimeError with its last stderr line if it died."""
        try:
            self.p.stdin.write(json.dumps(cmd) + "\n")
            self.p.stdin.flush()
            reply = self._read()
        except OSError:
            reply = None
        if reply is None:
            raise RuntimeError(self._stderr_tail())
        return reply

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.err.close()


# ---- the parent --------------------------------------------------------------------------------

def _installed(fw):
    import importlib.util
    return importlib.util.find_spec(MODULES[fw]) is not None and (fw != "keras-jax" or _installed("jax"))


def _epoch_file(tmpdir):
    import numpy as np
    import dlcore
    (x, y), _ = dlcore.datasets.fashion_mnist()
    path = os.path.join(tmpdir, "fashion_mnist_train.npz")
    np.savez(path, x=x.reshape(len(x), 784).astype(np.float32), y=y.astype(np.int64))
    return path


def _epoch_limit(args):
    return args.epoch_limit or (10000 if args.quick else 0)


def _rounds(args, kind):
    return args.repeat or (2 if args.quick else (3 if kind == "epoch" else 7))


def run_workload(kind, fws, args, path):
    """{framework: dict(first=, t=[samples], rss=, version=) or dict(error=)}."""
    threads = args.threads or 2
    limit = _epoch_limit(args)
    workers, res = {}, {}
    for fw in fws:  # one at a time: each warm-up (and compile time) measured alone
        w = Worker(fw, kind, threads, path or "-", limit, args.omp_wait_policy)
        if w.error:
            res[fw] = {"error": w.error}
        else:
            workers[fw] = w
            res[fw] = dict(w.info, t=[])
    live = list(workers)

    def ask(fw, **cmd):  # a worker that dies mid-run: its row says why, the others go on
        try:
            return workers[fw].ask(**cmd)
        except RuntimeError as e:
            res[fw] = {"error": f"died: {e}"}
            live.remove(fw)
            return None
    try:
        min_block = args.min_block or (0.2 if args.quick else 0.5)
        calls = {fw: 1 for fw in live}
        for fw in list(live) if kind != "epoch" else []:
            one = ask(fw, op="time", n=2)
            if one:
                calls[fw] = max(1, int(min_block / max(one["s"], 1e-6)))
        for r in range(_rounds(args, kind)):
            for fw in live[r % len(live):] + live[:r % len(live)] if live else []:
                got = ask(fw, op="time", n=calls[fw])
                if got:
                    res[fw]["t"].append(got["s"])
        for fw in list(live):
            got = ask(fw, op="rss")
            if got:
                res[fw]["rss"] = got["rss"]
    finally:
        for w in workers.values():
            w.close()
    return res


def _cell(r, ref, scale, stat):
    """'59.2 (0.74x)': the statistic in the table's unit, and its ratio to dlcore's."""
    if "error" in r:
        return "failed: " + r["error"].replace("|", "/")
    v = bu.stat(r["t"], stat)
    v_ = v * scale
    return (f"{v_:.0f}" if v_ >= 100 else f"{v_:#.3g}") + ("" if ref is None else f" ({v / ref:.2f}x)")


def _cpu():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for ln in out.splitlines():
            k, _, v = ln.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    flags = info.get("Flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    return f"{info.get('Model name', '?')}, {isa}, {info.get('CPU(s)', os.cpu_count())} CPUs"


def main(argv=None):
    args = argv if isinstance(argv, argparse.Namespace) else _parse(argv)
    if args.worker:
        return worker(args.worker)
    kinds = [k for k in args.workloads.split(",") if k]
    asked = [f for f in args.frameworks.split(",") if f]
    for name, got, known in (("workload", kinds, WORKLOADS), ("framework", asked, FRAMEWORKS)):
        bad = [g for g in got if g not in known]
        if bad:
            print(f"compare frameworks: unknown {name} {bad[0]!r}; choose from {', '.join(known)}", file=sys.stderr)
            return 2
    missing = [f for f in asked if not _installed(f)]
    fws = [f for f in asked if f not in missing]
    stat = getattr(args, "stat", "median")
    load = os.getloadavg()
    results, versions = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            run = [f for f in RUNS[kind] if f in fws]
            try:
                path = _epoch_file(tmp) if kind == "epoch" else ""
            except FileNotFoundError as e:  # the data set is not installed: the row says so
                results[kind] = {f: {"error": str(e).splitlines()[0]} for f in run}
                continue
            results[kind] = run_workload(kind, run, args, path)
            for fw, r in results[kind].items():
                if "version" in r:
                    versions[MODULES[fw] if fw != "keras-jax" else "keras"] = r["version"]
    cols = [f for f in FRAMEWORKS if f in fws]
    rows, best, mem, first = [], [], [], []
    for kind in kinds:
        res, label = results[kind], LABELS[kind]
        if kind == "epoch" and _epoch_limit(args):
            label += f" (first {_epoch_limit(args)} images)"
        ref = bu.stat(res["dlcore"]["t"], stat) if "t" in res.get("dlcore", {}) else None
        scale = 1 if kind == "epoch" else 1e3
        rows.append([label, "s / epoch" if kind == "epoch" else "ms / step"] +
                    ["-" if f not in res else _cell(res[f], None if f == "dlcore" else ref, scale, stat)
                     for f in cols])
        ref_min = min(res["dlcore"]["t"]) if "t" in res.get("dlcore", {}) else None
        best.append([label, rows[-1][1]] +
                    ["-" if f not in res else _cell(res[f], None if f == "dlcore" else ref_min, scale, "min")
                     for f in cols])
        mem.append([label] + [f"{res[f]['rss']:.0f}" if "rss" in res.get(f, {}) else "-" for f in cols])
        first.append([label] + [f"{res[f]['first']:.2f}" if "first" in res.get(f, {}) else "-" for f in cols])
    end_load = os.getloadavg()
    lines = [f"# dlcore against the frameworks: training ({args.threads} threads; CPU: {_cpu()})", "",
             "Versions: " + ", ".join(versions[k] for k in sorted(versions)) +
             ("; not installed: " + ", ".join(missing) if missing else ""),
             f"Load average (1 min) at start {load[0]:.2f}, at end {end_load[0]:.2f}; {stat} of "
             f"{_rounds(args, 'mlp')} alternating rounds per step workload, {_rounds(args, 'epoch')} for the epoch"
             + (" (quick mode)" if args.quick else "") + f"; OMP_WAIT_POLICY {args.omp_wait_policy}", ""]
    if max(load[0], end_load[0]) > 1 and args.omp_wait_policy == "default" and args.threads > 1:
        lines += ["Warning: other processes load this machine; PyTorch's OpenMP threads spin at barriers and "
                  "stall when one is descheduled: rerun with --omp-wait-policy passive (or when idle).", ""]
    lines += ["Time (ratio = peer time / dlcore time; above 1: dlcore is faster):", "",
              bu.markdown_table(["workload", "unit"] + cols, rows), "",
              f"Best round (min of the rounds; the {stat} above is the figure to quote, the min shows how much "
              "the load moved it):", "",
              bu.markdown_table(["workload", "unit"] + cols, best), "",
              "Peak RSS of each worker process, MiB (VmHWM):", "",
              bu.markdown_table(["workload"] + cols, mem), "",
              "First step (first epoch), seconds, tracing and compilation included (not in the times above):", "",
              bu.markdown_table(["workload"] + cols, first), "",
              "tinygrad: not measured (no tinygrad port in this script)."]
    text = "\n".join(lines)
    print(text)
    bu.write_out(args, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
