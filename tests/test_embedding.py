"""Embedding: gather forward, scatter-add backward, padding_idx, init, bad input."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from conftest import requires_torch

try:
    import torch
except Exception:  # pragma: no cover
    torch = None


@requires_torch
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_vs_torch(padding_idx, dtype):
    V, D = 7, 5
    dm = nn.Embedding(V, D, padding_idx=padding_idx, dtype=dtype)
    tm = torch.nn.Embedding(V, D, padding_idx=padding_idx).to(torch.float64 if dtype == np.float64 else torch.float32)
    dm.load_state_dict(tm.state_dict())
    idx = np.array([[0, 2, 2, 6], [6, 1, 2, 0], [3, 3, 3, 5]])  # repeats and the padding rows
    od, ot = dm(dlcore.tensor(idx)), tm(torch.tensor(idx))
    assert od.shape == (3, 4, D)
    np.testing.assert_array_equal(od.detach().numpy(), ot.detach().numpy())
    R = np.random.default_rng(0).standard_normal((3, 4, D)).astype(dtype)
    (od * dlcore.tensor(R)).sum().backward()
    (ot * torch.tensor(R)).sum().backward()
    np.testing.assert_allclose(dm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-6, atol=1e-6)
    if padding_idx is not None:
        assert np.all(dm.weight.grad.numpy()[padding_idx] == 0)


def test_init_normal_with_zero_padding_row():
    m = nn.Embedding(2000, 16, padding_idx=3)
    w = m.weight.detach().numpy()
    assert np.all(w[3] == 0)
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    assert dict(m.named_parameters()).keys() == {"weight"}


def test_gradient_is_scatter_add_of_repeats():
    m = nn.Embedding(4, 3, dtype=np.float64)
    out = m(dlcore.tensor([1, 1, 3, 1]))
    out.sum().backward()
    np.testing.assert_array_equal(m.weight.grad.numpy(), [[0] * 3, [3] * 3, [0] * 3, [1] * 3])


def test_from_pretrained_and_functional():
    w = np.arange(12, dtype=np.float64).reshape(4, 3)
    m = nn.Embedding.from_pretrained(dlcore.tensor(w))
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(dlcore.tensor([3, 0])).numpy(), w[[3, 0]])
    wt = dlcore.tensor(w, requires_grad=True)
    y = dlcore.nn.functional.embedding(dlcore.tensor([[2]]), wt, padding_idx=2)
    np.testing.assert_array_equal(y.detach().numpy(), w[[[2]]])
    y.sum().backward()
    assert np.all(wt.grad.numpy() == 0)  # only the padding row was used


def test_bad_input():
    m = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="index 5 is out of range for an embedding table with 5 rows"):
        m(dlcore.tensor([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        m(dlcore.tensor([-1]))
    with pytest.raises(TypeError, match="indices must be an integer tensor"):
        m(dlcore.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer"):
        nn.Embedding(5, 0)
