"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; not in torch.optim):
c = beta1 m + (1 - beta1) g; p = p (1 - lr wd) - lr sign(c); m = beta2 m + (1 - beta2) g.
Use a learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger."""
from .adam import _check_adam
from .optimizer import FusedOptimizer

__all__ = ["Lion"]


class Lion(FusedOptimizer):
    _kind = "lion"

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False):
        _check_adam("Lion", lr, betas, 0.0, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay, maximize=maximize))

    def _slots(self, g):
        return ["exp_avg", None, None]

    def _options(self, g):
        return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], weight_decay=g["weight_decay"],
                    maximize=g["maximize"])
