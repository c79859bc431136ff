"""Test-only stand-ins for modules other op families provide (cross-entropy, dropout, Adam,
softmax). Installed by the training tests ONLY when dlcore lacks the real ones, so the same
tests exercise the real implementations once they are merged."""
import numpy as np

import dlcore
from dlcore import nn, optim
from dlcore.nn.module import Module
from dlcore.optim.optimizer import Optimizer


def _log_softmax(x, dim=-1):
    m = x.max(dim=dim, keepdim=True).detach()
    z = x - m
    return z - dlcore.log(dlcore.exp(z).sum(dim, keepdim=True))


def _softmax(x, dim=-1):
    return dlcore.exp(_log_softmax(x, dim))


class CrossEntropyLoss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, x, t):
        per = -_log_softmax(x, 1).gather(1, t.reshape(-1, 1)).reshape(-1)
        return per.mean() if self.reduction == "mean" else per.sum() if self.reduction == "sum" else per


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = p, inplace

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (dlcore.rand(*x.shape, dtype=x.dtype) >= self.p).type(x.dtype)
        return x * keep * (1.0 / (1.0 - self.p))


class Adam(Optimizer):
    """torch.optim.Adam's formulas (NumPy math: test-only)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        for g in self.param_groups:
            b1, b2 = g["betas"]
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad._data
                if g["weight_decay"]:
                    d = d + g["weight_decay"] * p._data
                st = self.state.setdefault(id(p), {})
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = np.zeros_like(p._data)
                    st["exp_avg_sq"] = np.zeros_like(p._data)
                st["step"] += 1
                t = st["step"]
                st["exp_avg"][...] = b1 * st["exp_avg"] + (1 - b1) * d
                st["exp_avg_sq"][...] = b2 * st["exp_avg_sq"] + (1 - b2) * d * d
                mhat = st["exp_avg"] / (1 - b1 ** t)
                vhat = st["exp_avg_sq"] / (1 - b2 ** t)
                p._data[...] = p._data - g["lr"] * mhat / (np.sqrt(vhat) + g["eps"])


def install(monkeypatch):
    """Adds the stand-ins to dlcore.nn / dlcore.optim / dlcore.functional where missing."""
    for ns, name, obj in ((nn, "CrossEntropyLoss", CrossEntropyLoss), (nn, "Dropout", Dropout),
                          (optim, "Adam", Adam), (dlcore.functional, "log_softmax", _log_softmax),
                          (dlcore.functional, "softmax", _softmax)):
        if getattr(ns, name, None) is None:
            monkeypatch.setattr(ns, name, obj, raising=False)
