"""dlcore.metrics: evaluation metrics, as functions on arrays / Tensors and as stateful
(streaming) objects for ``model.compile(metrics=[...])``.

Functions (scikit-learn-style names and conventions):
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_accuracy, precision, recall, f1_score (average='binary'|'macro'|'micro'),
    confusion_matrix, roc_auc (exact, ties get average ranks), mse, mae, r2_score.

Stateful objects (``update_state(y_true, y_pred[, sample_weight])``, ``result()``,
``reset_state()``): Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy,
SparseCategoricalAccuracy, TopKCategoricalAccuracy, Precision, Recall, F1Score, AUC,
MeanSquaredError, MeanAbsoluteError. Streaming accumulation keeps only counters (a confusion
matrix, sums) - except AUC, which must keep the scores to be exact.

Metrics are evaluation, not the training hot path, so they work on NumPy arrays.
"""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_accuracy", "precision", "recall", "f1_score", "confusion_matrix", "roc_auc",
           "mse", "mae", "r2_score", "get", "Metric", "Mean", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "Precision", "Recall", "F1Score", "AUC", "MeanSquaredError", "MeanAbsoluteError"]


def _np(a):
    """Tensor / array-like -> NumPy array (no copy for Tensors)."""
    d = getattr(a, "_data", None)
    if isinstance(d, np.ndarray):
        return d
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _labels(y):
    """Class labels from labels (N,) / (N,1) or scores / one-hot (N, C)."""
    y = _np(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(1)
    return y.reshape(-1)


def _check_len(a, b, name):
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name}: y_true has {a.shape[0]} samples but y_pred has {b.shape[0]}")


# ---- accuracy ----------------------------------------------------------------------------------

def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of samples where (y_pred > threshold) equals y_true (0/1). For logits use
    threshold=0."""
    t = _np(y_true).reshape(-1)
    p = _np(y_pred).reshape(-1)
    _check_len(t, p, "binary_accuracy")
    return float(np.mean((p > threshold) == (t > 0.5))) if t.size else 0.0


def sparse_categorical_accuracy(y_true, y_pred):
    """y_true integer labels (N,), y_pred scores (N, C): fraction where argmax equals label."""
    t = _np(y_true).reshape(-1)
    p = _np(y_pred)
    _check_len(t, p, "sparse_categorical_accuracy")
    return float(np.mean(p.argmax(-1).reshape(-1) == t)) if t.size else 0.0


def categorical_accuracy(y_true, y_pred):
    """y_true one-hot (N, C), y_pred scores (N, C)."""
    t, p = _np(y_true), _np(y_pred)
    _check_len(t, p, "categorical_accuracy")
    return float(np.mean(t.argmax(-1) == p.argmax(-1))) if t.size else 0.0


def top_k_accuracy(y_true, y_pred, k=5):
    """Fraction of samples whose true class (labels or one-hot) is among the k highest scores.
    Ties at the k-th score count as hits (the true class's score is compared, not sorted)."""
    p = _np(y_pred)
    t = _labels(y_true).astype(np.int64)
    _check_len(t, p, "top_k_accuracy")
    if p.ndim != 2:
        raise ValueError(f"top_k_accuracy: y_pred must be (N, C) scores, got shape {p.shape}")
    true_score = p[np.arange(p.shape[0]), t]
    rank = (p > true_score[:, None]).sum(1)  # classes scoring strictly higher
    return float(np.mean(rank < k)) if t.size else 0.0


def accuracy(y_true, y_pred, threshold=0.5, k=1):
    """Accuracy for any of the usual shapes:
    - y_pred (N,) or (N, 1): binary, (y_pred > threshold) vs y_true;
    - y_pred (N, C) and y_true labels (N,): sparse categorical (top-k with k > 1);
    - y_pred (N, C) and y_true one-hot (N, C): categorical;
    - both integer label vectors: plain equality."""
    t, p = _np(y_true), _np(y_pred)
    if p.ndim == 2 and p.shape[1] > 1:
        if k > 1:
            return top_k_accuracy(t, p, k)
        return categorical_accuracy(t, p) if t.ndim == 2 and t.shape[1] > 1 else sparse_categorical_accuracy(t, p)
    p = p.reshape(-1)
    if p.dtype.kind in "iub":
        t = t.reshape(-1)
        _check_len(t, p, "accuracy")
        return float(np.mean(t == p)) if t.size else 0.0
    return binary_accuracy(t, p, threshold)


# ---- confusion-matrix based --------------------------------------------------------------------

def confusion_matrix(y_true, y_pred, num_classes=None):
    """C[i, j] = number of samples of true class i predicted as class j (scikit-learn's layout).
    y_pred may be labels or (N, C) scores (argmax is taken)."""
    t = _labels(y_true).astype(np.int64)
    p = _labels(y_pred).astype(np.int64)
    _check_len(t, p, "confusion_matrix")
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if t.size and (t.min() < 0 or p.min() < 0 or t.max() >= num_classes or p.max() >= num_classes):
        raise ValueError(f"confusion_matrix: labels must be in [0, {num_classes}), got true "
                         f"[{t.min()}, {t.max()}] and predicted [{p.min()}, {p.max()}]")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def _prf_from_cm(cm, average, pos_label):
    tp = np.diag(cm).astype(np.float64)
    pred_pos = cm.sum(0).astype(np.float64)
    true_pos = cm.sum(1).astype(np.float64)

    def div(a, b):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)

    if average == "binary":
        if cm.shape[0] > 2:
            raise ValueError(f"average='binary' needs two classes, got {cm.shape[0]}: use "
                             f"average='macro' or 'micro'")
        i = pos_label
        if i >= cm.shape[0]:
            return 0.0, 0.0, 0.0
        p = float(div(tp[i], pred_pos[i]))
        r = float(div(tp[i], true_pos[i]))
        f = float(div(2 * p * r, p + r))
        return p, r, f
    if average == "micro":
        s = tp.sum()
        p = float(div(s, pred_pos.sum()))
        r = float(div(s, true_pos.sum()))
        return p, r, float(div(2 * p * r, p + r))
    if average == "macro":
        p = div(tp, pred_pos)
        r = div(tp, true_pos)
        f = div(2 * p * r, p + r)
        return float(p.mean()), float(r.mean()), float(f.mean())
    if average is None:
        p = div(tp, pred_pos)
        r = div(tp, true_pos)
        return p, r, div(2 * p * r, p + r)
    raise ValueError(f"average must be 'binary', 'macro', 'micro' or None, got {average!r}")


def _binary_labels(y, threshold):
    a = _np(y)
    if a.ndim == 2 and a.shape[1] > 1:
        return a.argmax(1)
    a = a.reshape(-1)
    if a.dtype.kind == "f" and not np.all((a == 0) | (a == 1)):
        return (a > threshold).astype(np.int64)
    return a.astype(np.int64)


def _prf(y_true, y_pred, average, pos_label, num_classes, threshold):
    t = _binary_labels(y_true, 0.5)
    p = _binary_labels(y_pred, threshold)
    if num_classes is None:
        num_classes = max(int(max(t.max(initial=0), p.max(initial=0))) + 1, 2)
    return _prf_from_cm(confusion_matrix(t, p, num_classes), average, pos_label)


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


def roc_auc(y_true, y_score):
    """Exact area under the ROC curve for binary labels: the Mann-Whitney U statistic with
    average ranks for tied scores (so a tie counts one half), normalised by n_pos * n_neg."""
    t = _np(y_true).reshape(-1) > 0.5
    s = _np(y_score).astype(np.float64)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    s = s.reshape(-1)
    _check_len(t, s, "roc_auc")
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
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[t].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


auc_roc = roc_auc


# ---- regression --------------------------------------------------------------------------------

def mse(y_true, y_pred):
    t, p = _np(y_true).astype(np.float64), _np(y_pred).astype(np.float64)
    return float(np.mean((t.reshape(p.shape) - p) ** 2))


def mae(y_true, y_pred):
    t, p = _np(y_true).astype(np.float64), _np(y_pred).astype(np.float64)
    return float(np.mean(np.abs(t.reshape(p.shape) - p)))


mean_squared_error, mean_absolute_error = mse, mae


def r2_score(y_true, y_pred):
    """1 - SS_res / SS_tot (over all elements; 0 when y_true is constant and the fit is
    imperfect, 1 when perfect)."""
    t, p = _np(y_true).astype(np.float64), _np(y_pred).astype(np.float64).reshape(_np(y_true).shape)
    ss_res = float(((t - p) ** 2).sum())
    ss_tot = float(((t - t.mean()) ** 2).sum())
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

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted running mean of values (e.g. the loss over an epoch)."""

    name = "mean"

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, value, weight=1.0):
        self.total += float(value) * float(weight)
        self.count += float(weight)

    def result(self):
        return self.total / self.count if self.count else 0.0


class _MeanOfHits(Metric):
    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def _hits(self, t, p):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = self._hits(_np(y_true), _np(y_pred)).astype(np.float64).reshape(-1)
        if sample_weight is None:
            self.total += float(hits.sum())
            self.count += hits.size
        else:
            w = _np(sample_weight).astype(np.float64).reshape(-1)
            self.total += float((hits * w).sum())
            self.count += float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0


class BinaryAccuracy(_MeanOfHits):
    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        super().__init__(name)

    def _hits(self, t, p):
        return (p.reshape(-1) > self.threshold) == (t.reshape(-1) > 0.5)


class SparseCategoricalAccuracy(_MeanOfHits):
    name = "accuracy"

    def _hits(self, t, p):
        return p.argmax(-1).reshape(-1) == t.reshape(-1)


class CategoricalAccuracy(_MeanOfHits):
    name = "accuracy"

    def _hits(self, t, p):
        return p.argmax(-1) == t.argmax(-1)


class TopKCategoricalAccuracy(_MeanOfHits):
    name = "top_k_accuracy"

    def __init__(self, k=5, name=None):
        self.k = k
        super().__init__(name or f"top_{k}_accuracy")

    def _hits(self, t, p):
        t = t.argmax(-1) if t.ndim == 2 and t.shape[1] > 1 else t.reshape(-1)
        true_score = p[np.arange(p.shape[0]), t.astype(np.int64)]
        return (p > true_score[:, None]).sum(1) < self.k


class Accuracy(_MeanOfHits):
    """Picks binary / sparse / categorical from the shapes it sees (like ``accuracy``)."""

    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        super().__init__(name)

    def _hits(self, t, p):
        if p.ndim == 2 and p.shape[1] > 1:
            if t.ndim == 2 and t.shape[1] > 1:
                return p.argmax(-1) == t.argmax(-1)
            return p.argmax(-1) == t.reshape(-1)
        p = p.reshape(-1)
        if p.dtype.kind in "iub":
            return p == t.reshape(-1)
        return (p > self.threshold) == (t.reshape(-1) > 0.5)


class _ConfusionMetric(Metric):
    """Accumulates a confusion matrix; precision / recall / F1 derive from it."""

    def __init__(self, num_classes=None, average="binary", pos_label=1, threshold=0.5, name=None):
        self.num_classes, self.average, self.pos_label, self.threshold = num_classes, average, pos_label, threshold
        super().__init__(name)

    def reset_state(self):
        self.cm = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = _binary_labels(y_true, 0.5)
        p = _binary_labels(y_pred, self.threshold)
        n = self.num_classes
        if n is None:
            probs = _np(y_pred)
            n = probs.shape[1] if probs.ndim == 2 and probs.shape[1] > 1 else 2
            n = max(n, int(max(t.max(initial=0), p.max(initial=0))) + 1)
        cm = confusion_matrix(t, p, n)
        if self.cm is None:
            self.cm = cm
        else:
            if self.cm.shape[0] < n:
                grown = np.zeros((n, n), np.int64)
                grown[:self.cm.shape[0], :self.cm.shape[0]] = self.cm
                self.cm = grown
            elif n < self.cm.shape[0]:
                cm2 = np.zeros_like(self.cm)
                cm2[:n, :n] = cm
                cm = cm2
            self.cm += cm

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
    """Exact ROC AUC over everything seen since reset (keeps the scores)."""

    name = "auc"

    def reset_state(self):
        self.t, self.s = [], []

    def update_state(self, y_true, y_pred, sample_weight=None):
        s = _np(y_pred)
        if s.ndim == 2 and s.shape[1] == 2:
            s = s[:, 1]
        self.t.append(np.array(_np(y_true).reshape(-1), copy=True))
        self.s.append(np.array(s.reshape(-1), dtype=np.float64, copy=True))

    def result(self):
        if not self.t:
            return 0.0
        t = np.concatenate(self.t)
        if t.min() == t.max():
            return 0.0
        return roc_auc(t, np.concatenate(self.s))


class MeanSquaredError(Metric):
    name = "mse"

    def reset_state(self):
        self.total = 0.0
        self.count = 0

    def _err(self, d):
        return d * d

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _np(y_pred).astype(np.float64)
        t = _np(y_true).astype(np.float64).reshape(p.shape)
        e = self._err(t - p)
        self.total += float(e.sum())
        self.count += e.size

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanAbsoluteError(MeanSquaredError):
    name = "mae"

    def _err(self, d):
        return np.abs(d)


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
    """Batch-size-weighted mean of f(y_true, y_pred) over batches."""

    def __init__(self, fn):
        self.fn = fn
        super().__init__(getattr(fn, "__name__", "metric"))

    def reset_state(self):
        self.total = 0.0
        self.count = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        n = _np(y_pred).shape[0] if _np(y_pred).ndim else 1
        self.total += float(self.fn(_np(y_true), _np(y_pred))) * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0
