"""dlcore.compile(step_fn): a recorded and replayed training step is bitwise equal to the eager
step (losses, parameters, gradients, optimizer state, generator state) over many steps, for an
MLP with dropout, a CNN with batch norm and dropout, and an LSTM language model; it records
again when the input signature or what it took as fixed changes, and refuses what it cannot
replay (docs/compile.md)."""
import copy
import threading
import warnings

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.replay import CompiledStep, ReplayError

STEPS = 6


def _mlp():
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 8), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(8, 3))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 10), nn.ReLU(), nn.Dropout(0.5), nn.Linear(10, 3))


class _LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 8)
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.head = nn.Linear(12, 11)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.head(h)


def _batches(kind, n=4, batch=5, seed=0):
    r = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if kind == "mlp":
            out.append((r.standard_normal((batch, 20)).astype(np.float32), r.integers(0, 3, batch)))
        elif kind == "cnn":
            out.append((r.standard_normal((batch, 1, 8, 8)).astype(np.float32), r.integers(0, 3, batch)))
        else:
            seq = r.integers(0, 11, (batch, 7))
            out.append((seq[:, :-1].copy(), seq[:, 1:].copy()))
    return [(dlcore.tensor(x), dlcore.tensor(y)) for x, y in out]


def _setup(kind, optimizer="adam"):
    dlcore.manual_seed(3)
    model = {"mlp": _mlp, "cnn": _cnn, "lstm": _LM}[kind]()
    if optimizer == "adam":
        opt = dlcore.optim.Adam(model.parameters(), lr=1e-2)
    else:
        opt = dlcore.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    ce = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = ce(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def _state(model, opt, gen):
    params = [p.detach().numpy().tobytes() for p in model.parameters()]
    grads = [p.grad.numpy().tobytes() for p in model.parameters()]
    buffers = [b.numpy().tobytes() for b in model.buffers()]
    sd = opt.state_dict()["state"]
    ostate = [(k, {n: (v.numpy().tobytes() if hasattr(v, "numpy") else v) for n, v in st.items()})
              for k, st in sorted(sd.items())]
    return params, grads, buffers, ostate, gen.get_state()


def _train(kind, compiled, steps=STEPS, batches=None, optimizer="adam", between=None):
    model, opt, step = _setup(kind, optimizer)
    fn = dlcore.compile(step, strict=True) if compiled else step
    batches = batches or _batches(kind)
    gen = dlcore.Generator(11)
    losses = []
    with dlcore.use_generator(gen):
        for i in range(steps):
            if between is not None:
                between(i, model, opt)
            losses.append(fn(*batches[i % len(batches)]).detach().numpy().tobytes())
    return losses, _state(model, opt, gen), fn


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_replay_is_bitwise_equal_to_eager(kind):
    eager_losses, eager_state, _ = _train(kind, False)
    losses, state, fn = _train(kind, True)
    assert isinstance(fn, CompiledStep) and len(fn.records) == 1 and not fn.eager
    assert losses == eager_losses
    for name, a, b in zip(("parameters", "gradients", "buffers", "optimizer state", "generator"), state, eager_state):
        assert a == b, name


def test_replay_with_sgd_nesterov_momentum():
    assert _train("mlp", True, optimizer="sgd")[:2] == _train("mlp", False, optimizer="sgd")[:2]


def test_learning_rate_changes_and_schedules_are_read_at_each_replay():
    def between(i, model, opt):
        if i == 2:
            for g in opt.param_groups:
                g["lr"] = 0.003
        if i == 4:
            opt.param_groups[0]["betas"] = (0.5, 0.9)
    assert _train("mlp", True, between=between)[:2] == _train("mlp", False, between=between)[:2]

    def run(compiled):
        model, opt, step = _setup("mlp")
        sched = dlcore.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

        def step_and_schedule(x, y):
            loss = step(x, y)
            sched.step()
            return loss
        fn = dlcore.compile(step_and_schedule, strict=True) if compiled else step_and_schedule
        out = [fn(*b).detach().numpy().tobytes() for b in _batches("mlp")]
        return out, opt.param_groups[0]["lr"], [p.detach().numpy().tobytes() for p in model.parameters()]
    assert run(True) == run(False)


def test_shape_change_records_again_and_stays_equal():
    data = _batches("mlp", batch=5)[:2] + _batches("mlp", batch=3, seed=1)[:2]
    eager_losses, eager_state, _ = _train("mlp", False, batches=data, steps=8)
    losses, state, fn = _train("mlp", True, batches=data, steps=8)
    assert len(fn.records) == 2
    assert losses == eager_losses and state == eager_state


def test_dtype_change_records_again():
    model, opt, step = _setup("mlp")
    fn = dlcore.compile(lambda x, y: step(x.float(), y), strict=True)
    x, y = _batches("mlp")[0]
    fn(x, y)
    fn(x.double().float(), y)
    assert len(fn.records) == 1
    fn(x.double(), y)
    assert len(fn.records) == 2


def test_eval_mode_switch_is_seen():
    model, opt, step = _setup("mlp")
    fn = dlcore.compile(step, strict=True)
    x, y = _batches("mlp")[0]
    fn(x, y)
    fn(x, y)
    model.eval()  # dropout off: the record (training mode) must not be replayed
    gen = dlcore.current_generator().get_state()
    fn(x, y)
    assert dlcore.current_generator().get_state() == gen  # no dropout draw in eval mode


def test_reseeding_the_generator_is_seen():
    def run(compiled):
        model, opt, step = _setup("mlp")
        fn = dlcore.compile(step, strict=True) if compiled else step
        out = []
        for i, b in enumerate(_batches("mlp") * 2):
            if i == 3:
                dlcore.manual_seed(123)
            out.append(fn(*b).detach().numpy().tobytes())
        return out
    assert run(True) == run(False)


def test_replaced_parameter_array_is_seen():
    model, opt, step = _setup("mlp")
    fn = dlcore.compile(step, strict=True)
    x, y = _batches("mlp")[0]
    fn(x, y)
    fn(x, y)
    w = model[0].weight
    w._data = w._data.clone()  # rebound (not updated in place): the next call records again
    fn(x, y)
    assert w.grad is not None and w.grad.shape == w.shape
    before = w.detach().numpy().copy()
    fn(x, y)
    assert not np.array_equal(before, w.detach().numpy())


def test_item_inside_the_step_is_refused():
    model, opt, step = _setup("mlp")

    def with_item(x, y):
        loss = step(x, y)
        if loss.item() > 100:  # Python control flow on a value
            opt.zero_grad()
        return loss
    x, y = _batches("mlp")[0]
    with pytest.raises(ReplayError, match=r"Array\.item.*ran eagerly"):
        dlcore.compile(with_item, strict=True)(x, y)
    fn = dlcore.compile(with_item)
    with pytest.warns(RuntimeWarning, match="runs eagerly from now on"):
        fn(x, y)
    assert fn.eager
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(x, y)  # eager, silently


def test_returning_a_python_number_is_refused():
    model, opt, step = _setup("mlp")
    with pytest.raises(ReplayError, match="return the tensor"):
        dlcore.compile(lambda x, y: step(x, y).item(), strict=True)(*_batches("mlp")[0])


def test_cumulative_batch_norm_is_refused():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, momentum=None))
    opt = dlcore.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss
    with pytest.raises(ReplayError, match="item"):
        dlcore.compile(step, strict=True)(dlcore.ones(5, 4))


def test_tensor_kept_after_the_step_is_refused():
    model, opt, step = _setup("mlp")
    kept = []

    def keeping(x, y):
        opt.zero_grad()
        h = model[0](x)
        kept.append(h)  # Python state outside the step: a replay would not update it
        loss = model[1:](h).sum()
        loss.backward()
        opt.step()
        return loss
    with pytest.raises(ReplayError, match="still referenced"):
        dlcore.compile(keeping, strict=True)(*_batches("mlp")[0])


def test_gradient_hooks_are_refused():
    model, opt, step = _setup("mlp")
    model[0].weight.register_hook(lambda g: g * 2)
    with pytest.raises(ReplayError, match="hook"):
        dlcore.compile(step, strict=True)(*_batches("mlp")[0])


def test_embedding_index_check_runs_at_every_replay():
    model, opt, step = _setup("lstm")
    fn = dlcore.compile(step, strict=True)
    x, y = _batches("lstm")[0]
    fn(x, y)
    fn(x, y)
    bad = x.clone()
    bad[0, 0] = 11
    with pytest.raises(IndexError, match="out of range for an embedding table with 11 rows"):
        fn(bad, y)


def test_decorator_forms_and_modules():
    model, opt, step = _setup("mlp")
    assert dlcore.compile(model) is model  # torch.compile's usual argument: dlcore runs modules as they are
    assert isinstance(dlcore.compile()(step), CompiledStep)
    assert isinstance(dlcore.compile(strict=True)(step), CompiledStep)
    with pytest.raises(TypeError, match="step arguments must be tensors or hashable"):
        dlcore.compile(step)([1, 2], None)


def test_replay_skips_graph_building():
    """A replay makes no autograd nodes and no Function calls: the step's ops are not run."""
    model, opt, step = _setup("mlp")
    fn = dlcore.compile(step, strict=True)
    x, y = _batches("mlp")[0]
    fn(x, y)
    calls = []
    Function = dlcore.autograd.Function
    orig = Function.__dict__["apply"]
    Function.apply = classmethod(lambda cls, *a: calls.append(cls) or orig.__func__(cls, *a))
    try:
        loss = fn(x, y)
        assert calls == []
        step(x, y)  # the check sees the eager step's calls
        assert calls
    finally:
        Function.apply = orig
    calls.clear()
    assert calls == [] and loss.grad_fn is None
    assert "def _replay(_a, x0, x1)" in fn.source()


def test_keras_fit_jit_compile_is_bitwise_equal():
    L = dlcore.layers
    r = np.random.default_rng(0)
    x = r.random((150, 12), dtype=np.float32)
    y = r.integers(0, 3, 150)
    out = []
    for jit in (False, True):
        dlcore.manual_seed(0)
        m = dlcore.Sequential([L.Dense(10, activation="relu"), L.Dropout(0.3), L.Dense(3)])
        m.generator = 5
        m.build((None, 12))
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            h = m.fit(x[:120], y[:120], batch_size=32, epochs=2, verbose=0, validation_data=(x[120:], y[120:]))
            ev = m.evaluate(x, y, batch_size=64, verbose=0)
        out.append((h.history, ev, [w.tobytes() for w in m.get_weights()]))
        if jit:
            c = m._compiled
            assert len(c.train_fn.records) == 2 and not c.train_fn.eager  # 32 and 24 rows
            assert len(c.test_fn.records) == 3 and not c.test_fn.eager  # 30 (validation), 64 and 22 rows
    assert out[0] == out[1]
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        dlcore.Sequential([L.Dense(3)]).compile("adam", "mse", jit_compile="yes")


def test_a_function_without_backward_runs_eagerly_with_its_graph():
    """torch.compile(fn) on a forward function: its result must still go through backward."""
    model = _mlp()
    fn = dlcore.compile(lambda x: model(x).sum())
    x = _batches("mlp")[0][0]
    with pytest.warns(RuntimeWarning, match="graph has not been through backward"):
        out = fn(x)
    out.backward()
    assert model[0].weight.grad is not None and fn.eager


def test_inference_function_is_replayed():
    model = _mlp().eval()
    fn = dlcore.compile(dlcore.no_grad()(lambda x: model(x)), strict=True)
    for x, _ in _batches("mlp"):
        assert fn(x).numpy().tobytes() == model(x).detach().numpy().tobytes()
    assert len(fn.records) == 1


def test_gradients_kept_between_steps():
    """zero_grad(set_to_none=False): the first step makes .grad, later ones add into it (zeroed);
    the record is made on the first step, eager runs before it too."""
    def run(compiled, eager_first):
        model, opt, _ = _setup("mlp", "sgd")
        ce = nn.CrossEntropyLoss()

        def step(x, y):
            opt.zero_grad(set_to_none=False)
            loss = ce(model(x), y)
            loss.backward()
            opt.step()
            return loss
        fn = dlcore.compile(step, strict=True) if compiled else step
        out = []
        for i, b in enumerate(_batches("mlp") * 2):
            out.append((step if i < eager_first else fn)(*b).detach().numpy().tobytes())
        return out, _state(model, opt, dlcore.current_generator())[:3]
    assert run(True, 0) == run(False, 0)
    assert run(True, 2) == run(False, 2)


def test_compiled_step_inside_another_records_into_it():
    model, opt, step = _setup("mlp")
    inner = dlcore.compile(step, strict=True)
    outer = dlcore.compile(lambda x, y: (inner(x, y).detach() * 2,), strict=True)
    x, y = _batches("mlp")[0]
    outer(x, y)
    w = model[0].weight.detach().numpy().copy()
    outer(x, y)
    assert not np.array_equal(w, model[0].weight.detach().numpy())  # the outer replay ran the inner step
    assert "f" in outer.source() and len(inner.records) == 0


def test_gradient_clipping_and_optimizer_apply():
    """clip_grad_norm_ inside the step; Keras's optimizer.apply(grads, variables) with gradients
    the step computed (a custom train step's shape)."""
    def run(compiled, kind):
        model, opt, _ = _setup("lstm")
        ce = nn.CrossEntropyLoss()
        params = list(model.parameters())

        def step(x, y):
            opt.zero_grad()
            out = model(x)
            loss = ce(out.reshape(-1, 11), y.reshape(-1))
            loss.backward()
            if kind == "clip":
                nn.utils.clip_grad_norm_(model.parameters(), 0.05)
                opt.step()
            else:
                grads = [p.grad * 0.5 for p in params]
                opt.zero_grad()
                opt.apply(grads, params)
            return loss
        fn = dlcore.compile(step, strict=True) if compiled else step
        out = [fn(*b).detach().numpy().tobytes() for b in _batches("lstm") * 2]
        return out, [p.detach().numpy().tobytes() for p in params]
    for kind in ("clip", "apply"):
        assert run(True, kind) == run(False, kind), kind


def test_method_decorator():
    class Trainer:
        def __init__(self):
            self.model, self.opt, self.step_fn = _setup("mlp")

        @dlcore.compile(strict=True)
        def step(self, x, y):
            return self.step_fn(x, y)
    t, u = Trainer(), Trainer()
    model, opt, eager = _setup("mlp")
    gt, ge = dlcore.Generator(1), dlcore.Generator(1)
    for b in _batches("mlp"):
        with dlcore.use_generator(gt):
            a = t.step(*b)
        with dlcore.use_generator(ge):
            e = eager(*b)
        assert a.numpy().tobytes() == e.detach().numpy().tobytes()
    u.step(*_batches("mlp")[0])
    assert len(Trainer.step.records) == 2  # one per instance
    assert [p.detach().numpy().tobytes() for p in t.model.parameters()] == \
        [p.detach().numpy().tobytes() for p in model.parameters()]


def test_other_threads_run_eagerly_while_one_records():
    """The recording patches are process-wide; another thread's steps pass straight through
    them (nothing of theirs is recorded) and give the results they give alone."""
    def eager_run(out):
        model, opt, step = _setup("cnn")
        with dlcore.use_generator(dlcore.Generator(4)):
            out.extend(step(*b).detach().numpy().tobytes() for b in _batches("cnn") * 3)
    alone = []
    eager_run(alone)
    model, opt, step = _setup("lstm")
    fn = dlcore.compile(step, strict=True)
    fn(*_batches("lstm")[0])
    lines = len(fn.source().splitlines())
    beside, seen = [], set()
    t = threading.Thread(target=eager_run, args=(beside,))
    t.start()
    for _ in range(30):
        fn.reset()
        fn(*_batches("lstm")[0])  # records, again and again, while the thread trains
        seen.add(len(fn.source().splitlines()))
    t.join()
    assert beside == alone
    assert seen == {lines}  # the other thread's kernel calls never joined a record


_full_under_another_name = dlcore._C.full  # bound before any recording: the recorder cannot wrap it


def test_kernel_calls_the_recorder_cannot_see_are_refused():
    model, opt, step = _setup("mlp")

    def hidden(x, y):
        scale = dlcore.Tensor._wrap(_full_under_another_name((), 2.0, dlcore.float32, "cpu"))
        return step(x * scale, y)
    with pytest.raises(ReplayError, match="kernel calls the recorder did not see"):
        dlcore.compile(hidden, strict=True)(*_batches("mlp")[0])


def test_layer_norm_and_index_kernels_held_by_op_classes_are_recorded():
    """LayerNorm / Gather keep their kernels as class attributes: recorded all the same."""
    def run(compiled):
        dlcore.manual_seed(0)
        emb, norm, head = nn.Embedding(11, 8), nn.LayerNorm(8), nn.Linear(8, 3)
        params = list(emb.parameters()) + list(norm.parameters()) + list(head.parameters())
        opt = dlcore.optim.Adam(params, lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            h = norm(emb(x)).gather(1, dlcore.zeros(x.shape[0], 1, 8, dtype=dlcore.int64)).reshape(-1, 8)
            loss = nn.functional.cross_entropy(head(h), y)
            loss.backward()
            opt.step()
            return loss
        fn = dlcore.compile(step, strict=True) if compiled else step
        r = np.random.default_rng(0)
        out = [fn(dlcore.tensor(r.integers(0, 11, (4, 5))), dlcore.tensor(r.integers(0, 3, 4))).detach().numpy()
               .tobytes() for _ in range(4)]
        return out, [p.detach().numpy().tobytes() for p in params]
    assert run(True) == run(False)


def test_inputs_that_require_grad_and_keyword_arguments():
    """x.grad of each call's own input (input-gradient methods); keyword arguments."""
    def run(compiled):
        model, opt, _ = _setup("mlp")
        ce = nn.CrossEntropyLoss()

        def step(x, *, target, weight=1.0):
            opt.zero_grad()
            loss = ce(model(x), target) * weight
            loss.backward()
            opt.step()
            return loss
        fn = dlcore.compile(step, strict=True) if compiled else step
        out = []
        for i, (x, y) in enumerate(_batches("mlp") * 2):
            x = x.clone().requires_grad_()
            loss = fn(x, target=y, weight=0.5 if i % 2 else 1.0)
            out.append((loss.detach().numpy().tobytes(), x.grad.numpy().tobytes()))
        if compiled:
            assert len(fn.records) == 2  # weight 1.0 and 0.5
        return out, [p.detach().numpy().tobytes() for p in model.parameters()]
    assert run(True) == run(False)


def test_jit_compile_survives_save_and_load(tmp_path):
    L = dlcore.layers
    m = dlcore.Sequential([L.Dense(4, activation="relu"), L.Dense(2)])
    m.build((None, 3))
    m.compile("adam", "mse", jit_compile=True)
    m.save(tmp_path / "m.safetensors")
    assert dlcore.load_model(tmp_path / "m.safetensors")._compiled.jit_compile is True
    m.compile("adam", "mse")
    m.save(tmp_path / "n.safetensors")
    assert dlcore.load_model(tmp_path / "n.safetensors")._compiled.jit_compile is False


def test_boolean_mask_indexing_is_refused():
    """x[mask] has a shape that depends on the values: no record can stand for the next batch."""
    model, opt, _ = _setup("mlp")

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = out[y > 0].sum()
        loss.backward()
        opt.step()
        return loss
    with pytest.raises(ReplayError, match="nonzero: its result's shape depends on the values"):
        dlcore.compile(step, strict=True)(*_batches("mlp")[0])


def test_a_deep_copy_of_a_compiled_model_trains_itself():
    L = dlcore.layers
    r = np.random.default_rng(0)
    x, y = r.random((32, 6), dtype=np.float32), r.integers(0, 2, 32)
    m = dlcore.Sequential([L.Dense(4, activation="relu"), L.Dense(2)])
    m.build((None, 6))
    m.compile("sgd", "sparse_categorical_crossentropy", jit_compile=True)
    m.train_on_batch(x, y)
    m.train_on_batch(x, y)
    twin = copy.deepcopy(m)
    before = [w.copy() for w in m.get_weights()]
    twin.train_on_batch(x, y)
    twin.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))  # the original untouched
    assert not all(np.array_equal(a, b) for a, b in zip(before, twin.get_weights()))
