"""Ports of well-known PyTorch example scripts (issue 14): each runs on dlcore with only its
import lines changed, its loss falls, and from the same initial weights in float64 its first
losses equal PyTorch's. The scripts are the other .py files of this folder; porting.py runs them."""

import numpy as np
import pytest

from conftest import requires_torch
from porting import compare_with_torch, learn_on_dlcore, rewrite_imports, source_of

import dlcore


@pytest.fixture(scope="module")
def fashion():
    try:
        (x, y), (xt, yt) = dlcore.datasets.fashion_mnist()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return {"x_train": x[:512], "y_train": y[:512], "x_test": xt[:200], "y_test": yt[:200]}


def falls(losses, k=3):
    """The mean of the last k losses is below the mean of the first k."""
    return np.mean(losses[-k:]) < np.mean(losses[:k])


def test_only_import_lines_are_rewritten():
    src = source_of("mnist_cnn")
    out = rewrite_imports(src, "dlcore")
    changed = [(a, b) for a, b in zip(src.splitlines(), out.splitlines()) if a != b]
    assert changed and all(a.startswith(("import torch", "from torch")) for a, _ in changed)
    assert ("import torch", "import dlcore as torch") in changed
    with pytest.raises(AssertionError, match="below its header"):
        rewrite_imports(src + "\nimport torch\n", "dlcore")


def test_mnist_cnn_learns(fashion):
    losses = learn_on_dlcore("mnist_cnn", steps=32, epochs=2, batch_size=32, **fashion)
    assert falls(losses)


@requires_torch
def test_mnist_cnn_matches_torch(fashion):
    compare_with_torch("mnist_cnn", steps=6, epochs=1, batch_size=32, **fashion)
