"""The vectorised direct kernels for one input channel per group (depthwise convs and C_in = 1
convs; ops/conv_direct_loops.h), on every ISA this CPU supports: values and every gradient
against PyTorch, over shapes that exercise full 4-vector strips, partial tails, padding wider
than the kernel reach, dilation, vertical stride and channel multipliers; the stride-2 im2col /
col2im row loops of the same per-ISA set; plus thread-count
invariance."""
import numpy as np
import pytest
from conftest import requires_torch, rng

import dlcore
import dlcore.nn.functional as F
from test_conv import _assert_pairs, _assert_same_bits_for_any_thread_count, _run_both

# (N, C, H, W, K, (kH, kW), stride (sH, 1), padding, dilation, groups)
CASES = [
    (2, 3, 9, 45, 3, (3, 3), 1, 1, 1, 3),           # depthwise: one full strip (32) + a 13 tail
    (2, 2, 7, 70, 6, (3, 5), (2, 1), (1, 2), 1, 2),  # multiplier 3, vertical stride, 2 strips + tail
    (1, 1, 28, 28, 8, (3, 3), 1, 1, 1, 1),          # C_in = 1 (first layer of a grey-image CNN)
    (2, 1, 10, 9, 4, (5, 3), 1, (3, 4), (1, 2), 1),  # padding beyond the kernel reach, dilation
    (2, 4, 6, 5, 4, (4, 2), 1, "same", 1, 4),       # asymmetric 'same' padding (even kernel)
    (1, 2, 5, 3, 2, (1, 1), (3, 1), 0, 1, 2),       # 1x1 depthwise, rows skipped by the stride
    (2, 3, 8, 20, 3, (3, 3), (2, 1), 2, 2, 3),      # 3x3 (fixed-tap weight gradient) dilated, strided
]


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_direct_kernels_match_torch_on_every_isa(case, dtype, every_isa):
    import torch
    N, C, H, W, K, (kh, kw), s, p, d, g = case
    r = rng(11)
    arrays = [r.standard_normal((N, C, H, W)), r.standard_normal((K, C // g, kh, kw)), r.standard_normal(K)]
    pairs = _run_both(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g),
                      lambda x, w, b: torch.nn.functional.conv2d(x, w, b, s, p, d, g), arrays, dtype)
    _assert_pairs(pairs, dtype)


def test_direct_kernels_do_not_depend_on_thread_count():
    r = rng(12)
    x = dlcore.tensor(r.standard_normal((3, 4, 11, 37)).astype(np.float32), requires_grad=True)
    w = dlcore.tensor(r.standard_normal((8, 1, 3, 3)).astype(np.float32), requires_grad=True)
    b = dlcore.tensor(r.standard_normal(8).astype(np.float32), requires_grad=True)
    _assert_same_bits_for_any_thread_count(x, w, b, 1, 1, 1, 4)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride2_im2col_rows_match_torch_on_every_isa(dtype, every_isa):
    """Horizontal stride 2 gathers im2col rows (and scatters col2im rows) with per-ISA vector loops."""
    import torch
    r = rng(13)
    arrays = [r.standard_normal((2, 3, 9, 41)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)]
    pairs = _run_both(lambda x, w, b: F.conv2d(x, w, b, 2, (1, 2)),
                      lambda x, w, b: torch.nn.functional.conv2d(x, w, b, 2, (1, 2)), arrays, dtype)
    _assert_pairs(pairs, dtype)
    arrays = [r.standard_normal((2, 4, 5, 19)), r.standard_normal((4, 3, 4, 4)), r.standard_normal(3)]
    pairs = _run_both(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1),
                      lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, 2, 1), arrays, dtype)
    _assert_pairs(pairs, dtype)
