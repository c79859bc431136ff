"""NAdam (torch.optim.NAdam, Dozat 2016 with momentum_decay):
mu_t = beta1 (1 - 0.5 * 0.96^(t psi)); mu_product *= mu_t; m, v as Adam;
denom = sqrt(v / (1 - beta2^t)) + eps;
p -= lr (1 - mu_t) / (1 - mu_product) g / denom + lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / denom."""
from .adam import _check_adam
from .optimizer import FusedOptimizer, _check

__all__ = ["NAdam"]


class NAdam(FusedOptimizer):
    _kind = "nadam"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        _check_adam("NAdam", lr, betas, eps, weight_decay)
        _check("NAdam", momentum_decay >= 0, f"invalid momentum_decay {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _slots(self, g):
        return ["exp_avg", "exp_avg_sq", None]

    def _init_scalars(self, st, g):
        st["mu_product"] = 1.0

    def _extras(self, states):
        return [float(st["mu_product"]) for st in states]

    def _store_extras(self, states, extras):
        for st, e in zip(states, extras):
            st["mu_product"] = e

    def _options(self, g):
        return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=g["eps"],
                    weight_decay=g["weight_decay"], momentum_decay=g["momentum_decay"],
                    decoupled_weight_decay=g["decoupled_weight_decay"], maximize=g["maximize"])
