"""Keras-style layers (dlcore.layers): the one set of merge layers (values, gradients, calling
with a list or with several arguments, shape errors), Dense with the ReLU fused into its GEMM,
and the wrappers building nn modules with Keras arguments translated to PyTorch's."""
import numpy as np
import pytest

import dlcore
from dlcore import layers, nn
from conftest import rng


def npy(t):
    return np.asarray(t.detach()._data)


def test_merge_layers_values_and_gradients():
    r = rng(6)
    a_np, b_np, c_np = (r.normal(size=(4, 5)) for _ in range(3))
    a, b, c = (dlcore.tensor(v, requires_grad=True) for v in (a_np, b_np, c_np))
    y = layers.Add()([a, b, c])
    np.testing.assert_allclose(npy(y), a_np + b_np + c_np)
    (y * dlcore.tensor(np.arange(20.0).reshape(4, 5))).sum().backward()
    for t in (a, b, c):
        np.testing.assert_allclose(npy(t.grad), np.arange(20.0).reshape(4, 5))
    np.testing.assert_allclose(npy(layers.Subtract()([a, b])), a_np - b_np)
    np.testing.assert_allclose(npy(layers.Multiply()(a, b)), a_np * b_np)
    np.testing.assert_allclose(npy(layers.Average()([a, b, c])), (a_np + b_np + c_np) / 3)
    np.testing.assert_allclose(npy(layers.Maximum()([a, b])), np.maximum(a_np, b_np))
    np.testing.assert_allclose(npy(layers.Minimum()([a, b])), np.minimum(a_np, b_np))
    cat = layers.Concatenate()([a, dlcore.tensor(r.normal(size=(4, 2)))])
    assert cat.shape == (4, 7)
    np.testing.assert_allclose(npy(layers.Concatenate(axis=0)([a, b])), np.concatenate([a_np, b_np]))
    # default axis -1 (Keras): the channel axis of channels-last images
    x4 = dlcore.randn(2, 4, 4, 3)
    assert layers.Concatenate()([x4, x4]).shape == (2, 4, 4, 6)


def test_merge_layers_bad_shapes():
    with pytest.raises(ValueError, match=r"Add: input 1 has shape \(4, 1\) but input 0 has shape \(4,\)"):
        layers.Add()([dlcore.randn(4), dlcore.randn(4, 1)])
    with pytest.raises(ValueError, match=r"Concatenate: input 1 has shape \(3, 5\) but input 0 has shape \(4, 5\); they must match except along axis -1"):
        layers.Concatenate()([dlcore.randn(4, 5), dlcore.randn(3, 5)])
    with pytest.raises(ValueError, match="Subtract: expects exactly 2 inputs, got 3"):
        layers.Subtract()([dlcore.randn(2)] * 3)
    with pytest.raises(ValueError, match="Maximum: expects a list of at least 2 tensors, got 1"):
        layers.Maximum()([dlcore.randn(2)])


def test_merge_layers_on_symbolic_tensors():
    a, b = dlcore.Input((3,)), dlcore.Input((3,))
    m = dlcore.Model([a, b], layers.Average()([a + b, a * b, layers.Maximum()(a, b)]))
    x, y = dlcore.randn(2, 3), dlcore.randn(2, 3)
    want = ((x + y) + x * y + dlcore.maximum(x, y)) * (1.0 / 3)
    np.testing.assert_allclose(npy(m(x, y)), npy(want), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_relu_runs_in_the_gemm_epilogue(dtype):
    """Dense(activation='relu') is one _ops.gemm.Linear node with the ReLU fused; values and
    gradients (input, weight, bias) equal nn.Linear followed by relu."""
    r = rng(3)
    x_np = r.normal(size=(6, 5)).astype(dtype)
    g = dlcore.tensor(r.normal(size=(6, 4)).astype(dtype))
    d = layers.Dense(4, activation="relu")
    x = dlcore.tensor(x_np, requires_grad=True)
    y = d(x)
    assert type(y.grad_fn).__name__ == "Linear"
    y.backward(g)
    x2 = dlcore.tensor(x_np, requires_grad=True)
    w2 = d.linear.weight.detach().clone().requires_grad_()
    b2 = d.linear.bias.detach().clone().requires_grad_()
    ref = dlcore.relu(nn.functional.linear(x2, w2, b2))
    ref.backward(g)
    np.testing.assert_array_equal(npy(y), npy(ref))
    assert (npy(y) == 0).any() and (npy(y) > 0).any()
    tol = 1e-6 if dtype == "float32" else 1e-12
    for got, want in ((x.grad, x2.grad), (d.linear.weight.grad, w2.grad), (d.linear.bias.grad, b2.grad)):
        np.testing.assert_allclose(npy(got), npy(want), rtol=tol, atol=tol)


def test_keras_wrappers_build_nn_modules():
    """Conv2D / BatchNormalization build dlcore.nn.Conv2d / BatchNorm2d on their first input,
    in_channels from the channels-last input's last axis and Keras arguments translated to
    PyTorch's; the output is channels-last again."""
    m = dlcore.Sequential([layers.Conv2D(8, 3, padding="same"), layers.BatchNormalization(),
                           layers.MaxPooling2D(2)], input_shape=(10, 10, 3))
    conv, bn = m[0].conv, m[1].bn
    assert type(conv) is nn.Conv2d and (conv.in_channels, conv.out_channels) == (3, 8)
    assert conv.kernel_size == (3, 3) and conv.stride == (1, 1)
    assert type(bn) is nn.BatchNorm2d and bn.num_features == 8 and bn.momentum == pytest.approx(0.01)
    assert m(dlcore.randn(2, 10, 10, 3)).shape == (2, 5, 5, 8)
    # 'same' with an even kernel pads the extra row / column at the bottom / right (Keras, PyTorch)
    assert layers.Conv2D(4, 2, padding="same")(dlcore.randn(1, 5, 5, 3)).shape == (1, 5, 5, 4)
    # and strided 'same' gives ceil(size / stride) positions, as Keras
    assert layers.Conv2D(4, 3, strides=2, padding="same")(dlcore.randn(1, 5, 5, 3)).shape == (1, 3, 3, 4)
