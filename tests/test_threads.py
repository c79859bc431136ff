"""Issue 17, threads: predict / evaluate on one model from several threads give the results of
sequential calls and leave the model's train/eval flag alone; a model, a DataLoader and
dropout can each have their own generator, so two models trained in two threads are each
reproducible."""
import threading

import numpy as np

import dlcore
from dlcore import nn


def _model(seed=0):
    with dlcore.use_generator(seed):
        m = dlcore.Sequential([nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _data(n=64, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 8)).astype(np.float32), rng.integers(0, 3, n).astype(np.int64)


def _in_threads(fn, n=4, repeat=3):
    out, errors = [None] * n, []

    def work(i):
        try:
            out[i] = [fn() for _ in range(repeat)]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return [r for rs in out for r in rs]


def test_predict_and_evaluate_from_threads_equal_sequential_calls():
    m = _model()
    x, y = _data()
    m.fit(x, y, epochs=1, batch_size=16, verbose=0)  # running stats that differ from batch stats
    m.train()  # the model is left in training mode: inference must still use eval behaviour
    want_p = m.predict(x, batch_size=8)
    want_e = m.evaluate(x, y, batch_size=8)
    assert m.training
    for got in _in_threads(lambda: m.predict(x, batch_size=8)):
        np.testing.assert_array_equal(got, want_p)
    for got in _in_threads(lambda: m.evaluate(x, y, batch_size=8)):
        assert got == want_e
    assert m.training and all(mod.training for mod in m.modules())


def test_eval_mode_is_per_thread():
    m = nn.Dropout(0.5)
    seen = {}

    def other():
        seen["other"] = m.training
    with dlcore.nn.eval_mode():
        assert not m.training
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert m.training and seen["other"] is True


def test_unbuilt_lazy_model_predicted_from_threads_builds_once():
    from dlcore import layers
    m = dlcore.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    m.generator = 3
    x = np.ones((5, 6), np.float32)
    results = _in_threads(lambda: m.predict(x), n=4, repeat=1)
    assert len(list(m.parameters())) == 4
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def _train(seed, x, y):
    m = _model(seed)
    m.generator = dlcore.Generator(seed + 100)
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return [p.detach().numpy().copy() for p in m.parameters()]


def test_two_models_trained_in_two_threads_are_each_reproducible():
    x, y = _data()
    alone = {s: _train(s, x, y) for s in (0, 1)}
    got = {}

    def run(s):
        got[s] = _train(s, x, y)
    for _ in range(2):
        ts = [threading.Thread(target=run, args=(s,)) for s in (0, 1)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for s in (0, 1):
            for a, b in zip(got[s], alone[s]):
                np.testing.assert_array_equal(a, b)


def test_dropout_and_loader_take_their_own_generators():
    x = dlcore.ones(1000)
    a = nn.Dropout(0.5, generator=dlcore.Generator(5))
    b = nn.Dropout(0.5, generator=dlcore.Generator(5))
    dlcore.randn(10)  # draws from the default generator do not move theirs
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    la = dlcore.data.DataLoader((np.arange(10),), batch_size=10, shuffle=True, seed=7)
    lb = dlcore.data.DataLoader((np.arange(10),), batch_size=10, shuffle=True, generator=dlcore.Generator(7))
    assert next(iter(la))[0].tolist() == next(iter(lb))[0].tolist()


def test_generator_draws_are_atomic():
    g = dlcore.Generator(0)
    starts = []

    def draw():
        for _ in range(200):
            starts.append(g.advance(1))
    ts = [threading.Thread(target=draw) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(starts) == list(range(800))
