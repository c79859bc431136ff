"""Reshaping family (the torch twin of layers/reshaping.py): resampling of images and sequences
- ``interpolate`` / ``Upsample`` (modes 'nearest', 'linear' (3-D), 'bilinear' (4-D), PyTorch's
source-coordinate rules) - and the pixel (un)shuffles ``pixel_shuffle`` / ``PixelShuffle`` /
``pixel_unshuffle`` / ``PixelUnshuffle`` (a reshape, a permute and a reshape).

Resampling works one spatial axis at a time, composed from ops that have gradients: nearest is
an index_select of source rows (a broadcast view copied once when every source row repeats the
same number of times), linear is two index_selects and a lerp. The source positions and weights
depend only on the sizes, so they are computed here in Python from the shapes, never from the
tensor's data. Keras's layers.UpSampling2D calls ``interpolate``."""
from __future__ import annotations

import math
import numbers
import struct

from .._ops._args import integer, real
from ..tensor import _tensor_arg, index_select, tensor
from .module import Module

__all__ = ["interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle", "Upsample", "PixelShuffle",
           "PixelUnshuffle"]

_LINEAR = {"linear": 3, "bilinear": 4}
_NOT_HERE = ("bicubic", "trilinear", "area", "nearest-exact")


def _f32(v):
    """v rounded to float32 (PyTorch computes nearest's source index in float)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def _per_axis(v, n, op, name, convert):
    """A number or a sequence of n numbers as a tuple of n."""
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{op}: {name} must be a number or a sequence of {n} (one per spatial dim of the "
                             f"input), got {v!r}")
        return tuple(convert(e, op, name) for e in v)
    return (convert(v, op, name),) * n


def _sizes(x, size, scale_factor, op, recompute_scale_factor):
    """The output sizes and the scale to use in the coordinate mapping (None: input / output)
    for each spatial axis."""
    n = x.dim() - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor "
                         f"(got {'both' if size is not None else 'neither'})")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is only meaningful with scale_factor, not size")
        out = _per_axis(size, n, op, "size", integer)
        if any(o < 1 for o in out):
            raise ValueError(f"{op}: size must be positive, got {size!r}")
        return out, (None,) * n
    scales = _per_axis(scale_factor, n, op, "scale_factor", real)
    if any(not s > 0 or math.isinf(s) for s in scales):
        raise ValueError(f"{op}: scale_factor must be positive and finite, got {scale_factor!r}")
    out = tuple(int(math.floor(x.shape[2 + i] * s)) for i, s in enumerate(scales))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: scale_factor {scale_factor!r} leaves an empty output for input shape "
                         f"{tuple(x.shape)} (output spatial size {out})")
    return out, ((None,) * n if recompute_scale_factor else scales)


def _nearest(x, dim, out, scale):
    n = x.shape[dim]
    if out == n:
        return x
    s = _f32(n / out if scale is None else 1.0 / scale)
    src = [min(int(math.floor(_f32(i * s))), n - 1) for i in range(out)]
    if out % n == 0 and src == [i // (out // n) for i in range(out)]:  # every row repeated k times: a view
        k = out // n
        shape = list(x.shape)
        view = shape[:dim + 1] + [1] + shape[dim + 1:]
        big = shape[:dim + 1] + [k] + shape[dim + 1:]
        shape[dim] = out
        return x.reshape(view).expand(big).reshape(shape)
    return index_select(x, dim, tensor(src, device=x.device))


def _linear(x, dim, out, scale, align_corners):
    n = x.shape[dim]
    if align_corners:
        s = (n - 1) / (out - 1) if out > 1 else 0.0
        src = [i * s for i in range(out)]
    else:
        s = n / out if scale is None else 1.0 / scale
        src = [max((i + 0.5) * s - 0.5, 0.0) for i in range(out)]
    lo = [min(int(v), n - 1) for v in src]
    hi = [i + 1 if i < n - 1 else i for i in lo]
    shape = [1] * x.dim()
    shape[dim] = out
    frac = tensor([v - i for v, i in zip(src, lo)], dtype=x.dtype, device=x.device).reshape(shape)
    a = index_select(x, dim, tensor(lo, device=x.device))
    b = index_select(x, dim, tensor(hi, device=x.device))
    return a + (b - a) * frac


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resamples the spatial dims of (N, C, L) / (N, C, H, W) (/ (N, C, D, H, W) for nearest) to
    ``size`` or to floor(in * ``scale_factor``), as torch.nn.functional.interpolate: mode
    'nearest' (source index floor(out_index * in / out), or * 1 / scale_factor when given),
    'linear' (3-D input) or 'bilinear' (4-D), with align_corners False (half-pixel centres, edges
    clamped; the default) or True (corner pixels aligned). recompute_scale_factor=True maps
    coordinates by the computed output size instead of scale_factor. Differentiable."""
    op = "interpolate"
    _tensor_arg(input, op)
    if not isinstance(mode, str) or mode not in ("nearest",) + tuple(_LINEAR):
        if mode in _NOT_HERE:
            raise NotImplementedError(f"{op}: mode {mode!r} is not implemented in dlcore "
                                      f"(only 'nearest', 'linear' and 'bilinear')")
        raise ValueError(f"{op}: mode must be 'nearest', 'linear' or 'bilinear', got {mode!r}")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not implemented in dlcore")
    nd = input.dim()
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners can only be set with the interpolating modes "
                             f"'linear' and 'bilinear', not mode 'nearest'")
        if nd not in (3, 4, 5):
            raise ValueError(f"{op}: mode 'nearest' expects a 3-D (N, C, L), 4-D (N, C, H, W) or 5-D "
                             f"(N, C, D, H, W) input, got shape {tuple(input.shape)}")
    elif nd != _LINEAR[mode]:
        raise ValueError(f"{op}: mode {mode!r} expects a {_LINEAR[mode]}-D input "
                         f"({'(N, C, L)' if mode == 'linear' else '(N, C, H, W)'}), got shape {tuple(input.shape)}")
    if mode != "nearest" and not input.is_floating_point():
        raise TypeError(f"{op}: mode {mode!r} needs a floating-point input, got {input.dtype}")
    out, scales = _sizes(input, size, scale_factor, op, recompute_scale_factor)
    y = input
    for i, (o, s) in enumerate(zip(out, scales)):
        y = _nearest(y, 2 + i, o, s) if mode == "nearest" else _linear(y, 2 + i, o, s, bool(align_corners))
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """torch.nn.functional.upsample (deprecated there): interpolate with the same arguments."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def _factor(v, op, name):
    r = integer(v, op, name)
    if r < 1:
        raise ValueError(f"{op}: {name} must be positive, got {r}")
    return r


def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r) with r = upscale_factor, as
    torch.nn.functional.pixel_shuffle: channel c * r^2 + i * r + j goes to pixel (h * r + i,
    w * r + j) of channel c."""
    op = "pixel_shuffle"
    _tensor_arg(input, op)
    r = _factor(upscale_factor, op, "upscale_factor")
    if input.dim() < 3 or input.shape[-3] % (r * r):
        raise ValueError(f"{op}: expects an input (*, C * upscale_factor^2, H, W) with channels divisible by "
                         f"{r * r}, got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    k = len(lead)
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W) with r = downscale_factor: the inverse of
    pixel_shuffle, as torch.nn.functional.pixel_unshuffle."""
    op = "pixel_unshuffle"
    _tensor_arg(input, op)
    r = _factor(downscale_factor, op, "downscale_factor")
    if input.dim() < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"{op}: expects an input (*, C, H, W) with H and W divisible by downscale_factor {r}, "
                         f"got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    k = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


class Upsample(Module):
    """torch.nn.Upsample: ``interpolate(x, size, scale_factor, mode, align_corners,
    recompute_scale_factor)`` as a module (no parameters)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(real(s, "Upsample", "scale_factor") for s in scale_factor)
        elif isinstance(scale_factor, numbers.Real) or hasattr(scale_factor, "__float__"):
            self.scale_factor = real(scale_factor, "Upsample", "scale_factor") if scale_factor else None
        else:
            self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        what = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{what}, mode={self.mode!r}"


class PixelShuffle(Module):
    """torch.nn.PixelShuffle: pixel_shuffle(x, upscale_factor) as a module."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = _factor(upscale_factor, "PixelShuffle", "upscale_factor")

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """torch.nn.PixelUnshuffle: pixel_unshuffle(x, downscale_factor) as a module."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = _factor(downscale_factor, "PixelUnshuffle", "downscale_factor")

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
