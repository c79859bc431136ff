"""Normalization (batch / layer / group norm): values and gradients against PyTorch with the
same weights, running statistics, state_dict compatibility, float64 central differences,
thread-count determinism and bad-input errors."""
import numpy as np
import pytest
from conftest import requires_torch, rng, threads

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

try:
    import torch
except Exception:  # pragma: no cover
    torch = None

DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-11)}


def npy(t):
    return t.detach().numpy()


def grad_tol(dtype, ref):
    scale = float(np.max(np.abs(ref))) if np.size(ref) else 1.0
    t = TOL[dtype]
    return dict(rtol=t["rtol"] * 10, atol=t["atol"] + t["rtol"] * 10 * scale)


def make_pair(dl_mod, th_mod, dtype, seed=1):
    """Copies random affine parameters into both modules (same weights)."""
    r = rng(seed)
    th_mod.to(getattr(torch, dtype))
    with torch.no_grad():
        for name, p in th_mod.named_parameters():
            v = r.normal(1.0 if name == "weight" else 0.0, 0.5, size=tuple(p.shape)).astype(dtype)
            p.copy_(torch.from_numpy(v))
            getattr(dl_mod, name).copy_(v)
    return dl_mod, th_mod


def run_both(dl_mod, th_mod, x_np, dy_np):
    x = dlcore.tensor(x_np, requires_grad=True)
    y = dl_mod(x)
    y.backward(dlcore.tensor(dy_np))
    tx = torch.tensor(x_np, requires_grad=True)
    ty = th_mod(tx)
    ty.backward(torch.from_numpy(dy_np))
    return x, y, tx, ty


def compare_params(dl_mod, th_mod, dtype):
    for name, p in th_mod.named_parameters():
        ref = p.grad.numpy()
        np.testing.assert_allclose(npy(getattr(dl_mod, name).grad), ref, **grad_tol(dtype, ref),
                                   err_msg=f"grad of {name}")


# ---- batch norm ------------------------------------------------------------------------------

BN_CASES = [
    ("BatchNorm1d", (16, 5)),
    ("BatchNorm1d", (6, 4, 7)),
    ("BatchNorm1d", (32, 130)),  # S == 1 channel-block path with several blocks
    ("BatchNorm1d", (8, 70, 3)),  # small-S channel-block path
    ("BatchNorm2d", (2, 3, 9, 9)),  # per-channel path
    ("BatchNorm2d", (4, 3, 5, 6)),
    ("BatchNorm2d", (3, 2, 20, 20)),  # runs of 400: several float flushes per run (norm_loops.h)
    ("BatchNorm3d", (2, 3, 3, 4, 5)),
]


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,shape", BN_CASES)
def test_batchnorm_train_forward_backward_matches_torch(every_isa, cls, shape, dtype):
    C = shape[1]
    dl, th = make_pair(getattr(nn, cls)(C, dtype=dtype), getattr(torch.nn, cls)(C), dtype)
    r = rng(2)
    x_np = (r.normal(0.5, 2.0, size=shape)).astype(dtype)
    dy_np = r.normal(size=shape).astype(dtype)
    x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl, th, dtype)
    np.testing.assert_allclose(npy(dl.running_mean), th.running_mean.numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(dl.running_var), th.running_var.numpy(), **TOL[dtype])
    assert int(dl.num_batches_tracked.item()) == int(th.num_batches_tracked) == 1


# ---- batch norm + ReLU fused (a Sequential's BatchNorm followed by ReLU) ----------------------

def _bn_relu_pair(cls, C, dtype):
    dl_bn, th_bn = make_pair(getattr(nn, cls)(C, dtype=dtype), getattr(torch.nn, cls)(C), dtype)
    return nn.Sequential(dl_bn, nn.ReLU()), torch.nn.Sequential(th_bn, torch.nn.ReLU())


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,shape", BN_CASES)
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_relu_fused_matches_torch(every_isa, cls, shape, dtype, train):
    """Sequential(BatchNorm, ReLU) runs one fused kernel each way (ReLU.forward is never
    called): output, every gradient and the running statistics as PyTorch's two modules."""
    dl, th = _bn_relu_pair(cls, shape[1], dtype)
    dl.train(train)
    th.train(train)
    r = rng(3)
    x_np = r.normal(0.5, 2.0, size=shape).astype(dtype)
    dy_np = r.normal(size=shape).astype(dtype)
    called = []
    orig = nn.ReLU.forward
    nn.ReLU.forward = lambda self, x: called.append(1) or orig(self, x)
    try:
        x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    finally:
        nn.ReLU.forward = orig
    assert not called
    assert (npy(y) == 0).any() and (npy(y) > 0).any()
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl[0], th[0], dtype)
    np.testing.assert_allclose(npy(dl[0].running_mean), th[0].running_mean.numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(dl[0].running_var), th[0].running_var.numpy(), **TOL[dtype])


@pytest.mark.parametrize("shape", [(4, 6, 9, 9), (8, 5, 3, 3), (16, 7)])
def test_batchnorm_relu_fused_equals_the_two_modules(shape):
    """The fused pair against BatchNorm then ReLU run one by one on the same weights (float32):
    the same values and gradients to float32 rounding."""
    r = rng(4)
    x_np = r.normal(0.2, 1.5, size=shape).astype(np.float32)
    dy_np = r.normal(size=shape).astype(np.float32)
    cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    w_np = r.normal(1.0, 0.5, size=shape[1]).astype(np.float32)
    b_np = r.normal(0.0, 0.5, size=shape[1]).astype(np.float32)
    outs = []
    for fused in (True, False):
        bn = cls(shape[1])
        with dlcore.no_grad():
            bn.weight.copy_(w_np)
            bn.bias.copy_(b_np)
        x = dlcore.tensor(x_np, requires_grad=True)
        y = nn.Sequential(bn, nn.ReLU())(x) if fused else nn.ReLU()(bn(x))
        y.backward(dlcore.tensor(dy_np))
        outs.append([npy(t) for t in (y, x.grad, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var)])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(b).max())))


def test_batchnorm_relu_not_fused_with_hooks_or_other_activations():
    """A hook on either module, or another next module, keeps the two calls (the hook runs)."""
    x = dlcore.tensor(rng(5).normal(size=(4, 3, 5, 5)).astype(np.float32))
    seen = []
    relu = nn.ReLU()
    relu.register_forward_hook(lambda m, i, o: seen.append(o))
    y = nn.Sequential(nn.BatchNorm2d(3), relu)(x)
    assert len(seen) == 1 and np.array_equal(npy(seen[0]), npy(y))
    y2 = nn.Sequential(nn.BatchNorm2d(3), nn.LeakyReLU(0.1))(x)
    assert (npy(y2) < 0).any()


def test_keras_sequential_fuses_batchnorm_relu():
    """dlcore.Sequential (the Keras-style model) holding nn modules runs BatchNorm + ReLU fused,
    with the values of the two modules."""
    x = dlcore.tensor(rng(6).normal(size=(4, 3, 6, 6)).astype(np.float32))
    bn = nn.BatchNorm2d(3)
    m = dlcore.Sequential([bn, nn.ReLU()])
    orig = nn.ReLU.forward
    nn.ReLU.forward = lambda self, x: (_ for _ in ()).throw(AssertionError("ReLU ran unfused"))
    try:
        y = m(x)
    finally:
        nn.ReLU.forward = orig
    bn2 = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(npy(y), npy(nn.ReLU()(bn2(x))))


@pytest.mark.parametrize("act", ["ReLU", "Activation"])
@pytest.mark.parametrize("shape", [(4, 6, 6, 3), (16, 5)])
def test_keras_batchnormalization_relu_fused_equals_the_two_layers(act, shape):
    """Keras layers: BatchNormalization (channels-last, axis -1) then ReLU() / Activation('relu')
    in a Sequential run fused (the ReLU layer's forward is never called) with the values,
    gradients and moving statistics of the two layers run one by one."""
    from dlcore import layers
    r = rng(7)
    x_np = r.normal(0.3, 1.5, size=shape).astype(np.float32)
    dy_np = r.normal(size=shape).astype(np.float32)
    relu_cls = type(layers.ReLU() if act == "ReLU" else layers.Activation("relu"))
    outs, called = [], []
    for fused in (True, False):
        bn = layers.BatchNormalization()
        nxt = layers.ReLU() if act == "ReLU" else layers.Activation("relu")
        m = dlcore.Sequential([bn, nxt], input_shape=shape[1:])
        if not fused:
            m = lambda t, bn=bn, nxt=nxt: nxt(bn(t))  # noqa: E731
        with dlcore.no_grad():
            bn.bn.weight.copy_(np.linspace(0.5, 1.5, shape[-1]).astype(np.float32))
            bn.bn.bias.copy_(np.linspace(-0.3, 0.3, shape[-1]).astype(np.float32))
        x = dlcore.tensor(x_np, requires_grad=True)
        orig = relu_cls.forward
        relu_cls.forward = lambda self, t: called.append(fused) or orig(self, t)
        try:
            y = m(x)
        finally:
            relu_cls.forward = orig
        y.backward(dlcore.tensor(dy_np))
        outs.append([npy(t) for t in (y, x.grad, bn.bn.weight.grad, bn.bn.bias.grad, bn.bn.running_var)])
    assert called == [False]
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(b).max())))


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_running_stats_several_steps_then_eval(every_isa, dtype, momentum):
    dl, th = make_pair(nn.BatchNorm2d(4, momentum=momentum, dtype=dtype),
                       torch.nn.BatchNorm2d(4, momentum=momentum), dtype)
    r = rng(3)
    for step in range(4):
        x_np = r.normal(step, 1.0 + step, size=(5, 4, 3, 3)).astype(dtype)
        dl(dlcore.tensor(x_np))
        th(torch.from_numpy(x_np))
    np.testing.assert_allclose(npy(dl.running_mean), th.running_mean.numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(dl.running_var), th.running_var.numpy(), **TOL[dtype])
    assert int(dl.num_batches_tracked.item()) == 4
    dl.eval()
    th.eval()
    assert not dl.training
    x_np = r.normal(size=(3, 4, 3, 3)).astype(dtype)
    dy_np = r.normal(size=(3, 4, 3, 3)).astype(dtype)
    mean_before = npy(dl.running_mean).copy()
    x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl, th, dtype)
    np.testing.assert_array_equal(npy(dl.running_mean), mean_before)  # eval: no update
    assert int(dl.num_batches_tracked.item()) == 4


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_no_affine_no_running_stats(dtype):
    dl = nn.BatchNorm1d(3, affine=False, track_running_stats=False, dtype=dtype)
    th = torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False).to(getattr(torch, dtype))
    assert dl.weight is None and dl.running_mean is None
    assert list(dl.state_dict()) == list(th.state_dict()) == []
    r = rng(4)
    x_np = r.normal(size=(7, 3, 4)).astype(dtype)
    dy_np = r.normal(size=(7, 3, 4)).astype(dtype)
    dl.eval()
    th.eval()  # without running stats, eval still normalises with batch statistics
    x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))


@requires_torch
def test_batchnorm_state_dict_keys_and_loading_torch_state():
    th = torch.nn.BatchNorm2d(6)
    r = rng(5)
    with torch.no_grad():
        th.weight.copy_(torch.from_numpy(r.normal(size=6).astype("float32")))
        th.bias.copy_(torch.from_numpy(r.normal(size=6).astype("float32")))
    for _ in range(3):
        th(torch.from_numpy(r.normal(1.0, 2.0, size=(4, 6, 3, 3)).astype("float32")))
    dl = nn.BatchNorm2d(6)
    assert list(dl.state_dict()) == list(th.state_dict())
    dl.load_state_dict(th.state_dict())
    assert int(dl.num_batches_tracked.item()) == 3
    dl.eval()
    th.eval()
    x_np = r.normal(size=(2, 6, 4, 4)).astype("float32")
    np.testing.assert_allclose(npy(dl(dlcore.tensor(x_np))), th(torch.from_numpy(x_np)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # and inside a container, keys carry the module prefix like PyTorch's
    seq = nn.Sequential(nn.BatchNorm2d(6))
    tseq = torch.nn.Sequential(torch.nn.BatchNorm2d(6))
    assert list(seq.state_dict()) == list(tseq.state_dict())
    seq.load_state_dict(tseq.state_dict())


@requires_torch
def test_functional_batch_norm_matches_torch():
    r = rng(6)
    x_np = r.normal(size=(8, 3, 5)).astype("float64")
    rm, rv = np.zeros(3), np.ones(3)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    y = F.batch_norm(dlcore.tensor(x_np), dlcore.tensor(rm), dlcore.tensor(rv), training=True, momentum=0.2)
    ty = torch.nn.functional.batch_norm(torch.from_numpy(x_np), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(npy(y), ty.numpy(), rtol=1e-12, atol=1e-12)


def test_batchnorm_train_output_is_normalised_numpy():
    r = rng(7)
    x_np = r.normal(3.0, 4.0, size=(32, 4, 6)).astype("float64")
    y = npy(nn.BatchNorm1d(4, dtype="float64")(dlcore.tensor(x_np)))
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), x_np.var(axis=(0, 2)) / (x_np.var(axis=(0, 2)) + 1e-5), rtol=1e-10)


def test_batchnorm_train_eval_switch():
    bn = nn.BatchNorm1d(2, dtype="float64")
    x = dlcore.tensor(rng(8).normal(5.0, 2.0, size=(10, 2)))
    y_train = npy(bn(x))
    model = nn.Sequential(bn)
    model.eval()
    assert not bn.training
    y_eval = npy(bn(x))
    # running stats after one step: 0.9 * 0 + 0.1 * mean, so eval output is far from y_train
    assert np.abs(y_eval - y_train).max() > 1.0
    expect = (x.numpy() - npy(bn.running_mean)) / np.sqrt(npy(bn.running_var) + 1e-5)
    np.testing.assert_allclose(y_eval, expect, rtol=1e-12)
    model.train()
    assert bn.training


# ---- layer norm ------------------------------------------------------------------------------

LN_CASES = [((6, 10), 10), ((3, 4, 8), (8,)), ((2, 3, 4, 5), (4, 5)), ((5, 7), (5, 7)),
            ((3, 67), 67), ((4, 300), 300)]  # (3, 67): the vector bodies of the row loops; (4, 300): their float chunks


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ns", LN_CASES)
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_layernorm_matches_torch(every_isa, shape, ns, affine, bias, dtype):
    dl, th = make_pair(nn.LayerNorm(ns, elementwise_affine=affine, bias=bias, dtype=dtype),
                       torch.nn.LayerNorm(ns, elementwise_affine=affine, bias=bias), dtype)
    r = rng(9)
    x_np = r.normal(1.0, 3.0, size=shape).astype(dtype)
    dy_np = r.normal(size=shape).astype(dtype)
    x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl, th, dtype)
    assert list(dl.state_dict()) == list(th.state_dict())


# ---- group norm ------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("groups,shape,affine", [(2, (4, 6, 5), True), (3, (2, 6, 4, 4), True),
                                                  (1, (3, 4, 7), False), (4, (3, 8), True)])
def test_groupnorm_matches_torch(groups, shape, affine, dtype):
    C = shape[1]
    dl, th = make_pair(nn.GroupNorm(groups, C, affine=affine, dtype=dtype),
                       torch.nn.GroupNorm(groups, C, affine=affine), dtype)
    r = rng(10)
    x_np = r.normal(-1.0, 2.0, size=shape).astype(dtype)
    dy_np = r.normal(size=shape).astype(dtype)
    x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl, th, dtype)


# ---- instance norm / RMS norm ----------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 5)),
                                       ("InstanceNorm2d", (2, 3, 4, 5)), ("InstanceNorm2d", (3, 4, 4))], ids=str)
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
def test_instancenorm_matches_torch(cls, shape, affine, track):
    dtype = "float64"
    C = shape[-3 if cls == "InstanceNorm2d" else -2]
    dl, th = make_pair(getattr(nn, cls)(C, affine=affine, track_running_stats=track, momentum=0.3, dtype=dtype),
                       getattr(torch.nn, cls)(C, affine=affine, track_running_stats=track, momentum=0.3), dtype)
    assert [n for n, _ in dl.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert list(dl.state_dict()) == list(th.state_dict())
    r = rng(12)
    for step in range(2):  # running statistics follow torch's over two steps, then normalise in eval
        x_np = r.normal(-1.0, 2.0, size=shape)
        dy_np = r.normal(size=shape)
        x, y, tx, ty = run_both(dl, th, x_np, dy_np)
        np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
        np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl, th, dtype)
    for k, v in th.state_dict().items():
        np.testing.assert_allclose(npy(dl.state_dict()[k]), v.numpy(), **TOL[dtype], err_msg=k)
    dl.eval(), th.eval()
    x_np = r.normal(size=shape)
    np.testing.assert_allclose(npy(dl(dlcore.tensor(x_np))), th(torch.tensor(x_np)).detach().numpy(), **TOL[dtype])


@requires_torch
def test_instance_norm_function_matches_torch():
    r = rng(13)
    x_np, w, b = r.normal(size=(2, 3, 5)), r.normal(size=3), r.normal(size=3)
    rm, rv = r.normal(size=3), r.uniform(0.5, 2.0, size=3)
    for use_input_stats in (True, False):
        args = [dlcore.tensor(a) for a in (rm, rv, w, b)]
        targs = [torch.tensor(a) for a in (rm, rv, w, b)]
        y = F.instance_norm(dlcore.tensor(x_np), *args, use_input_stats=use_input_stats, momentum=0.2, eps=1e-3)
        ty = torch.nn.functional.instance_norm(torch.tensor(x_np), *targs, use_input_stats=use_input_stats,
                                               momentum=0.2, eps=1e-3)
        np.testing.assert_allclose(npy(y), ty.numpy(), **TOL["float64"])
        for a, ta in zip(args[:2], targs[:2]):
            np.testing.assert_allclose(npy(a), ta.numpy(), **TOL["float64"])


@requires_torch
@pytest.mark.parametrize("shape,ns,eps,affine", [((3, 4, 6), 6, None, True), ((2, 3, 4, 5), (4, 5), 1e-4, True),
                                                 ((5, 7), [7], None, False)], ids=str)
def test_rmsnorm_matches_torch(shape, ns, eps, affine):
    dtype = "float64"
    dl, th = make_pair(nn.RMSNorm(ns, eps=eps, elementwise_affine=affine, dtype=dtype),
                       torch.nn.RMSNorm(ns, eps=eps, elementwise_affine=affine), dtype)
    assert repr(dl) == repr(th) and list(dl.state_dict()) == list(th.state_dict())
    r = rng(14)
    x_np, dy_np = r.normal(0.5, 2.0, size=shape), r.normal(size=shape)
    x, y, tx, ty = run_both(dl, th, x_np, dy_np)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), **grad_tol(dtype, tx.grad.numpy()))
    compare_params(dl, th, dtype)
    # eps=None is the dtype's machine epsilon: visible on an all-zero-but-tiny row in float32
    xs = np.full((1, 4), 1e-5, np.float32)
    np.testing.assert_allclose(npy(F.rms_norm(dlcore.tensor(xs), (4,))),
                               torch.nn.functional.rms_norm(torch.tensor(xs), (4,)).numpy(), rtol=1e-6)


def test_sync_batchnorm_conversion_leaves_instance_norm_alone():
    from dlcore.distributed import SyncBatchNorm
    m = SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.InstanceNorm2d(3, affine=True), nn.BatchNorm2d(3)))
    assert type(m[0]) is nn.InstanceNorm2d and type(m[1]) is SyncBatchNorm
    assert repr(m[0]) == "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False)"


def test_instance_and_rms_norm_errors():
    x = dlcore.zeros(2, 3, 4)
    with pytest.raises(ValueError,
                       match=r"InstanceNorm1d: input of shape \(2, 3, 4\) has 3 channels but num_features is 4"):
        nn.InstanceNorm1d(4, affine=True)(x)
    with pytest.warns(UserWarning, match="ignored"):
        nn.InstanceNorm1d(4)(x)
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3D \(C, H, W\) or 4D"):
        nn.InstanceNorm2d(3)(x.reshape(24))
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element .*\(2, 3, 1\)"):
        F.instance_norm(dlcore.zeros(2, 3, 1))
    with pytest.raises(ValueError, match=r"instance_norm: running_mean and running_var must be given"):
        F.instance_norm(x, use_input_stats=False)
    with pytest.raises(ValueError, match=r"instance_norm: 'weight' has shape \(4,\)"):
        F.instance_norm(x, weight=dlcore.ones(4))
    with pytest.raises(ValueError,
                       match=r"rms_norm: input of shape \(2, 3, 4\) does not end with normalized_shape \(3,\)"):
        F.rms_norm(x, 3)
    with pytest.raises(ValueError, match=r"RMSNorm: eps must be a non-negative number"):
        nn.RMSNorm(4, eps=-1.0)
    with pytest.raises(TypeError, match=r"RMSNorm: normalized_shape must be an integer"):
        nn.RMSNorm(4.0)


# ---- float64 central differences -------------------------------------------------------------

def central_diff(f, arr, eps=1e-6):
    g = np.zeros_like(arr)
    flat, gf = arr.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gf[i] = (fp - fm) / (2 * eps)
    return g


def check_grads(module, x_np, train=True):
    """Analytic gradients of sum(y * w) wrt input and parameters vs central differences."""
    module.train(train)
    w = rng(11).normal(size=x_np.shape)
    wt = dlcore.tensor(w)
    x = dlcore.tensor(x_np, requires_grad=True)
    state = {k: npy(v).copy() for k, v in module.state_dict().items()}

    def loss_value():
        module.load_state_dict(state)  # running stats must not drift between evaluations
        with dlcore.no_grad():
            return float((module(dlcore.tensor(x_np)) * wt).sum().item())

    module.load_state_dict(state)
    (module(x) * wt).sum().backward()
    num = central_diff(loss_value, x_np)
    np.testing.assert_allclose(npy(x.grad), num, rtol=1e-6, atol=1e-7 * max(1, np.abs(num).max()))
    for name, p in module.named_parameters():
        arr = p.detach().numpy()

        def lv():
            with dlcore.no_grad():
                st = dict(state)
                st[name] = arr.copy()
                module.load_state_dict(st)
                return float((module(dlcore.tensor(x_np)) * wt).sum().item())

        num = central_diff(lv, arr)
        module.load_state_dict(state)
        np.testing.assert_allclose(npy(p.grad), num, rtol=1e-6, atol=1e-7 * max(1, np.abs(num).max()),
                                   err_msg=name)


def _randomise(module):
    r = rng(12)
    for _, p in module.named_parameters():
        p.copy_(r.normal(1.0, 0.5, size=p.shape))
    return module


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradcheck_float64(train):
    bn = _randomise(nn.BatchNorm2d(3, dtype="float64"))
    bn.running_mean.copy_(np.array([0.3, -0.2, 0.1]))
    bn.running_var.copy_(np.array([1.5, 0.7, 2.0]))
    check_grads(bn, rng(13).normal(size=(3, 3, 2, 2)), train)


def test_layernorm_large_offset_rows_every_isa(every_isa):
    # rows far from zero (1e4 + unit noise): the one-pass shifted sums must still give the
    # variance to float precision (a naive sum of squares would lose it entirely)
    x = (1e4 + rng(21).normal(size=(5, 300))).astype(np.float32)
    y = F.layer_norm(dlcore.tensor(x), (300,)).numpy()
    xd = x.astype(np.float64)
    ref = (xd - xd.mean(1, keepdims=True)) / np.sqrt(xd.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-3)  # x itself is rounded to ~1e-3 here
    assert abs(float(y.std()) - 1.0) < 1e-3


def test_layernorm_gradcheck_float64():
    check_grads(_randomise(nn.LayerNorm((3, 4), dtype="float64")), rng(14).normal(size=(2, 3, 4)))


def test_groupnorm_gradcheck_float64():
    check_grads(_randomise(nn.GroupNorm(2, 4, dtype="float64")), rng(15).normal(size=(2, 4, 3)))


# ---- determinism -----------------------------------------------------------------------------

def test_norms_bitwise_identical_for_1_and_2_threads():
    r = rng(16)
    x_np = r.normal(size=(16, 8, 33, 17)).astype("float32")
    dy_np = r.normal(size=x_np.shape).astype("float32")
    results = []
    for nt in (1, 2):
        with threads(nt):
            out = []
            for mod in (nn.BatchNorm2d(8), nn.LayerNorm((33, 17)), nn.GroupNorm(4, 8),
                        nn.BatchNorm1d(8 * 33)):
                xin = x_np.reshape(16 * 17, 8 * 33) if isinstance(mod, nn.BatchNorm1d) else x_np
                x = dlcore.tensor(xin, requires_grad=True)
                y = mod(x)
                y.backward(dlcore.tensor(dy_np.reshape(xin.shape)))
                out += [npy(y), npy(x.grad), npy(mod.weight.grad), npy(mod.bias.grad)]
                if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    out += [npy(mod.running_mean).copy(), npy(mod.running_var).copy()]
            results.append(out)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_float32_statistics_accurate_for_large_offset():
    # a large mean with a small spread: double accumulation keeps float32 exact enough
    r = rng(17)
    x_np = (1000.0 + r.normal(size=(64, 2, 32, 32))).astype("float32")
    bn = nn.BatchNorm2d(2)
    bn(dlcore.tensor(x_np))
    ref = x_np.astype("float64")
    np.testing.assert_allclose(npy(bn.running_mean), 0.1 * ref.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(npy(bn.running_var), 0.9 + 0.1 * ref.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    # the channel-block path (S == 1) uses shifted one-sweep sums: equally accurate
    x1 = (1000.0 + 3.0 * r.normal(size=(20000, 3))).astype("float32")
    bn1 = nn.BatchNorm1d(3, momentum=1.0)
    bn1(dlcore.tensor(x1))
    ref1 = x1.astype("float64")
    np.testing.assert_allclose(npy(bn1.running_mean), ref1.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(npy(bn1.running_var), ref1.var(axis=0, ddof=1), rtol=1e-6)


# ---- bad input -------------------------------------------------------------------------------

def test_batchnorm_wrong_channel_count():
    with pytest.raises(ValueError, match=r"BatchNorm2d: input of shape \(2, 3, 4, 4\) has 3 channels .* num_features is 4"):
        nn.BatchNorm2d(4)(dlcore.randn(2, 3, 4, 4))


def test_batchnorm_wrong_rank():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D \(N, C, H, W\) input, got 3D input of shape \(2, 4, 4\)"):
        nn.BatchNorm2d(4)(dlcore.randn(2, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D \(N, C\) or 3D \(N, C, L\) input, got 4D"):
        nn.BatchNorm1d(4)(dlcore.randn(2, 4, 4, 4))


def test_batchnorm_single_value_per_channel_in_training():
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training.*\(1, 4\)"):
        nn.BatchNorm1d(4)(dlcore.randn(1, 4))


def test_layernorm_shape_mismatch():
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(2, 5\) does not end with normalized_shape \(4,\)"):
        nn.LayerNorm(4)(dlcore.randn(2, 5))


def test_groupnorm_bad_groups_and_channels():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: expected input of shape \(N, 6, \*\), got shape \(2, 4, 3\)"):
        nn.GroupNorm(3, 6)(dlcore.randn(2, 4, 3))


def test_kernel_front_door_checks_shapes():
    from dlcore import _C
    x = np.zeros((4, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: 'weight' has shape \(5,\) .* input of shape \(4, 3, 2\)"):
        _C.batch_norm_forward(x, np.ones(5, np.float32), None, None, None, True, 0.1, 1e-5)
    with pytest.raises(TypeError, match=r"batch_norm: 'weight' has dtype float64 but 'input' has dtype float32"):
        _C.batch_norm_forward(x, np.ones(3), None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        _C.batch_norm_forward(x, None, None, None, None, False, 0.1, 1e-5)
    with pytest.raises(ValueError, match=r"group_norm: the number of channels 3 .* not divisible by num_groups 2"):
        _C.group_norm_forward(x, 2, None, None, 1e-5)


def test_non_contiguous_input_and_gradient():
    r = rng(18)
    base = r.normal(size=(3, 8, 5))
    x = dlcore.tensor(base, requires_grad=True)
    xt = x.transpose(1, 2)  # (3, 5, 8) non-contiguous view
    ln = nn.LayerNorm(8, dtype="float64")
    y = ln(xt)
    y.sum().backward()  # the gradient arriving is a broadcast (stride-0) array
    xc = xt.detach().numpy()
    ref = (xc - xc.mean(-1, keepdims=True)) / np.sqrt(xc.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(npy(y), ref, rtol=1e-10)
    np.testing.assert_allclose(npy(x.grad), 0.0, atol=1e-12)  # sum of a normalised row is constant


# ---- CUDA kernels against the CPU kernels (skip without a GPU) -------------------------------

from conftest import requires_cuda  # noqa: E402


@requires_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_norms_match_cpu(dtype):
    r = rng(19)
    x_np = r.normal(0.5, 2.0, size=(6, 4, 5, 3)).astype(dtype)
    dy_np = r.normal(size=x_np.shape).astype(dtype)
    w_np, b_np = r.normal(size=4).astype(dtype), r.normal(size=4).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)

    def run(dev, fn):
        x = dlcore.tensor(x_np).to(dev)
        x.requires_grad_(True)
        w = dlcore.tensor(w_np).to(dev)
        w.requires_grad_(True)
        b = dlcore.tensor(b_np).to(dev)
        b.requires_grad_(True)
        y = fn(x, w, b)
        y.backward(dlcore.tensor(dy_np).to(dev))
        return [npy(t.cpu()) for t in (y, x.grad, w.grad, b.grad)]

    rm, rv = np.zeros(4, dtype), np.ones(4, dtype)
    fns = [
        lambda x, w, b: F.batch_norm(x, dlcore.tensor(rm).to(x.device), dlcore.tensor(rv).to(x.device),
                                     w, b, training=True),
        lambda x, w, b: nn.norm._batch_norm(x, dlcore.tensor(rm).to(x.device), dlcore.tensor(rv).to(x.device),
                                            w, b, True, 0.1, 1e-5, relu=True),  # BatchNorm + ReLU fused
        lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda x, w, b: F.layer_norm(x.transpose(1, 3).contiguous(), 4, w, b),
    ]
    for fn in fns:
        for got, ref in zip(run("cuda", fn), run("cpu", fn)):
            np.testing.assert_allclose(got, ref, **tol)


@requires_cuda
@pytest.mark.cuda
def test_cuda_dropout_mask_equals_cpu_mask():
    x = dlcore.randn(1000, 37)
    dlcore.manual_seed(5)
    cpu = npy(F.dropout(x, 0.3))
    dlcore.manual_seed(5)
    gpu = npy(F.dropout(x.to("cuda"), 0.3).cpu())
    np.testing.assert_allclose(gpu, cpu, rtol=1e-6)
