"""Reshaping family on the torch side (nn/reshaping.py): interpolate / Upsample and the pixel
(un)shuffles, values and gradients against PyTorch on the same float64 inputs, and errors for
bad arguments. (Keras's UpSampling2D, which calls interpolate, is tested in test_keras_image.py.)"""
import numpy as np
import pytest
from conftest import requires_torch, rng

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = None

TOL = dict(rtol=1e-12, atol=1e-12)


def _both(fn_dl, fn_th, shape, seed=0):
    """Runs fn on the same float64 input in both libraries, backward with the same upstream
    gradient; returns (dlcore y, torch y, dlcore dx, torch dx) as arrays."""
    x = rng(seed).normal(size=shape)
    xd = dlcore.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yd, yt = fn_dl(xd), fn_th(xt)
    assert tuple(yd.shape) == tuple(yt.shape)
    g = rng(seed + 1).normal(size=tuple(yt.shape))
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), **TOL)


INTERP_CASES = [
    # (input shape, kwargs)
    ((2, 3, 5), dict(scale_factor=2)),
    ((2, 3, 5), dict(size=7)),
    ((2, 3, 5), dict(size=3)),
    ((2, 3, 5), dict(scale_factor=1.7)),
    ((2, 3, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((2, 3, 4, 5), dict(scale_factor=2)),
    ((2, 3, 4, 5), dict(scale_factor=(3, 1))),
    ((2, 3, 4, 5), dict(size=(7, 3))),
    ((2, 3, 4, 5), dict(size=(4, 11))),
    ((2, 3, 4, 5), dict(scale_factor=(0.5, 2.5))),
    ((2, 3, 4, 5), dict(scale_factor=1.3)),
    ((1, 2, 3, 1), dict(size=(1, 4))),
]


@requires_torch
@pytest.mark.parametrize("shape,kw", INTERP_CASES, ids=str)
@pytest.mark.parametrize("mode,align", [("nearest", None), ("linear", False), ("linear", True)])
def test_interpolate_vs_torch(shape, kw, mode, align):
    if mode == "linear" and len(shape) == 4:
        mode = "bilinear"
    kw = dict(kw, mode=mode, align_corners=align)
    _both(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), shape)


@requires_torch
def test_interpolate_nearest_5d_and_upsample_alias():
    kw = dict(scale_factor=(2, 1.5, 0.7))
    _both(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), (1, 2, 3, 4, 5))
    _both(lambda x: F.upsample(x, size=(5, 6), mode="bilinear", align_corners=True),
          lambda x: TF.interpolate(x, size=(5, 6), mode="bilinear", align_corners=True), (2, 1, 3, 4))


@requires_torch
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=(6, 7), mode="bilinear"),
                                dict(scale_factor=(2.0, 3.0), mode="bilinear", align_corners=True),
                                dict(scale_factor=1.5, mode="nearest", recompute_scale_factor=True)], ids=str)
def test_upsample_module_vs_torch(kw):
    m, tm = nn.Upsample(**kw), torch.nn.Upsample(**kw)
    assert m.scale_factor == tm.scale_factor and m.size == tm.size and m.mode == tm.mode
    assert "mode=" in repr(m) and not list(m.parameters())
    _both(m, tm, (2, 3, 4, 5))


def test_interpolate_nearest_keeps_integers():
    x = dlcore.arange(6).reshape(1, 1, 2, 3)
    y = F.interpolate(x, scale_factor=2)
    assert y.dtype == dlcore.int64
    np.testing.assert_array_equal(y.numpy()[0, 0], np.repeat(np.repeat(np.arange(6).reshape(2, 3), 2, 0), 2, 1))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x: F.interpolate(x), ValueError, r"interpolate: give exactly one of size and scale_factor \(got neither"),
    (lambda x: F.interpolate(x, size=4, scale_factor=2), ValueError, r"exactly one .*got both"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="bicubic"), NotImplementedError, r"interpolate: mode 'bicubic'"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="cubic"), ValueError, r"interpolate: mode must be"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="linear"), ValueError,
     r"interpolate: mode 'linear' expects a 3-D input .*got shape \(1, 2, 3, 4\)"),
    (lambda x: F.interpolate(x, scale_factor=2, align_corners=True), ValueError, r"align_corners can only be set"),
    (lambda x: F.interpolate(x, size=(2, 3, 4)), ValueError, r"size must be a number or a sequence of 2"),
    (lambda x: F.interpolate(x, size=2.5), TypeError, r"interpolate: size must be an integer"),
    (lambda x: F.interpolate(x, scale_factor=-1), ValueError, r"scale_factor must be positive"),
    (lambda x: F.interpolate(x, scale_factor=0.1), ValueError, r"leaves an empty output .*\(1, 2, 3, 4\)"),
    (lambda x: F.interpolate(x, size=(0, 3)), ValueError, r"size must be positive"),
    (lambda x: F.interpolate(x, size=5, recompute_scale_factor=True), ValueError, r"recompute_scale_factor"),
    (lambda x: F.interpolate(x, scale_factor=2, antialias=True), NotImplementedError, r"antialias"),
    (lambda x: F.interpolate(x.reshape(2, 12), scale_factor=2), ValueError, r"'nearest' expects a 3-D .*\(2, 12\)"),
    (lambda x: F.interpolate(x.long(), scale_factor=2, mode="bilinear"), TypeError, r"floating-point"),
    (lambda x: F.pixel_shuffle(x, 2), ValueError, r"pixel_shuffle: .*divisible by 4, got shape \(1, 2, 3, 4\)"),
    (lambda x: F.pixel_shuffle(x, 0), ValueError, r"pixel_shuffle: upscale_factor must be positive"),
    (lambda x: F.pixel_unshuffle(x, 2), ValueError, r"pixel_unshuffle: .*divisible by downscale_factor 2"),
    (lambda x: nn.PixelShuffle(1.5), TypeError, r"PixelShuffle: upscale_factor must be an integer"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_arguments(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(dlcore.zeros(1, 2, 3, 4))


@requires_torch
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 5), 2), ((9, 2, 3), 3), ((2, 3, 4, 2, 2), 2)], ids=str)
def test_pixel_shuffle_vs_torch(shape, r):
    _both(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), shape)
    inv = tuple(shape[:-3]) + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    _both(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), inv)
    x = dlcore.tensor(rng(3).normal(size=inv))
    np.testing.assert_array_equal(F.pixel_shuffle(F.pixel_unshuffle(x, r), r).numpy(), x.numpy())
    assert repr(nn.PixelShuffle(r)) == f"PixelShuffle(upscale_factor={r})"
