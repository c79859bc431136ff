"""Every op family on CUDA against the same op on the CPU: the same seeded inputs go to both
devices, and the values and the gradients (of a fixed random weighting of the outputs) must
agree. Skipped without a CUDA device (marker `cuda`); run them with `pytest -m cuda` or
bench/cuda_check.sh. Written without a GPU at hand: what they compare is the CPU kernels, which
the rest of the suite checks against PyTorch.

Tolerances: float32 results differ only in summation order (GEMMs, reductions), so 1e-4
relative; float64 cases 1e-10. Integer results (indices, argsort, nonzero, dropout masks) must
be equal.

DLCORE_CUDA_TEST_DEVICE=cpu runs the same comparisons with "cpu" as the second device (every
check then passes trivially): it checks the tests themselves on a machine without a GPU."""
import os

import numpy as np
import pytest

import dlcore
import dlcore.nn as nn
import dlcore.nn.functional as F
from conftest import requires_cuda

DEV = os.environ.get("DLCORE_CUDA_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.cuda] + ([requires_cuda] if DEV == "cuda" else [])
needs_gpu = pytest.mark.skipif(DEV != "cuda", reason="checks CUDA-only behaviour")

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _host(t):
    return t.detach().cpu().numpy()


def _both(arrays, grad):
    """The same NumPy arrays as CPU tensors and as CUDA tensors (requires_grad for float
    arrays when grad)."""
    cpu, gpu = [], []
    for a in arrays:
        a = np.asarray(a)
        rg = grad and a.dtype.kind == "f"
        cpu.append(dlcore.tensor(a, requires_grad=rg))
        gpu.append(dlcore.tensor(a, device=DEV, requires_grad=rg))
    return cpu, gpu


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(fn, arrays, grad=True, dtype=np.float32, exact=False, seed=0, reseed=None):
    """fn(*tensors) on both devices: outputs equal (within the dtype's tolerance, or exactly),
    and with grad the gradients of sum(out * w) for fixed random w equal too. reseed: the
    generator is seeded with it before each device's call (random ops draw the same numbers)."""
    tol = dict(rtol=0, atol=0) if exact else TOL[dtype]
    cpu, gpu = _both(arrays, grad)

    def run(xs):
        if reseed is not None:
            dlcore.manual_seed(reseed)
        return _outputs(fn(*xs))
    oc, og = run(cpu), run(gpu)
    assert len(oc) == len(og)
    for c, g in zip(oc, og):
        assert str(g.device).startswith(DEV), f"output on {g.device}"
        assert c.dtype == g.dtype and tuple(c.shape) == tuple(g.shape)
        np.testing.assert_allclose(_host(g), _host(c), **tol)
    if not grad:
        return
    r = np.random.default_rng(seed + 100)
    lc = lg = None
    for c, g in zip(oc, og):
        if not (c.dtype.is_floating_point and c.requires_grad):
            continue
        w = r.standard_normal(tuple(c.shape)).astype(np.dtype(str(c.dtype)))
        tc, tg = (c * dlcore.tensor(w)).sum(), (g * dlcore.tensor(w, device=DEV)).sum()
        lc, lg = (tc if lc is None else lc + tc), (tg if lg is None else lg + tg)
    if lc is None:
        return
    lc.backward()
    lg.backward()
    for c, g in zip(cpu, gpu):
        if c.requires_grad:
            assert (c.grad is None) == (g.grad is None)
            if c.grad is not None:
                assert str(g.grad.device).startswith(DEV)
                np.testing.assert_allclose(_host(g.grad), _host(c.grad), **tol)


def randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def randint(high, *shape, seed=0):
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.int64)


# ---- elementwise, reduce, shape ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_broadcast_and_strided(dtype):
    check(lambda a, b: (a * b + a.exp() - b / (a.abs() + 1)).transpose(0, 2) ** 2,
          [randn(4, 1, 5, dtype=dtype), randn(3, 1, dtype=dtype, seed=1)], dtype=dtype)


def test_elementwise_int_and_bool():
    check(lambda a, b: (a * b + 3 - dlcore.maximum(a, b), a < b, (a > 1) & (b < 4)),
          [randint(5, 4, 6), randint(5, 6, seed=1)], grad=False, exact=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions(dtype):
    check(lambda a: (a.sum(1), a.mean(), a.var(0), a.amax(2), a.norm(), a.softmax(-1)),
          [randn(5, 6, 7, dtype=dtype)], dtype=dtype)


def test_shape_ops():
    check(lambda a, b: dlcore.cat([a.permute(1, 0, 2).reshape(3, -1), b], 1).split(4, 1)[1] + F.pad(a, (1, 2))[0, :, 1:5],
          [randn(2, 3, 4), randn(3, 5, seed=1)])


# ---- index family -----------------------------------------------------------------------------

def test_index_select_and_index_add():
    idx = np.array([3, 0, 3, 1, 3], dtype=np.int64)  # repeated: the backward accumulates
    check(lambda x: dlcore.index_select(x, 1, dlcore.tensor(idx, device=x.device)), [randn(4, 5, 3)])
    check(lambda x, s: dlcore.index_add(x, 0, dlcore.tensor(idx, device=x.device), s), [randn(4, 3), randn(5, 3, seed=1)])


def test_gather_and_scatter_add():
    idx = randint(5, 4, 7, 3, seed=2)
    check(lambda x: dlcore.gather(x, 1, dlcore.tensor(idx, device=x.device)), [randn(4, 5, 3)])
    check(lambda x, s: dlcore.scatter_add(x, 1, dlcore.tensor(idx, device=x.device), s),
          [randn(4, 5, 3), randn(4, 7, 3, seed=1)])


def test_advanced_indexing_get_put_and_accumulating_backward():
    rows = np.array([[0, 2], [2, 2]], dtype=np.int64)
    cols = np.array([1, -1], dtype=np.int64)
    check(lambda x: x[dlcore.tensor(rows, device=x.device), :, dlcore.tensor(cols, device=x.device)], [randn(3, 4, 5)])
    check(lambda x: x[x > 0.3], [randn(6, 7)])  # boolean mask: nonzero on the device

    def put(x, v):
        y = x.clone()
        y[dlcore.tensor(np.array([1, 3, 1]), device=x.device)] = v
        return y
    check(put, [randn(5, 4), randn(4, seed=1)], grad=False)


@needs_gpu
def test_index_errors_name_the_index_on_cuda():
    x = dlcore.zeros(3, 4, device=DEV)
    with pytest.raises(IndexError, match="index_select: index 3 is out of bounds for axis 0 with size 3"):
        dlcore.index_select(x, 0, dlcore.tensor([0, 3, 1], device=DEV))
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 4"):
        x[:, dlcore.tensor([5], device=DEV)]
    with pytest.raises(ValueError, match="index_select: 'index' is on cpu but 'input' is on cuda"):
        dlcore._C.index_select(x._data, 0, dlcore.tensor([0])._data)


def test_one_hot_nonzero_argsort_exact():
    idx = randint(6, 3, 5)
    check(lambda i: F.one_hot(i, 6), [idx], grad=False, exact=True)
    m = np.random.default_rng(3).random((4, 5, 6)) > 0.6
    check(lambda a: dlcore.Tensor._wrap(dlcore._C.nonzero(a._data)), [m], grad=False, exact=True)
    keys = np.round(randn(7, 33, seed=4), 1)  # many ties: the sort must be stable
    keys[0, 3] = np.nan
    keys[1, :4] = [0.0, -0.0, 0.0, -0.0]
    check(lambda k: (dlcore.argsort(k, -1), dlcore.argsort(k.double(), 0)), [keys], grad=False, exact=True)
    check(lambda k: dlcore.argsort(k, 1), [randint(4, 5, 40, seed=5)], grad=False, exact=True)


def test_embedding_forward_and_backward():
    ids = randint(10, 4, 6)
    ids[0, :3] = 2  # repeated rows accumulate in the backward
    check(lambda w: F.embedding(dlcore.tensor(ids, device=w.device), w, padding_idx=0), [randn(10, 8)])


# ---- gemm, activation, loss -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_and_linear_epilogue(dtype):
    def r(*shape, seed=0):
        return randn(*shape, dtype=dtype, seed=seed)
    check(lambda a, b: a @ b, [r(2, 33, 17), r(17, 65, seed=1)], dtype=dtype)
    check(lambda a, b: a.transpose(-1, -2) @ b.T, [r(3, 70, 20), r(80, 70, seed=1)], dtype=dtype)  # transposed operands
    check(lambda x, w, b: (F.linear(x, w, b), F.relu(F.linear(x, w, b))), [r(9, 20), r(7, 20, seed=1), r(7, seed=2)],
          dtype=dtype)


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "tanh", "sigmoid", "softmax", "log_softmax", "leaky_relu",
                                  "elu"])
def test_activations(name):
    fn = getattr(F, name)
    check((lambda x: fn(x, dim=-1)) if "softmax" in name else fn, [randn(6, 11)])


def test_losses():
    y = randint(5, 8)
    t = randn(8, 5, seed=2)
    check(lambda x: F.cross_entropy(x, dlcore.tensor(y, device=x.device), label_smoothing=0.1), [randn(8, 5)])
    check(lambda x: F.nll_loss(F.log_softmax(x, dim=1), dlcore.tensor(y, device=x.device)), [randn(8, 5)])
    check(lambda x: F.mse_loss(x, dlcore.tensor(t, device=x.device)), [randn(8, 5)])
    check(lambda x: F.binary_cross_entropy_with_logits(x, dlcore.tensor((t > 0).astype(np.float32), device=x.device)),
          [randn(8, 5)])


# ---- norm, dropout ----------------------------------------------------------------------------

def test_batch_layer_group_norm():
    check(lambda x, w, b: F.batch_norm(x, dlcore.zeros(3, device=x.device), dlcore.ones(3, device=x.device), w, b,
                                       training=True), [randn(4, 3, 5, 5), randn(3, seed=1), randn(3, seed=2)])
    check(lambda x, w, b: F.layer_norm(x, (5,), w, b), [randn(4, 3, 5), randn(5, seed=1), randn(5, seed=2)])
    check(lambda x, w, b: F.group_norm(x, 2, w, b), [randn(4, 6, 5), randn(6, seed=1), randn(6, seed=2)])


def test_batchnorm_module_running_stats_follow_the_device():
    m_cpu, m_gpu = nn.BatchNorm2d(3), nn.BatchNorm2d(3).to(DEV)
    x = randn(4, 3, 5, 5)
    m_cpu(dlcore.tensor(x))
    m_gpu(dlcore.tensor(x, device=DEV))
    np.testing.assert_allclose(_host(m_gpu.running_var), _host(m_cpu.running_var), rtol=1e-5)


def test_dropout_masks_are_identical_on_both_devices():
    x = np.ones((64, 100), dtype=np.float32)
    dlcore.manual_seed(123)
    c = F.dropout(dlcore.tensor(x), 0.3)
    dlcore.manual_seed(123)
    g = F.dropout(dlcore.tensor(x, device=DEV), 0.3)
    np.testing.assert_array_equal(_host(g), _host(c))
    for seed in (1, 2):  # and the gradient takes the same mask
        check(lambda a: F.dropout(a, 0.5), [randn(8, 9)], seed=seed, reseed=seed)


# ---- random, init: the same Philox stream on both devices ---------------------------------------

@pytest.mark.parametrize("make", [lambda d: dlcore.rand(300, 7, device=d), lambda d: dlcore.randn(301, 5, device=d),
                                  lambda d: dlcore.randn(64, dtype="float64", device=d),
                                  lambda d: nn.init.trunc_normal_(dlcore.empty(200, 9, device=d), std=0.5),
                                  lambda d: nn.init.uniform_(dlcore.empty(50, 3, device=d), -2.0, 1.0)])
def test_seeded_random_fills_match(make):
    dlcore.manual_seed(42)
    c = make("cpu")
    dlcore.manual_seed(42)
    g = make(DEV)
    assert str(g.device).startswith(DEV)
    np.testing.assert_allclose(_host(g), _host(c), rtol=1e-5, atol=1e-6)


# ---- conv, pool -------------------------------------------------------------------------------

def test_convolutions():
    check(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [randn(2, 3, 9, 9), randn(4, 3, 3, 3, seed=1),
                                                                   randn(4, seed=2)])
    check(lambda x, w: F.conv2d(x, w, padding=1), [randn(2, 3, 8, 8), randn(5, 3, 3, 3, seed=1)])  # Winograd on CPU
    check(lambda x, w: F.conv2d(x, w, groups=3), [randn(2, 3, 6, 6), randn(3, 1, 3, 3, seed=1)])  # depthwise
    check(lambda x, w, b: F.conv1d(x, w, b, padding=2), [randn(2, 3, 12), randn(4, 3, 5, seed=1), randn(4, seed=2)])
    check(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
          [randn(2, 4, 5, 5), randn(4, 3, 3, 3, seed=1)])


def test_pooling():
    check(lambda x: (F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1),
                     F.adaptive_avg_pool2d(x, (2, 3))), [randn(2, 3, 9, 8)])


# ---- recurrent --------------------------------------------------------------------------------

def _copy_rnn(mod_cls, **kw):
    dlcore.manual_seed(7)
    cpu = mod_cls(**kw)
    gpu = mod_cls(**kw)
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu.to(DEV)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("lengths", [None, [7, 3, 1, 5]])
def test_rnn_layers_bidirectional_multilayer(cls, lengths):
    cpu_m, gpu_m = _copy_rnn(cls, input_size=6, hidden_size=12, num_layers=2, bidirectional=True)
    x = randn(7, 4, 6)
    xc = dlcore.tensor(x, requires_grad=True)
    xg = dlcore.tensor(x, device=DEV, requires_grad=True)
    oc, hc = cpu_m(xc, lengths=lengths)
    og, hg = gpu_m(xg, lengths=lengths)
    np.testing.assert_allclose(_host(og), _host(oc), rtol=1e-4, atol=1e-5)
    w = randn(*oc.shape, seed=3)
    (oc * dlcore.tensor(w)).sum().backward()
    (og * dlcore.tensor(w, device=DEV)).sum().backward()
    np.testing.assert_allclose(_host(xg.grad), _host(xc.grad), rtol=1e-4, atol=1e-5)
    for (name, pc), (_, pg) in zip(cpu_m.named_parameters(), gpu_m.named_parameters()):
        np.testing.assert_allclose(_host(pg.grad), _host(pc.grad), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("kw", [dict(), dict(go_backwards=True, return_sequences=True)])
def test_keras_recurrent_layers_with_masks(name, kw):
    """Keras's masked recurrence (Embedding(mask_zero) -> LSTM): the mask's gathers and the
    lengths run where the model is."""
    import copy
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 1]], dtype=np.int64)
    dlcore.manual_seed(1)
    cpu = dlcore.Sequential([dlcore.layers.Embedding(10, 4, mask_zero=True), getattr(dlcore.layers, name)(6, **kw)])
    cpu.build((None, 5))
    dev = copy.deepcopy(cpu).to(DEV)
    yc, yg = cpu(dlcore.tensor(ids)), dev(dlcore.tensor(ids, device=DEV))
    np.testing.assert_allclose(_host(yg), _host(yc), rtol=1e-4, atol=1e-5)
    yc.sum().backward()
    yg.sum().backward()
    for pc, pg in zip(cpu.parameters(), dev.parameters()):
        np.testing.assert_allclose(_host(pg.grad), _host(pc.grad), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_rnn_float64_runs_on_the_dgemm(cls):
    cpu_m, gpu_m = _copy_rnn(cls, input_size=5, hidden_size=9, bidirectional=True)
    cpu_m.double()
    gpu_m.double()
    check(lambda x: (cpu_m if x.device == "cpu" else gpu_m)(x)[0], [randn(6, 3, 5, dtype=np.float64)],
          dtype=np.float64)


# ---- optimizers, clipping ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda p: dlcore.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda p: dlcore.optim.Adam(p, lr=0.01, weight_decay=0.01),
                                  lambda p: dlcore.optim.AdamW(p, lr=0.01), lambda p: dlcore.optim.RMSprop(p, lr=0.01)])
def test_fused_optimizer_steps(make):
    w0, g = randn(5, 7), randn(5, 7, seed=1)
    pc = nn.Parameter(dlcore.tensor(w0))
    pg = nn.Parameter(dlcore.tensor(w0, device=DEV))
    oc, og = make([pc]), make([pg])
    for _ in range(3):
        pc.grad, pg.grad = dlcore.tensor(g), dlcore.tensor(g, device=DEV)
        oc.step()
        og.step()
    np.testing.assert_allclose(_host(pg), _host(pc), rtol=1e-5, atol=1e-6)


def test_clip_grad_norm():
    ps = []
    for dev in ("cpu", DEV):
        p = [nn.Parameter(dlcore.tensor(randn(4, 5), device=dev)), nn.Parameter(dlcore.tensor(randn(3), device=dev))]
        for q, s in zip(p, (1, 2)):
            q.grad = dlcore.tensor(randn(*q.shape, seed=s) * 10, device=dev)
        n = nn.utils.clip_grad_norm_(p, 1.0)
        ps.append((float(n), [_host(q.grad) for q in p]))
    assert ps[0][0] == pytest.approx(ps[1][0], rel=1e-5)
    for a, b in zip(ps[0][1], ps[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-5)


# ---- memory and errors ------------------------------------------------------------------------

@needs_gpu
def test_caching_allocator_reuses_blocks_and_counts():
    dlcore.cuda.empty_cache()
    base = dlcore.cuda.memory_allocated()
    dlcore.cuda.reset_peak_memory_stats()
    x = dlcore.zeros(1024, 1024, device=DEV)  # 4 MiB
    assert dlcore.cuda.memory_allocated() - base >= 4 << 20
    assert dlcore.cuda.max_memory_allocated() >= dlcore.cuda.memory_allocated()
    del x
    assert dlcore.cuda.memory_allocated() == base
    allocs = dlcore.cuda.memory_stats()["device_allocs"]
    for _ in range(5):
        y = dlcore.zeros(1024, 1024, device=DEV)
        del y
    assert dlcore.cuda.memory_stats()["device_allocs"] == allocs  # the cached block was reused
    assert dlcore.cuda.memory_reserved() >= 4 << 20
    dlcore.cuda.empty_cache()
    assert dlcore.cuda.memory_reserved() == dlcore.cuda.memory_allocated()


@needs_gpu
def test_out_of_memory_is_a_python_exception_with_sizes():
    with pytest.raises(dlcore.cuda.OutOfMemoryError, match=r"tried to allocate .* bytes.*free of"):
        dlcore.empty(1 << 50, device=DEV)  # 4 PiB of float32
    assert issubclass(dlcore.cuda.OutOfMemoryError, RuntimeError)
    dlcore.zeros(10, device=DEV).sum().item()  # the device still works afterwards
