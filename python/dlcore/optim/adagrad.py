"""Adagrad (torch.optim.Adagrad): clr = lr / (1 + (step - 1) lr_decay); sum += g^2;
p -= clr * g / (sqrt(sum) + eps)."""
from .optimizer import FusedOptimizer, _check

__all__ = ["Adagrad"]


class Adagrad(FusedOptimizer):
    _kind = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False):
        _check("Adagrad", lr >= 0, f"invalid learning rate {lr}")
        _check("Adagrad", lr_decay >= 0, f"invalid lr_decay {lr_decay}")
        _check("Adagrad", weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        _check("Adagrad", initial_accumulator_value >= 0,
               f"invalid initial_accumulator_value {initial_accumulator_value}")
        _check("Adagrad", eps >= 0, f"invalid epsilon {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _slots(self, g):
        return ["sum"]

    def _initial_value(self, name, g):
        return g["initial_accumulator_value"]

    def _options(self, g):
        return {k: g[k] for k in ("lr", "lr_decay", "weight_decay", "eps", "maximize")}
