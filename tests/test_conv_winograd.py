"""The Winograd F(2x2, 3x3) path of conv2d (3x3, stride 1, no dilation, groups 1, at least 16
input and output channels; forward, and backward-data for padding <= 2): values and every
gradient against PyTorch over odd / even output sizes, paddings 0..3 and several tile bands per
image, on every ISA this CPU supports (the tile transforms are per-ISA loops); plus
thread-count invariance, also of the 1x1 weight-gradient path."""
import numpy as np
import pytest
from conftest import requires_torch, rng, threads

import dlcore
import dlcore.nn.functional as F
from test_conv import _assert_pairs, _assert_same_bits_for_any_thread_count, _run_both

# (N, C, H, W, K, padding)
CASES = [
    (2, 16, 8, 8, 16, 1),      # even output, one tile band
    (2, 16, 9, 11, 24, 1),     # odd output rows and columns (partial edge tiles)
    (1, 20, 7, 6, 16, 0),      # no padding: backward-data pads by 2
    (1, 16, 5, 7, 17, 2),      # padding 2: backward-data without padding
    (1, 16, 6, 5, 16, 3),      # padding 3: forward Winograd, backward-data by im2col
    (1, 64, 80, 70, 64, 1),    # several tile bands per image (512-tile chunks here)
    (2, 16, 6, 6, 16, (1, 0)),  # different padding per axis
    (1, 16, 20, 33, 16, 1),    # odd output width past whole vectors of tiles (transform tails)
]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_winograd_matches_torch(case, dtype, every_isa):
    import torch
    N, C, H, W, K, p = case
    r = rng(21)
    arrays = [r.standard_normal((N, C, H, W)), r.standard_normal((K, C, 3, 3)), r.standard_normal(K)]
    pairs = _run_both(lambda x, w, b: F.conv2d(x, w, b, 1, p),
                      lambda x, w, b: torch.nn.functional.conv2d(x, w, b, 1, p), arrays, dtype)
    _assert_pairs(pairs, dtype)


def test_winograd_does_not_depend_on_thread_count():
    r = rng(22)
    x = dlcore.tensor(r.standard_normal((3, 16, 40, 38)).astype(np.float32), requires_grad=True)
    w = dlcore.tensor(r.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)
    _assert_same_bits_for_any_thread_count(x, w, None, 1, 1)


@requires_torch
def test_pointwise_weight_gradient_matches_torch_for_any_thread_count():
    """1x1 convs take the weight gradient as per-image GEMMs over thread-split rows of gw."""
    import torch
    r = rng(23)
    x = r.standard_normal((5, 24, 6, 7)).astype(np.float32)
    w = r.standard_normal((20, 24, 1, 1)).astype(np.float32)
    gy = r.standard_normal((5, 20, 6, 7)).astype(np.float32)
    ref = torch.ops.aten.convolution_backward(torch.tensor(gy), torch.tensor(x), torch.tensor(w), None, [1, 1],
                                              [0, 0], [1, 1], False, [0, 0], 1, [False, True, False])[1].numpy()
    outs = []
    for n in (1, 2, 3):
        with threads(n):
            outs.append(dlcore._C.conv2d_backward_weight(x, gy, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1))
    np.testing.assert_allclose(outs[0], ref, rtol=2e-4, atol=2e-4 * np.abs(ref).max())
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
