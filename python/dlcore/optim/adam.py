"""Adam (torch.optim.Adam, amsgrad and decoupled_weight_decay included):
m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2; (amsgrad: vmax = max(vmax, v));
p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
eps_hat=True (a dlcore option; Keras's and TensorFlow's Adam): eps is the paper's epsilon-hat,
added to sqrt(v) before the bias correction, p -= lr sqrt(1 - beta2^t) / (1 - beta1^t) * m /
(sqrt(v) + eps): the update above with eps / sqrt(1 - beta2^t) at step t."""
import math

from .optimizer import FusedOptimizer, _check

__all__ = ["Adam"]


def _check_adam(name, lr, betas, eps, weight_decay):
    _check(name, lr >= 0, f"invalid learning rate {lr}")
    _check(name, eps >= 0, f"invalid epsilon {eps}")
    _check(name, 0 <= betas[0] < 1, f"invalid beta parameter at index 0: {betas[0]}")
    _check(name, 0 <= betas[1] < 1, f"invalid beta parameter at index 1: {betas[1]}")
    _check(name, weight_decay >= 0, f"invalid weight_decay {weight_decay}")


class Adam(FusedOptimizer):
    _kind = "adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, maximize=False, decoupled_weight_decay=False, eps_hat=False):
        _check_adam(type(self).__name__, lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay, eps_hat=bool(eps_hat)))

    def _slots(self, g):
        return ["exp_avg", "exp_avg_sq", "max_exp_avg_sq" if g["amsgrad"] else None]

    def _options(self, g):
        eps = g["eps"]
        if g.get("eps_hat"):  # the group's next step, as Keras's one iteration counter
            t = 1.0 + max((self.state[id(p)]["step"] for p in g["params"] if id(p) in self.state), default=0.0)
            eps = eps / math.sqrt(1.0 - g["betas"][1] ** t)
        return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=eps,
                    weight_decay=g["weight_decay"], amsgrad=g["amsgrad"], maximize=g["maximize"],
                    decoupled_weight_decay=g["decoupled_weight_decay"])
