"""Adadelta (torch.optim.Adadelta): v = rho v + (1 - rho) g^2; delta = sqrt(u + eps) /
sqrt(v + eps) * g; u = rho u + (1 - rho) delta^2; p -= lr delta."""
from .optimizer import FusedOptimizer, _check

__all__ = ["Adadelta"]


class Adadelta(FusedOptimizer):
    _kind = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        _check("Adadelta", lr >= 0, f"invalid learning rate {lr}")
        _check("Adadelta", 0 <= rho <= 1, f"invalid rho {rho}")
        _check("Adadelta", eps >= 0, f"invalid epsilon {eps}")
        _check("Adadelta", weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _slots(self, g):
        return ["square_avg", "acc_delta", None]

    def _options(self, g):
        return {k: g[k] for k in ("lr", "rho", "eps", "weight_decay", "maximize")}
