"""The CNN training step of issue 18, layer by layer: dlcore's kernels against PyTorch's aten ops
on the same shapes, forward and both backwards, side by side in one run (interleaved rounds).

    python bench/compare.py cnn_layers [--threads 1] [--stat min] [--batch 64] [--repeat 9]

Model (batch 64, 1x28x28 inputs): conv3x3 1->32 p1 + BN + ReLU + maxpool2, conv3x3 32->64 p1 +
BN + ReLU + maxpool2, dense 3136->128, dense 128->10 (dropout and the loss left out: they are
elementwise). Each row times one kernel call of one library on that layer's real input sizes:
  conv fwd      dlcore _C.conv2d                   | aten.convolution
  conv bwd-data _C.conv2d_backward_data            | aten.convolution_backward, mask (1, 0, 0)
  conv bwd-w    _C.conv2d_backward_weight + bias   | aten.convolution_backward, mask (0, 1, 1)
  bn fwd / bwd  _C.batch_norm_forward / _backward  | aten.native_batch_norm / _backward (training)
  relu fwd/bwd  _C.act_forward / act_backward      | aten.relu / threshold_backward
  bn+relu       the fused pair (relu=True / relu_output=y) | the two aten ops of each direction
                (the step runs the fused pair: the sum counts it, not the four rows above it)
  pool fwd/bwd  _C.max_pool2d / _backward          | aten.max_pool2d_with_indices / _backward
  dense         _C.linear, _C.matmul (g @ w, g.T @ x) | aten.linear, aten.mm
conv1's bwd-data is listed but not part of the step (the images need no gradient).

To emulate an AVX2 machine on an AVX-512 one, restrict BOTH sides:
    DLCORE_ISA=avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \\
        python bench/compare.py cnn_layers --threads 1 --stat min
ratio = PyTorch time / dlcore time (> 1: dlcore is faster). With --threads 1 the clock is this
process's CPU time (load-robust); with more threads, wall time.
"""
import time

import numpy as np

import benchutil as bu


def add_arguments(p):
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--only", default="", help="only rows whose name contains this")


def _cases(C, torch, N):
    r = np.random.default_rng(0)
    f32 = np.float32
    ones = lambda *s: np.ones(s, f32)  # noqa: E731
    aten = torch.ops.aten
    T = lambda a: torch.from_numpy(np.asarray(a))  # noqa: E731  (dlcore Arrays through the buffer protocol)
    cases = []

    def conv(name, cin, cout, hw, need_data=True):
        x = r.standard_normal((N, cin, hw, hw)).astype(f32)
        w = (r.standard_normal((cout, cin, 3, 3)) * 0.1).astype(f32)
        b = r.standard_normal(cout).astype(f32)
        gy = r.standard_normal((N, cout, hw, hw)).astype(f32)
        s, p4, d = (1, 1), (1, 1, 1, 1), (1, 1)
        tx, tw, tb, tgy = T(x), T(w), T(b), T(gy)
        cases.append((f"{name} fwd", lambda: C.conv2d(x, w, b, s, p4, d, 1),
                      lambda: aten.convolution(tx, tw, tb, [1, 1], [1, 1], [1, 1], False, [0, 0], 1)))
        cases.append((f"{name} bwd-data" + ("" if need_data else " (not in the step)"),
                      lambda: C.conv2d_backward_data(gy, w, (hw, hw), s, p4, d, 1),
                      lambda: aten.convolution_backward(tgy, tx, tw, [cout], [1, 1], [1, 1], [1, 1], False,
                                                        [0, 0], 1, [True, False, False])))

        def dl_w():
            C.conv2d_backward_weight(x, gy, (3, 3), s, p4, d, 1)
            C.conv_backward_bias(gy)
        cases.append((f"{name} bwd-weight+bias", dl_w,
                      lambda: aten.convolution_backward(tgy, tx, tw, [cout], [1, 1], [1, 1], [1, 1], False,
                                                        [0, 0], 1, [False, True, True])))

    def bn_relu_pool(name, c, hw):
        x = r.standard_normal((N, c, hw, hw)).astype(f32)
        gy = r.standard_normal((N, c, hw, hw)).astype(f32)
        g, b = ones(c), np.zeros(c, f32)
        rm, rv = np.zeros(c, f32), ones(c)
        y, sm, si = C.batch_norm_forward(x, g, b, rm, rv, True, 0.1, 1e-5)
        tx, tgy, tg, tb, trm, trv = T(x), T(gy), T(g), T(b), T(rm.copy()), T(rv.copy())
        _, tsm, tsi = aten.native_batch_norm(tx, tg, tb, trm, trv, True, 0.1, 1e-5)
        cases.append((f"{name} bn fwd (alone: not in the step)",
                      lambda: C.batch_norm_forward(x, g, b, rm, rv, True, 0.1, 1e-5),
                      lambda: aten.native_batch_norm(tx, tg, tb, trm, trv, True, 0.1, 1e-5)))
        cases.append((f"{name} bn bwd (alone: not in the step)", lambda: C.batch_norm_backward(gy, x, g, sm, si, True),
                      lambda: aten.native_batch_norm_backward(tgy, tx, tg, trm, trv, tsm, tsi, True, 1e-5,
                                                              [True, True, True])))
        relu = C.Act.relu
        ty = T(y)
        cases.append((f"{name} relu fwd (alone: not in the step)", lambda: C.act_forward(relu, y, 0.0, 0.0),
                      lambda: aten.relu(ty)))
        cases.append((f"{name} relu bwd (alone: not in the step)", lambda: C.act_backward(relu, gy, y, 0.0, 0.0),
                      lambda: aten.threshold_backward(tgy, ty, 0)))
        # the step's BatchNorm + ReLU pair: dlcore's fused kernels (Sequential fuses the pair) against
        # PyTorch's two ops; the four rows above are then left out of the sum
        yr, _, _ = C.batch_norm_forward(x, g, b, rm, rv, True, 0.1, 1e-5, True)
        tyr = T(yr)
        cases.append((f"{name} bn+relu fwd (fused)",
                      lambda: C.batch_norm_forward(x, g, b, rm, rv, True, 0.1, 1e-5, True),
                      lambda: aten.relu(aten.native_batch_norm(tx, tg, tb, trm, trv, True, 0.1, 1e-5)[0])))
        cases.append((f"{name} bn+relu bwd (fused)", lambda: C.batch_norm_backward(gy, x, g, sm, si, True, yr),
                      lambda: aten.native_batch_norm_backward(aten.threshold_backward(tgy, tyr, 0), tx, tg, trm, trv,
                                                              tsm, tsi, True, 1e-5, [True, True, True])))
        p, idx = C.max_pool2d(y, (2, 2), (2, 2), (0, 0), (1, 1), False)
        gp = r.standard_normal(p.shape).astype(f32)
        tp, tidx = aten.max_pool2d_with_indices(ty, [2, 2], [2, 2])
        tgp = T(gp)
        cases.append((f"{name} maxpool fwd", lambda: C.max_pool2d(y, (2, 2), (2, 2), (0, 0), (1, 1), False),
                      lambda: aten.max_pool2d_with_indices(ty, [2, 2], [2, 2])))
        cases.append((f"{name} maxpool bwd", lambda: C.max_pool2d_backward(gp, idx, (hw, hw)),
                      lambda: aten.max_pool2d_with_indices_backward(tgp, ty, [2, 2], [2, 2], [0, 0], [1, 1],
                                                                    False, tidx)))

    def dense(name, fin, fout):
        x = r.standard_normal((N, fin)).astype(f32)
        w = (r.standard_normal((fout, fin)) * 0.05).astype(f32)
        b = r.standard_normal(fout).astype(f32)
        g = r.standard_normal((N, fout)).astype(f32)
        tx, tw, tb, tg = T(x), T(w), T(b), T(g)
        cases.append((f"{name} fwd", lambda: C.linear(x, w, b), lambda: aten.linear(tx, tw, tb)))
        cases.append((f"{name} bwd-data", lambda: C.matmul(g, w), lambda: aten.mm(tg, tw)))
        cases.append((f"{name} bwd-weight", lambda: C.matmul(g.T, x), lambda: aten.mm(tg.t(), tx)))

    conv("conv1 1->32 28x28", 1, 32, 28, need_data=False)
    bn_relu_pool("block1 32x28x28", 32, 28)
    conv("conv2 32->64 14x14", 32, 64, 14)
    bn_relu_pool("block2 64x14x14", 64, 14)
    dense("dense 3136->128", 3136, 128)
    dense("dense 128->10", 128, 10)
    return cases


def main(args):
    import dlcore._C as C
    info = bu.apply_threads(args.threads)
    torch = bu.try_torch()
    if torch is None:
        print("cnn_layers: needs PyTorch")
        return 1
    nt = bu.threads()
    clock = time.process_time if nt == 1 else time.perf_counter
    rounds = args.repeat or (3 if args.quick else 9)
    print(f"# CNN layers, batch {args.batch}: dlcore isa={C.isa()} vs PyTorch {torch.__version__} "
          f"(capability {torch.backends.cpu.get_cpu_capability()}); threads={nt} ({info}); "
          f"{args.stat} of {rounds} rounds, {'CPU' if nt == 1 else 'wall'} time\n", flush=True)
    rows, tot = [], {"dlcore": 0.0, "torch": 0.0}
    for name, fd, ft in _cases(C, torch, args.batch):
        if args.only and args.only not in name:
            continue
        res = bu.interleaved({"dlcore": fd, "torch": ft}, rounds=rounds, min_sample=0.05, clock=clock)
        ms = {k: 1e3 * bu.stat(v, args.stat) for k, v in res.items()}
        if "not in the step" not in name:
            for k in tot:
                tot[k] += ms[k]
        rows.append([name, f"{ms['dlcore']:.3f}", f"{ms['torch']:.3f}", f"{ms['torch'] / ms['dlcore']:.2f}"])
        print(" | ".join(rows[-1]), flush=True)
    rows.append(["sum (the step's kernels)", f"{tot['dlcore']:.3f}", f"{tot['torch']:.3f}",
                 f"{tot['torch'] / tot['dlcore']:.2f}"])
    table = bu.markdown_table(["layer / direction", "dlcore ms", "PyTorch ms", "PyTorch/dlcore"], rows)
    print("\n" + table)
    bu.write_out(args, table)
    return 0
