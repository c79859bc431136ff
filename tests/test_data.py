"""dlcore.data (loader, splits, scalers, one-hot, augmentation) and dlcore.datasets (IDX reader)."""
import gzip
import os
import struct

import numpy as np
import pytest

import dlcore
from dlcore import data as D
from dlcore import datasets as DS

FMNIST = "/usr/share/datasets/fashion-mnist"
have_fmnist = all(os.path.exists(os.path.join(FMNIST, f)) for f in (
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz"))


# ---- DataLoader --------------------------------------------------------------------------------

def test_loader_batches_in_order_and_drop_last():
    x = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    batches = list(D.DataLoader((x, y), batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert isinstance(batches[0][0], dlcore.Tensor) and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert len(D.DataLoader((x, y), batch_size=4)) == 3
    dl = D.DataLoader((x, y), batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b[0].shape[0] for b in dl] == [4, 4]
    with pytest.raises(ValueError, match="batch_size"):
        D.DataLoader((x, y), batch_size=0)
    with pytest.raises(ValueError, match="same first dimension"):
        D.TensorDataset(x, y[:5])


def test_loader_shuffle_seeded_and_resumable():
    y = np.arange(50)
    a = D.DataLoader((y,), batch_size=7, shuffle=True, seed=3)
    b = D.DataLoader((y,), batch_size=7, shuffle=True, seed=3)
    e1 = np.concatenate([t[0].numpy() for t in a])
    assert sorted(e1.tolist()) == list(range(50)) and not np.array_equal(e1, y)
    np.testing.assert_array_equal(e1, np.concatenate([t[0].numpy() for t in b]))
    state = a.state_dict()
    e2 = np.concatenate([t[0].numpy() for t in a])
    assert not np.array_equal(e1, e2)  # a new order every epoch
    c = D.DataLoader((y,), batch_size=7, shuffle=True, seed=99)
    c.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([t[0].numpy() for t in c]), e2)
    # without a seed, dlcore.manual_seed controls the order
    dlcore.manual_seed(5)
    o1 = np.concatenate([t[0].numpy() for t in D.DataLoader((y,), batch_size=50, shuffle=True)])
    dlcore.manual_seed(5)
    o2 = np.concatenate([t[0].numpy() for t in D.DataLoader((y,), batch_size=50, shuffle=True)])
    np.testing.assert_array_equal(o1, o2)


class _Squares(D.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], np.float32), "i": i}


def test_loader_custom_dataset_collate_and_transform():
    batches = list(D.DataLoader(_Squares(), batch_size=2))
    np.testing.assert_array_equal(batches[1]["x"].numpy(), [[2, 4], [3, 9]])
    seen = []
    dl = D.DataLoader(_Squares(), batch_size=5, collate_fn=lambda s: seen.append(len(s)) or np.zeros(1))
    list(dl)
    assert seen == [5]
    x = np.ones((6, 1, 4, 4), np.float32)
    dl = D.DataLoader((x, np.arange(6)), batch_size=3, transform=lambda a: a * 2)
    assert all(float(b[0].numpy().max()) == 2.0 for b in dl)
    dl = D.DataLoader((x,), batch_size=3, as_tensors=False)
    assert isinstance(next(iter(dl))[0], np.ndarray)


# ---- splits, scalers, one-hot ------------------------------------------------------------------

def test_train_val_test_split_sizes_disjoint_seeded():
    x = np.arange(100)
    tr, va, te = D.train_val_test_split(x, ratios=(0.7, 0.2, 0.1), seed=1)
    assert (len(tr), len(va), len(te)) == (70, 20, 10)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    tr2, _, _ = D.train_val_test_split(x, ratios=(0.7, 0.2, 0.1), seed=1)
    np.testing.assert_array_equal(tr, tr2)
    (xa, ya), _, _ = D.train_val_test_split(x, x * 10, ratios=(0.5, 0.5, 0), seed=2)
    np.testing.assert_array_equal(ya, xa * 10)  # arrays stay aligned
    with pytest.raises(ValueError, match="ratios"):
        D.train_val_test_split(x, ratios=(1, 2))


def test_train_val_test_split_stratified():
    y = np.array([0] * 80 + [1] * 20)
    tr, va, te = D.train_val_test_split(y, ratios=(0.6, 0.2, 0.2), stratify=y, seed=0)
    for part, n in ((tr, 60), (va, 20), (te, 20)):
        assert len(part) == n
        assert np.mean(part == 1) == pytest.approx(0.2)


def test_scalers_against_numpy():
    r = np.random.default_rng(0)
    x = r.normal(3.0, 2.0, (50, 4)).astype(np.float32)
    x[:, 3] = 5.0  # constant feature
    s = D.StandardScaler().fit(x)
    z = s.transform(x)
    np.testing.assert_allclose(z[:, :3].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :3].std(0), 1, atol=1e-4)
    np.testing.assert_allclose(z[:, 3], 0)
    np.testing.assert_allclose(s.inverse_transform(z), x, rtol=1e-5, atol=1e-5)
    mm = D.MinMaxScaler((-1, 1)).fit_transform(x)
    np.testing.assert_allclose(mm[:, :3].min(0), -1, atol=1e-6)
    np.testing.assert_allclose(mm[:, :3].max(0), 1, atol=1e-6)
    with pytest.raises(RuntimeError, match="fit"):
        D.StandardScaler().transform(x)


def test_to_categorical():
    np.testing.assert_array_equal(D.to_categorical([0, 2, 1], 3), np.eye(3)[[0, 2, 1]])
    assert D.one_hot(np.array([[1, 0]])).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="labels must be in"):
        D.to_categorical([3], 3)


# ---- augmentation ------------------------------------------------------------------------------

def test_flip_crop_rotation():
    r = np.random.default_rng(1)
    x = r.random((8, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(D.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(D.RandomHorizontalFlip(0.0)(x), x)
    np.testing.assert_array_equal(D.RandomCrop(padding=0)(x), x)
    c = D.RandomCrop(padding=2)(x)
    assert c.shape == x.shape
    pad = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)])
    for i in range(8):  # every crop is some 6x6 window of the padded image
        assert any(np.array_equal(c[i], pad[i, :, a:a + 6, b:b + 6]) for a in range(5) for b in range(5))
    np.testing.assert_allclose(D.RandomRotation(0.0)(x), x, atol=1e-6)
    rot = D.RandomRotation(15.0)(x)
    assert rot.shape == x.shape and rot.dtype == x.dtype and not np.allclose(rot, x)
    # a centred disc is (nearly) unchanged by rotation
    yy, xx = np.mgrid[:15, :15] - 7
    disc = (yy ** 2 + xx ** 2 <= 16).astype(np.float32)[None, None].repeat(4, 0)
    assert np.abs(D.RandomRotation(10.0)(disc) - disc).mean() < 0.03
    # usable in the loader, reproducible under manual_seed
    t = D.Compose([D.RandomHorizontalFlip(), D.RandomCrop(padding=1)])
    dlcore.manual_seed(0)
    a = next(iter(D.DataLoader((x,), batch_size=8, transform=t)))[0].numpy()
    dlcore.manual_seed(0)
    b = next(iter(D.DataLoader((x,), batch_size=8, transform=t)))[0].numpy()
    np.testing.assert_array_equal(a, b)


# ---- IDX files ---------------------------------------------------------------------------------

def _idx(arr, code=0x08):
    return struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + \
        arr.astype(np.uint8).tobytes()


def _write_set(d, n_train=6, n_test=4, gz=True, bad=None):
    r = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte": _idx(r.integers(0, 256, (n_train, 28, 28))),
             "train-labels-idx1-ubyte": _idx(r.integers(0, 10, n_train)),
             "t10k-images-idx3-ubyte": _idx(r.integers(0, 256, (n_test, 28, 28))),
             "t10k-labels-idx1-ubyte": _idx(r.integers(0, 10, n_test))}
    if bad:
        files.update(bad)
    for name, raw in files.items():
        if gz:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(raw)
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(raw)
    return files


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reader_roundtrip(tmp_path, gz):
    files = _write_set(tmp_path, gz=gz)
    (x, y), (xt, yt) = DS.fashion_mnist(tmp_path)
    assert x.shape == (6, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    raw = np.frombuffer(files["train-images-idx3-ubyte"], np.uint8, offset=16).reshape(6, 1, 28, 28)
    np.testing.assert_allclose(x, raw / 255.0, rtol=1e-6)
    assert 0.0 <= x.min() and x.max() <= 1.0
    (xf, _), _ = DS.mnist(tmp_path, flatten=True)
    assert xf.shape == (6, 784)


def test_idx_reader_rejects_bad_files(tmp_path):
    good = _idx(np.zeros((2, 28, 28)))
    p = tmp_path / "a"
    for magic in (b"\x00\x00\x07\x03", b"\x12\x34\x08\x03", b"\x00\x00\x08\x00"):
        p.write_bytes(magic + good[4:])  # unknown type code / nonzero lead bytes / 0 dims
        with pytest.raises(ValueError, match="magic"):
            DS.load_idx(p)
    p.write_bytes(b"\x00\x00\x09\x03" + good[4:])  # int8 is valid IDX, but not for images
    with pytest.raises(ValueError, match="uint8"):
        DS.load_idx(p, expect_ndim=3, expect_uint8=True)
    p.write_bytes(_idx(np.zeros(5)))  # 1-d where 3-d is expected
    with pytest.raises(ValueError, match="dimensions"):
        DS.load_idx(p, expect_ndim=3)
    p.write_bytes(good[:-10])
    with pytest.raises(ValueError, match="truncated"):
        DS.load_idx(p)
    gzp = tmp_path / "b.gz"
    gzp.write_bytes(gzip.compress(good)[:-12])  # cut inside the gzip stream
    with pytest.raises(ValueError, match="cannot read|truncated"):
        DS.load_idx(gzp)
    d = tmp_path / "set"
    d.mkdir()
    _write_set(d, bad={"train-labels-idx1-ubyte": _idx(np.zeros(5))})  # 6 images, 5 labels
    with pytest.raises(ValueError, match="6 images but"):
        DS.fashion_mnist(d)


def test_missing_files_error_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as e:
        DS.mnist(tmp_path / "nowhere")
    msg = str(e.value)
    assert str(tmp_path / "nowhere") + " does not exist" in msg and "the path argument" in msg
    assert str(tmp_path / "env") not in msg  # an explicit path is the only place looked at
    assert "apt-get install" in msg and "never downloads" in msg
    with pytest.raises(FileNotFoundError) as e:
        DS.mnist()
    msg = str(e.value)
    assert str(tmp_path / "env" / "mnist") in msg and "$DLCORE_DATA" in msg
    assert "/usr/share/datasets/mnist lacks" not in msg  # DLCORE_DATA set: no fall-back to the default


def test_an_explicit_path_never_falls_back(tmp_path, monkeypatch):
    good = tmp_path / "good"
    good.mkdir()
    _write_set(good)
    monkeypatch.setenv("DLCORE_DATA", str(good))
    (x, _), _ = DS.fashion_mnist()  # DLCORE_DATA itself holds the files: found there
    assert x.shape[0] == 6
    partial = tmp_path / "partial"
    partial.mkdir()
    _write_set(partial)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"partial lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        DS.fashion_mnist(partial)  # never completed from DLCORE_DATA or /usr/share/datasets
    monkeypatch.setenv("DLCORE_DATA", str(partial))
    with pytest.raises(FileNotFoundError, match=r"\$DLCORE_DATA.*partial lacks t10k-labels"):
        DS.fashion_mnist()


def test_dlcore_data_env(tmp_path, monkeypatch):
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    _write_set(d)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    (x, _), _ = DS.fashion_mnist()
    assert x.shape[0] == 6


@pytest.mark.skipif(not have_fmnist, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    (x, y), (xt, yt) = DS.fashion_mnist(FMNIST)
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert y.dtype == np.int64 and sorted(np.unique(y).tolist()) == list(range(10))
    assert np.bincount(yt).tolist() == [1000] * 10
    assert 0.0 == x.min() and x.max() == 1.0


# ---- DistributedSampler -----------------------------------------------------------------------

@pytest.mark.parametrize("n,world,b", [(10, 2, 2), (12, 3, 2), (7, 2, 1), (64, 4, 8)])
def test_distributed_sampler_shards_without_overlap_and_matches_one_process(n, world, b):
    """The ranks' k-th batches, in rank order, are one process's k-th batch of world*b (same
    seed, epoch after epoch); even=False covers every sample exactly once."""
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    one = D.DataLoader(D.TensorDataset(x), batch_size=world * b, shuffle=True, seed=5)
    loaders = [D.DataLoader(D.TensorDataset(x), batch_size=b,
                            sampler=D.DistributedSampler(n, world, r, seed=5, batch_size=b))
               for r in range(world)]
    epochs = []
    for _ in range(3):
        ref = [bt[0].numpy()[:, 0].tolist() for bt in one]
        got = [[bt[0].numpy()[:, 0].tolist() for bt in dl] for dl in loaders]
        assert len({len(g) for g in got}) == 1  # the same number of steps on every rank
        if n % world == 0:
            assert [sum((g[k] for g in got), []) for k in range(len(ref))] == ref
        epochs.append(sum(ref, []))
        idx = sorted(sum((D.DistributedSampler(n, world, r, seed=5, batch_size=b, even=False).indices().tolist()
                          for r in range(world)), []))
        assert idx == list(range(n))
    assert epochs[0] != epochs[1] and sorted(epochs[0]) == sorted(epochs[1])  # reshuffled per epoch


def test_distributed_sampler_padding_dropping_and_arguments(monkeypatch):
    s = [D.DistributedSampler(5, 2, r, shuffle=False) for r in range(2)]
    assert [x.indices().tolist() for x in s] == [[0, 2, 4], [1, 3, 0]]  # padded by repeating the start
    s = [D.DistributedSampler(5, 2, r, shuffle=False, drop_last=True) for r in range(2)]
    assert [x.indices().tolist() for x in s] == [[0, 2], [1, 3]] and len(s[0]) == 2
    s = [D.DistributedSampler(5, 2, r, shuffle=False, even=False) for r in range(2)]
    assert [list(x) for x in s] == [[0, 2, 4], [1, 3]]
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    s = D.DistributedSampler(9, shuffle=False)
    assert (s.rank, s.num_replicas, s.indices().tolist()) == (1, 3, [1, 4, 7])
    g1, g2 = dlcore.Generator(3), dlcore.Generator(3)
    a = D.DistributedSampler(8, 2, 0, generator=g1).indices().tolist()
    b = D.DistributedSampler(8, 2, 1, generator=g2).indices().tolist()
    assert sorted(a + b) == list(range(8)) and g1.get_state() == g2.get_state()
    with pytest.raises(ValueError, match=r"rank 2 is not in \[0, num_replicas=2\)"):
        D.DistributedSampler(4, 2, 2)
    with pytest.raises(ValueError, match="mutually exclusive"):
        D.DataLoader(D.TensorDataset(np.ones((4, 1))), sampler=s, shuffle=True)


# ---- WeightedRandomSampler / IterableDataset --------------------------------------------------

def test_search_sorted_matches_numpy():
    r = np.random.default_rng(3)
    w = r.integers(0, 3, size=50).astype(float)  # zero weights: repeated cdf values (ties)
    cdf = np.cumsum(w)
    u = np.concatenate([r.uniform(0, cdf[-1], 500), cdf[:10], [0.0]])
    got = D._search_sorted(dlcore.tensor(cdf), dlcore.tensor(u)).numpy()
    np.testing.assert_array_equal(got, np.searchsorted(cdf, u, side="right"))


def test_weighted_random_sampler_frequencies_seeded_and_without_replacement():
    w = [0.0, 1.0, 0.0, 2.0, 5.0, 0.0, 2.0]
    n = 40000
    s = D.WeightedRandomSampler(w, n, generator=dlcore.Generator(4))
    idx = list(s)
    assert len(s) == n == len(idx)
    freq = np.bincount(idx, minlength=len(w)) / n
    p = np.array(w) / sum(w)
    # binomial standard error at n = 40000 is at most 0.0025: 5 of them
    np.testing.assert_allclose(freq, p, atol=0.0125)
    assert freq[[0, 2, 5]].sum() == 0  # zero weights are never drawn
    assert list(D.WeightedRandomSampler(w, 50, generator=dlcore.Generator(4))) == idx[:50]  # seeded
    assert list(s)[:50] != idx[:50]  # a new draw each pass
    for _ in range(20):
        d = list(D.WeightedRandomSampler(dlcore.tensor(w), 4, replacement=False))
        assert len(set(d)) == 4 and set(d) <= {1, 3, 4, 6}
    # in a DataLoader, as a torch script uses it for class balancing
    x = np.arange(7.0)
    batches = list(D.DataLoader(D.TensorDataset(x), batch_size=3, sampler=D.WeightedRandomSampler(w, 7)))
    assert [len(b[0]) for b in batches] == [3, 3, 1]


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: D.WeightedRandomSampler([1.0, 2.0], 0), ValueError, "num_samples must be positive"),
    (lambda: D.WeightedRandomSampler([1.0, 2.0], 2.0), TypeError, "num_samples must be an integer"),
    (lambda: D.WeightedRandomSampler([1.0, 2.0], 2, replacement=1), TypeError, "replacement must be a bool"),
    (lambda: D.WeightedRandomSampler([[1.0, 2.0]], 2), ValueError, r"weights must be a non-empty 1-D .*\(1, 2\)"),
    (lambda: D.WeightedRandomSampler([1.0, -2.0], 2), ValueError, "finite and non-negative"),
    (lambda: D.WeightedRandomSampler([0.0, 0.0], 2), ValueError, "positive sum"),
    (lambda: D.WeightedRandomSampler([1.0, 0.0, 3.0], 3, replacement=False), ValueError,
     "cannot draw 3 samples without replacement from 2 non-zero weights"),
])
def test_weighted_random_sampler_bad_arguments(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def _stream_class(base):
    class Squares(base):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            for i in range(self.n):
                yield np.array([i, i * i], dtype=np.float64), i % 3
    return Squares


@pytest.mark.parametrize("batch_size,drop_last", [(4, False), (4, True), (1, False), (20, False)])
def test_iterable_dataset_batches_like_torch(batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = list(D.DataLoader(_stream_class(D.IterableDataset)(10), batch_size=batch_size, drop_last=drop_last))
    theirs = list(torch.utils.data.DataLoader(_stream_class(torch.utils.data.IterableDataset)(10),
                                              batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs)
    for (x, y), (tx, ty) in zip(ours, theirs):
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        assert x.dtype == dlcore.float64 and y.dtype == dlcore.int64


def test_iterable_dataset_loader_rules():
    ds = _stream_class(D.IterableDataset)(5)
    with pytest.raises(ValueError, match="IterableDataset .*shuffle must be left unspecified, got shuffle=True"):
        D.DataLoader(ds, shuffle=True)
    with pytest.raises(ValueError, match="sampler must be left unspecified"):
        D.DataLoader(ds, sampler=D.SequentialSampler(range(5)))
    with pytest.raises(TypeError, match="has no __len__"):
        len(D.DataLoader(ds, batch_size=2))
    with pytest.raises(TypeError, match="iterate over it, it has no indexing"):
        ds[0]

    class Sized(D.IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 5
    loader = D.DataLoader(Sized(), batch_size=2, num_workers=2, collate_fn=lambda b: b)
    assert len(loader) == 3 and list(loader) == [[0, 1], [2, 3], [4]] and list(loader) == [[0, 1], [2, 3], [4]]
    # batch_size=None: a stream of ready batches passed on as they come (NumPy arrays become Tensors)
    got = list(D.DataLoader(ds, batch_size=None))
    assert len(got) == 5 and isinstance(got[2][0], dlcore.Tensor) and got[2][0].tolist() == [2.0, 4.0]
    assert len(D.DataLoader(Sized(), batch_size=None)) == 5
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got None"):
        D.DataLoader(D.TensorDataset(np.zeros(3)), batch_size=None)
    import dlcore.utils.data as U
    assert U.IterableDataset is D.IterableDataset and U.WeightedRandomSampler is D.WeightedRandomSampler
