"""dlcore.onnx.export and Keras-style model.export(format="onnx"): the exported file runs in
onnxruntime with outputs equal to dlcore's eval-mode outputs (float32, within 1e-5), a dynamic
batch axis takes other batch sizes, and what has no ONNX mapping is refused by name."""
import io
import subprocess
import sys
import threading

import numpy as np
import pytest

import dlcore
from dlcore import layers, nn
from dlcore.nn.module import eval_mode

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5
BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}


def _run(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _ref(model, *xs):
    with dlcore.no_grad(), eval_mode():
        out = model(*xs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    return [o.numpy() for o in outs]


def _check(model, path, xs, names=("input",)):
    got = _run(path, {n: x.numpy() for n, x in zip(names, xs)})
    ref = _ref(model, *xs)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=TOL, atol=TOL)


def _warm_batchnorm(model, x, steps=3):
    """A few training-mode passes so that the running statistics are not the trivial 0 / 1."""
    model.train()
    with dlcore.no_grad():
        for i in range(steps):
            model(x * (1.0 + i) + 0.5)
    model.eval()


def test_mlp_static_and_dynamic_batch(tmp_path):
    dlcore.manual_seed(0)
    acts = [nn.ReLU(), nn.GELU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.2), nn.SiLU(), nn.ELU(0.7), nn.GELU("tanh"),
            nn.Softplus(beta=2.0), nn.Hardswish(), nn.ReLU6(), nn.Mish(), nn.LogSigmoid(), nn.SELU(),
            nn.Hardsigmoid(), nn.Hardtanh(-0.5, 0.5), nn.CELU(0.5), nn.Softsign(), nn.PReLU()]
    mods = []
    for a in acts:
        mods += [nn.Linear(16, 16), a]
    model = nn.Sequential(nn.Linear(8, 16), *mods, nn.Linear(16, 5), nn.Softmax(dim=1)).eval()
    x = dlcore.randn(4, 8)
    proto = dlcore.onnx.export(model, x, tmp_path / "static.onnx")
    onnx.checker.check_model(proto)
    _check(model, tmp_path / "static.onnx", [x])
    with pytest.raises(Exception):  # static: the batch size is fixed
        _run(tmp_path / "static.onnx", {"input": dlcore.randn(7, 8).numpy()})
    dlcore.onnx.export(model, x, tmp_path / "dyn.onnx", dynamic_axes=BATCH)
    for n in (1, 7):
        _check(model, tmp_path / "dyn.onnx", [dlcore.randn(n, 8)])
    dims = onnx.load(str(tmp_path / "dyn.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 8
    buf = io.BytesIO()  # a binary file object, as torch.onnx.export takes
    dlcore.onnx.export(model, x, buf)
    got = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})
    np.testing.assert_allclose(got[0], _ref(model, x)[0], rtol=TOL, atol=TOL)


class _CNN(nn.Module):
    """A user Module: convolutions, batch norm, pooling, dropout, then functional code in forward."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, stride=2, padding="valid", groups=2),
                                      nn.BatchNorm2d(8), nn.Dropout2d(0.3), nn.AvgPool2d(2, stride=1, padding=1))
        self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4, 6)

    def forward(self, x):
        h = self.features(x)
        h = dlcore.relu(self.up(h))
        h = self.drop(self.pool(h).flatten(1))
        return self.fc(h) * 0.5 + 1.0


def test_cnn_with_batchnorm_pooling_dropout(tmp_path):
    dlcore.manual_seed(1)
    model = _CNN()
    x = dlcore.randn(2, 3, 12, 12)
    _warm_batchnorm(model, x)
    dlcore.onnx.export(model, x, tmp_path / "cnn.onnx", dynamic_axes=BATCH)
    for n in (2, 5):
        _check(model, tmp_path / "cnn.onnx", [dlcore.randn(n, 3, 12, 12)])


def test_conv1d_and_1d_pooling(tmp_path):
    dlcore.manual_seed(2)
    model = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), nn.BatchNorm1d(6), nn.ReLU(), nn.MaxPool1d(2),
                          nn.Conv1d(6, 6, 3, dilation=2), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(6 * 3, 3))
    x = dlcore.randn(3, 4, 20)
    _warm_batchnorm(model, x)
    dlcore.onnx.export(model, x, tmp_path / "c1.onnx", dynamic_axes=BATCH)
    for n in (3, 1):
        _check(model, tmp_path / "c1.onnx", [dlcore.randn(n, 4, 20)])


def test_keras_sequential_cnn_export(tmp_path):
    dlcore.manual_seed(3)
    model = dlcore.Sequential([layers.Conv2D(6, 3, padding="same", activation="relu"), layers.BatchNormalization(),
                               layers.MaxPooling2D(2), layers.Conv2D(8, 3, activation="tanh"),
                               layers.AveragePooling2D(2), layers.Dropout(0.25), layers.Flatten(),
                               layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")],
                              input_shape=(14, 14, 1))  # Keras layout: channels last
    x = dlcore.randn(4, 14, 14, 1)
    _warm_batchnorm(model, x)
    proto = model.export(tmp_path / "keras.onnx", format="onnx")
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (4, 9):
        _check(model, tmp_path / "keras.onnx", [dlcore.randn(n, 14, 14, 1)])
    with pytest.raises(ValueError, match="format"):
        model.export(tmp_path / "x", format="tf_saved_model")


KERAS_IMAGE_CASES = {
    "conv2d_same_stride2": lambda: [layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")],
    "conv1d_pool1d": lambda: [layers.Reshape((12, 24)), layers.Conv1D(4, 3, padding="same"), layers.MaxPooling1D(2),
                              layers.AveragePooling1D(2, padding="same"), layers.GlobalMaxPooling1D()],
    "conv2d_transpose": lambda: [layers.Conv2DTranspose(3, 3, strides=2, padding="same")],
    "depthwise_separable": lambda: [layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
                                    layers.SeparableConv2D(5, 3)],
    "pool_same": lambda: [layers.MaxPooling2D(3, strides=2, padding="same"),
                          layers.AveragePooling2D(3, strides=2, padding="same"), layers.GlobalAveragePooling2D()],
    "pad_crop": lambda: [layers.ZeroPadding2D(((1, 2), (0, 1))), layers.Cropping2D(((2, 0), (1, 1)))],
    "upsampling": lambda: [layers.UpSampling2D(2), layers.UpSampling2D(2, interpolation="bilinear")],
}


@pytest.mark.parametrize("case", sorted(KERAS_IMAGE_CASES))
def test_keras_image_layers_export(tmp_path, case):
    """The Keras image layers (channels-last, Keras 'same' padding, which pads asymmetrically
    through the Pad op) run in onnxruntime as in dlcore, at two batch sizes."""
    dlcore.manual_seed(5)
    model = dlcore.Sequential([layers.Conv2D(2, 1, bias_initializer="ones")] + KERAS_IMAGE_CASES[case](),
                              input_shape=(12, 12, 1))
    model.export(tmp_path / "m.onnx", format="onnx")
    for n in (2, 3):
        x = dlcore.randn(n, 12, 12, 1)
        assert float(abs(model.predict(x.numpy(), verbose=0)).max()) > 1e-3  # not a trivial output
        _check(model, tmp_path / "m.onnx", [x])


def test_keras_export_needs_a_known_input_shape(tmp_path):
    model = dlcore.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="input_signature"):
        model.export(tmp_path / "m.onnx")
    model.export(tmp_path / "m.onnx", input_signature=(None, 5))
    _check(model, tmp_path / "m.onnx", [dlcore.randn(6, 5)])


def test_functional_model_with_merges(tmp_path):
    dlcore.manual_seed(4)
    a = dlcore.Input((6,), name="left")
    b = dlcore.Input((6,), name="right")
    ha = layers.Dense(8, activation="relu")(a)
    hb = layers.Dense(8, activation="gelu")(b)
    s = layers.Add()([ha, hb])
    m = layers.Average()([ha, hb, s])
    c = layers.Concatenate()([s, layers.Multiply()([ha, hb]), layers.Maximum()([ha, hb]), m])
    d = layers.Subtract()([layers.Dense(4)(c), layers.Dense(4, activation="sigmoid")(ha)])
    out = layers.Activation("log_softmax")(d)
    model = dlcore.Model([a, b], [out, s])
    model.export(tmp_path / "fn.onnx")
    names = [i.name for i in onnx.load(str(tmp_path / "fn.onnx")).graph.input]
    assert names == ["left", "right"]
    for n in (2, 5):
        _check(model, tmp_path / "fn.onnx", [dlcore.randn(n, 6), dlcore.randn(n, 6)], names=names)


class _Zoo(nn.Module):
    """Functional code over many ops: split, arithmetic, where, stack, permute, strided slices,
    None / Ellipsis / int indexing, matmul, reductions, pow, casts, expand, softmax."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 12)
        self.ln = nn.LayerNorm(12)
        self.lin3 = nn.Linear(4, 5)
        self.mask = dlcore.tensor([True, False, True, False])

    def forward(self, x):
        h = self.ln(self.lin(x))
        a, b, c = dlcore.split(h, 4, 1)
        y = a * b - c / (dlcore.exp(-c.abs()) + 1.0)
        y = dlcore.where(self.mask, y, dlcore.sqrt(y * y + 1e-3))
        z = dlcore.stack([y, a.clamp(-0.5, 0.5), dlcore.log1p(b.abs()), dlcore.expm1(c.clamp(max=1.0))], 1)
        z = z.permute(0, 2, 1)[:, 1:, ::2]
        z = z[..., None, -1]
        u = dlcore.matmul(z, z.transpose(1, 2))
        v = u.sum(2) + u.mean(1) + u.amax(2) - u.amin(1) + (u ** 2).sum((1, 2)).unsqueeze(1)
        w = dlcore.cat([v, dlcore.sin(h[:, :3]), dlcore.cos(h[:, 3:6]), dlcore.pow(h[:, :3].abs() + 1, h[:, 3:6])], 1)
        w = self.lin3(w.reshape(-1, 3, 4)).double().float()
        w = w.unsqueeze(1).expand(-1, 2, -1, -1)
        return nn.functional.softmax(w, dim=-1), nn.functional.log_softmax(w.flatten(1), dim=1)


@pytest.mark.parametrize("opset", [17, 18])
def test_functional_ops_in_forward(tmp_path, opset):
    dlcore.manual_seed(7)
    model = _Zoo()
    x = dlcore.randn(3, 6)
    dlcore.onnx.export(model, x, tmp_path / "zoo.onnx", opset_version=opset, output_names=["p", "logp"],
                       dynamic_axes={"input": {0: "batch"}})
    for n in (3, 8):
        _check(model, tmp_path / "zoo.onnx", [dlcore.randn(n, 6)])


def test_float64_model(tmp_path):
    dlcore.manual_seed(8)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2), nn.Tanh()).double()
    x = dlcore.randn(2, 5, dtype=dlcore.float64)
    dlcore.onnx.export(model, x, tmp_path / "f64.onnx", dynamic_axes=BATCH)
    got = _run(tmp_path / "f64.onnx", {"input": x.numpy()})[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _ref(model, x)[0], rtol=1e-12, atol=1e-12)


def test_adaptive_pooling(tmp_path):
    dlcore.manual_seed(9)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.AdaptiveMaxPool2d(2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(3, 2))
    x = dlcore.randn(2, 2, 6, 6)
    dlcore.onnx.export(model, x, tmp_path / "ap.onnx", dynamic_axes=BATCH)
    _check(model, tmp_path / "ap.onnx", [dlcore.randn(4, 2, 6, 6)])
    with pytest.raises(NotImplementedError, match="unequal size"):
        dlcore.onnx.export(nn.AdaptiveAvgPool2d(2), dlcore.randn(1, 1, 5, 5), tmp_path / "a.onnx")


class _TextClassifier(nn.Module):
    def __init__(self, rnn, batch_first, last):
        super().__init__()
        self.emb = nn.Embedding(30, 8, padding_idx=0)
        self.rnn = rnn
        self.batch_first, self.last = batch_first, last
        width = rnn.hidden_size * (2 if rnn.bidirectional else 1)
        self.head = nn.Linear(width, 3)

    def forward(self, tokens):
        x = self.emb(tokens if self.batch_first else tokens.transpose(0, 1))
        out, h = self.rnn(x)
        if self.last == "output":
            feat = out[:, -1] if self.batch_first else out[-1]
        else:  # the final hidden state of the last layer
            h = h[0] if isinstance(h, tuple) else h
            feat = h[-1]
        return nn.functional.log_softmax(self.head(feat), dim=-1)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_embedding_rnn_classifier(tmp_path, kind, batch_first):
    dlcore.manual_seed(5)
    rnn = getattr(nn, kind)(8, 12, batch_first=batch_first)
    model = _TextClassifier(rnn, batch_first, "output" if batch_first else "state").eval()
    tokens = dlcore.randint(0, 30, (4, 7))
    dlcore.onnx.export(model, tokens, tmp_path / "rnn.onnx", dynamic_axes=BATCH)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "rnn.onnx")).graph.node}
    assert {"Gather", kind} <= ops
    for n in (4, 1, 6):
        _check(model, tmp_path / "rnn.onnx", [dlcore.randint(0, 30, (n, 7))])


@pytest.mark.parametrize("batch_first", [True, False])
def test_dynamic_batch_and_sequence_length(tmp_path, batch_first):
    dlcore.manual_seed(10)
    model = _TextClassifier(nn.LSTM(8, 12, num_layers=2, batch_first=batch_first), batch_first, "output").eval()
    dlcore.onnx.export(model, dlcore.randint(0, 30, (3, 5)), tmp_path / "seq.onnx",
                       dynamic_axes={"input": {0: "batch", 1: "time"}, "output": {0: "batch"}})
    for n, t in ((3, 5), (2, 9), (6, 1)):
        _check(model, tmp_path / "seq.onnx", [dlcore.randint(0, 30, (n, t))])


def test_other_threads_run_unrecorded_during_an_export(tmp_path):
    dlcore.manual_seed(11)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    a = dlcore.randn(16, 16)
    want = (a @ a).numpy()
    stop, bad = threading.Event(), []

    def busy():
        while not stop.is_set():
            if not np.allclose((a @ a).numpy(), want):
                bad.append(1)

    th = threading.Thread(target=busy)
    th.start()
    try:
        for _ in range(5):
            proto = dlcore.onnx.export(model, dlcore.randn(3, 4), tmp_path / "t.onnx")
            assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Gemm", "Identity"]
    finally:
        stop.set()
        th.join()
    assert not bad
    _check(model, tmp_path / "t.onnx", [dlcore.randn(3, 4)])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_stacked_bidirectional_rnn_with_initial_state(tmp_path, kind):
    dlcore.manual_seed(6)
    rnn = getattr(nn, kind)(5, 7, num_layers=2, bidirectional=True, batch_first=True).eval()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn

        def forward(self, x, h0):
            hx = (h0, h0 * 0.5) if kind == "LSTM" else h0
            out, h = self.rnn(x, hx)
            return out, (h[0] if kind == "LSTM" else h)

    x, h0 = dlcore.randn(3, 6, 5), dlcore.randn(4, 3, 7)
    dlcore.onnx.export(Net(), (x, h0), tmp_path / "bi.onnx", input_names=["x", "h0"],
                       dynamic_axes={"x": {0: "batch"}, "h0": {1: "batch"}})
    net = Net()
    for n in (3, 2):
        _check(net, tmp_path / "bi.onnx", [dlcore.randn(n, 6, 5), dlcore.randn(4, n, 7)], names=["x", "h0"])


def test_unsupported_modules_are_refused_by_name(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.raises(NotImplementedError, match="TransformerEncoderLayer.*supported"):
        dlcore.onnx.export(model, dlcore.randn(2, 3, 4), tmp_path / "t.onnx")
    a = dlcore.Input((3, 4))
    keras = dlcore.Model(a, layers.MultiHeadAttention(2, 4)(a, a))
    with pytest.raises(NotImplementedError, match="MultiHeadAttention"):
        keras.export(tmp_path / "k.onnx")


def test_unsupported_ops_are_refused_by_name(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):
            return x.std(1)

    with pytest.raises(NotImplementedError, match="op Std"):
        dlcore.onnx.export(Odd(), dlcore.randn(2, 3), tmp_path / "o.onnx")


def test_pool_indices_and_in_place_writes_are_refused(tmp_path):
    class Indices(nn.Module):
        def forward(self, x):
            y, idx = nn.functional.max_pool2d(x, 2, return_indices=True)
            return y + idx.float()

    with pytest.raises(NotImplementedError, match="indices"):
        dlcore.onnx.export(Indices(), dlcore.randn(1, 1, 4, 4), tmp_path / "i.onnx")

    class Unused(nn.Module):  # indices computed but not used: fine
        def forward(self, x):
            return nn.functional.max_pool1d(x, 2, return_indices=True)[0]

    m, x = Unused(), dlcore.randn(2, 3, 8)
    dlcore.onnx.export(m, x, tmp_path / "u.onnx")
    _check(m, tmp_path / "u.onnx", [x])

    class Writes(nn.Module):
        def forward(self, x):
            y = x * 2.0
            y[:, 0] = 0.0
            return y + 1.0

    with pytest.raises(NotImplementedError, match="changed in place"):
        dlcore.onnx.export(Writes(), dlcore.randn(2, 3), tmp_path / "w.onnx")


def test_values_computed_outside_dlcore_ops_are_refused(tmp_path):
    class Leaky(nn.Module):
        def forward(self, x):  # the mean goes through NumPy: the tracer cannot see it
            return x + dlcore.tensor(float(x.numpy().mean()))

    with pytest.raises(NotImplementedError, match="depends on the model's input"):
        dlcore.onnx.export(Leaky(), dlcore.randn(2, 3), tmp_path / "l.onnx")


def test_batch_dependent_constant_is_fine_static_and_refused_dynamic(tmp_path):
    class Zeros(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(3, 4, batch_first=True)

        def forward(self, x):
            h0 = dlcore.zeros(1, x.shape[0], 4)
            return self.rnn(x, h0)[0]

    m, x = Zeros(), dlcore.randn(2, 5, 3)
    dlcore.onnx.export(m, x, tmp_path / "s.onnx")
    _check(m, tmp_path / "s.onnx", [x])
    with pytest.raises(NotImplementedError, match="dynamic axis"):
        dlcore.onnx.export(m, x, tmp_path / "d.onnx", dynamic_axes=BATCH)


def test_bad_arguments(tmp_path):
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset_version"):
        dlcore.onnx.export(m, dlcore.randn(1, 2), tmp_path / "m.onnx", opset_version=9)
    with pytest.raises(ValueError, match="dynamic_axes"):
        dlcore.onnx.export(m, dlcore.randn(1, 2), tmp_path / "m.onnx", dynamic_axes={"nope": {0: "b"}})
    with pytest.raises(TypeError, match="Module"):
        dlcore.onnx.export(lambda x: x, dlcore.randn(1, 2), tmp_path / "m.onnx")


def test_import_dlcore_does_not_import_onnx():
    code = "import sys, dlcore; dlcore.onnx.export; assert 'onnx' not in sys.modules, 'onnx imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
