"""dlcore.distributions: probability distributions with torch.distributions' names and batch
semantics - Categorical, Bernoulli, Normal, Independent - and kl_divergence between them.

A distribution's parameters may have any batch shape; ``sample(sample_shape)`` returns
``sample_shape + batch_shape + event_shape`` values, and ``log_prob(value)`` broadcasts value
against the batch shape. Everything is composed from dlcore ops, so gradients flow through
``log_prob``, ``entropy`` and the parameters (``probs`` / ``logits``), and through ``rsample``
(Normal: loc + scale * eps, the reparameterisation) - the REINFORCE and VAE recipes work as
written for PyTorch.

Samples are drawn from dlcore's generator (``dlcore.manual_seed``, or a ``dlcore.use_generator``
block): the same seed gives the same samples. Categorical sampling is the Gumbel-max rule
(argmax of logits + Gumbel noise), Bernoulli compares uniforms with probs, Normal scales
standard normals: the draws follow the distribution, not PyTorch's particular random stream.

Arguments are validated as PyTorch does by default (``validate_args=False`` turns it off):
probabilities in [0, 1], scales > 0, values inside the support; a ValueError names the
distribution, the argument and the shape.
"""
from __future__ import annotations

import math
import numbers

from .autograd import no_grad
from .dtype import get_default_dtype, int64
from .nn.activation import log_softmax, sigmoid, softmax
from .nn.loss import binary_cross_entropy_with_logits
from ._ops import _args
from .tensor import Tensor, clip, expand, gather, log, log1p, rand, randn, tensor, unsqueeze, where

__all__ = ["Distribution", "Categorical", "Bernoulli", "Normal", "Independent", "kl_divergence"]

_LOWEST = {"float32": -3.4028234663852886e38, "float64": -1.7976931348623157e308}
_TINY = {"float32": 1.1754943508222875e-38, "float64": 2.2250738585072014e-308}
_EPS = {"float32": 1.1920928955078125e-07, "float64": 2.220446049250313e-16}


def _param(v, name, op):
    """A parameter as a float tensor (a Python number takes the default dtype)."""
    if isinstance(v, Tensor):
        _args.require_float(v.dtype, op, name)
        return v
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a float Tensor or a number, got {type(v).__name__}")
    return tensor(float(v), dtype=get_default_dtype())


def _shape(sample_shape, op):
    if isinstance(sample_shape, numbers.Integral) and not isinstance(sample_shape, bool):
        sample_shape = (sample_shape,)
    return tuple(_args.integer(s, op, "sample_shape", 0) for s in sample_shape)


class Distribution:
    """Base class: ``batch_shape``, ``event_shape``, ``sample`` (no gradient), ``rsample``
    (with gradient, where the distribution has one), ``log_prob``, ``entropy``."""

    has_rsample = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        self._validate = True if validate_args is None else bool(validate_args)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return _shape(sample_shape, type(self).__name__ + ".sample") + self._batch_shape + self._event_shape

    def sample(self, sample_shape=()):
        """Draws sample_shape + batch_shape + event_shape values (no gradient)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample (rsample); use "
                                  f"sample() and the score function (log_prob) instead")

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def entropy(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _fail(self, msg):
        raise ValueError(f"{type(self).__name__}: {msg}")

    def _broadcast(self, value, name="value"):
        """value (a Tensor or number) broadcast with the batch (+ event) shape."""
        if not isinstance(value, Tensor):
            value = tensor(value)
        full = self._batch_shape + self._event_shape
        try:
            shape = _args.broadcast_shape(value.shape, full, f"{type(self).__name__}.log_prob")
        except ValueError:
            self._fail(f"{name} of shape {tuple(value.shape)} does not broadcast with the batch shape "
                       f"{self._batch_shape}")
        return value, shape

    def __repr__(self):
        return f"{type(self).__name__}(batch_shape={self._batch_shape})"


class Categorical(Distribution):
    """Categories 0..K-1 with probabilities ``probs`` (normalised over the last dim) or
    unnormalised log-probabilities ``logits`` (exactly one of them); the batch shape is the
    parameter's shape without its last dim."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give exactly one of probs or logits")
        name = "probs" if probs is not None else "logits"
        p = _param(probs if probs is not None else logits, name, "Categorical")
        if p.ndim < 1:
            raise ValueError(f"Categorical: {name} must have at least one dimension (the categories), "
                             f"got shape {tuple(p.shape)}")
        super().__init__(tuple(p.shape[:-1]), (), validate_args)
        if probs is not None:
            if self._validate and bool(((p < 0) | (p > 1)).any() | (p.sum(-1) <= 0).any()):
                self._fail("probs must lie in [0, 1], with a positive sum over the last dim")
            self._probs = p / p.sum(-1, keepdim=True)
            self._logits = None
        else:
            self._logits = log_softmax(p, -1)  # normalised: logsumexp over the categories is 0
            self._probs = None
        self._num_events = p.shape[-1]

    @property
    def probs(self):
        if self._probs is None:
            self._probs = softmax(self._logits, -1)
        return self._probs

    @property
    def logits(self):
        """Normalised log-probabilities; from probs, log(p) with p kept eps away from 0 and 1
        (as PyTorch)."""
        if self._logits is None:
            e = _EPS[self._probs.dtype.name]
            self._logits = log(clip(self._probs, e, 1 - e))
        return self._logits

    @property
    def param_shape(self):
        return self._batch_shape + (self._num_events,)

    @property
    def mean(self):
        return tensor(math.nan, dtype=self.probs.dtype).expand(*self._batch_shape)

    @property
    def variance(self):
        return self.mean

    def sample(self, sample_shape=()):
        """Category indices (int64) of shape sample_shape + batch_shape: the argmax of the
        log-probabilities plus Gumbel noise -log(-log(u)), u uniform."""
        shape = self._extended_shape(sample_shape)
        lg = self.logits.detach()  # built (and cached) outside no_grad, so log_prob keeps its graph
        with no_grad():
            d = lg.dtype.name
            u = clip(rand(*shape, self._num_events, dtype=lg.dtype), _TINY[d], 1.0 - _EPS[d])
            return (lg - log(-log(u))).argmax(-1)

    def log_prob(self, value):
        value, shape = self._broadcast(value)
        if value.dtype != int64:
            if self._validate and bool((value != value.long()).any()):
                self._fail("value must hold category indices (integers)")
            value = value.long()
        if self._validate and value.numel() and bool(((value < 0) | (value >= self._num_events)).any()):
            self._fail(f"value must hold category indices in [0, {self._num_events})")
        lg = self.logits
        lg = expand(lg, *(shape + (self._num_events,)))
        idx = expand(value, *shape).contiguous()
        return gather(lg, -1, unsqueeze(idx, -1)).squeeze(-1)

    def entropy(self):
        d = self.logits.dtype.name
        return -(self.probs * clip(self.logits, _LOWEST[d], None)).sum(-1)

    def enumerate_support(self, expand=True):
        """0..K-1 along a new leading dim (broadcast over the batch shape with expand=True)."""
        vals = tensor(list(range(self._num_events)), dtype=int64).reshape(-1, *([1] * len(self._batch_shape)))
        return vals.expand(self._num_events, *self._batch_shape) if expand else vals


class Bernoulli(Distribution):
    """0 / 1 outcomes with P(1) = ``probs`` or sigmoid(``logits``) (exactly one of them); the
    batch shape is the parameter's shape. Samples and log_prob's values are floats, as in
    PyTorch."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: give exactly one of probs or logits")
        name = "probs" if probs is not None else "logits"
        p = _param(probs if probs is not None else logits, name, "Bernoulli")
        super().__init__(tuple(p.shape), (), validate_args)
        if probs is not None:
            if self._validate and bool(((p < 0) | (p > 1)).any()):
                self._fail(f"probs must lie in [0, 1] (shape {tuple(p.shape)})")
            self._probs, self._logits = p, None
        else:
            self._probs, self._logits = None, p

    @property
    def probs(self):
        if self._probs is None:
            self._probs = sigmoid(self._logits)
        return self._probs

    @property
    def logits(self):
        """log(p) - log(1 - p), with p kept eps away from 0 and 1 (as PyTorch)."""
        if self._logits is None:
            e = _EPS[self._probs.dtype.name]
            p = clip(self._probs, e, 1 - e)
            self._logits = log(p) - log1p(-p)
        return self._logits

    @property
    def param_shape(self):
        return self._batch_shape

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach()  # built (and cached) outside no_grad, so log_prob keeps its graph
        with no_grad():
            return (rand(*shape, dtype=p.dtype) < p).type(p.dtype)

    def log_prob(self, value):
        value, shape = self._broadcast(value)
        lg = self.logits
        if self._validate and bool(((value != 0) & (value != 1)).any()):
            self._fail("value must be 0 or 1")
        return -binary_cross_entropy_with_logits(expand(lg, *shape), expand(value.type(lg.dtype), *shape).contiguous(),
                                                 reduction="none")

    def entropy(self):
        # -p log p - (1-p) log(1-p) = softplus(l) - p l, softplus(l) taken stably as the loss
        # of logit l against the label 0
        lg = self.logits
        zero = expand(tensor(0.0, dtype=lg.dtype), *lg.shape).contiguous()
        return binary_cross_entropy_with_logits(lg, zero, reduction="none") - self.probs * lg

    def enumerate_support(self, expand=True):
        vals = tensor([0.0, 1.0], dtype=self.probs.dtype).reshape(-1, *([1] * len(self._batch_shape)))
        return vals.expand(2, *self._batch_shape) if expand else vals


class Normal(Distribution):
    """The Gaussian with mean ``loc`` and standard deviation ``scale`` (tensors or numbers,
    broadcast together into the batch shape). ``rsample`` is loc + scale * eps with eps ~ N(0, 1),
    so gradients flow to loc and scale."""

    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        loc, scale = _param(loc, "loc", "Normal"), _param(scale, "scale", "Normal")
        if loc.dtype != scale.dtype:  # float32 with float64: both float64, as PyTorch promotes
            loc, scale = loc.double(), scale.double()
        shape = _args.broadcast_shape(loc.shape, scale.shape, "Normal")
        super().__init__(shape, (), validate_args)
        if self._validate and bool((scale <= 0).any() | (scale != scale).any()):
            self._fail(f"scale must be positive (shape {tuple(scale.shape)})")
        self.loc = expand(loc, *shape) if tuple(loc.shape) != shape else loc
        self.scale = expand(scale, *shape) if tuple(scale.shape) != shape else scale

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        """loc + scale * eps, eps standard normal of shape sample_shape + batch_shape."""
        eps = randn(*self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value, _ = self._broadcast(value)
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - log(self.scale) - 0.5 * math.log(2 * math.pi)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + log(self.scale)


class Independent(Distribution):
    """Reads the last ``reinterpreted_batch_ndims`` batch dims of ``base_distribution`` as
    event dims: log_prob and entropy are summed over them (e.g. a diagonal Gaussian over a
    vector: Independent(Normal(mu, sigma), 1))."""

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        if not isinstance(base_distribution, Distribution):
            raise TypeError(f"Independent: base_distribution must be a Distribution, got "
                            f"{type(base_distribution).__name__}")
        n = _args.integer(reinterpreted_batch_ndims, "Independent", "reinterpreted_batch_ndims", 0)
        shape = base_distribution.batch_shape
        if n > len(shape):
            raise ValueError(f"Independent: reinterpreted_batch_ndims ({n}) exceeds the base distribution's "
                             f"batch dims {shape}")
        super().__init__(shape[:len(shape) - n], shape[len(shape) - n:] + base_distribution.event_shape,
                         validate_args)
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        self.has_rsample = base_distribution.has_rsample

    def _sum(self, t):
        n = self.reinterpreted_batch_ndims
        return t.sum(list(range(t.ndim - n, t.ndim))) if n else t

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        return self._sum(self.base_dist.log_prob(value))

    def entropy(self):
        return self._sum(self.base_dist.entropy())


def _kl_normal(p, q):
    ratio = (p.scale / q.scale) ** 2
    d = (p.loc - q.loc) / q.scale
    return 0.5 * (ratio + d * d - 1 - log(ratio))


def _kl_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    terms = where(q.probs == 0, math.inf, terms)
    return where(p.probs == 0, 0.0, terms).sum(-1)


def _kl_bernoulli(p, q):
    # softplus(-l) and softplus(l), stably: the losses of logit l against the labels 1 and 0
    def sp(lg, label):
        lg = expand(lg, *_args.broadcast_shape(p.batch_shape, q.batch_shape, "kl_divergence"))
        y = expand(tensor(label, dtype=lg.dtype), *lg.shape).contiguous()
        return binary_cross_entropy_with_logits(lg.contiguous(), y, reduction="none")
    pp = p.probs
    t1 = pp * (sp(q.logits, 1.0) - sp(p.logits, 1.0))
    t1 = where(pp == 0, 0.0, where(q.probs == 0, math.inf, t1))
    t2 = (1 - pp) * (sp(q.logits, 0.0) - sp(p.logits, 0.0))
    t2 = where(pp == 1, 0.0, where(q.probs == 1, math.inf, t2))
    return t1 + t2


def _kl_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent distributions with different event dims")
    return p._sum(kl_divergence(p.base_dist, q.base_dist))


_KL = {(Normal, Normal): _kl_normal, (Categorical, Categorical): _kl_categorical,
       (Bernoulli, Bernoulli): _kl_bernoulli, (Independent, Independent): _kl_independent}


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p - log q], in closed form, with the batch shape of p and q
    broadcast; differentiable in both. Pairs: Normal, Categorical, Bernoulli (each with its own
    kind) and Independent of those."""
    fn = _KL.get((type(p), type(q)))
    if fn is None:
        raise NotImplementedError(f"kl_divergence: no closed form for {type(p).__name__} and "
                                  f"{type(q).__name__} (dlcore has Normal, Categorical, Bernoulli, Independent "
                                  f"pairs of one kind)")
    return fn(p, q)
