"""Adamax (torch.optim.Adamax): m = lerp(m, g, 1 - beta1); u = max(beta2 u, |g| + eps);
p -= lr / (1 - beta1^t) * m / u."""
from .adam import _check_adam
from .optimizer import FusedOptimizer

__all__ = ["Adamax"]


class Adamax(FusedOptimizer):
    _kind = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        _check_adam("Adamax", lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _slots(self, g):
        return ["exp_avg", "exp_inf", None]

    def _options(self, g):
        return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=g["eps"],
                    weight_decay=g["weight_decay"], maximize=g["maximize"])
