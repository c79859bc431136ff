"""Keras-style convolution layers: Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D,
SeparableConv2D, with Keras's names, arguments and defaults (channels-last input, glorot_uniform
kernels, zero biases, 'same' padding for any stride with the extra row / column at the bottom /
right as TensorFlow pads).

Each layer holds dlcore.nn conv modules (``conv``, or ``depthwise`` + ``pointwise``: their
weights in PyTorch's layout, the state_dict keys) built on the first input, and runs the conv
Functions (_ops/conv.py) channels-first with the padding Keras's rule gives for the input's size,
which may be asymmetric. ``get_weights`` / ``set_weights`` use Keras's kernel layouts:
Conv1D (k, in, out), Conv2D (kh, kw, in/groups, out), Conv2DTranspose (kh, kw, out, in),
DepthwiseConv2D (kh, kw, in, depth_multiplier), SeparableConv2D depthwise (kh, kw, in,
depth_multiplier) and pointwise (1, 1, in * depth_multiplier, filters)."""
from __future__ import annotations

from ..nn.conv import Conv1d, Conv2d, ConvTranspose2d
from .._ops import conv as _ops
from .._ops._args import integer, ntuple
from .base import (Layer, _match_dtype, data_format_arg, from_channels_first, get_activation, get_initializer,
                   image_input, image_rank, init_keras_layout)

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"]


def _name_of(v, layer, arg):
    """A configuration value that JSON can hold (an initializer / activation name)."""
    if v is not None and not isinstance(v, str):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': a callable {arg} cannot be saved as JSON; "
                         f"use its name")
    return v


def _keras_to_torch_4d(w):  # Keras (kh, kw, in, out) -> dlcore (out, in, kh, kw)
    return w.permute(3, 2, 0, 1)


def _torch_to_keras_4d(w):  # dlcore (out, in, kh, kw) -> Keras (kh, kw, in, out)
    return w.permute(2, 3, 1, 0)


def _conv_pads(padding, size, kernel, stride, dilation):
    """Per-dim (before, after) padding for Keras's padding argument and this input size."""
    if padding == "valid":
        return [(0, 0)] * len(size)
    if padding == "same":
        return [_ops.same_padding(*a) for a in zip(size, kernel, stride, dilation)]
    if padding == "causal":
        return [((kernel[0] - 1) * dilation[0], 0)]
    return [(p, p) for p in padding]  # explicit ints (a dlcore extension of Conv2D)


class _Conv(Layer):
    """Shared by the convolution layers: argument checks, channels-first calls, Keras configs."""

    _rank = 2
    _paddings = ("valid", "same")
    _int_padding = False  # Conv2D also takes ints (symmetric padding), a dlcore extension
    _has_filters = True  # DepthwiseConv2D has depth_multiplier instead

    def __init__(self, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                 use_bias, kernel_initializer, bias_initializer, name, groups=1):
        super().__init__(name)
        cls, n = type(self).__name__, self._rank
        self.filters = integer(filters, cls, "filters", 1) if self._has_filters else None
        self.kernel_size = ntuple(kernel_size, n, cls, "kernel_size")
        self.strides = ntuple(strides, n, cls, "strides")
        self.dilation_rate = ntuple(dilation_rate, n, cls, "dilation_rate")
        for arg, v in (("kernel_size", self.kernel_size), ("strides", self.strides),
                       ("dilation_rate", self.dilation_rate)):
            if any(e < 1 for e in v):
                raise ValueError(f"{cls}: {arg} must be positive, got {v}")
        if any(s > 1 for s in self.strides) and any(d > 1 for d in self.dilation_rate):
            raise ValueError(f"{cls}: strides > 1 is not supported together with dilation_rate > 1, got "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        if isinstance(padding, str):
            if padding.lower() not in self._paddings:
                raise ValueError(f"{cls}: padding must be one of {self._paddings}, got {padding!r}")
            self.padding = padding.lower()
        elif self._int_padding:
            self.padding = ntuple(padding, 2, cls, "padding")
            if any(e < 0 for e in self.padding):
                raise ValueError(f"{cls}: padding must be non-negative, got {self.padding}")
        else:
            raise ValueError(f"{cls}: padding must be one of {self._paddings}, got {padding!r}")
        self.data_format = data_format_arg(data_format, cls)
        self.groups = integer(groups, cls, "groups", 1)
        if self.filters is not None and self.filters % self.groups:
            raise ValueError(f"{cls}: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.activation, self.use_bias = activation, bool(use_bias)
        self._act = get_activation(activation)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self._kernel_init = get_initializer(kernel_initializer, cls, "kernel_initializer")
        self._bias_init = get_initializer(bias_initializer, cls, "bias_initializer")

    # -- input checks --
    def _channels(self, input_shape):
        cls = type(self).__name__
        image_rank(self, input_shape, self._rank)
        c = int(input_shape[-1] if self.data_format == "channels_last" else input_shape[1])
        if c % self.groups:
            raise ValueError(f"{cls} '{self.name}': the input's {c} channels are not divisible by "
                             f"groups={self.groups} (input shape {tuple(input_shape)})")
        return c

    def _input(self, x):
        """x checked (a float tensor of the built layer's rank and channel count), channels-first."""
        xc = image_input(self, x, self._rank)
        if self._channels(x.shape) != self._in_channels:
            raise ValueError(f"{type(self).__name__} '{self.name}': was built for {self._in_channels} input "
                             f"channels ({self.data_format}), got input of shape {tuple(x.shape)}")
        return xc

    def _init(self, *kernel_inits):
        """Draws the kernels (kernel_inits, in _keras_weights' order) and the bias in Keras's
        layouts, so with Keras's fans whatever layout dlcore keeps them in."""
        inits = list(kernel_inits) + ([self._bias_init] if self.use_bias else [])
        for (t, to_k, from_k), init in zip(self._keras_weights(), inits):
            init_keras_layout(t, init, to_k, from_k)

    def _finish(self, y):
        if self._act is not None:
            y = self._act(y)
        return from_channels_first(y, self.data_format)

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": _name_of(self.activation, self, "activation"), "use_bias": self.use_bias,
                "kernel_initializer": _name_of(self.kernel_initializer, self, "kernel_initializer"),
                "bias_initializer": _name_of(self.bias_initializer, self, "bias_initializer")}


class Conv2D(_Conv):
    """2-D convolution over (N, H, W, C) (data_format="channels_last", the default) or
    (N, C, H, W) ("channels_first"). padding 'valid' or 'same' (any stride: the output has
    ceil(size / stride) positions and an odd extra pad goes at the bottom / right, as in Keras
    and TensorFlow); an int or a pair pads symmetrically (a dlcore extension). Kernel
    glorot_uniform, bias zeros. Wraps nn.Conv2d as ``conv``; get_weights gives the kernel as
    (kh, kw, in/groups, filters)."""

    _int_padding = True

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", name=None):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, kernel_initializer, bias_initializer, name, groups)

    def build(self, input_shape, x=None):
        self._in_channels = self._channels(input_shape)
        self.conv = _match_dtype(Conv2d(self._in_channels, self.filters, self.kernel_size, stride=self.strides,
                                        dilation=self.dilation_rate, groups=self.groups, bias=self.use_bias), x)
        self._init(self._kernel_init)
        self.built = True

    def forward(self, x):
        x = self._input(x)
        pads = _conv_pads(self.padding, x.shape[2:], self.kernel_size, self.strides, self.dilation_rate)
        y = _ops.Conv2d.apply(x, self.conv.weight, self.conv.bias, self.strides, sum(pads, ()),
                              self.dilation_rate, self.groups)
        return self._finish(y)

    def _keras_weights(self):
        return [(self.conv.weight, _torch_to_keras_4d, _keras_to_torch_4d)] + \
            ([(self.conv.bias, None, None)] if self.use_bias else [])

    def get_config(self):
        return dict(super().get_config(), groups=self.groups)


class Conv1D(_Conv):
    """1-D convolution over (N, L, C) (channels_last, the default) or (N, C, L). padding
    'valid', 'same' (any stride, as Keras) or 'causal' (all padding on the left, so output t sees
    inputs up to t). Kernel glorot_uniform, bias zeros. Wraps nn.Conv1d as ``conv``; runs as a
    2-D convolution with H = 1; get_weights gives the kernel as (k, in/groups, filters)."""

    _rank = 1
    _paddings = ("valid", "same", "causal")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, kernel_initializer, bias_initializer, name, groups)

    def build(self, input_shape, x=None):
        self._in_channels = self._channels(input_shape)
        self.conv = _match_dtype(Conv1d(self._in_channels, self.filters, self.kernel_size, stride=self.strides,
                                        dilation=self.dilation_rate, groups=self.groups, bias=self.use_bias), x)
        self._init(self._kernel_init)
        self.built = True

    def forward(self, x):
        x = self._input(x)
        (lo, hi), = _conv_pads(self.padding, x.shape[2:], self.kernel_size, self.strides, self.dilation_rate)
        n, c, length = x.shape
        w = self.conv.weight
        y = _ops.Conv2d.apply(x.reshape(n, c, 1, length), w.reshape(w.shape[0], w.shape[1], 1, w.shape[2]),
                              self.conv.bias, (1,) + self.strides, (0, 0, lo, hi), (1,) + self.dilation_rate,
                              self.groups)
        return self._finish(y.reshape(y.shape[0], y.shape[1], y.shape[3]))

    def _keras_weights(self):
        perm = (lambda w: w.permute(2, 1, 0))  # (out, in, k) <-> (k, in, out): its own inverse
        return [(self.conv.weight, perm, perm)] + ([(self.conv.bias, None, None)] if self.use_bias else [])

    def get_config(self):
        return dict(super().get_config(), groups=self.groups)


def _deconv_length(size, kernel, stride, dilation, padding, output_padding):
    """Keras's output length of a transposed convolution."""
    span = (kernel - 1) * dilation + 1
    if output_padding is None:
        return size * stride + (max(span - stride, 0) if padding == "valid" else 0)
    pad = span // 2 if padding == "same" else 0
    return (size - 1) * stride + span - 2 * pad + output_padding


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution (the gradient of Conv2D with respect to its input) over
    (N, H, W, C) (channels_last, the default) or (N, C, H, W). Output size as Keras: 'valid'
    H * stride + max(kh - stride, 0), 'same' H * stride, or with output_padding
    (H - 1) * stride + kh - 2 * pad + output_padding (pad kh // 2 for 'same'); the padding is
    TensorFlow's for that output size. Kernel glorot_uniform, bias zeros. Wraps
    nn.ConvTranspose2d as ``conv``; get_weights gives the kernel as (kh, kw, filters, in)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", name=None):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, kernel_initializer, bias_initializer, name)
        if output_padding is not None:
            output_padding = ntuple(output_padding, 2, "Conv2DTranspose", "output_padding")
            for o, s in zip(output_padding, self.strides):
                if not 0 <= o < s:
                    raise ValueError(f"Conv2DTranspose: output_padding {output_padding} must be non-negative "
                                     f"and smaller than strides {self.strides}")
        self.output_padding = output_padding

    def build(self, input_shape, x=None):
        self._in_channels = self._channels(input_shape)
        self.conv = _match_dtype(ConvTranspose2d(self._in_channels, self.filters, self.kernel_size,
                                                 stride=self.strides, dilation=self.dilation_rate,
                                                 bias=self.use_bias), x)
        self._init(self._kernel_init)
        self.built = True

    def forward(self, x):
        x = self._input(x)
        ops = self.output_padding or (None, None)
        out_hw, pads = [], []
        for n, k, s, d, o in zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate, ops):
            out = _deconv_length(n, k, s, d, self.padding, o)
            total = max((n - 1) * s + (k - 1) * d + 1 - out, 0) if self.padding == "same" else 0
            out_hw.append(out)
            pads += [total // 2, total - total // 2]
        y = _ops.ConvTranspose2d.apply(x, self.conv.weight, self.conv.bias, self.strides, tuple(pads),
                                       tuple(out_hw), self.dilation_rate, 1)
        return self._finish(y)

    def _keras_weights(self):
        # dlcore (in, out, kh, kw) <-> Keras (kh, kw, out, in): the same permutations as Conv2D's
        return [(self.conv.weight, _torch_to_keras_4d, _keras_to_torch_4d)] + \
            ([(self.conv.bias, None, None)] if self.use_bias else [])

    def get_config(self):
        cfg = super().get_config()
        cfg["output_padding"] = None if self.output_padding is None else list(self.output_padding)
        return cfg


def _depthwise_weight(w, dm):
    """dlcore's depthwise weight (in * dm, 1, kh, kw) as Keras's (kh, kw, in, dm)."""
    return w.reshape(w.shape[0] // dm, dm, w.shape[2], w.shape[3]).permute(2, 3, 0, 1)


def _depthwise_from_keras(k):
    """Keras's (kh, kw, in, dm) as dlcore's (in * dm, 1, kh, kw)."""
    return k.permute(2, 3, 0, 1).reshape(k.shape[2] * k.shape[3], 1, k.shape[0], k.shape[1])


class DepthwiseConv2D(_Conv):
    """Depthwise 2-D convolution: each input channel convolved with its own depth_multiplier
    filters (output channel c * depth_multiplier + m), over (N, H, W, C) (channels_last, the
    default) or (N, C, H, W). A grouped nn.Conv2d (groups = channels) as ``conv``. Kernel
    glorot_uniform with Keras's fans (kh * kw * in, kh * kw * depth_multiplier), bias zeros;
    get_weights gives the kernel as (kh, kw, in, depth_multiplier)."""

    _has_filters = False

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, name)
        self.depth_multiplier = integer(depth_multiplier, type(self).__name__, "depth_multiplier", 1)

    def _depthwise_module(self, x, bias):
        c, dm = self._in_channels, self.depth_multiplier
        return _match_dtype(Conv2d(c, c * dm, self.kernel_size, stride=self.strides, dilation=self.dilation_rate,
                                   groups=c, bias=bias), x)

    def build(self, input_shape, x=None):
        self._in_channels = self._channels(input_shape)
        self.conv = self._depthwise_module(x, self.use_bias)
        self._init(self._kernel_init)
        self.built = True

    def _depthwise(self, x, conv, bias):
        pads = _conv_pads(self.padding, x.shape[2:], self.kernel_size, self.strides, self.dilation_rate)
        return _ops.Conv2d.apply(x, conv.weight, bias, self.strides, sum(pads, ()), self.dilation_rate,
                                 self._in_channels)

    def forward(self, x):
        return self._finish(self._depthwise(self._input(x), self.conv, self.conv.bias))

    def _keras_weights(self):
        dm = self.depth_multiplier
        return [(self.conv.weight, lambda w: _depthwise_weight(w, dm), _depthwise_from_keras)] + \
            ([(self.conv.bias, None, None)] if self.use_bias else [])

    def get_config(self):
        cfg = super().get_config()
        del cfg["filters"]
        cfg["depthwise_initializer"] = cfg.pop("kernel_initializer")
        cfg["depth_multiplier"] = self.depth_multiplier
        return cfg


class SeparableConv2D(DepthwiseConv2D):
    """Depthwise separable 2-D convolution: a depthwise convolution (depth_multiplier filters per
    input channel, strides / padding / dilation applied here, no bias) then a 1x1 convolution to
    ``filters`` channels with the bias, over (N, H, W, C) (channels_last, the default) or
    (N, C, H, W). Holds nn.Conv2d ``depthwise`` and ``pointwise``; both kernels glorot_uniform
    (Keras's fans), bias zeros; get_weights gives [depthwise (kh, kw, in, depth_multiplier),
    pointwise (1, 1, in * depth_multiplier, filters), bias]."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, name)
        self.filters = integer(filters, "SeparableConv2D", "filters", 1)
        self.pointwise_initializer = pointwise_initializer
        self._pointwise_init = get_initializer(pointwise_initializer, "SeparableConv2D", "pointwise_initializer")

    def build(self, input_shape, x=None):
        self._in_channels = self._channels(input_shape)
        self.depthwise = self._depthwise_module(x, False)
        self.pointwise = _match_dtype(Conv2d(self._in_channels * self.depth_multiplier, self.filters, 1,
                                             bias=self.use_bias), x)
        self._init(self._kernel_init, self._pointwise_init)
        self.built = True

    def forward(self, x):
        y = self._depthwise(self._input(x), self.depthwise, None)
        y = _ops.Conv2d.apply(y, self.pointwise.weight, self.pointwise.bias, (1, 1), (0, 0, 0, 0), (1, 1), 1)
        return self._finish(y)

    def _keras_weights(self):
        dm = self.depth_multiplier
        return [(self.depthwise.weight, lambda w: _depthwise_weight(w, dm), _depthwise_from_keras),
                (self.pointwise.weight, _torch_to_keras_4d, _keras_to_torch_4d)] + \
            ([(self.pointwise.bias, None, None)] if self.use_bias else [])

    def get_config(self):
        return dict(super().get_config(), filters=self.filters,
                    pointwise_initializer=_name_of(self.pointwise_initializer, self, "pointwise_initializer"))
