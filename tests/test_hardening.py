"""Issue 17, silent wrong results: every public entry point gives PyTorch's answer or a clear
exception naming the function, the argument and the value - never a truncated size, a wrapped
integer or an argument out of range taken as is."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import layers, nn



# ---- fractional sizes, dims and counts are refused, never truncated ---------------------------

FRACTIONAL = [
    ("zeros", lambda: dlcore.zeros(2.5)),
    ("ones", lambda: dlcore.ones((2, 1.5))),
    ("randn", lambda: dlcore.randn(2.0)),
    ("randint", lambda: dlcore.randint(0.5, 1.5, (3,))),
    ("randint", lambda: dlcore.randint(0, 3, (2.5,))),
    ("randperm", lambda: dlcore.randperm(3.5)),
    ("eye", lambda: dlcore.eye(2.5)),
    ("softmax", lambda: F.softmax(dlcore.randn(2, 3), dim=1.5)),
    ("log_softmax", lambda: F.log_softmax(dlcore.randn(2, 3), dim=1.0)),
    ("sum", lambda: dlcore.randn(2, 3).sum(dim=1.5)),
    ("mean", lambda: dlcore.randn(2, 3).mean(dim=(0, 1.5))),
    ("unsqueeze", lambda: dlcore.randn(2).unsqueeze(0.5)),
    ("squeeze", lambda: dlcore.randn(1, 2).squeeze(0.5)),
    ("transpose", lambda: dlcore.randn(2, 3).transpose(0, 1.5)),
    ("cat", lambda: dlcore.cat([dlcore.ones(2), dlcore.ones(2)], dim=0.0)),
    ("split", lambda: dlcore.split(dlcore.ones(4), 1.5)),
    ("split", lambda: dlcore.split(dlcore.ones(4), [1.5, 2.5])),
    ("chunk", lambda: dlcore.chunk(dlcore.ones(4), 2.0)),
    ("argmax", lambda: dlcore.argmax(dlcore.ones(2, 2), dim=0.5)),
    ("max", lambda: dlcore.max(dlcore.ones(2, 2), dim=0.5)),
    ("one_hot", lambda: dlcore.one_hot(dlcore.tensor([0, 1]), num_classes=2.5)),
    ("Linear", lambda: nn.Linear(3.5, 2)),
    ("Linear", lambda: nn.Linear(3, 2.0)),
    ("Conv2d", lambda: nn.Conv2d(1.5, 2, 3)),
    ("Conv2d", lambda: nn.Conv2d(1, 2, 2.5)),
    ("Conv2d", lambda: nn.Conv2d(2, 2, 3, groups=1.0)),
    ("conv2d", lambda: F.conv2d(dlcore.ones(1, 1, 4, 4), dlcore.ones(1, 1, 3, 3), stride=1.5)),
    ("max_pool2d", lambda: F.max_pool2d(dlcore.ones(1, 1, 4, 4), 2.5)),
    ("avg_pool2d", lambda: F.avg_pool2d(dlcore.ones(1, 1, 4, 4), 2, divisor_override=1.5)),
    ("adaptive_avg_pool2d", lambda: F.adaptive_avg_pool2d(dlcore.ones(1, 1, 4, 4), 2.5)),
    ("GroupNorm", lambda: nn.GroupNorm(1.5, 3)),
    ("group_norm", lambda: F.group_norm(dlcore.ones(2, 4, 3), 2.0)),
    ("LayerNorm", lambda: nn.LayerNorm(3.5)),
    ("layer_norm", lambda: F.layer_norm(dlcore.ones(2, 3), (3.0,))),
    ("PReLU", lambda: nn.PReLU(2.5)),
    ("Maxout", lambda: nn.Maxout(2.5)),
    ("maxout", lambda: F.maxout(dlcore.ones(2, 4), 2.0)),
    ("cross_entropy", lambda: F.cross_entropy(dlcore.ones(2, 3), dlcore.tensor([0, 1]), ignore_index=1.5)),
    ("embedding", lambda: F.embedding(dlcore.tensor([0]), dlcore.ones(3, 2), padding_idx=1.5)),
    ("Embedding", lambda: nn.Embedding(3, 2, padding_idx=1.5)),
    ("Flatten", lambda: nn.Flatten(1.5)),
    ("Dense", lambda: layers.Dense(2.5)),
    ("Conv2D", lambda: layers.Conv2D(2.5, 3)),
    ("Reshape", lambda: layers.Reshape((2, 1.5))),
    ("Concatenate", lambda: layers.Concatenate(axis=1.5)),
    ("Input", lambda: dlcore.Input((2.5,))),
    ("DataLoader", lambda: dlcore.data.DataLoader((np.zeros((4, 2)),), batch_size=2.5)),
    ("manual_seed", lambda: dlcore.manual_seed(1.5)),
]


@pytest.mark.parametrize("name,call", FRACTIONAL, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FRACTIONAL)])
def test_fractional_sizes_and_dims_are_refused(name, call):
    with pytest.raises(TypeError, match=rf"^{name}: .*(must be an? int|sizes must be ints).*(1\.5|2\.5|2\.0|3\.5|0\.5|1\.0|0\.0|3\.0)"):
        call()


def test_numpy_and_tensor_integers_are_accepted_as_sizes():
    assert nn.Linear(np.int64(3), np.int32(2)).weight.shape == (2, 3)
    assert dlcore.ones(2, 3).sum(dim=dlcore.tensor(1)).shape == (2,)
    assert dlcore.split(dlcore.ones(4), np.int64(2))[0].shape == (2,)


def test_fit_refuses_fractional_and_out_of_range_counts():
    m = dlcore.Sequential([nn.Linear(2, 1)])
    m.compile("sgd", "mse")
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    with pytest.raises(TypeError, match=r"fit: batch_size must be an integer, got 2\.5"):
        m.fit(x, y, batch_size=2.5, verbose=0)
    with pytest.raises(ValueError, match=r"fit: batch_size must be positive, got 0"):
        m.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"fit: epochs must be non-negative, got -1"):
        m.fit(x, y, epochs=-1, verbose=0)
    with pytest.raises(ValueError, match=r"fit: initial_epoch \(3\) is greater than epochs \(2\)"):
        m.fit(x, y, epochs=2, initial_epoch=3, verbose=0)
    with pytest.raises(ValueError, match=r"fit: steps_per_epoch must be positive, got 0"):
        m.fit(x, y, steps_per_epoch=0, verbose=0)
    with pytest.raises(TypeError, match=r"fit: epochs must be an integer, got 1\.5"):
        m.fit(x, y, epochs=1.5, verbose=0)
    with pytest.raises(TypeError, match=r"evaluate: batch_size must be an integer, got 1\.5"):
        m.evaluate(x, y, batch_size=1.5)
    with pytest.raises(TypeError, match=r"predict: batch_size must be an integer, got 1\.5"):
        m.predict(x, batch_size=1.5)


def test_empty_data_is_an_error_in_fit_evaluate_predict():
    m = dlcore.Sequential([nn.Linear(2, 1)])
    m.compile("sgd", "mse")
    x, y = np.zeros((0, 2), np.float32), np.zeros((0, 1), np.float32)
    with pytest.raises(ValueError, match=r"fit: the input has 0 samples \(shape \(0, 2\)\)"):
        m.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: the input has 0 samples"):
        m.evaluate(x, y)
    with pytest.raises(ValueError, match=r"predict: the input has 0 samples"):
        m.predict(x)
    empty = dlcore.data.DataLoader((x, y), batch_size=2)
    with pytest.raises(ValueError, match=r"fit: the training data yielded no batches in epoch 1"):
        m.fit(empty, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: the data yielded no samples"):
        m.evaluate(empty)


# ---- integer and dtype edges --------------------------------------------------------------------

def test_int64_overflow_and_uint64_raise():  # landed with the tensor-core rewrite: kept tested here
    with pytest.raises(ValueError, match=r"tensor: value 9223372036854775808 does not fit in int64"):
        dlcore.tensor([2 ** 63])
    with pytest.raises(ValueError, match=r"does not fit in int64"):
        dlcore.tensor(np.array([2 ** 63], dtype=np.uint64))
    assert dlcore.tensor(np.array([5], dtype=np.uint64)).tolist() == [5]
    assert dlcore.tensor([2 ** 63 - 1]).item() == 2 ** 63 - 1


def test_clamp_of_integers_with_fractional_bounds_promotes_like_pytorch():
    x = dlcore.tensor([1, 2, 3])
    out = dlcore.clamp(x, 0.5, 2.5)
    assert out.dtype == dlcore.float32 and out.tolist() == [1.0, 2.0, 2.5]
    assert dlcore.clamp(x, 2, 2).dtype == dlcore.int64  # integer bounds keep the integer dtype
    with pytest.raises(ValueError, match=r"clip: at least one of min and max"):
        dlcore.clamp(x)
    with pytest.raises(TypeError, match=r"clip: min must be a real number or None, got str"):
        dlcore.clamp(x, "0")


# ---- views and shapes ---------------------------------------------------------------------------

def test_view_raises_instead_of_copying():  # landed with the tensor-core rewrite
    x = dlcore.randn(4, 3).T
    with pytest.raises(ValueError, match=r"view: a tensor of shape \(3, 4\) .* cannot be viewed as \(12,\)"):
        x.view(12)


def test_split_rejects_negative_sizes():
    with pytest.raises(ValueError, match=r"split: sections must be non-negative, got -2"):
        dlcore.split(dlcore.arange(5), [7, -2])
    with pytest.raises(ValueError, match=r"split: split_size must be positive, got -1"):
        dlcore.split(dlcore.arange(5), -1)
    assert [t.shape for t in dlcore.split(dlcore.arange(5), [0, 5])] == [(0,), (5,)]


def test_sum_over_empty_dims_is_the_full_sum_like_pytorch():
    x = dlcore.ones(2, 3)
    assert x.sum(dim=()).item() == 6.0
    assert x.sum(dim=[]).item() == 6.0
    assert x.mean(dim=()).item() == 1.0
    assert x.sum(dim=(), keepdim=True).shape == (1, 1)


# ---- argument ranges ------------------------------------------------------------------------------

def test_norm_eps_must_be_positive_with_batch_statistics():
    x = dlcore.randn(4, 3)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be positive .* got 0\.0"):
        F.batch_norm(x, None, None, training=True, eps=0.0)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be a non-negative number, got -1"):
        F.batch_norm(x, dlcore.zeros(3), dlcore.ones(3), training=False, eps=-1)
    F.batch_norm(x, dlcore.zeros(3), dlcore.ones(3), training=False, eps=0.0)  # running stats: fine
    with pytest.raises(ValueError, match=r"BatchNorm1d: eps must be a non-negative number"):
        nn.BatchNorm1d(3, eps=-1e-5)
    with pytest.raises(ValueError, match=r"layer_norm: eps must be positive"):
        F.layer_norm(x, (3,), eps=0.0)
    with pytest.raises(ValueError, match=r"GroupNorm: eps must be positive"):
        nn.GroupNorm(1, 3, eps=0)
    with pytest.raises(ValueError, match=r"batch_norm: momentum must be in \[0, 1\]"):
        F.batch_norm(x, dlcore.zeros(3), dlcore.ones(3), training=True, momentum=2.0)


def test_batchnormalization_reports_its_own_momentum():
    with pytest.raises(ValueError, match=r"BatchNormalization: momentum must be in \[0, 1\] .* got 2\.0"):
        layers.BatchNormalization(momentum=2.0)
    with pytest.raises(ValueError, match=r"BatchNormalization: epsilon must be positive"):
        layers.BatchNormalization(epsilon=0.0)


def test_init_ranges_are_checked():
    t = dlcore.empty(3, 4)
    with pytest.raises(ValueError, match=r"uniform_: the range \[2\.0, 1\.0\) is empty"):
        nn.init.uniform_(t, 2, 1)
    with pytest.raises(ValueError, match=r"normal_: std must be non-negative, got -1\.0"):
        nn.init.normal_(t, 0, -1)
    with pytest.raises(ValueError, match=r"trunc_normal_: std must be non-negative"):
        nn.init.trunc_normal_(t, 0, -1)
    with pytest.raises(ValueError, match=r"trunc_normal_: the bounds .* are empty"):
        nn.init.trunc_normal_(t, 0, 1, 2, -2)
    with pytest.raises(ValueError, match=r"uniform_: the range"):
        nn.init.xavier_uniform_(t, gain=-1.0)
    with pytest.raises(ValueError, match=r"sparse_: std must be non-negative"):
        nn.init.sparse_(t, 0.5, std=-1)


def test_embedding_padding_idx_is_checked_in_the_function_too():
    w = dlcore.randn(3, 2)
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be within num_embeddings \(3\).*got 5"):
        F.embedding(dlcore.tensor([0, 1]), w, padding_idx=5)
    with pytest.raises(ValueError, match=r"embedding: padding_idx .* got -4"):
        F.embedding(dlcore.tensor([0, 1]), w, padding_idx=-4)
    w.requires_grad_()
    F.embedding(dlcore.tensor([0, 2]), w, padding_idx=-1).sum().backward()
    assert w.grad.numpy()[2].tolist() == [0.0, 0.0]  # -1 is row 2, which gets no gradient


def test_bce_values_outside_unit_interval_are_refused_as_pytorch_does():
    p = dlcore.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target values must lie in \[0, 1\], got values from -1\.0 to 1\.0"):
        F.binary_cross_entropy(p, dlcore.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input values must lie in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(dlcore.tensor([2.0, 0.5]), dlcore.tensor([0.0, 1.0]))
    # on logits PyTorch takes any target (GANs' noisy labels reach 1.05), and so does dlcore
    torch = pytest.importorskip("torch")
    got = F.binary_cross_entropy_with_logits(p, dlcore.tensor([1.05, -0.1])).item()
    want = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([0.5, 0.5]), torch.tensor([1.05, -0.1]))
    assert got == pytest.approx(want.item(), rel=1e-6)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target values"):
        nn.BCELoss()(p, dlcore.tensor([0.0, 3.0]))


# ---- functions taking `parameters` read a generator once ----------------------------------------

def _model_with_grads():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    for p in m.parameters():
        p.grad = dlcore.ones(*p.shape) * 10
    return m


def test_clip_grad_norm_with_a_generator_clips():
    m = _model_with_grads()
    total = nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    assert abs(total.item() - 10 * 9 ** 0.5) < 1e-4
    after = nn.utils.get_total_norm(p.grad for p in m.parameters())
    assert abs(after.item() - 1.0) < 1e-4


def test_every_function_taking_parameters_accepts_a_generator():
    m = _model_with_grads()
    nn.utils.clip_grad_value_(m.parameters(), 0.5)
    assert all(p.grad.numpy().max() == 0.5 for p in m.parameters())
    m = _model_with_grads()
    nn.utils.clip_grads_with_norm_(m.parameters(), 1.0, 30.0)
    assert abs(m[0].weight.grad.numpy()[0, 0] - 10 / 30) < 1e-4
    for opt in (dlcore.optim.SGD, dlcore.optim.Adam):
        o = opt(m.parameters(), lr=0.1)
        assert len(o.param_groups[0]["params"]) == 4
    with pytest.raises(TypeError, match=r"clip_grad_norm_: parameters must be a Tensor or an iterable"):
        nn.utils.clip_grad_norm_(3, 1.0)


# ---- messages for the first hour's common mistakes ----------------------------------------------

def _keras(*layers_, loss="sparse_categorical_crossentropy"):
    m = dlcore.Sequential(list(layers_))
    m.compile("adam", loss)
    return m


def test_wrong_labels_for_the_loss_say_which_loss_fits():
    x = np.zeros((4, 1, 2, 2), np.float32)
    m = _keras(layers.Flatten(), layers.Dense(3))
    with pytest.raises(ValueError, match=r"'sparse_categorical_crossentropy' takes int64 class indices, got float32 labels.*y.astype\('int64'\)"):
        m.fit(x, np.array([0., 1., 2., 1.], np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"they look one-hot\. Use loss='categorical_crossentropy'"):
        m.fit(x, np.eye(3, dtype=np.float32)[[0, 1, 2, 1]], verbose=0)
    m = _keras(layers.Flatten(), layers.Dense(3), loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"'categorical_crossentropy' takes one-hot labels of shape \(4, 3\), got class indices.*sparse_categorical_crossentropy"):
        m.fit(x, np.array([0, 1, 2, 1]), verbose=0)
    with pytest.raises(ValueError, match=r"float target of shape \(4,\) looks like class indices: pass them as int64"):
        F.cross_entropy(dlcore.randn(4, 3), dlcore.tensor([0., 1., 2., 1.]))


def test_misspelled_names_fail_at_compile_with_the_valid_names():
    m = dlcore.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match=r"compile: unknown optimizer 'adamm' \(did you mean 'adam'\?\); known: \['adadelta'"):
        m.compile("adamm", "mse")
    with pytest.raises(ValueError, match=r"compile: unknown optimizer 'sgdd'"):
        m.compile({"name": "sgdd"}, "mse")
    with pytest.raises(ValueError, match=r"unknown loss 'msee' \(did you mean 'mse'\?\)"):
        m.compile("adam", "msee")


def test_channels_last_images_get_a_hint():
    with pytest.raises(ValueError, match=r"conv2d: .*has 28; the input looks channels-last \(N, H, W, C\).*permute\(0, 3, 1, 2\)"):
        nn.Conv2d(3, 8, 3)(dlcore.ones(2, 28, 28, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d: .*channels-last"):
        nn.BatchNorm2d(3)(dlcore.ones(2, 28, 28, 3))
    with pytest.raises(ValueError, match=r"conv1d: .*channels-last \(N, L, C\).*permute\(0, 2, 1\)"):
        nn.Conv1d(3, 2, 3)(dlcore.ones(1, 5, 3))


def test_dense_on_unflattened_images_gets_a_hint():
    with pytest.raises(ValueError, match=r"linear: .*holds exactly 784 values: flatten it first"):
        nn.Linear(784, 10)(dlcore.ones(2, 1, 28, 28))
    m = _keras(layers.Dense(10))
    with pytest.raises(ValueError, match=r"did a Dense / Linear layer get un-flattened images.*Flatten"):
        m.fit(np.zeros((4, 1, 28, 28), np.float32), np.array([0, 1, 2, 1]), verbose=0)


def test_errors_name_the_users_layer_and_values():
    with pytest.raises(ValueError, match=r"^conv1d: stride and dilation must be positive, got stride=0"):
        F.conv1d(dlcore.ones(1, 1, 5), dlcore.ones(1, 1, 3), stride=0)
    with pytest.raises(ValueError, match=r"^conv1d: kernel size 3 with dilation 1 spans 3, which is larger than the padded input length 2"):
        F.conv1d(dlcore.ones(1, 1, 2), dlcore.ones(1, 1, 3))
    with pytest.raises(ValueError, match=r"^BatchNormalization: momentum must be in \[0, 1\].*got 2\.0"):
        layers.BatchNormalization(momentum=2.0)


@pytest.mark.parametrize("call,msg", [
    (lambda: dlcore.ones(2).fill_("a"), r"^fill_: value must be a number, got str 'a'"),
    (lambda: dlcore.full((2,), "a"), r"^full: fill_value must be a number"),
    (lambda: dlcore.arange("a"), r"^arange: end must be a number"),
    (lambda: F.leaky_relu(dlcore.ones(2), "a"), r"^leaky_relu: parameter must be a number"),
    (lambda: dlcore.optim.SGD([nn.Parameter(dlcore.ones(2))], lr="a"), r"^SGD: lr must be a number, got str 'a'"),
    (lambda: dlcore.optim.Adam([nn.Parameter(dlcore.ones(2))], betas=("a", 0.9)), r"^Adam: betas must be a tuple of numbers"),
    (lambda: dlcore.set_num_threads("a"), r"^set_num_threads: n must be an integer"),
])
def test_wrong_types_name_the_function_and_argument(call, msg):
    with pytest.raises(TypeError, match=msg):
        call()


def test_zero_dim_tensors_promote_like_pytorch():
    x = dlcore.ones(3)  # float32
    assert (x * dlcore.tensor(2.0, dtype="float64")).dtype == dlcore.float32
    assert (dlcore.tensor(2.0, dtype="float64") + x).dtype == dlcore.float32
    assert (dlcore.tensor([1, 2]) * dlcore.tensor(2.5, dtype="float64")).dtype == dlcore.float32
    assert (dlcore.tensor([1.0], dtype="float64") * dlcore.ones(1)).dtype == dlcore.float64  # both with dims


def test_conv_modules_check_kernel_stride_padding():
    with pytest.raises(ValueError, match=r"Conv2d: kernel_size must be positive, got \(-1, -1\)"):
        nn.Conv2d(1, 1, -1)
    with pytest.raises(ValueError, match=r"Conv1d: kernel_size must be positive, got \(0,\)"):
        nn.Conv1d(1, 1, 0)
    with pytest.raises(ValueError, match=r"Conv2d: stride must be positive"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match=r"Conv2d: padding must be non-negative"):
        nn.Conv2d(1, 1, 3, padding=-1)


def test_integers_beyond_2_53_stay_exact():
    v = 2 ** 60 + 1  # a double would round it to 2**60
    x = dlcore.tensor([0, 0])
    assert dlcore.full((2,), v).tolist() == [v, v]
    assert (x + v).tolist() == [v, v] and (x - v).tolist() == [-v, -v] and (v - x).tolist() == [v, v]
    y = dlcore.tensor([0, 0])
    y.fill_(v)
    assert y.tolist() == [v, v]
    assert dlcore.arange(2 ** 60, 2 ** 60 + 3).tolist() == [2 ** 60, 2 ** 60 + 1, 2 ** 60 + 2]
    assert dlcore.arange(2 ** 60 + 3, 2 ** 60, -2).tolist() == [2 ** 60 + 3, 2 ** 60 + 1]
    with pytest.raises(ValueError, match=r"value 18446744073709551616 does not fit in int64"):
        x + 2 ** 64
    with pytest.raises(ValueError, match=r"randint: the range \[0, 4611686018427387904\) is beyond 2\*\*53"):
        dlcore.randint(0, 2 ** 62, (3,))
