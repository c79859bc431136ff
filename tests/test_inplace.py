"""In-place ops inside a recorded graph, against PyTorch's autograd on the same float64 inputs:
in-place ops on non-leaf tensors and on views of them (add_, mul_, relu_, exp_, clamp_,
masked_fill_, setitem with slices and boolean masks, copy_, zero_), on tensors that did not
require grad written from ones that do (``buf[:, 0] = x``), the version-counter error where a
backward's saved value was changed (in the same situations as PyTorch), the refusal of leaves
that require grad, and inplace=True activations and dropout in a training step."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from conftest import HAVE_TORCH, requires_torch
from gradcheck import gradcheck

if HAVE_TORCH:
    import torch


def _rng(seed):
    return np.random.default_rng(seed)


def _compare(fn, *arrays, seed=0):
    """fn(lib, *tensors) run on dlcore and on torch from the same float64 leaves; the outputs
    and the leaves' gradients of sum(out * w) must agree."""
    d = [dlcore.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_d, out_t = fn(dlcore, *d), fn(torch, *t)
    np.testing.assert_allclose(out_d.detach().numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    w = _rng(seed + 100).normal(size=tuple(out_t.shape))
    (out_d * dlcore.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(d, t)):
        want = b.grad.numpy() if b.grad is not None else np.zeros(b.shape)
        got = a.grad.numpy() if a.grad is not None else np.zeros(a.shape)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=f"gradient of input {i}")


def _xy(seed=0, shape=(4, 3)):
    r = _rng(seed)
    return r.normal(size=shape), r.normal(size=shape)


def f_add(lib, x, y):
    h = x * 2.0
    h.add_(y, alpha=0.5)
    return h * h


def f_sub_div(lib, x, y):
    h = x + 1.0
    h.sub_(y).div_(y * y + 1.0)
    return h * x


def f_mul_both(lib, x, y):  # mul_ by a tensor that requires grad: its gradient needs h's old value
    h = x * 1.5
    h.mul_(y)
    return h * x


def f_relu(lib, x, y):
    h = x - 0.3
    h.relu_()
    return h * y


def f_exp(lib, x, y):
    h = x * y
    h.exp_()
    return h + x


def f_clamp(lib, x, y):
    h = x * 3.0
    h.clamp_(-1.0, 1.0)
    return h * y


def f_masked_fill(lib, x, y):
    h = x * y
    h.masked_fill_(x > 0, 0.5)
    return h * x


def f_setitem_slices(lib, x, y):
    h = x * 2.0
    h[:, 0] = y[:, 1]
    h[1:, 1:] += y[1:, :2] * 3.0
    h[::2, 2] *= x[::2, 0]
    h[0] = 7.0
    return h * y


def f_setitem_mask(lib, x, y):
    h = x * y
    h[x > 0] = 0.0
    h[y < 0] = x[y < 0] * 2.0
    return h * x


def f_setitem_index(lib, x, y):
    h = x + y
    h[lib.tensor([2, 0])] = y[:2] * 5.0
    h[:, lib.tensor([1])] = x[:, :1]
    return h * h


def f_buffer(lib, x, y):  # a plain buffer written from tensors that require grad
    buf = lib.zeros(4, 3, dtype=lib.float64)
    buf[:, 0] = x[:, 0]
    buf[1:3] = y[1:3] * x[1:3]
    col = buf[:, 2]
    col.copy_(y.sum(1))
    return buf * x


def f_view_mul(lib, x, y):  # in place through a view, the base used afterwards
    h = x * 2.0
    v = h[:, 1]
    v.mul_(y[:, 0])
    return h * y


def f_view_chain(lib, x, y):  # views of views (reshape, transpose, slices) written in place
    h = x + y
    h.view(-1)[::2].clamp_(-0.5, 0.5)
    h.t()[1].add_(x[:, 2])
    v = h[1:3]
    v.exp_()
    return h * 1.0 + v.sum()


def f_view_used_after(lib, x, y):  # the view itself used after its write
    h = x * y
    v = h[0]
    v.sub_(1.0).relu_()
    return h.sum(0) + v * 2.0


def f_index_scatter_add(lib, x, y):
    h = x * 2.0
    h.index_add_(0, lib.tensor([1, 3, 1]), y[:3] * x[1:], alpha=0.5)
    h.scatter_add_(1, lib.tensor([[0, 2], [1, 1], [2, 0], [0, 0]]), y[:, :2])
    return h * h


def f_strided_relu(lib, x, y):  # an in-place op whose saved output cannot live in t's layout
    h = (x * y).t()
    h.relu_()
    return h * 2.0


def f_copy_leaf(lib, x, y):  # copy_ / assignment of a leaf itself: its gradient, zeros for the old value
    h = x * y
    h.copy_(y)
    buf = lib.zeros(4, 3, dtype=lib.float64)
    buf[1] = x[0]
    buf.copy_(x)
    return h * buf


def f_views_regenerated(lib, x, y):  # views made before a write see the new value (and its history)
    h = x * 2.0
    v = h[0]
    u = h[:, 1]
    h.mul_(y)
    u.add_(1.0)  # a write through another view
    return v * 3.0 + h[1] + u[:3]


def f_augmented(lib, x, y):  # +=, -=, *=, /= write in place, as PyTorch's
    h = x * 1.0
    h += y
    h[1:] *= y[:-1]
    h -= 1.0
    h /= y * y + 2.0
    return h * x


def f_zero_fill(lib, x, y):
    h = x * y
    g = h * 1.0
    g[0].zero_()
    g[1].fill_(3.0)
    return g + h


def f_inplace_then_inplace(lib, x, y):
    h = x * 1.0
    h.add_(y).mul_(y).clamp_(-1.0, 1.0).add_(x)
    return h * h


@requires_torch
@pytest.mark.parametrize("fn", [f_add, f_sub_div, f_mul_both, f_relu, f_exp, f_clamp, f_masked_fill,
                                f_setitem_slices, f_setitem_mask, f_setitem_index, f_buffer, f_view_mul,
                                f_view_chain, f_view_used_after, f_views_regenerated, f_copy_leaf, f_augmented,
                                f_index_scatter_add, f_strided_relu, f_zero_fill, f_inplace_then_inplace],
                         ids=lambda f: f.__name__[2:])
def test_inplace_gradients_match_torch(fn):
    _compare(fn, *_xy())


def test_views_of_any_layout_against_central_differences():
    """Writes through views with negative steps, transposes and reshapes of a non-contiguous
    base (layouts PyTorch's slicing does not make): gradients against float64 differences."""
    def fn(x, y):
        h = (x * y).t()[::-1]  # a view: its base is x * y
        h[::2, ::-1].mul_(y.t()[::2, :]).exp_()
        b = x.t() + 0.0
        c = b.t()  # a transposed view of it
        c[1:3, ::-2].clamp_(-0.3, 0.3)
        b.reshape(-1)[::5] = y.reshape(-1)[:3] * 2.0  # reshape of a contiguous tensor: a view
        return h.sum(0) * 2.0 + b.sum(0) + c.sum(1)

    r = _rng(4)
    gradcheck(fn, [r.normal(size=(4, 3)), r.normal(size=(4, 3))])


def test_inplace_rebases_history_but_earlier_consumers_keep_theirs():
    x = dlcore.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2.0
    before = h + 1.0  # made before the write: its gradient goes to the old h
    old_fn = h.grad_fn
    h.mul_(3.0)
    assert h.grad_fn is not old_fn and not h.is_leaf and h.requires_grad
    (before.sum() + h.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 6.0] * 3)
    assert h.tolist() == [6.0, -12.0, 18.0]


def test_a_replaced_base_is_no_base():
    x = dlcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2.0
    v = h[1:]
    h.data = dlcore.zeros(3)  # v no longer views h's memory
    v.mul_(3.0)
    v.sum().backward()
    assert h.tolist() == [0.0, 0.0, 0.0] and x.grad.tolist() == [0.0, 6.0, 6.0]


def test_version_counter_bumped():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    v0 = h._data.version
    h.add_(1.0)
    h[0] = 5.0
    assert h._data.version >= v0 + 2


def _raises_like_torch(fn, x, y):
    t = [torch.tensor(a, requires_grad=True) for a in (x, y)]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        fn(torch, *t).sum().backward()
    d = [dlcore.tensor(a, requires_grad=True) for a in (x, y)]
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        fn(dlcore, *d).sum().backward()


def e_saved_output(lib, x, y):  # exp saved its output; mul_ changes it
    h = x.exp()
    h.mul_(2.0)
    return h


def e_saved_input(lib, x, y):  # x * h saved h; h changes afterwards
    h = x * 1.0
    z = y * h
    h.add_(1.0)
    return z + h


def e_relu_then_change(lib, x, y):  # relu_ saves its output, which is h: a later change of h
    h = x * 1.0
    h.relu_()
    h.mul_(y)
    return h


def e_setitem_saved(lib, x, y):  # sigmoid saved its output, a slice of it is then overwritten
    h = x.sigmoid()
    h[:, 0] = 0.0
    return h


def e_view_write_saved(lib, x, y):  # the base was saved; the write goes through a view
    h = x * 1.0
    z = h * y
    h[1].exp_()
    return z


@requires_torch
@pytest.mark.parametrize("fn", [e_saved_output, e_saved_input, e_relu_then_change, e_setitem_saved,
                                e_view_write_saved], ids=lambda f: f.__name__[2:])
def test_modified_saved_value_raises_like_torch(fn):
    _raises_like_torch(fn, *_xy(1))


def test_leaf_requiring_grad_refused():
    w = dlcore.ones(3, requires_grad=True)
    for op, call in [("add_", lambda: w.add_(1.0)), ("relu_", lambda: w.relu_()),
                     ("__setitem__", lambda: w.__setitem__(0, 2.0)), ("mul_", lambda: w[1:].mul_(2.0)),
                     ("copy_", lambda: w.copy_(dlcore.zeros(3, requires_grad=True) * 2.0)),
                     ("relu(inplace=True)", lambda: F.relu(w, inplace=True))]:
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad .*in-place operation"):
            call()
    with pytest.raises(RuntimeError, match=r"mul_: a view of a leaf tensor"):
        w[1:].mul_(2.0)
    assert w.tolist() == [1.0, 1.0, 1.0]
    with dlcore.no_grad():  # an optimizer's update
        w.add_(1.0)
        w[0] = 5.0
    assert w.tolist() == [5.0, 2.0, 2.0] and w.is_leaf and w.requires_grad
    # overwriting a leaf with a constant stays allowed outside no_grad (initializers, weight
    # loading: dlcore's behaviour before in-place ops were recorded; PyTorch asks for no_grad)
    w.zero_()
    w[1:].fill_(4.0)
    w.copy_(dlcore.tensor([1.0, 2.0, 3.0]))
    assert w.tolist() == [1.0, 2.0, 3.0] and w.is_leaf and w.grad_fn is None


def test_no_grad_writes_stay_out_of_the_graph():
    x = dlcore.tensor([1.0, -1.0], requires_grad=True)
    h = x * 2.0
    node = h.grad_fn
    with dlcore.no_grad():
        h.relu_()
    assert h.grad_fn is node and h.tolist() == [2.0, 0.0]
    buf = dlcore.zeros(2)
    buf.add_(dlcore.ones(2))
    assert buf.is_leaf and not buf.requires_grad


@requires_torch
def test_inplace_relu_model_training_step_matches_torch():
    r = _rng(5)
    x, target = r.normal(size=(10, 6)), r.normal(size=(10, 3))

    class Net:
        def __init__(self, lib, nn):
            self.lib = lib
            self.l1, self.l2, self.l3 = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)

        def params(self):
            return [p for m in (self.l1, self.l2, self.l3) for p in (m.weight, m.bias)]

        def __call__(self, x, F):
            h = self.l1(x)
            F.relu(h, inplace=True)  # the result is h itself
            h = self.l2(h)
            h[:, :2] = h[:, :2] * 0.5
            h = F.relu(h, inplace=True)
            return self.l3(h)

    tn = Net(torch, torch.nn)
    for m in (tn.l1, tn.l2, tn.l3):
        m.double()
    dn = Net(dlcore, dlcore.nn)
    for m in (dn.l1, dn.l2, dn.l3):
        m.double()
    with dlcore.no_grad():
        for pd, pt in zip(dn.params(), tn.params()):
            pd.copy_(dlcore.tensor(pt.detach().numpy()))
    od = dlcore.optim.SGD(dn.params(), lr=0.1, momentum=0.9)
    ot = torch.optim.SGD(tn.params(), lr=0.1, momentum=0.9)
    for _ in range(3):
        for net, opt, lib, fn in ((dn, od, dlcore, F), (tn, ot, torch, torch.nn.functional)):
            opt.zero_grad()
            loss = ((net(lib.tensor(x), fn) - lib.tensor(target)) ** 2).mean()
            loss.backward()
            opt.step()
    for pd, pt in zip(dn.params(), tn.params()):
        np.testing.assert_allclose(pd.detach().numpy(), pt.detach().numpy(), rtol=1e-10, atol=1e-12)


@requires_torch
def test_inplace_modules_same_gradients_as_out_of_place():
    """nn.ReLU(inplace=True) / nn.Dropout(inplace=True) in training give the gradients of the
    out-of-place modules (the same dropout mask: same seed) and match PyTorch where the mask does
    not matter (p=0 dropout)."""
    r = _rng(9)
    x = r.normal(size=(16, 6))
    grads = []
    for inplace in (False, True):
        dlcore.manual_seed(3)
        net = dlcore.nn.Sequential(dlcore.nn.Linear(6, 8), dlcore.nn.ReLU(inplace=inplace), dlcore.nn.Linear(8, 8),
                                   dlcore.nn.Dropout(0.4, inplace=inplace), dlcore.nn.Linear(8, 2))
        net.double().train()
        net(dlcore.tensor(x)).square().sum().backward()
        grads.append([p.grad.numpy().copy() for p in net.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)

    tnet = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(inplace=True), torch.nn.Linear(8, 8),
                               torch.nn.Dropout(0.0, inplace=True), torch.nn.Linear(8, 2)).double()
    dnet = dlcore.nn.Sequential(dlcore.nn.Linear(6, 8), dlcore.nn.ReLU(inplace=True), dlcore.nn.Linear(8, 8),
                                dlcore.nn.Dropout(0.0, inplace=True), dlcore.nn.Linear(8, 2)).double()
    with dlcore.no_grad():
        for pd, pt in zip(dnet.parameters(), tnet.parameters()):
            pd.copy_(dlcore.tensor(pt.detach().numpy()))
    dnet(dlcore.tensor(x)).square().sum().backward()
    tnet(torch.tensor(x)).square().sum().backward()
    for pd, pt in zip(dnet.parameters(), tnet.parameters()):
        np.testing.assert_allclose(pd.grad.numpy(), pt.grad.numpy(), rtol=1e-12, atol=1e-14)


@requires_torch
def test_inplace_dropout_over_inplace_relu_raises_like_torch():
    """ReLU(inplace=True) saves its output; a Dropout(inplace=True) right after overwrites it:
    PyTorch's backward raises, and so does dlcore's."""
    x = _rng(2).normal(size=(16, 6))
    for lib, nn in ((torch, torch.nn), (dlcore, dlcore.nn)):
        net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(inplace=True), nn.Dropout(0.4, inplace=True),
                            nn.Linear(8, 2)).double()
        with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
            net(lib.tensor(x)).square().sum().backward()


@requires_torch
def test_inplace_dropout_mask_matches_torch_given_the_mask():
    """Dropout(inplace=True) in a training step against torch with dlcore's mask applied as a
    product (the two libraries draw different masks)."""
    r = _rng(11)
    x = r.normal(size=(12, 5))
    w = r.normal(size=(5, 4))
    dlcore.manual_seed(1)
    xd, wd = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    h = xd @ wd
    out = F.dropout(h, 0.5, training=True, inplace=True)
    assert out is h
    keep = (h.detach().numpy() != 0)
    (h * h).sum().backward()
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ht = (xt @ wt) * torch.tensor(keep / 0.5)
    (ht * ht).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(wd.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_bad_shapes_name_the_op():
    h = dlcore.ones(4, 3, requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"__setitem__: a value of shape \(2,\) cannot be written into a tensor "
                                         r"of shape \(3,\)"):
        h[0] = dlcore.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"add_: a value of shape \(2, 4, 3\) cannot be written"):
        h.add_(dlcore.ones(2, 4, 3))
    h[1] = dlcore.ones(1, 1, 3)  # leading 1s dropped, as NumPy and PyTorch
    assert h.tolist()[1] == [1.0, 1.0, 1.0]
