"""dlcore.metrics: evaluation metrics, as functions on Tensors / arrays and as stateful
(streaming) objects for ``model.compile(metrics=[...])``.

Functions (scikit-learn-style names and conventions):
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_accuracy, precision, recall, f1_score (average='binary'|'macro'|'micro'),
    confusion_matrix, roc_auc (exact, ties get average ranks), mse, mae, r2_score.

Stateful objects (``update_state(y_true, y_pred[, sample_weight])``, ``result()``,
``reset_state()``): Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy,
SparseCategoricalAccuracy, TopKCategoricalAccuracy, Precision, Recall, F1Score, AUC,
MeanSquaredError, MeanAbsoluteError.

Everything is computed with dlcore ops on the predictions' device: streaming metrics keep
their counters (sums, a confusion matrix) as tensors there, and ``result()`` reads one number
back. NumPy / list inputs are converted to tensors on the way in. The one exception is AUC:
exact ranks need a sort with tie groups, so its scores are copied to the host once, in
``result()`` / ``roc_auc``.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from .dtype import float64
from .tensor import Tensor, cat, one_hot, ones_like, tensor, where, zeros

__all__ = ["accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_accuracy", "precision", "recall", "f1_score", "confusion_matrix", "roc_auc",
           "mse", "mae", "r2_score", "get", "Metric", "Mean", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "Precision", "Recall", "F1Score", "AUC", "MeanSquaredError", "MeanAbsoluteError"]


def _t(a):
    """A detached Tensor of a Tensor, a torch tensor, a NumPy array or Python data."""
    if isinstance(a, Tensor):
        return a.detach()
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor
        a = a.detach().cpu().numpy()
    return tensor(a)


def _labels(y):
    """Class labels from labels (N,) / (N,1) or scores / one-hot (N, C)."""
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(1)
    return y.reshape(-1)


def _check_len(a, b, name):
    na, nb = (a.shape[0] if a.ndim else 1), (b.shape[0] if b.ndim else 1)
    if na != nb:
        raise ValueError(f"{name}: y_true has {na} samples but y_pred has {nb}")


def _mean(hits):
    """The mean of a bool / number tensor as a float (0 for an empty one)."""
    return hits.double().mean().item() if hits.numel() else 0.0


# ---- hits: one bool per sample (the accuracy family) ---------------------------------------------

def _binary_hits(t, p, threshold):
    t, p = t.reshape(-1), p.reshape(-1)
    _check_len(t, p, "binary_accuracy")
    return (p > threshold) == (t > 0.5)


def _sparse_hits(t, p):
    t = t.reshape(-1)
    _check_len(t, p, "sparse_categorical_accuracy")
    return p.argmax(-1).reshape(-1) == t


def _categorical_hits(t, p):
    _check_len(t, p, "categorical_accuracy")
    return t.argmax(-1) == p.argmax(-1)


def _top_k_hits(t, p, k):
    t = _labels(t).long()
    _check_len(t, p, "top_k_accuracy")
    if p.ndim != 2:
        raise ValueError(f"top_k_accuracy: y_pred must be (N, C) scores, got shape {tuple(p.shape)}")
    true_score = p.gather(1, t.reshape(-1, 1))
    return (p > true_score).sum(1) < k  # classes scoring strictly higher: ties count as hits


def _any_hits(t, p, threshold):
    """Accuracy's hits for the shapes it sees: (N, C) scores against labels or one-hot, integer
    labels against labels, else binary scores thresholded."""
    if p.ndim == 2 and p.shape[1] > 1:
        return _categorical_hits(t, p) if t.ndim == 2 and t.shape[1] > 1 else _sparse_hits(t, p)
    p = p.reshape(-1)
    if not p.dtype.is_floating_point:
        t = t.reshape(-1)
        _check_len(t, p, "accuracy")
        return t == p
    return _binary_hits(t, p, threshold)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of samples where (y_pred > threshold) equals y_true (0/1). For logits use
    threshold=0."""
    return _mean(_binary_hits(_t(y_true), _t(y_pred), threshold))


def sparse_categorical_accuracy(y_true, y_pred):
    """y_true integer labels (N,), y_pred scores (N, C): fraction where argmax equals label."""
    return _mean(_sparse_hits(_t(y_true), _t(y_pred)))


def categorical_accuracy(y_true, y_pred):
    """y_true one-hot (N, C), y_pred scores (N, C)."""
    return _mean(_categorical_hits(_t(y_true), _t(y_pred)))


def top_k_accuracy(y_true, y_pred, k=5):
    """Fraction of samples whose true class (labels or one-hot) is among the k highest scores.
    Ties at the k-th score count as hits (the true class's score is compared, not sorted)."""
    return _mean(_top_k_hits(_t(y_true), _t(y_pred), k))


def accuracy(y_true, y_pred, threshold=0.5, k=1):
    """Accuracy for any of the usual shapes:
    - y_pred (N,) or (N, 1): binary, (y_pred > threshold) vs y_true;
    - y_pred (N, C) and y_true labels (N,): sparse categorical (top-k with k > 1);
    - y_pred (N, C) and y_true one-hot (N, C): categorical;
    - both integer label vectors: plain equality."""
    t, p = _t(y_true), _t(y_pred)
    if k > 1 and p.ndim == 2 and p.shape[1] > 1:
        return _mean(_top_k_hits(t, p, k))
    return _mean(_any_hits(t, p, threshold))


# ---- confusion-matrix based --------------------------------------------------------------------

def _confusion(t, p, num_classes, name="confusion_matrix"):
    """(num_classes, num_classes) float64 counts of integer labels t (rows) against p (cols)."""
    _check_len(t, p, name)
    if t.numel():
        lo = min(t.min().item(), p.min().item())
        hi = max(t.max().item(), p.max().item())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{name}: labels must be in [0, {num_classes}), got labels from {lo} to {hi}")
    if not t.numel():
        return zeros(num_classes, num_classes, dtype=float64, device=t.device)
    return one_hot(t, num_classes, dtype=float64).T @ one_hot(p, num_classes, dtype=float64)


def confusion_matrix(y_true, y_pred, num_classes=None):
    """C[i, j] = number of samples of true class i predicted as class j (scikit-learn's layout),
    an int64 tensor. y_pred may be labels or (N, C) scores (argmax is taken)."""
    t, p = _labels(_t(y_true)).long(), _labels(_t(y_pred)).long()
    _check_len(t, p, "confusion_matrix")
    if num_classes is None:
        num_classes = (max(t.max().item(), p.max().item()) + 1) if t.numel() else 0
    return _confusion(t, p, int(num_classes)).long()


def _div(a, b):
    return where(b > 0, a / where(b > 0, b, 1.0), 0.0)


def _prf_from_cm(cm, average, pos_label):
    n = cm.shape[0]
    tp = cm.reshape(-1)[::n + 1]  # the diagonal, a strided view
    pred_pos, true_pos = cm.sum(0), cm.sum(1)
    if average == "binary":
        if n > 2:
            raise ValueError(f"average='binary' needs two classes, got {n}: use "
                             f"average='macro' or 'micro'")
        if pos_label >= n:
            return 0.0, 0.0, 0.0
        tpi, ppi, tri = tp[pos_label].item(), pred_pos[pos_label].item(), true_pos[pos_label].item()
        p = tpi / ppi if ppi > 0 else 0.0
        r = tpi / tri if tri > 0 else 0.0
        return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)
    if average == "micro":
        s, pp, tt = tp.sum().item(), pred_pos.sum().item(), true_pos.sum().item()
        p = s / pp if pp > 0 else 0.0
        r = s / tt if tt > 0 else 0.0
        return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)
    if average in ("macro", None):
        p = _div(tp, pred_pos)
        r = _div(tp, true_pos)
        f = _div(2 * p * r, p + r)
        if average is None:
            return p, r, f
        return p.mean().item(), r.mean().item(), f.mean().item()
    raise ValueError(f"average must be 'binary', 'macro', 'micro' or None, got {average!r}")


def _binary_labels(a, threshold):
    if a.ndim == 2 and a.shape[1] > 1:
        return a.argmax(1)
    a = a.reshape(-1)
    if a.dtype.is_floating_point and a.numel() and not ((a == 0) | (a == 1)).long().sum().item() == a.numel():
        return (a > threshold).long()
    return a.long()


def _num_classes(t, p, scores=None):
    n = 2
    if scores is not None and scores.ndim == 2 and scores.shape[1] > 1:
        n = scores.shape[1]
    if t.numel():
        n = max(n, max(t.max().item(), p.max().item()) + 1)
    return int(n)


def _prf(y_true, y_pred, average, pos_label, num_classes, threshold):
    t = _binary_labels(_t(y_true), 0.5)
    p = _binary_labels(_t(y_pred), threshold)
    n = num_classes if num_classes is not None else _num_classes(t, p)
    return _prf_from_cm(_confusion(t, p, n), average, pos_label)


def precision(y_true, y_pred, average="binary", pos_label=1, num_classes=None, threshold=0.5):
    """tp / (tp + fp) (0 when nothing is predicted positive). average: 'binary' (class
    pos_label), 'macro' (unweighted mean over classes), 'micro' (global counts), None (per class)."""
    return _prf(y_true, y_pred, average, pos_label, num_classes, threshold)[0]


def recall(y_true, y_pred, average="binary", pos_label=1, num_classes=None, threshold=0.5):
    """tp / (tp + fn) (0 when the class never occurs)."""
    return _prf(y_true, y_pred, average, pos_label, num_classes, threshold)[1]


def f1_score(y_true, y_pred, average="binary", pos_label=1, num_classes=None, threshold=0.5):
    """2 p r / (p + r), per class then averaged (macro) or from global counts (micro)."""
    return _prf(y_true, y_pred, average, pos_label, num_classes, threshold)[2]


def _auc_scores(s):
    return s[:, 1] if s.ndim == 2 and s.shape[1] == 2 else s


def _roc_auc_host(t, s):
    """Exact AUC from host arrays: the Mann-Whitney U statistic with average ranks for tied
    scores (so a tie counts one half), normalised by n_pos * n_neg."""
    t = t.reshape(-1) > 0.5
    s = s.astype(np.float64).reshape(-1)
    n_pos = int(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc: y_true contains only one class; AUC is undefined")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(s.size, np.float64)
    # average 1-based ranks over runs of equal scores
    starts = np.r_[0, np.flatnonzero(np.diff(ss)) + 1]
    ends = np.r_[starts[1:], ss.size]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    u = ranks[t].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_auc(y_true, y_score):
    """Exact area under the ROC curve for binary labels (ties count one half). The sort runs on
    a host copy of the scores."""
    t, s = _t(y_true).reshape(-1), _auc_scores(_t(y_score)).reshape(-1)
    _check_len(t, s, "roc_auc")
    return _roc_auc_host(t.cpu().numpy(), s.cpu().numpy())


auc_roc = roc_auc


# ---- regression --------------------------------------------------------------------------------

def _pair64(y_true, y_pred):
    p = _t(y_pred).double()
    return _t(y_true).double().reshape(p.shape), p


def mse(y_true, y_pred):
    t, p = _pair64(y_true, y_pred)
    return ((t - p) ** 2).mean().item()


def mae(y_true, y_pred):
    t, p = _pair64(y_true, y_pred)
    return (t - p).abs().mean().item()


mean_squared_error, mean_absolute_error = mse, mae


def r2_score(y_true, y_pred):
    """1 - SS_res / SS_tot (over all elements; 0 when y_true is constant and the fit is
    imperfect, 1 when perfect)."""
    t, p = _pair64(y_true, y_pred)
    ss_res = ((t - p) ** 2).sum().item()
    ss_tot = ((t - t.mean()) ** 2).sum().item()
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


# ---- stateful metrics --------------------------------------------------------------------------

class Metric:
    """Streaming metric: update_state per batch, result() at any time, reset_state() per epoch."""

    name = "metric"

    def __init__(self, name=None):
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def fresh(self):
        """A copy with the same configuration and an empty state (Model.evaluate counts into
        fresh copies, so evaluations in several threads do not mix their counts). Subclasses
        keep this working by re-assigning, never mutating, their state in reset_state()."""
        m = copy.copy(self)
        m.reset_state()
        return m

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _number(v):
    """A running total read back as a float (one host copy when it lives in a tensor)."""
    return v.item() if isinstance(v, Tensor) else float(v)


class Mean(Metric):
    """Weighted running mean of values (e.g. the loss over an epoch; Keras's loss tracker).
    update_state(values, sample_weight=None): every element of ``values`` counts, weighted by
    sample_weight (broadcast to values), as in Keras. Tensor values are summed on their
    device; result() reads the total once."""

    name = "mean"

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, value, weight=None, sample_weight=None):
        w = sample_weight if sample_weight is not None else weight
        scalar_w = w is None or isinstance(w, numbers.Real)
        if scalar_w and not isinstance(value, Tensor) and not hasattr(value, "__len__"):  # Python numbers
            w = 1.0 if w is None else float(w)
            self.total += float(value) * w
            self.count += w
            return
        v = _t(value).double()
        if scalar_w and v.ndim == 0:  # one value (a loss): no broadcast needed
            w = 1.0 if w is None else float(w)
            self.total = v * w + self.total
            self.count += w
            return
        wt = ones_like(v) if w is None else _t(w).double() * ones_like(v)
        self.total = (v * wt).sum() + self.total
        self.count = wt.sum() + self.count

    def __call__(self, values, sample_weight=None):
        """update_state, then result()."""
        self.update_state(values, sample_weight=sample_weight)
        return self.result()

    def result(self):
        count = _number(self.count)
        return _number(self.total) / count if count else 0.0


class _MeanOfHits(Metric):
    """The weighted fraction of hits (one bool per sample), kept as a float64 sum on the
    predictions' device."""

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def _hits(self, t, p):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = self._hits(_t(y_true), _t(y_pred)).reshape(-1).double()
        if sample_weight is None:
            self.total = hits.sum() + self.total
            self.count += hits.numel()
        else:
            w = _t(sample_weight).double().reshape(-1)
            self.total = (hits * w).sum() + self.total
            self.count = w.sum() + self.count

    def result(self):
        count = _number(self.count)
        return _number(self.total) / count if count else 0.0


class BinaryAccuracy(_MeanOfHits):
    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        super().__init__(name)

    def _hits(self, t, p):
        return _binary_hits(t, p, self.threshold)


class SparseCategoricalAccuracy(_MeanOfHits):
    name = "accuracy"

    def _hits(self, t, p):
        return _sparse_hits(t, p)


class CategoricalAccuracy(_MeanOfHits):
    name = "accuracy"

    def _hits(self, t, p):
        return _categorical_hits(t, p)


class TopKCategoricalAccuracy(_MeanOfHits):
    name = "top_k_accuracy"

    def __init__(self, k=5, name=None):
        self.k = k
        super().__init__(name or f"top_{k}_accuracy")

    def _hits(self, t, p):
        return _top_k_hits(t, p, self.k)


class Accuracy(_MeanOfHits):
    """Picks binary / sparse / categorical from the shapes it sees (like ``accuracy``)."""

    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        super().__init__(name)

    def _hits(self, t, p):
        return _any_hits(t, p, self.threshold)


class _ConfusionMetric(Metric):
    """Accumulates a confusion matrix (a float64 tensor); precision / recall / F1 derive from it."""

    def __init__(self, num_classes=None, average="binary", pos_label=1, threshold=0.5, name=None):
        self.num_classes, self.average, self.pos_label, self.threshold = num_classes, average, pos_label, threshold
        super().__init__(name)

    def reset_state(self):
        self.cm = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        scores = _t(y_pred)
        t = _binary_labels(_t(y_true), 0.5)
        p = _binary_labels(scores, self.threshold)
        n = self.num_classes if self.num_classes is not None else _num_classes(t, p, scores)
        if self.cm is not None and self.cm.shape[0] > n:
            n = self.cm.shape[0]
        cm = _confusion(t, p, n)
        if self.cm is not None and self.cm.shape[0] < n:  # a class seen for the first time: grow
            grown = zeros(n, n, dtype=float64, device=cm.device)
            k = self.cm.shape[0]
            grown[:k, :k] = self.cm
            self.cm = grown
        self.cm = cm if self.cm is None else self.cm + cm

    def _prf(self):
        if self.cm is None:
            return 0.0, 0.0, 0.0
        return _prf_from_cm(self.cm, self.average, self.pos_label)


class Precision(_ConfusionMetric):
    name = "precision"

    def result(self):
        return self._prf()[0]


class Recall(_ConfusionMetric):
    name = "recall"

    def result(self):
        return self._prf()[1]


class F1Score(_ConfusionMetric):
    name = "f1"

    def result(self):
        return self._prf()[2]


class AUC(Metric):
    """Exact ROC AUC over everything seen since reset (keeps the labels and scores as tensors;
    result() sorts one host copy)."""

    name = "auc"

    def reset_state(self):
        self.t, self.s = [], []

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.t.append(_t(y_true).reshape(-1).clone())
        self.s.append(_auc_scores(_t(y_pred)).reshape(-1).double())

    def result(self):
        if not self.t:
            return 0.0
        t = cat(self.t).cpu().numpy()
        if t.min() == t.max():
            return 0.0
        return _roc_auc_host(t, cat(self.s).cpu().numpy())


class MeanSquaredError(Metric):
    name = "mse"

    def reset_state(self):
        self.total = 0.0
        self.count = 0

    def _err(self, d):
        return d * d

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _pair64(y_true, y_pred)
        e = self._err(t - p)
        self.total = e.sum() + self.total
        self.count += e.numel()

    def result(self):
        return _number(self.total) / self.count if self.count else 0.0


class MeanAbsoluteError(MeanSquaredError):
    name = "mae"

    def _err(self, d):
        return d.abs()


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_accuracy": TopKCategoricalAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score,
    "auc": AUC, "roc_auc": AUC,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get(identifier, loss_name=None, from_logits=True):
    """A Metric object from a Metric, a name, or a function f(y_true, y_pred) -> float.
    'accuracy' is specialised from the loss name like Keras does (sparse / categorical /
    binary, with threshold 0 when the model outputs logits)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc") and loss_name:
            ln = loss_name.lower()
            if "sparse_categorical" in ln:
                return SparseCategoricalAccuracy(name="accuracy")
            if "categorical" in ln:
                return CategoricalAccuracy(name="accuracy")
            if "binary" in ln:
                return BinaryAccuracy(threshold=0.0 if from_logits else 0.5, name="accuracy")
        if key not in _BY_NAME:
            raise ValueError(f"unknown metric {identifier!r}; known: {sorted(_BY_NAME)}")
        m = _BY_NAME[key]()
        m.name = key if key not in ("acc",) else "accuracy"
        return m
    if callable(identifier):
        return _FunctionMetric(identifier)
    raise TypeError(f"metrics: cannot use {identifier!r} as a metric")


class _FunctionMetric(Metric):
    """Batch-size-weighted mean of f(y_true, y_pred) over batches (f gets Tensors)."""

    def __init__(self, fn):
        self.fn = fn
        super().__init__(getattr(fn, "__name__", "metric"))

    def reset_state(self):
        self.total = 0.0
        self.count = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _t(y_pred)
        n = p.shape[0] if p.ndim else 1
        self.total += float(self.fn(_t(y_true), p)) * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0
