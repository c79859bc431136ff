"""dlcore on CUDA against PyTorch on the same GPU: the training-step time of the Fashion-MNIST
MLP and CNN and a row-LSTM classifier (batch 64, SGD with momentum, forward + backward + step),
and the GFLOP/s of SGEMM 4096^3 (dlcore's own tiled kernel against cuBLAS through torch.matmul).
Steps of the two libraries are timed in interleaved rounds, each round synchronising the
device before and after; medians reported. Run by bench/cuda_check.sh; without a CUDA device it
says so and exits with status 2.

    python bench/compare.py cuda [--steps 20] [--sgemm 4096] [--quick]
"""
import sys
import time

from benchutil import markdown_table, median, try_torch, write_out

BATCH = 64


def add_arguments(parser):
    parser.add_argument("--steps", type=int, default=20, help="training steps per timed round")
    parser.add_argument("--sgemm", type=int, default=4096, help="size n of the n x n x n SGEMM")


def models(lib):
    """The workloads' model constructors in lib (dlcore or torch: the same names build the
    same models)."""
    nn = lib.nn

    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
            return self.head(out[:, -1])

    return {
        "mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10)),
        "cnn": lambda: nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 10)),
        "lstm": RowLSTM,
    }


def step_runner(lib, model, x, y):
    """A function running one training step of model on the device batch (x, y)."""
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ce = lib.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = ce(model(x), y)
        loss.backward()
        opt.step()
    return step


def time_rounds(contenders, steps, rounds):
    """{name: median ms per step}: `rounds` interleaved rounds of `steps` steps each."""
    samples = {k: [] for k in contenders}
    for fn, sync in contenders.values():  # warm-up: kernels loaded, allocator caches filled
        for _ in range(3):
            fn()
        sync()
    for _ in range(rounds):
        for name, (fn, sync) in contenders.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            sync()
            samples[name].append((time.perf_counter() - t0) / steps * 1e3)
    return {k: median(v) for k, v in samples.items()}


def main(args):
    import numpy as np
    import dlcore as dl
    if not dl.cuda.is_available():
        print("compare.py cuda: no CUDA device (dlcore.cuda.is_available() is False: "
              f"{'built without CUDA' if not dl.cuda.is_built() else 'no driver or no GPU'}); nothing measured")
        return 2
    torch = try_torch()
    have_torch = torch is not None and torch.cuda.is_available()
    if not have_torch:
        print("PyTorch with CUDA is not installed here: dlcore's figures only")
    rounds = 3 if args.quick else (args.repeat or 7)
    steps = max(1, args.steps // (4 if args.quick else 1))
    r = np.random.default_rng(0)
    xs = r.random((BATCH, 1, 28, 28), dtype=np.float32)
    ys = r.integers(0, 10, BATCH).astype(np.int64)
    rows = []
    dmods, tmods = models(dl), models(torch) if have_torch else {}
    for name in ("mlp", "cnn", "lstm"):
        dl.manual_seed(0)
        dm = dmods[name]().to("cuda")
        cont = {"dlcore": (step_runner(dl, dm, dl.tensor(xs, device="cuda"), dl.tensor(ys, device="cuda")),
                           dl.cuda.synchronize)}
        if have_torch:
            tm = tmods[name]().cuda()
            cont["torch"] = (step_runner(torch, tm, torch.from_numpy(xs).cuda(), torch.from_numpy(ys).cuda()),
                             torch.cuda.synchronize)
        ms = time_rounds(cont, steps, rounds)
        t = ms.get("torch")
        rows.append([f"{name} step (ms, batch {BATCH})", f"{ms['dlcore']:.3f}", f"{t:.3f}" if t else "-",
                     f"{t / ms['dlcore']:.2f}" if t else "-"])
        print(rows[-1], flush=True)
    n = args.sgemm
    a = r.standard_normal((n, n)).astype(np.float32)
    b = r.standard_normal((n, n)).astype(np.float32)
    da, db = dl.tensor(a, device="cuda"), dl.tensor(b, device="cuda")
    cont = {"dlcore": (lambda: da @ db, dl.cuda.synchronize)}
    if have_torch:
        ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        torch.backends.cuda.matmul.allow_tf32 = False  # FP32 math, as dlcore's kernel
        cont["torch"] = (lambda: ta @ tb, torch.cuda.synchronize)
    ms = time_rounds(cont, 5, rounds)
    gf = {k: 2.0 * n ** 3 / (v * 1e-3) / 1e9 for k, v in ms.items()}
    t = gf.get("torch")
    # GFLOP/s: the ratio is dlcore / torch here (above 1: dlcore faster)
    rows.append([f"SGEMM {n}^3 (GFLOP/s)", f"{gf['dlcore']:.0f}", f"{t:.0f}" if t else "-",
                 f"{gf['dlcore'] / t:.2f}" if t else "-"])
    err = float(np.abs((da @ db).cpu().numpy()[:64] - a[:64] @ b).max())
    table = markdown_table(["workload", "dlcore", "PyTorch", "ratio (above 1: dlcore faster)"], rows)
    print(table)
    print(f"device: {torch.cuda.get_device_name(0) if have_torch else 'CUDA device 0'}; SGEMM max abs error "
          f"against NumPy on 64 rows: {err:.2e}; memory: {dl.cuda.memory_stats()}")
    write_out(args, table)
    return 0


if __name__ == "__main__":
    sys.exit("run through bench/compare.py cuda")
