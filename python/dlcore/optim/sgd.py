"""SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD's formulas)."""
import numpy as np

from .. import _C
from .optimizer import Optimizer

_B = _C.Binary


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for g in self.param_groups:
            lr, mom, damp, wd, nest = g["lr"], g["momentum"], g["dampening"], g["weight_decay"], g["nesterov"]
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad._data
                if wd:
                    d = _C.binary(_B.add, d, _C.unary(_C.Unary.mul_scalar, p._data, wd, 0.0))
                if mom:
                    st = self.state.setdefault(id(p), {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = np.array(d, copy=True)
                    else:
                        _C.unary(_C.Unary.mul_scalar, buf, mom, 0.0, out=buf)
                        _C.binary(_B.add, buf, _C.unary(_C.Unary.mul_scalar, d, 1.0 - damp, 0.0), out=buf)
                    d = _C.binary(_B.add, d, _C.unary(_C.Unary.mul_scalar, buf, mom, 0.0)) if nest else buf
                _C.binary(_B.sub, p._data, _C.unary(_C.Unary.mul_scalar, d, lr, 0.0), out=p._data)
        return loss
