"""RMSprop (torch.optim.RMSprop): v = alpha v + (1 - alpha) g^2; centered: gavg = lerp(gavg, g,
1 - alpha), avg = sqrt(v - gavg^2) + eps, else sqrt(v) + eps; momentum: buf = momentum buf +
g / avg, p -= lr buf; else p -= lr g / avg."""
from .optimizer import FusedOptimizer, _check

__all__ = ["RMSprop"]


class RMSprop(FusedOptimizer):
    _kind = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        _check("RMSprop", lr >= 0, f"invalid learning rate {lr}")
        _check("RMSprop", eps >= 0, f"invalid epsilon {eps}")
        _check("RMSprop", momentum >= 0, f"invalid momentum {momentum}")
        _check("RMSprop", weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        _check("RMSprop", alpha >= 0, f"invalid alpha {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _slots(self, g):
        return ["square_avg", "grad_avg" if g["centered"] else None,
                "momentum_buffer" if g["momentum"] > 0 else None]

    def _options(self, g):
        return {k: g[k] for k in ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")}
