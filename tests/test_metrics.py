"""dlcore.metrics against hand-computed values and straightforward (loop) NumPy references."""
import numpy as np
import pytest

import dlcore
from dlcore import metrics as M


def _rng(s=0):
    return np.random.default_rng(s)


def test_accuracy_hand_computed():
    y = np.array([0, 1, 2, 2])
    scores = np.array([[.9, .05, .05], [.1, .2, .7], [.2, .3, .5], [.6, .3, .1]])
    assert M.accuracy(y, scores) == pytest.approx(0.5)                  # sparse
    assert M.sparse_categorical_accuracy(y, scores) == pytest.approx(0.5)
    onehot = np.eye(3)[y]
    assert M.categorical_accuracy(onehot, scores) == pytest.approx(0.5)
    assert M.accuracy(onehot, scores) == pytest.approx(0.5)             # categorical
    assert M.accuracy(np.array([1, 0, 1]), np.array([0.7, 0.6, 0.2])) == pytest.approx(1 / 3)
    assert M.binary_accuracy([1, 0, 1], [0.7, 0.4, 0.6], threshold=0.65) == pytest.approx(2 / 3)
    assert M.accuracy(np.array([1, 2, 3]), np.array([1, 2, 0])) == pytest.approx(2 / 3)  # labels
    assert M.accuracy(dlcore.tensor(y), dlcore.tensor(scores)) == pytest.approx(0.5)     # tensors


def test_top_k_accuracy_against_sorting():
    r = _rng(1)
    s = r.normal(size=(200, 7))
    y = r.integers(0, 7, 200)
    for k in (1, 2, 5, 7):
        ref = np.mean([y[i] in np.argsort(-s[i])[:k] for i in range(200)])
        assert M.top_k_accuracy(y, s, k) == pytest.approx(ref)
        assert M.accuracy(y, s, k=k) == pytest.approx(ref)
    # ties at the k-th place count as hits
    assert M.top_k_accuracy([2], np.array([[1.0, 1.0, 1.0]]), k=1) == 1.0


def _loops_cm(t, p, n):
    cm = np.zeros((n, n), np.int64)
    for a, b in zip(t, p):
        cm[a, b] += 1
    return cm


def test_confusion_matrix_against_loops():
    r = _rng(2)
    t, p = r.integers(0, 4, 300), r.integers(0, 4, 300)
    np.testing.assert_array_equal(M.confusion_matrix(t, p), _loops_cm(t, p, 4))
    np.testing.assert_array_equal(M.confusion_matrix(t, np.eye(4)[p] * 3.0), _loops_cm(t, p, 4))
    assert M.confusion_matrix([0, 1], [1, 1], num_classes=3).shape == (3, 3)
    with pytest.raises(ValueError, match="labels must be in"):
        M.confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="samples"):
        M.confusion_matrix([0, 1, 2], [0, 1])


def _prf_ref(t, p, classes):
    out = []
    for c in classes:
        tp = np.sum((t == c) & (p == c))
        fp = np.sum((t != c) & (p == c))
        fn = np.sum((t == c) & (p != c))
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
        out.append((pr, rc, f))
    return np.array(out)


def test_precision_recall_f1_binary_hand_computed():
    t = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    p = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    # tp=3, fp=1, fn=1
    assert M.precision(t, p) == pytest.approx(3 / 4)
    assert M.recall(t, p) == pytest.approx(3 / 4)
    assert M.f1_score(t, p) == pytest.approx(3 / 4)
    assert M.precision(t, p, pos_label=0) == pytest.approx(3 / 4)
    # scores are thresholded
    assert M.recall(t, np.array([.9, .1, .8, .7, .2, .3, .6, .4])) == pytest.approx(3 / 4)
    # nothing predicted positive -> 0, not a division error
    assert M.precision([1, 0], [0, 0]) == 0.0
    assert M.f1_score([0, 0], [0, 0]) == 0.0


def test_precision_recall_f1_macro_micro_against_loops():
    r = _rng(3)
    t, p = r.integers(0, 5, 400), r.integers(0, 5, 400)
    ref = _prf_ref(t, p, range(5))
    assert M.precision(t, p, average="macro") == pytest.approx(ref[:, 0].mean())
    assert M.recall(t, p, average="macro") == pytest.approx(ref[:, 1].mean())
    assert M.f1_score(t, p, average="macro") == pytest.approx(ref[:, 2].mean())
    micro = np.mean(t == p)  # single-label multiclass: micro P = R = F1 = accuracy
    for f in (M.precision, M.recall, M.f1_score):
        assert f(t, p, average="micro") == pytest.approx(micro)
    np.testing.assert_allclose(M.f1_score(t, p, average=None), ref[:, 2])
    with pytest.raises(ValueError, match="binary"):
        M.precision(t, p)  # 5 classes with average='binary'
    with pytest.raises(ValueError, match="average"):
        M.precision(t, p, average="weighted-ish")


def _auc_pairs(t, s):
    pos, neg = s[t == 1], s[t == 0]
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return (gt + 0.5 * eq) / (pos.size * neg.size)


def test_roc_auc_exact_with_ties():
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)  # sklearn's doc example
    assert M.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    r = _rng(4)
    t = r.integers(0, 2, 500)
    s = np.round(r.normal(size=500) + t, 1)  # many ties
    assert M.roc_auc(t, s) == pytest.approx(_auc_pairs(t, s), abs=1e-12)
    assert M.roc_auc(t, np.stack([-s, s], 1)) == pytest.approx(_auc_pairs(t, s), abs=1e-12)
    with pytest.raises(ValueError, match="only one class"):
        M.roc_auc([1, 1], [0.2, 0.3])


def test_regression_metrics():
    t = np.array([3.0, -0.5, 2.0, 7.0])
    p = np.array([2.5, 0.0, 2.0, 8.0])
    assert M.mse(t, p) == pytest.approx(0.375)
    assert M.mae(t, p) == pytest.approx(0.5)
    assert M.r2_score(t, p) == pytest.approx(0.9486081370449679)  # sklearn's doc example
    assert M.r2_score(t, t) == 1.0
    assert M.r2_score([1.0, 1.0], [1.0, 2.0]) == 0.0


def test_stateful_metrics_stream_equals_one_shot():
    r = _rng(5)
    y = r.integers(0, 3, 250)
    s = r.normal(size=(250, 3))
    objs = [(M.SparseCategoricalAccuracy(), lambda: M.accuracy(y, s)),
            (M.TopKCategoricalAccuracy(k=2), lambda: M.top_k_accuracy(y, s, 2)),
            (M.Precision(average="macro"), lambda: M.precision(y, s, average="macro")),
            (M.Recall(average="micro"), lambda: M.recall(y, s, average="micro")),
            (M.F1Score(average="macro"), lambda: M.f1_score(y, s, average="macro"))]
    for m, ref in objs:
        for a in range(0, 250, 64):
            m.update_state(y[a:a + 64], s[a:a + 64])
        assert m.result() == pytest.approx(ref()), type(m).__name__
        m.reset_state()
        assert m.result() == 0.0
    tb = r.integers(0, 2, 100)
    sb = r.normal(size=100) + tb
    auc = M.AUC()
    for a in range(0, 100, 30):
        auc.update_state(tb[a:a + 30], sb[a:a + 30])
    assert auc.result() == pytest.approx(_auc_pairs(tb, sb))
    mse = M.MeanSquaredError()
    mse.update_state(np.ones(3), np.zeros(3))
    mse.update_state(np.zeros(1), np.full(1, 3.0))
    assert mse.result() == pytest.approx((3 + 9) / 4)
    w = M.SparseCategoricalAccuracy()
    w.update_state([0, 1], np.array([[1.0, 0], [1.0, 0]]), sample_weight=[3.0, 1.0])
    assert w.result() == pytest.approx(0.75)


def test_get_specialises_accuracy_from_loss():
    assert isinstance(M.get("accuracy", "sparse_categorical_crossentropy"), M.SparseCategoricalAccuracy)
    assert isinstance(M.get("accuracy", "categorical_crossentropy"), M.CategoricalAccuracy)
    b = M.get("accuracy", "binary_crossentropy", from_logits=True)
    assert isinstance(b, M.BinaryAccuracy) and b.threshold == 0.0
    assert M.get("mae").name == "mae"
    with pytest.raises(ValueError, match="unknown metric"):
        M.get("accurracy")
