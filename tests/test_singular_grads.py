"""Issue 17: every op's backward at the points where a naive chain rule gives NaN or picks a
different one-sided derivative (zeros, constant inputs, ties, kinks, saturation, targets at 0 /
1) equals PyTorch 2.13's, in float64: std / norms / cosine similarity of constant or zero
inputs, pow at 0, the kink conventions of hardswish and hinge_embedding, and the gradients
with respect to loss targets (soft labels)."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = []


def run(name, fd, ft, *inputs):
    CASES.append(pytest.param(fd, ft, inputs, id=name))


Z = [0.0, 0.0, 0.0]
C = [2.0, 2.0, 2.0]
run("exp", dlcore.exp, torch.exp, [0.0, -800.0, 1.0])
run("log0", dlcore.log, torch.log, [0.0, 1.0, 2.0])
run("sqrt0", dlcore.sqrt, torch.sqrt, [0.0, 1.0, 4.0])
run("abs0", dlcore.abs, torch.abs, [0.0, -1.0, 1.0])
run("log1p(-1)", dlcore.log1p, torch.log1p, [-1.0, 0.0])
run("pow t^t 0", lambda a,b: a**b, lambda a,b: a**b, [0.0,0.0,0.0,-1.0], [0.0,1.0,2.0,0.5])
run("pow x^0", lambda a: a**0, lambda a: a**0, [0.0, 1.0])
run("pow x^0.5", lambda a: a**0.5, lambda a: a**0.5, [0.0, 1.0])
run("pow x^2 at0", lambda a: a**2, lambda a: a**2, [0.0, 1.0])
run("pow x^-1", lambda a: a**-1.0, lambda a: a**-1.0, [0.0, 1.0])
run("rpow 0^x", lambda a: 0.0**a, lambda a: 0.0**a, [0.0, 1.0, 2.0])
run("rpow 2^x", lambda a: 2.0**a, lambda a: 2.0**a, [0.0, 1.0, 2.0])
run("div b0", lambda a,b: a/b, lambda a,b: a/b, [1.0, 0.0], [0.0, 0.0])
run("clamp bnd", lambda a: dlcore.clamp(a, 0.0, 1.0), lambda a: torch.clamp(a, 0.0, 1.0), [0.0, 1.0, 0.5, 2.0])
run("max ties", lambda a,b: dlcore.maximum(a,b), torch.maximum, [1.0,2.0], [1.0,1.0])
run("min ties", lambda a,b: dlcore.minimum(a,b), torch.minimum, [1.0,2.0], [1.0,1.0])
run("amax ties", lambda a: dlcore.amax(a), torch.amax, [1.0,1.0,0.0])
run("max dim ties", lambda a: dlcore.max(a, 0)[0], lambda a: torch.max(a, 0)[0], [1.0,1.0,0.0])
run("var const", lambda a: a.var(), lambda a: a.var(), C)
run("std const", lambda a: a.std(), lambda a: a.std(), C)
run("std n1", lambda a: a.std(), lambda a: a.std(), [2.0])
run("var n1", lambda a: a.var(), lambda a: a.var(), [2.0])
run("std c0 const", lambda a: a.std(correction=0), lambda a: a.std(correction=0), C)
run("std dim const", lambda a: a.std(1), lambda a: a.std(1), [[1.0,1.0],[1.0,2.0]])
run("mean", lambda a: a.mean(), lambda a: a.mean(), C)
for act, ta, pts in [("relu", TF.relu, [0.0]), ("relu6", TF.relu6, [0.0, 6.0]), ("leaky_relu", TF.leaky_relu, [0.0]),
                     ("elu", TF.elu, [0.0]), ("selu", TF.selu, [0.0]), ("celu", TF.celu, [0.0]), ("gelu", TF.gelu, [0.0]),
                     ("silu", TF.silu, [0.0, -800.0, 800.0]), ("mish", TF.mish, [0.0, -800.0, 800.0]), ("softplus", TF.softplus, [20.0, 0.0, -800.0, 800.0]),
                     ("softsign", TF.softsign, [0.0]), ("hardsigmoid", TF.hardsigmoid, [-3.0, 3.0, 0.0]), ("hardswish", TF.hardswish, [-3.0, 3.0, 0.0]),
                     ("hardtanh", TF.hardtanh, [-1.0, 1.0]), ("logsigmoid", TF.logsigmoid, [-800.0, 800.0, 0.0]), ("sigmoid", torch.sigmoid, [-800.0, 800.0]),
                     ("tanh", torch.tanh, [-800.0, 800.0])]:
    run(act, getattr(F, act), ta, pts)
run("softmax -inf", lambda a: F.softmax(a, 0)[0], lambda a: TF.softmax(a, 0)[0], [-math.inf, 0.0, 1.0])
run("log_softmax -inf", lambda a: F.log_softmax(a, 0)[1], lambda a: TF.log_softmax(a, 0)[1], [-math.inf, 0.0, 1.0])
run("softmax all -inf", lambda a: F.softmax(a, 0)[1], lambda a: TF.softmax(a, 0)[1], [-math.inf, -math.inf])
run("prelu0", lambda a,w: F.prelu(a,w), TF.prelu, [0.0, -1.0], [0.25])
run("mse", F.mse_loss, TF.mse_loss, [1.0, 2.0], [1.0, 2.0])
run("l1 d0", F.l1_loss, TF.l1_loss, [1.0, 2.0], [1.0, 3.0])
run("huber d=delta", F.huber_loss, TF.huber_loss, [1.0, 0.0], [0.0, 0.0])
run("smoothl1 beta0", lambda a,b: F.smooth_l1_loss(a,b,beta=0.0), lambda a,b: TF.smooth_l1_loss(a,b,beta=0.0), [1.0, 0.0], [0.0, 0.0])
run("smoothl1 d=beta", F.smooth_l1_loss, TF.smooth_l1_loss, [1.0, 0.0], [0.0, 0.0])
run("bce p=0,1", F.binary_cross_entropy, TF.binary_cross_entropy, [0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0])
run("bce_logits", F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, [0.0, 800.0, -800.0], [0.0, 1.0, 0.0])
run("kl_div t=0", F.kl_div, TF.kl_div, [-1.0, -2.0], [0.0, 1.0])
run("kl_div logt -inf", lambda a,b: F.kl_div(a,b,log_target=True), lambda a,b: TF.kl_div(a,b,log_target=True), [-1.0, -2.0], [-math.inf, 0.0])
run("hinge_emb", F.hinge_embedding_loss, TF.hinge_embedding_loss, [1.0, 0.0], [-1.0, 1.0])
run("cos_sim zero", lambda a,b: F.cosine_similarity(a,b,dim=0), lambda a,b: TF.cosine_similarity(a,b,dim=0), Z, [1.0,1.0,1.0])
run("cos_sim both zero", lambda a,b: F.cosine_similarity(a,b,dim=0), lambda a,b: TF.cosine_similarity(a,b,dim=0), Z, Z)
run("cos_sim", lambda a,b: F.cosine_similarity(a,b,dim=0), lambda a,b: TF.cosine_similarity(a,b,dim=0), [1.0,2.0,3.0], [1.0,1.0,0.0])
run("cos_emb zero", lambda a,b: F.cosine_embedding_loss(a,b,dlcore.tensor([1.0])), lambda a,b: TF.cosine_embedding_loss(a,b,torch.tensor([1.0])), [Z], [[1.0,1.0,1.0]])
run("cos_emb zero neg", lambda a,b: F.cosine_embedding_loss(a,b,dlcore.tensor([-1.0])), lambda a,b: TF.cosine_embedding_loss(a,b,torch.tensor([-1.0])), [Z], [[1.0,1.0,1.0]])
run("ce", lambda a: F.cross_entropy(a, dlcore.tensor([0])), lambda a: TF.cross_entropy(a, torch.tensor([0])), [[0.0, 0.0]])
run("ce -inf", lambda a: F.cross_entropy(a, dlcore.tensor([0])), lambda a: TF.cross_entropy(a, torch.tensor([0])), [[0.0, -math.inf]])
run("ce probs 0", lambda a: F.cross_entropy(a, dlcore.tensor([[1.0, 0.0]], dtype="float64")), lambda a: TF.cross_entropy(a, torch.tensor([[1.0, 0.0]])), [[0.0, -math.inf]])
run("nll", lambda a: F.nll_loss(a, dlcore.tensor([0])), lambda a: TF.nll_loss(a, torch.tensor([0])), [[0.0, 0.0]])
run("multi_margin ties", lambda a: F.multi_margin_loss(a, dlcore.tensor([0])), lambda a: TF.multi_margin_loss(a, torch.tensor([0])), [[1.0, 0.0, 0.0]])
run("layer_norm const", lambda a: (F.layer_norm(a, (3,)) * dlcore.tensor([1.0, 2.0, 3.0], dtype="float64")), lambda a: TF.layer_norm(a, (3,)) * torch.tensor([1.0,2.0,3.0]), [C])
run("group_norm const", lambda a: F.group_norm(a, 1) * dlcore.tensor([[[1.0, 2.0, 3.0]]], dtype="float64"), lambda a: TF.group_norm(a, 1) * torch.tensor([[[1.0,2.0,3.0]]]), [[C]])
run("batch_norm const", lambda a: F.batch_norm(a, None, None, training=True) * dlcore.tensor([[1.0], [2.0], [3.0]], dtype="float64"), lambda a: TF.batch_norm(a, None, None, training=True) * torch.tensor([[1.0],[2.0],[3.0]]), [[2.0], [2.0], [2.0]])
run("maxpool ties", lambda a: F.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), [[[[1.0, 1.0], [1.0, 1.0]]]])
run("adamaxpool ties", lambda a: F.adaptive_max_pool2d(a, 1), lambda a: TF.adaptive_max_pool2d(a, 1), [[[[1.0, 1.0], [1.0, 1.0]]]])
run("avgpool", lambda a: F.avg_pool2d(a, 2), lambda a: TF.avg_pool2d(a, 2), [[[[1.0, 1.0], [1.0, 1.0]]]])
run("softmax const", lambda a: F.softmax(a, 0) * dlcore.tensor([1.0,2.0], dtype="float64"), lambda a: TF.softmax(a, 0) * torch.tensor([1.0, 2.0]), [1.0, 1.0])
run("sin/cos", lambda a: dlcore.sin(a) + dlcore.cos(a), lambda a: torch.sin(a) + torch.cos(a), [0.0])
run("expm1", dlcore.expm1, torch.expm1, [0.0, 800.0])
run("sign", lambda a: dlcore.sign(a) * a, lambda a: torch.sign(a) * a, [0.0, 1.0])
run("where", lambda a: dlcore.where(a > 0, a, dlcore.zeros(2, dtype="float64")), lambda a: torch.where(a > 0, a, torch.zeros(2)), [0.0, 1.0])
run("emb", lambda w: F.embedding(dlcore.tensor([0, 0]), w), lambda w: TF.embedding(torch.tensor([0, 0]), w), [[1.0], [2.0]])
run("linear", lambda x, w: F.linear(x, w), lambda x, w: TF.linear(x, w), [[0.0, 0.0]], [[0.0, 0.0]])
run("relu linear fused", lambda x, w: F.linear(x, w, relu=True), lambda x, w: TF.relu(TF.linear(x, w)), [[0.0, 0.0]], [[0.0, 0.0]])
run("norm2 zero", lambda a: dlcore.norm(a), lambda a: torch.linalg.vector_norm(a), Z)
run("norm1 zero", lambda a: dlcore.norm(a, 1), lambda a: torch.linalg.vector_norm(a, 1), [0.0, 1.0, -1.0])
run("norm3 zero", lambda a: dlcore.norm(a, 3), lambda a: torch.linalg.vector_norm(a, 3), Z)
run("norm3", lambda a: dlcore.norm(a, 3, dim=1), lambda a: torch.linalg.vector_norm(a, 3, dim=1), [[1.0, -2.0], [0.0, 0.0]])
run("norm inf ties", lambda a: dlcore.norm(a, math.inf), lambda a: torch.linalg.vector_norm(a, math.inf), [1.0, -1.0, 0.5])
run("norm inf zero", lambda a: dlcore.norm(a, math.inf), lambda a: torch.linalg.vector_norm(a, math.inf), Z)


@pytest.mark.parametrize("fd,ft,inputs", CASES)
def test_backward_equals_pytorch_at_singular_points(fd, ft, inputs):
    d_in = [dlcore.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in inputs]
    t_in = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in inputs]
    yd = fd(*d_in)
    yd = yd.sum() if yd.ndim else yd
    yd.backward()
    yt = ft(*t_in)
    yt = yt.sum() if yt.ndim else yt
    yt.backward()
    np.testing.assert_allclose(yd.item(), yt.item(), rtol=1e-6, atol=1e-8, equal_nan=True)
    for i, (a, b) in enumerate(zip(d_in, t_in)):
        ga = a.grad.numpy() if a.grad is not None else np.zeros(a.shape)
        gb = b.grad.numpy() if b.grad is not None else np.zeros(tuple(b.shape))
        np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-7, equal_nan=True, err_msg=f"input {i}")
