"""Dropout family: statistics, exact scaling, seeding and thread-count independence, eval
identity, gradients (mask * scale), channel dropout, alpha dropout against PyTorch's
constants, and bad input."""
import math

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


def npy(t):
    return t.detach().numpy()


def philox_ref(seed, counter):
    """Philox4x32-10 written out in Python (reference for the mask mapping)."""
    M = 0xFFFFFFFF
    c = [counter & M, (counter >> 32) & M, 0, 0]
    k0, k1 = seed & M, (seed >> 32) & M
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & M, p1 & M, ((p0 >> 32) ^ c[3] ^ k1) & M, p0 & M]
        k0, k1 = (k0 + 0x9E3779B9) & M, (k1 + 0xBB67AE85) & M
    return c


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_statistics_and_exact_scaling(p, dtype):
    n = 200_000
    x = dlcore.ones(n, dtype=dtype) * 2.0
    y = npy(F.dropout(x, p))
    zero_frac = float((y == 0).mean())
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(zero_frac - p) < 5 * sigma, (zero_frac, p)
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 2.0 / (1 - p), rtol=1e-6)  # every survivor scaled by 1/(1-p)
    assert abs(y.mean() - 2.0) < 5 * 2.0 * math.sqrt(p / (1 - p) / n)  # mean preserved


def test_dropout_mask_follows_philox_mapping():
    dlcore.manual_seed(1234)
    seed, counter = dlcore.default_generator.get_state()
    p = 0.4
    y = npy(F.dropout(dlcore.ones(10, dtype="float64"), p))
    expect = []
    for m in range(10):
        r = philox_ref(seed, counter + m // 4)[m % 4]
        expect.append(((r >> 8) / 16777216.0) >= p)
    np.testing.assert_array_equal(y != 0, np.array(expect))
    # the generator advanced by one Philox block per 4 mask elements
    assert dlcore.default_generator.counter == counter + 3


@pytest.mark.parametrize("p", [0.2, 0.5, 1 - 2.0 ** -24, 3 * 2.0 ** -24, 0.0])
@pytest.mark.parametrize("start", [7, 2 ** 32 - 37])  # the second: the counter's low word wraps mid-mask
def test_vector_mask_draw_matches_philox_on_every_isa(every_isa, p, start):
    """Masks long enough for the AVX2 / AVX-512 draw (8 / 16 Philox blocks per lane group, groups
    in flight) and its tail, each element against the Python Philox; p on the 2^-24 grid tests
    the integer keep threshold's edge."""
    n = 4 * 600 + 3
    seed = 0x1234_5678_9ABC
    dlcore.default_generator.set_state((seed, start))
    with threads(1):
        y = npy(F.dropout(dlcore.ones(n, dtype="float64"), p))
    expect = np.array([((philox_ref(seed, start + m // 4)[m % 4] >> 8) / 16777216.0) >= p for m in range(n)])
    np.testing.assert_array_equal(y != 0, expect)
    if p in (0.2, 0.5):  # (the edge values keep all or nothing of 2403 elements)
        assert 0 < expect.sum() < n


def test_same_seed_same_mask_and_fresh_masks_otherwise():
    x = dlcore.randn(64, 100)
    dlcore.manual_seed(7)
    a = npy(F.dropout(x, 0.5))
    b = npy(F.dropout(x, 0.5))
    dlcore.manual_seed(7)
    c = npy(F.dropout(x, 0.5))
    np.testing.assert_array_equal(a, c)
    assert (a != b).any()
    g = dlcore.Generator(99)
    d = npy(F.dropout(x, 0.5, generator=g))
    e = npy(F.dropout(x, 0.5, generator=dlcore.Generator(99)))
    np.testing.assert_array_equal(d, e)


def test_mask_identical_for_1_and_2_threads():
    x = dlcore.randn(256, 1031)
    outs = []
    for nt in (1, 2):
        with threads(nt):
            dlcore.manual_seed(3)
            outs.append(npy(F.dropout(x, 0.3)))
            outs.append(npy(F.alpha_dropout(x, 0.2, training=True)))
            outs.append(npy(F.dropout2d(x.reshape(16, 16, 1031), 0.5)))
    for a, b in zip(outs[:3], outs[3:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_gradient_is_mask_times_scale(dtype):
    p = 0.25
    x_np = rng(1).normal(size=(30, 40)).astype(dtype)
    x = dlcore.tensor(x_np, requires_grad=True)
    y = nn.Dropout(p)(x)
    dy = rng(2).normal(size=(30, 40)).astype(dtype)
    y.backward(dlcore.tensor(dy))
    keep = npy(y) != 0
    np.testing.assert_allclose(npy(x.grad), dy * keep / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(npy(y), x_np * keep / (1 - p), rtol=1e-6)


def test_eval_is_identity_and_train_eval_switch():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = dlcore.randn(8, 4)
    m.eval()
    drop = m[1]
    assert not drop.training
    z = dlcore.randn(100, 10)
    assert drop(z) is z  # identity: the same tensor, no copy, no randomness consumed
    counter = dlcore.default_generator.counter
    m(x)
    assert dlcore.default_generator.counter == counter
    m.train()
    y = npy(drop(z))
    assert (y == 0).any()
    assert F.dropout(z, 0.5, training=False) is z
    for cls in (nn.AlphaDropout, nn.Dropout2d):
        assert cls(0.5).eval()(dlcore.randn(2, 3, 4)) is not None


def test_p_zero_and_p_one():
    x = dlcore.randn(10, 10, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(npy(y), 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), 0.0)


@pytest.mark.parametrize("fn,shape,lead", [(F.dropout1d, (8, 6, 20), 2), (F.dropout2d, (8, 6, 5, 4), 2),
                                           (F.dropout3d, (4, 6, 3, 2, 4), 2),
                                           (F.dropout2d, (6, 5, 4), 1)])  # unbatched (C, H, W)
def test_channel_dropout_zeroes_whole_channels(fn, shape, lead):
    p = 0.5
    x = dlcore.tensor(rng(3).uniform(1.0, 2.0, size=shape), requires_grad=True)
    y = fn(x, p)
    planes = npy(y).reshape(int(np.prod(shape[:lead])), -1)
    zero = (planes == 0).all(axis=1)
    kept = (planes != 0).all(axis=1)
    assert (zero | kept).all()  # every channel entirely dropped or entirely kept
    assert zero.any() and kept.any()
    xp = x.detach().numpy().reshape(planes.shape)
    np.testing.assert_allclose(planes[kept], xp[kept] / (1 - p), rtol=1e-12)
    y.sum().backward()
    g = npy(x.grad).reshape(planes.shape)
    np.testing.assert_allclose(g, np.where(kept[:, None], 1 / (1 - p), 0.0) * np.ones_like(g))


ALPHA = 1.7580993408473766


def alpha_consts(p):
    a = 1.0 / math.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
    return a, ALPHA * a * p, ALPHA * a * (p - 1)  # a, b (kept offset), dropped value


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_values_and_gradient(p):
    a, b, dropped = alpha_consts(p)
    x_np = rng(4).normal(size=(400, 500))
    x = dlcore.tensor(x_np, requires_grad=True)
    y = nn.AlphaDropout(p)(x)
    yn = npy(y)
    is_drop = np.isclose(yn, dropped, rtol=0, atol=1e-12)
    assert abs(is_drop.mean() - p) < 0.01
    np.testing.assert_allclose(yn[~is_drop], a * x_np[~is_drop] + b, rtol=1e-12, atol=1e-12)
    # SELU-compatible: zero mean, unit variance in, (about) zero mean, unit variance out
    assert abs(yn.mean()) < 0.02 and abs(yn.var() - 1.0) < 0.02
    dy = rng(5).normal(size=x_np.shape)
    y.backward(dlcore.tensor(dy))
    np.testing.assert_allclose(npy(x.grad), np.where(is_drop, 0.0, a * dy), rtol=1e-12)


@requires_torch
def test_alpha_dropout_constants_match_torch():
    # on a zero input torch's output takes exactly two values: b (kept) and the dropped value
    p = 0.3
    torch.manual_seed(0)
    t = torch.nn.functional.alpha_dropout(torch.zeros(10000, dtype=torch.float64), p, training=True)
    d = npy(F.alpha_dropout(dlcore.zeros(10000, dtype="float64"), p, training=True))
    np.testing.assert_allclose(np.unique(t.numpy()), np.unique(d), rtol=1e-14)
    assert len(np.unique(d)) == 2


@requires_torch
def test_dropout_matches_torch_semantics_statistically():
    p = 0.2
    x = np.full(100_000, 3.0, np.float32)
    t = torch.nn.functional.dropout(torch.from_numpy(x), p).numpy()
    d = npy(F.dropout(dlcore.tensor(x), p))
    np.testing.assert_allclose(np.unique(t), np.unique(d), rtol=1e-6)  # {0, 3 / 0.8}
    assert abs((t == 0).mean() - (d == 0).mean()) < 0.01


def test_non_contiguous_input():
    x = dlcore.randn(20, 30).transpose(0, 1)
    y = npy(F.dropout(x, 0.5))
    keep = y != 0
    np.testing.assert_allclose(y[keep], x.numpy()[keep] * 2.0, rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        F.dropout(dlcore.randn(3), -0.1)
    with pytest.raises(ValueError, match=r"dropout2d: expected an unbatched 3D or batched 4D input, got shape \(5,\)"):
        F.dropout2d(dlcore.randn(5), 0.5)
    with pytest.raises(TypeError, match="dropout: input must be float32 or float64, got int64"):
        F.dropout(dlcore.tensor([1, 2, 3]), 0.5)
    from dlcore import _C
    with pytest.raises(ValueError, match=r"dropout: dropout probability has to be between 0 and 1"):
        _C.dropout_forward(_C.DropoutKind.standard, np.ones(4, np.float32), 2.0, 0, 0)
    with pytest.raises(ValueError, match=r"inner size 3 does not divide the input of shape \(4,\)"):
        _C.dropout_forward(_C.DropoutKind.standard, np.ones(4, np.float32), 0.5, 0, 0, 3)
    with pytest.raises(ValueError, match=r"dropout_backward: mask of shape \(3,\) with inner size 1 does not cover input of shape \(4,\)"):
        _C.dropout_backward(np.ones(4, np.float32), np.ones(3, bool), 1, 2.0)


# ---- sharded batch draws (data parallelism: each rank's part of the global batch's mask) ------

@pytest.mark.parametrize("fn,shape", [(F.dropout, (8, 6)), (F.dropout2d, (8, 3, 2, 2))])
def test_sharded_draws_give_each_part_its_slice_of_the_whole_batch_mask(fn, shape):
    """Inside Generator.sharded(r, n), a batch of B is part r of a batch of n*B: its mask is rows
    [r*B, (r+1)*B) of the mask one draw over the whole batch gives, and the generator ends where
    the whole draw leaves it (the next draws agree too)."""
    x = dlcore.ones(*shape)
    g = dlcore.Generator(7)
    whole = fn(x, 0.5, generator=g).numpy()
    after_whole = g.get_state()
    parts = []
    for r in range(2):
        gr = dlcore.Generator(7)
        with gr.sharded(r, 2):
            parts.append(fn(x[r * 4:(r + 1) * 4], 0.5, generator=gr).numpy())
        assert gr.get_state() == after_whole
        assert gr.shard == (0, 1)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_sharded_unaligned_parts_draw_distinct_masks():
    """A part whose mask does not fill whole Philox blocks (3 elements, 4 per block) cannot
    reproduce the whole batch's mask; the parts still draw different, non-overlapping blocks."""
    g0, g1 = dlcore.Generator(1), dlcore.Generator(1)
    with g0.sharded(0, 2):
        c0 = g0.take_batch(lambda n: (n + 3) // 4, 3)
    with g1.sharded(1, 2):
        c1 = g1.take_batch(lambda n: (n + 3) // 4, 3)
    assert (c0, c1) == (0, 1) and g0.counter == g1.counter == 2
    with pytest.raises(ValueError, match=r"part 2 is not in \[0, 2\)"):
        with g0.sharded(2, 2):
            pass


@pytest.mark.parametrize("shape", [(40, 50), (4, 6, 3, 2, 2)])
def test_dropout2d_takes_other_inputs_as_n_c_with_a_warning_as_torch(shape):
    """PyTorch's Dropout2d on a 2-D (N, C) input (its mnist_rnn example) warns and drops single
    elements; a 5-D input drops whole (n, c) slices."""
    x = dlcore.tensor(rng(5).uniform(1.0, 2.0, size=shape))
    with pytest.warns(UserWarning, match=f"dropout2d: a {len(shape)}-D input is taken as \\(N, C, ...\\)"):
        y = npy(nn.Dropout2d(0.5)(x))
    planes = y.reshape(shape[0] * shape[1], -1)
    zero, kept = (planes == 0).all(axis=1), (planes != 0).all(axis=1)
    assert (zero | kept).all() and zero.any() and kept.any()
    np.testing.assert_allclose(planes[kept], x.numpy().reshape(planes.shape)[kept] * 2.0, rtol=1e-6)
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="dropout2d"):
        torch.nn.functional.dropout2d(torch.ones(shape), 0.5)
