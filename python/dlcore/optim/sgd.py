"""SGD with momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD):
g = grad (+ weight_decay * p); buf = momentum * buf + (1 - dampening) * g (buf = g on the first
step); g = g + momentum * buf if nesterov else buf; p -= lr * g."""
from .optimizer import FusedOptimizer, _check

__all__ = ["SGD"]


class SGD(FusedOptimizer):
    _kind = "sgd"
    _counts_steps = False

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 *, maximize=False):
        _check("SGD", lr >= 0, f"invalid learning rate {lr}")
        _check("SGD", momentum >= 0, f"invalid momentum {momentum}")
        _check("SGD", weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _slots(self, g):
        return ["momentum_buffer" if g["momentum"] != 0 else None]

    def _options(self, g):
        return {k: g[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")}

    def _state_for(self, p, group, slots):
        st = self.state.setdefault(id(p), {})
        # torch's first step copies the gradient into a new buffer: the kernel does it when
        # told this is step 1 (the buffer's contents are then ignored).
        st["_first"] = slots[0] is not None and "momentum_buffer" not in st
        return super()._state_for(p, group, slots)

    def _steps(self, states):
        return [1.0 if st.pop("_first", False) else 2.0 for st in states]
