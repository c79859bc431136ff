"""PyTorch-style code runs on dlcore unchanged: functions taking ``parameters`` accept a
generator (read once), device / accelerator queries, dtype aliases, *_like creators and the
axis / keepdims aliases - each checked against PyTorch."""
import numpy as np
import pytest
import torch

import dlcore
import dlcore.nn as nn


def _pair(seed=0):
    """The same small model in both libraries, with gradients from the same loss."""
    rng = np.random.default_rng(seed)
    w1, b1, w2 = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 4))
    x = rng.standard_normal((5, 3))
    dm = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False)).double()
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2, bias=False)).double()
    for m, mod in ((dm, dlcore), (tm, torch)):
        with (dlcore.no_grad() if mod is dlcore else torch.no_grad()):
            m[0].weight.copy_(mod.tensor(w1)), m[0].bias.copy_(mod.tensor(b1)), m[2].weight.copy_(mod.tensor(w2))
        (100 * m(mod.tensor(x)) ** 2).sum().backward()
    return dm, tm


def _grads(m):
    return [p.grad.detach().numpy().copy() for p in m.parameters()]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_with_a_generator_clips(norm_type):
    dm, tm = _pair()
    nd = nn.utils.clip_grad_norm_(dm.parameters(), 1.0, norm_type=norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0, norm_type=norm_type)
    assert float(nd) == pytest.approx(float(nt), rel=1e-12) and float(nt) > 10
    for gd, gt in zip(_grads(dm), _grads(tm)):
        np.testing.assert_allclose(gd, gt, rtol=1e-12)
    total = np.linalg.norm(np.concatenate([g.ravel() for g in _grads(dm)]), ord=norm_type)
    assert total == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_value_with_a_generator_clips():
    dm, tm = _pair()
    nn.utils.clip_grad_value_(dm.parameters(), 0.5)
    torch.nn.utils.clip_grad_value_(tm.parameters(), 0.5)
    for gd, gt in zip(_grads(dm), _grads(tm)):
        np.testing.assert_array_equal(gd, gt)
    assert max(np.abs(g).max() for g in _grads(dm)) == 0.5


def test_get_total_norm_and_clip_grads_with_norm_with_generators():
    dm, tm = _pair()
    nd = nn.utils.get_total_norm(p.grad for p in dm.parameters())
    nt = torch.nn.utils.get_total_norm([p.grad for p in tm.parameters()])
    assert float(nd) == pytest.approx(float(nt), rel=1e-12)
    nn.utils.clip_grads_with_norm_(dm.parameters(), 2.0, nd)
    torch.nn.utils.clip_grads_with_norm_(tm.parameters(), 2.0, nt)
    for gd, gt in zip(_grads(dm), _grads(tm)):
        np.testing.assert_allclose(gd, gt, rtol=1e-12)


def test_parameters_to_vector_and_back_with_generators():
    dm, tm = _pair()
    vd = nn.utils.parameters_to_vector(dm.parameters())
    vt = torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(vd.detach().numpy(), vt.detach().numpy())
    new = np.arange(vt.numel(), dtype=np.float64)
    nn.utils.vector_to_parameters(dlcore.tensor(new), dm.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tm.parameters())
    for pd, pt in zip(dm.parameters(), tm.parameters()):
        np.testing.assert_array_equal(pd.detach().numpy(), pt.detach().numpy())
    with pytest.raises(ValueError, match="vector_to_parameters: vec has 3 elements"):
        nn.utils.vector_to_parameters(dlcore.zeros(3), dm.parameters())
    for p in dm.parameters():  # differentiable, as torch's
        p.grad = None
    vd = nn.utils.parameters_to_vector(dm.parameters())
    (vd * vd).sum().backward()
    for p in dm.parameters():
        np.testing.assert_array_equal(p.grad.numpy(), 2 * p.detach().numpy())


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
                                  "Lion", "LBFGS"])
def test_optimizers_take_a_generator(name):
    dm, tm = _pair()
    opt = getattr(dlcore.optim, name)(dm.parameters(), lr=0.01)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in dm.parameters()]
    if name != "LBFGS":
        before = [p.detach().numpy().copy() for p in dm.parameters()]
        opt.step()
        assert all(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, dm.parameters()))
    # a generator of parameter groups too
    opt = getattr(dlcore.optim, name)(({"params": [p]} for p in [dm[0].weight]), lr=0.01)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"][0] is dm[0].weight


# ---- DataLoader(num_workers=N), dlcore.utils.data ----------------------------------------------

import threading  # noqa: E402

from dlcore.utils import data as udata  # noqa: E402


class _Squares(udata.Dataset):
    """A map-style dataset in Python: per-sample __getitem__, default collate."""

    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, float(i)), i * i


def _epochs(loader, epochs=2):
    return [[[b.numpy() if hasattr(b, "numpy") else b for b in batch] for batch in loader] for _ in range(epochs)]


@pytest.mark.parametrize("make", [lambda: (np.arange(46.0).reshape(23, 2), np.arange(23)),
                                  lambda: udata.TensorDataset(dlcore.arange(23.0), dlcore.arange(23)),
                                  lambda: _Squares()])
@pytest.mark.parametrize("opts", [dict(batch_size=4), dict(batch_size=5, shuffle=True, drop_last=True),
                                  dict(batch_size=3, shuffle=True)])
def test_workers_give_the_batches_of_one_process(make, opts):
    ref = _epochs(udata.DataLoader(make(), generator=dlcore.Generator(5) if opts.get("shuffle") else None, **opts))
    for nw in (1, 3):
        got = _epochs(udata.DataLoader(make(), num_workers=nw, prefetch_factor=1 if nw == 3 else None,
                                       generator=dlcore.Generator(5) if opts.get("shuffle") else None, **opts))
        assert len(got[0]) == len(ref[0]) and len(got[1]) == len(ref[1])
        for ea, eb in zip(ref, got):
            for ba, bb in zip(ea, eb):
                for a, b in zip(ba, bb):
                    np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(ref[0], ref[1])) or not opts.get("shuffle")


class _Rendezvous(udata.Dataset):
    """Each fetch waits until `parties` fetches are in progress at once: loading only gets
    through if the workers really run at the same time (one thread alone times out)."""

    def __init__(self, n, parties):
        self.n, self.barrier = n, threading.Barrier(parties, timeout=20)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.barrier.wait()
        return np.array([float(i)])


def test_workers_load_in_parallel():
    loader = udata.DataLoader(_Rendezvous(12, 3), batch_size=1, num_workers=3)
    assert [int(b.item()) for b in loader] == list(range(12))
    with pytest.raises(threading.BrokenBarrierError):
        ds = _Rendezvous(3, 3)
        ds.barrier = threading.Barrier(3, timeout=0.2)  # alone, the one thread never meets the others
        list(udata.DataLoader(ds, batch_size=1, num_workers=0))


class _Noisy(udata.Dataset):
    """A dataset that draws random numbers while loading (an augmentation)."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return dlcore.rand(2, dtype=dlcore.float64) + i


def test_random_draws_in_workers_are_reproducible():
    def run(nw, seed):
        return [b.numpy() for b in udata.DataLoader(_Noisy(), batch_size=3, num_workers=nw, shuffle=True,
                                                     generator=dlcore.Generator(seed))]
    a, b, c, d = run(2, 1), run(2, 1), run(4, 1), run(2, 2)
    for x, y, z in zip(a, b, c):  # the same draws whatever the number of workers or scheduling
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    assert not np.array_equal(a[0], d[0])


def test_worker_init_fn_worker_info_errors_and_early_exit():
    seen, infos = [], []
    lock = threading.Lock()

    class Info(_Squares):
        def __getitem__(self, i):
            with lock:
                infos.append(udata.get_worker_info())
            if i == 17:
                raise KeyError("sample 17 is broken")
            return super().__getitem__(i)
    loader = udata.DataLoader(Info(), batch_size=2, num_workers=3, worker_init_fn=seen.append)
    with pytest.raises(KeyError, match="sample 17 is broken"):
        list(loader)
    assert sorted(seen) == [0, 1, 2] and udata.get_worker_info() is None
    assert {i.id for i in infos} <= {0, 1, 2} and all(i.num_workers == 3 for i in infos)
    for batch in udata.DataLoader(_Squares(), batch_size=2, num_workers=2):  # leaving early stops cleanly
        break
    assert threading.active_count() < 10


def test_samplers_subsets_and_splits_as_torch():
    import torch.utils.data as tud
    ds = list(range(10))
    assert list(udata.BatchSampler(udata.SequentialSampler(ds), 3, False)) == \
        list(tud.BatchSampler(tud.SequentialSampler(ds), 3, False))
    assert list(udata.BatchSampler(range(10), 4, True)) == list(tud.BatchSampler(range(10), 4, True))
    loader = udata.DataLoader(_Squares(10), batch_sampler=udata.BatchSampler(range(10), 4, False))
    assert [b[1].tolist() for b in loader] == [[0, 1, 4, 9], [16, 25, 36, 49], [64, 81]] and len(loader) == 3
    loader = udata.DataLoader(_Squares(10), batch_size=4, sampler=[9, 8, 7, 6, 5], num_workers=2)
    assert [b[1].tolist() for b in loader] == [[81, 64, 49, 36], [25]]
    perm = sorted(udata.RandomSampler(ds, generator=dlcore.Generator(0)))
    assert perm == ds and len(list(udata.RandomSampler(ds, num_samples=25))) == 25
    assert sorted(udata.SubsetRandomSampler([3, 5, 7])) == [3, 5, 7]
    for lengths in ([0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [3, 7], [1.0]):
        parts = udata.random_split(range(10), lengths, generator=dlcore.Generator(3))
        tparts = tud.random_split(range(10), lengths)
        assert [len(p) for p in parts] == [len(p) for p in tparts]
        assert sorted(i for p in parts for i in p) == list(range(10))
    sub = udata.Subset(_Squares(), [5, 2])
    assert len(sub) == 2 and sub[1][1] == 4
    cat = udata.ConcatDataset([_Squares(3), _Squares(2)])
    assert len(cat) == 5 and cat[3][1] == 0 and cat[-1][1] == 1
    with pytest.raises(ValueError, match="random_split: the lengths"):
        udata.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="batch_sampler is mutually exclusive"):
        udata.DataLoader(_Squares(), batch_size=2, batch_sampler=[[0]])
    ts = udata.TensorDataset(np.arange(6.0))
    assert [b[0].tolist() for b in udata.DataLoader(udata.Subset(ts, [4, 1]), batch_size=2)] == [[4.0, 1.0]]


def test_torch_import_paths():
    import dlcore.utils.data as ud
    from dlcore.utils.data import DataLoader, Dataset, TensorDataset  # noqa: F401
    assert ud.DataLoader is dlcore.data.DataLoader and ud.random_split is dlcore.data.random_split
    assert udata.DataLoader(_Squares(3)).batch_size == 1  # torch's default


# ---- small compatibility: dtypes, devices, accelerator, *_like, axis / keepdims -----------------

def test_dtype_aliases_are_torchs():
    for name in ("float32", "float64", "int64", "double", "float", "long", "bool"):
        assert getattr(dlcore, name) == getattr(torch, name), name
    assert dlcore.int == dlcore.int64  # dlcore's one integer dtype (torch.int is int32)
    x = dlcore.zeros(2, dtype=dlcore.double)
    assert x.dtype == dlcore.float64 and x.to(dlcore.float).dtype == dlcore.float32
    assert x.int().dtype == dlcore.int64 and x.bool().dtype == dlcore.bool and x.long().dtype == dlcore.long
    assert isinstance(3, int) and bool(1) is True  # Python's types are untouched elsewhere


def test_device_and_accelerator_queries_as_torch():
    assert dlcore.device(type="cpu") == dlcore.device("cpu") == "cpu"
    assert dlcore.device("cuda", 0) == "cuda:0" and str(dlcore.device(type="cuda", index=0)) == "cuda:0"
    with pytest.raises(TypeError, match="missing the device type"):
        dlcore.device()
    assert dlcore.accelerator.is_available() == dlcore.cuda.is_available()
    assert dlcore.accelerator.device_count() == dlcore.cuda.device_count()
    acc = dlcore.accelerator.current_accelerator(check_available=True)
    assert (acc is None) == (not dlcore.cuda.is_available())
    dev = acc.type if dlcore.accelerator.is_available() else "cpu"  # torch's idiom
    assert dlcore.ones(2, device=dev).device == dev
    dlcore.accelerator.synchronize()
    assert dlcore.ones(1).is_cuda is False


def test_like_creators_as_torch():
    x = dlcore.zeros(3, 4, dtype=dlcore.float64)
    tx = torch.zeros(3, 4, dtype=torch.float64)
    for name, args in (("rand_like", ()), ("randn_like", ()), ("randint_like", (5,)), ("randint_like", (2, 5)),
                       ("full_like", (7,)), ("zeros_like", ()), ("ones_like", ()), ("empty_like", ())):
        a, b = getattr(dlcore, name)(x, *args), getattr(torch, name)(tx, *args)
        assert a.shape == tuple(b.shape) and a.dtype == b.dtype, name
    r = dlcore.randint_like(x, 2, 5).numpy()
    assert r.dtype == np.float64 and set(np.unique(r)) <= {2.0, 3.0, 4.0} and np.all(r == np.floor(r))
    assert dlcore.randint_like(dlcore.zeros(3, dtype=dlcore.int64), 9).dtype == dlcore.int64
    assert dlcore.rand_like(x, dtype=dlcore.float32).dtype == dlcore.float32
    assert dlcore.randn_like(x, requires_grad=True).requires_grad and dlcore.zeros_like(x, requires_grad=True).requires_grad
    dlcore.manual_seed(1)
    a = dlcore.randn_like(x).numpy()
    dlcore.manual_seed(1)
    np.testing.assert_array_equal(a, dlcore.randn_like(x).numpy())
    with pytest.raises(TypeError, match="rand_like: random values need a float dtype"):
        dlcore.rand_like(dlcore.zeros(2, dtype=dlcore.int64))


_ALIASED = [  # (call on the library module m and a tensor x): every form torch accepts
    "x.sum(axis=1)", "x.sum(dim=1, keepdims=True)", "m.sum(x, axis=1, keepdims=True)", "x.mean(axis=0)",
    "m.mean(x, axis=0, keepdims=True)", "x.max(axis=1).values", "x.max(axis=1, keepdims=True).indices",
    "m.max(x, axis=1, keepdims=True).values", "x.min(axis=1).indices", "x.amax(axis=1)",
    "m.amax(x, axis=(0, 1), keepdims=True)", "x.amin(axis=0, keepdims=True)", "x.argmax(axis=1)",
    "m.argmax(x, axis=1, keepdims=True)", "x.argmin(axis=0)", "x.std(axis=0)", "x.var(axis=0, keepdims=True)",
    "m.std(x, axis=1)", "m.var(x, axis=1, keepdims=True)", "x.all(axis=1)", "x.any(axis=1, keepdims=True)",
    "m.cat([x, x], axis=0)", "m.stack([x, x], axis=1)", "x.unsqueeze(axis=0).squeeze(axis=0)",
    "x.chunk(2, axis=1)[1]", "m.chunk(x, 2, axis=0)[0]",
]


@pytest.mark.parametrize("expr", _ALIASED)
def test_numpy_argument_names_as_torch(expr):
    a = np.random.default_rng(0).standard_normal((4, 6))
    got = eval(expr, {"m": dlcore, "x": dlcore.tensor(a)})
    want = eval(expr, {"m": torch, "x": torch.tensor(a)})
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_numpy_argument_names_refuse_both():
    x = dlcore.ones(2, 3)
    with pytest.raises(TypeError, match="sum: got both dim=1 and axis=0"):
        x.sum(1, axis=0)
    with pytest.raises(TypeError, match="mean: got both keepdim and keepdims"):
        dlcore.mean(x, 1, True, keepdims=True)
    with pytest.raises(TypeError, match="cat: got both dim=1 and axis=0"):
        dlcore.cat([x, x], 1, axis=0)


_METHODS = [  # Tensor methods and functions PyTorch scripts use, composed from dlcore's ops
    "x.softmax(1)", "x.log_softmax(-1)", "m.softmax(x, 2)", "m.log_softmax(x, 0)", "x.logsumexp(1)",
    "m.logsumexp(x, (0, 2), keepdim=True)", "x.flip(0, 2)", "x.flip([1])", "m.flip(x, (2,))", "x.repeat(2, 1, 3)",
    "x.repeat(2, 2, 1, 1)", "x.clamp_min(0.1)", "x.clamp_max(0.0)", "x.type_as(x)",
]


def test_logsumexp_extremes_as_torch():
    a = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [1000.0, 1000.0], [-1000.0, -1001.0]])
    np.testing.assert_array_equal(dlcore.logsumexp(dlcore.tensor(a), 1).numpy(), torch.logsumexp(torch.tensor(a), 1).numpy())


def test_small_methods():
    x = dlcore.zeros(3, 4, dtype=dlcore.float64)
    assert x.element_size() == 8 and x.nelement() == 12 and dlcore.ones(2).element_size() == 4
    assert x.type_as(dlcore.tensor([1])).dtype == dlcore.int64
    dlcore.manual_seed(0)
    x.uniform_(2, 3)
    v = x.numpy().copy()
    assert v.min() >= 2 and v.max() < 3
    dlcore.manual_seed(0)
    np.testing.assert_array_equal(dlcore.zeros(3, 4, dtype=dlcore.float64).uniform_(2, 3).numpy(), v)
    y = dlcore.zeros(20000).normal_(1.0, 2.0).numpy()
    assert abs(y.mean() - 1.0) < 4 * 2 / np.sqrt(len(y)) and abs(y.std() - 2.0) < 0.05
    p = nn.Linear(2, 2).weight
    with pytest.raises(RuntimeError, match="uniform_: a leaf tensor that requires grad"):
        p.uniform_()
    with dlcore.no_grad():  # as nn.init does it
        p.uniform_(-0.1, 0.1)
    assert float(abs(p).amax()) <= 0.1
    with pytest.raises(ValueError, match="repeat: needs at least 2 sizes"):
        x.repeat(2)


def test_grad_mode_managers_as_torch():
    x = dlcore.ones(2, requires_grad=True)
    with dlcore.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    dlcore.set_grad_enabled(False)  # as a function: at once
    assert not dlcore.is_grad_enabled()
    dlcore.set_grad_enabled(True)
    for phase in ("train", "val"):  # the transfer-learning tutorial's loop
        with dlcore.set_grad_enabled(phase == "train"):
            assert (x * 2).requires_grad == (phase == "train")

    @dlcore.set_grad_enabled(False)
    def f():
        return (x * 2).requires_grad
    assert dlcore.is_grad_enabled() and f() is False and dlcore.is_grad_enabled()

    @dlcore.enable_grad()
    def g():
        return (x * 2).requires_grad
    with dlcore.no_grad():
        assert g() is True  # enable_grad as a decorator enables (it used to disable)
    with dlcore.inference_mode():
        assert not (x * 2).requires_grad
    with dlcore.inference_mode(False):
        assert (x * 2).requires_grad

    @dlcore.inference_mode()
    def h():
        return (x * 2).requires_grad
    assert h() is False and dlcore.is_grad_enabled()


def test_script_level_shims():
    a = np.arange(6.0).reshape(2, 3)
    t = dlcore.as_tensor(a)
    a[0, 0] = 7.0  # shares the array's memory, as torch.as_tensor does
    assert t[0, 0].item() == 7.0 and dlcore.as_tensor(t) is t
    assert dlcore.as_tensor(a, dtype=dlcore.float32).dtype == dlcore.float32
    assert dlcore.as_tensor([1, 2]).dtype == dlcore.int64
    assert dlcore.is_tensor(t) and not dlcore.is_tensor(a) and dlcore.is_floating_point(t)
    m = nn.Linear(2, 2)
    assert dlcore.compile(m) is m and dlcore.compile(mode="max-autotune")(m) is m
    assert dlcore.backends.mps.is_available() is False and not dlcore.backends.cudnn.is_available()
    import dlcore.backends.cudnn as cudnn
    cudnn.benchmark = True  # scripts set it; nothing changes
    cudnn.benchmark = False


_METHOD_FORMS = [  # the method forms of tensor functions, and functions scripts call on torch
    "x.add(x * 2)", "x.add(x, alpha=0.5)", "m.add(x, x, alpha=-2)", "x.sub(x[0], alpha=3)", "m.sub(x, 1.5)",
    "x.mul(x)", "x.div(x.exp())", "x.neg()", "x.sin()", "x.cos()", "x.abs().log1p()",
    "x.expm1()", "x.square()", "m.square(x)", "x.maximum(x.flip(0))", "x.minimum(x * 0.5)",
    "x.where(x > 0, x * 3)", "x.broadcast_to(2, 2, 3, 4)", "x.broadcast_to((3, 2, 3, 4))",
    "m.masked_fill(x, x > 0.5, -1.0)", "m.narrow(x, 2, 1, 2)", "m.stack(x.unbind(1), 0)", "m.stack(m.unbind(x, -1))",
    "m.mm(x[0], x[1].t())", "m.bmm(x, x.transpose(1, 2))", "x.tril()", "x.triu(1)", "m.tril(x, -1)",
    "m.triu(x[0], -2)", "m.tril(x[0].t(), 2)", "x.sort(1).values", "m.sort(x, 0, descending=True)[0]",
    "x.topk(2).values", "m.topk(x, 3, dim=1, largest=False).values", "x.topk(1, 0)[0]",
    "x.cumsum(1)", "m.cumsum(x, 0)", "m.cumsum(x, -1)", "m.cumsum(x[0, 0], 0)",
]


@pytest.mark.parametrize("expr", _METHODS + _METHOD_FORMS)
def test_methods_as_torch_with_gradients(expr):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    x, t = dlcore.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = eval(expr, {"m": dlcore, "x": x}), eval(expr, {"m": torch, "x": t})
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-15)
    w = np.random.default_rng(1).standard_normal(tuple(want.shape))
    (got * dlcore.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_method_form_predicates_and_errors():
    x = dlcore.tensor([[1.0, float("nan")], [float("inf"), 2.0]])
    t = torch.tensor(x.numpy())
    for name in ("isnan", "isinf"):  # (sign(nan) is nan here, 0 in PyTorch: docs/compatibility.md)
        np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(t, name)().numpy())
    assert x.is_floating_point() and not dlcore.tensor([1]).is_floating_point()
    assert dlcore.numel(x) == 4 and len(dlcore.unbind(x)) == 2
    with pytest.raises(ValueError, match=r"bmm: expects \(B, n, m\) and \(B, m, p\).*\(2, 2\)"):
        dlcore.bmm(x, x)
    with pytest.raises(ValueError, match="mm: both arguments must be 2-D"):
        dlcore.mm(x[0], x)


def test_multinomial_frequencies_and_rules_as_torch():
    p = dlcore.tensor([[0.1, 0.0, 0.6, 0.3], [5.0, 1.0, 0.0, 4.0]])  # rows need not be normalised
    dlcore.manual_seed(0)
    draws = dlcore.multinomial(p, 4000, replacement=True)
    assert draws.shape == (2, 4000) and draws.dtype == dlcore.int64
    for row, w in zip(draws.numpy(), p.numpy()):
        freq = np.bincount(row, minlength=4) / row.size
        want = w / w.sum()
        assert freq[want == 0].sum() == 0  # a zero weight is never drawn
        np.testing.assert_allclose(freq, want, atol=4 * np.sqrt(0.25 / row.size))
    # without replacement: distinct categories, zero weights never drawn; the first draw's
    # frequencies are the normalised weights
    once = dlcore.multinomial(p, 3)
    assert all(len(set(r)) == 3 for r in once.numpy().tolist())
    assert 1 not in once.numpy()[0] and 2 not in once.numpy()[1]
    first = np.array([dlcore.multinomial(p[1], 1).item() for _ in range(2000)])
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 2000, [0.5, 0.1, 0.0, 0.4], atol=0.045)
    dlcore.manual_seed(3)
    a = p.multinomial(5, replacement=True).numpy()
    dlcore.manual_seed(3)
    np.testing.assert_array_equal(dlcore.multinomial(p, 5, True).numpy(), a)
    # torch's rules for bad input, with the argument named
    for bad, msg in ((dlcore.tensor([0.5, -0.1]), "non-negative"), (dlcore.tensor([0.0, 0.0]), "positive sum"),
                     (dlcore.tensor([1.0, float("nan")]), "finite")):
        with pytest.raises(ValueError, match=f"multinomial: .*{msg}"):
            dlcore.multinomial(bad, 1)
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(bad.numpy()), 1)
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement from a row with 2 non-zero"):
        dlcore.multinomial(dlcore.tensor([0.5, 0.0, 0.5]), 3)
    with pytest.raises(ValueError, match="multinomial: input must be a 1-D or 2-D"):
        dlcore.multinomial(dlcore.ones(2, 2, 2), 1)


def test_randint_forms_and_dtype_as_torch():
    """randint(high, size), randint(low, high, size) and dtype=, as scripts write them
    (word_language_model's generate.py: torch.randint(ntokens, (1, 1), dtype=torch.long))."""
    cases = [((10, (1, 1)), {}, 0, 10), ((2, 5, (3, 4)), {}, 2, 5), ((7,), {"size": (2,)}, 0, 7),
             ((3, (5,)), {"dtype": "float64"}, 0, 3)]
    for args, kw, lo, hi in cases:
        got = dlcore.randint(*args, **{k: getattr(dlcore, v) for k, v in kw.items() if k == "dtype"},
                             **{k: v for k, v in kw.items() if k != "dtype"})
        want = torch.randint(*args, **{k: getattr(torch, v) for k, v in kw.items() if k == "dtype"},
                             **{k: v for k, v in kw.items() if k != "dtype"})
        assert got.shape == tuple(want.shape) and got.dtype == want.dtype
        assert got.numpy().min() >= lo and got.numpy().max() < hi
    assert dlcore.randint(4, (2,), dtype=dlcore.float32, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
        dlcore.randint(4, (2,), requires_grad=True)


def test_sort_topk_argsort_indices_as_torch():
    r = np.random.default_rng(3)
    a = r.integers(0, 4, (3, 5, 6)).astype(np.float64)  # many ties: the stable order decides
    a[0, 0, 0], a[1, 2, 3] = np.nan, np.nan
    x, t = dlcore.tensor(a), torch.tensor(a)
    for dim in (0, 1, -1):
        for desc in (False, True):
            got, want = x.sort(dim, descending=desc), t.sort(dim=dim, descending=desc, stable=True)
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
            np.testing.assert_array_equal(dlcore.argsort(x, dim, descending=desc).numpy(),
                                          torch.argsort(t, dim=dim, descending=desc, stable=True).numpy())
    b = r.standard_normal((4, 7))  # distinct values: topk's order is defined
    for k, largest in ((1, True), (3, True), (7, False)):
        got, want = dlcore.tensor(b).topk(k, largest=largest), torch.tensor(b).topk(k, largest=largest)
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    ints = dlcore.tensor([[3, 1, 2]])
    np.testing.assert_array_equal(ints.sort(descending=True).values.numpy(), [[3, 2, 1]])
    with pytest.raises(ValueError, match=r"topk: k \(4\) is larger than dim -1's size 3"):
        ints.topk(4)


def test_imagenet_style_topk_accuracy_as_torch():
    """pytorch/examples imagenet's accuracy(): top-k predictions, transposed, compared with
    the expanded targets."""
    r = np.random.default_rng(4)
    out, target = r.standard_normal((16, 10)), r.integers(0, 10, 16)

    def accuracy(lib, output, target, topk=(1, 5)):
        with lib.no_grad():
            maxk, batch_size = max(topk), target.size(0)
            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))
            return [correct[:k].reshape(-1).float().sum(0, keepdim=True).mul(100.0 / batch_size).item()
                    for k in topk]
    assert accuracy(dlcore, dlcore.tensor(out), dlcore.tensor(target)) == \
        accuracy(torch, torch.tensor(out), torch.tensor(target))


def test_cumsum_dtypes_and_linspace_as_torch():
    ints = np.array([[1, -2, 3, 4, 5], [0, 7, 1, 1, 2]])
    for a in (ints, ints > 0):
        got, want = dlcore.tensor(a).cumsum(1), torch.tensor(a).cumsum(1)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert dlcore.cumsum(dlcore.tensor(ints), 0, dtype=dlcore.float64).dtype == dlcore.float64
    for args in ((0, 1, 5), (-2.5, 3, 7), (1, 1, 1), (0, 10, 0), (3, -1, 4), (0, 1, 100)):
        for name, eps in (("float32", 2 ** -23), ("float64", 2 ** -52)):
            got = dlcore.linspace(*args, dtype=getattr(dlcore, name)).numpy()
            want = torch.linspace(*args, dtype=getattr(torch, name)).numpy()
            assert got.dtype == want.dtype and got.shape == want.shape
            if got.size:  # both ends exact, the rest within an ulp of PyTorch's
                assert got[0] == want[0] and got[-1] == want[-1]
                np.testing.assert_allclose(got, want, rtol=0, atol=2 * eps * max(abs(args[0]), abs(args[1])))
    assert dlcore.linspace(0, 1, 3).dtype == dlcore.get_default_dtype()
    with pytest.raises(TypeError, match="linspace: dtype must be a float dtype"):
        dlcore.linspace(0, 4, 5, dtype=dlcore.int64)


@pytest.mark.parametrize("op", ["scatter_add", "index_add"])
def test_scatter_add_and_index_add_as_torch_with_gradients(op):
    r = np.random.default_rng(5)
    a = r.standard_normal((4, 5, 3))
    if op == "scatter_add":
        idx, src, dim = r.integers(0, 5, (4, 2, 3)), r.standard_normal((4, 2, 3)), 1  # repeats add up
        kw = {}
    else:
        idx, src, dim = np.array([2, 0, 2]), r.standard_normal((4, 5, 3)), 2  # 1-D, repeated
        kw = {"alpha": 0.5}
    w = r.standard_normal(a.shape)
    outs = []
    for lib in (dlcore, torch):
        x, s = lib.tensor(a, requires_grad=True), lib.tensor(src, requires_grad=True)
        y = getattr(x, op)(dim, lib.tensor(idx), s, **kw)
        (y * lib.tensor(w)).sum().backward()
        outs.append([y.detach().numpy(), x.grad.numpy(), s.grad.numpy()])
        z = lib.tensor(a)
        getattr(z, op + "_")(dim, lib.tensor(idx), lib.tensor(src), **kw)  # in place
        outs[-1].append(z.numpy())
    for got, want in zip(*outs):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_scatter_add_errors():
    x = dlcore.zeros(3, 4)
    with pytest.raises(ValueError, match=r"scatter_add: index and src must have one shape.*index \(2, 4\), src \(2, 3\)"):
        x.scatter_add(0, dlcore.zeros(2, 4, dtype=dlcore.int64), dlcore.ones(2, 3))
    with pytest.raises(TypeError, match="scatter_add: 'index' must be an integer tensor"):
        x.scatter_add(0, dlcore.zeros(2, 4), dlcore.ones(2, 4))


_EINSUMS = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij->ji", [(3, 4)]),
            ("ij->", [(3, 4)]), ("i,i->", [(5,), (5,)]), ("i,j->ij", [(3,), (4,)]), ("...ij->...ji", [(2, 3, 4, 5)]),
            ("ij,jk", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(1, 3, 4), (6, 4, 2)]), ("ba", [(2, 3)]),
            ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 6)]), ("...i,...i->...", [(2, 3, 4), (3, 4)]),
            ("ij,kj->ikj", [(2, 3), (4, 3)]), ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]),
            ("ij,j->i", [(3, 1), (4,)])]


@pytest.mark.parametrize("equation,shapes", _EINSUMS)
def test_einsum_as_torch_with_gradients(equation, shapes):
    r = np.random.default_rng(6)
    arrs = [r.standard_normal(s) for s in shapes]
    outs = []
    for lib in (dlcore, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrs]
        y = lib.einsum(equation, *xs)
        w = lib.tensor(np.random.default_rng(7).standard_normal(tuple(y.shape)))
        (y * w).sum().backward()
        outs.append([y.detach().numpy()] + [x.grad.numpy() for x in xs])
    for got, want in zip(*outs):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_einsum_errors():
    a = dlcore.ones(2, 3)
    with pytest.raises(ValueError, match="einsum: 'ij,jk' names 2 operands, got 1"):
        dlcore.einsum("ij,jk", a)
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ijk' name 3 dims but the operand has shape \(2, 3\)"):
        dlcore.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="einsum: label 'j' has sizes 3 and 2"):
        dlcore.einsum("ij,jk->ik", a, a)
    with pytest.raises(ValueError, match="a diagonal"):
        dlcore.einsum("ii->i", dlcore.ones(3, 3))
    with pytest.raises(ValueError, match="output subscripts"):
        dlcore.einsum("ij->iz", a)
