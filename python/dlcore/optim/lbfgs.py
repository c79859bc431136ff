"""L-BFGS (torch.optim.LBFGS's names, defaults and closure API).

Each ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations over all parameters seen
as one flat vector x:

- direction: d = -H g, with H the limited-memory inverse-Hessian estimate built from the last
  ``history_size`` pairs (s = x_new - x_old, y = g_new - g_old) by the two-loop recursion, and
  scaled by gamma = s.y / y.y of the newest pair; a pair is kept only when s.y > 1e-10 (the
  curvature condition: H stays positive definite);
- step length: without a line search, t = lr (on the very first iteration t = lr * min(1, 1/|g|_1),
  since the first direction is the raw gradient); with ``line_search_fn="strong_wolfe"`` that t is
  the first trial of a line search that brackets a step satisfying the strong Wolfe conditions
  (sufficient decrease c1 = 1e-4, curvature c2 = 0.9) and narrows it by safeguarded cubic
  interpolation (Nocedal & Wright, Numerical Optimization, algorithms 3.5 and 3.6);
- stops when the gradient's largest entry is <= tolerance_grad, the step's largest entry or the
  change of the loss is < tolerance_change, or after max_iter iterations / max_eval closure
  calls (default max_iter * 5 // 4).

The state (direction, step, history, counters) carries over between step() calls, so calling
step once with max_iter=20 or twenty times with max_iter=1 differs only in the first-iteration
rule. The vectors are dlcore tensors; the scalars (dot products, losses) are Python floats.
"""
from __future__ import annotations

import math

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor, cat, zeros
from .optimizer import Optimizer, _check

__all__ = ["LBFGS"]


def _dot(a, b):
    return float((a * b).sum().item())


def _absmax(a):
    return float(abs(a).amax().item()) if a.numel() else 0.0


def _cubic_min(x1, f1, g1, x2, f2, g2, lo=None, hi=None):
    """The minimiser, clamped into [lo, hi] (default: between x1 and x2), of the cubic that
    matches f and f' at x1 and x2; the interval's midpoint when that cubic has no minimum."""
    if lo is None:
        lo, hi = min(x1, x2), max(x1, x2)
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f0, g0, gtd0, tolerance_change, c1=1e-4, c2=0.9, max_ls=25):
    """Line search along d from the point where the loss is f0 and the gradient g0 (slope gtd0
    < 0). evaluate(t) -> (loss, flat gradient) at x + t d. Returns (loss, gradient, t, number of
    evaluations) at the accepted step."""
    d_max = _absmax(d)
    f, g = evaluate(t)
    evals, it = 1, 0
    gtd = _dot(g, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f0, g0, gtd0
    done = False
    # bracketing: grow t until [t_prev, t] must hold an acceptable step
    while it < max_ls:
        if f > f0 + c1 * t * gtd0 or (it > 1 and f >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f], [g_prev, g], [gtd_prev, gtd]
            break
        if abs(gtd) <= -c2 * gtd0:
            br, br_f, br_g, br_gtd = [t], [f], [g], [gtd]
            done = True
            break
        if gtd >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f], [g_prev, g], [gtd_prev, gtd]
            break
        nxt = _cubic_min(t_prev, f_prev, gtd_prev, t, f, gtd, t + 0.01 * (t - t_prev), 10.0 * t)
        t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
        t = nxt
        f, g = evaluate(t)
        evals += 1
        gtd = _dot(g, d)
        it += 1
    if it == max_ls:
        br, br_f, br_g, br_gtd = [0.0, t], [f0, f], [g0, g], [gtd0, gtd]
    # zoom: shrink the bracket around the best point (lo) until the curvature condition holds
    lo, hi = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    stalled = False
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_max < tolerance_change:
            break
        t = _cubic_min(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        # keep the trial away from the bracket's ends (where progress would be slow)
        a, b = min(br), max(br)
        margin = 0.1 * (b - a)
        if min(b - t, t - a) < margin:
            if stalled or t >= b or t <= a:
                t = b - margin if abs(t - b) < abs(t - a) else a + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f, g = evaluate(t)
        evals += 1
        gtd = _dot(g, d)
        it += 1
        if f > f0 + c1 * t * gtd0 or f >= br_f[lo]:
            br[hi], br_f[hi], br_g[hi], br_gtd[hi] = t, f, g, gtd
            lo, hi = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd) <= -c2 * gtd0:
                done = True
            elif gtd * (br[hi] - br[lo]) >= 0:
                br[hi], br_f[hi], br_g[hi], br_gtd[hi] = br[lo], br_f[lo], br_g[lo], br_gtd[lo]
            br[lo], br_f[lo], br_g[lo], br_gtd[lo] = t, f, g, gtd
    return br_f[lo], br_g[lo], br[lo], evals


class LBFGS(Optimizer):
    """Limited-memory BFGS over all parameters as one vector (one parameter group); ``step``
    needs a closure that clears the gradients, computes the loss, calls backward and returns
    the loss. See the module docstring for the algorithm."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        _check("LBFGS", lr > 0, f"invalid learning rate {lr}")
        _check("LBFGS", isinstance(max_iter, int) and max_iter >= 1, f"max_iter must be a positive int, got {max_iter!r}")
        _check("LBFGS", isinstance(history_size, int) and history_size >= 1,
               f"history_size must be a positive int, got {history_size!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        _check("LBFGS", isinstance(max_eval, int) and max_eval >= 1, f"max_eval must be a positive int, got {max_eval!r}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: only one parameter group is supported (as in PyTorch)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ----
    def _flat_grad(self):
        return cat([p.grad.detach().reshape(-1) if p.grad is not None
                    else zeros(p.numel(), dtype=p.dtype, device=p.device) for p in self._params])

    def _add(self, t, d):
        """x += t * d, in place on the parameters."""
        pos = 0
        with no_grad():
            for p in self._params:
                n = p.numel()
                p.add_(d[pos:pos + n].reshape(p.shape), alpha=t)
                pos += n

    def _snapshot(self):
        return [p.detach().clone() for p in self._params]

    def _restore(self, xs):
        with no_grad():
            for p, x in zip(self._params, xs):
                p.copy_(x)

    def step(self, closure):
        """Runs up to max_iter iterations; returns the loss closure() gave at the start."""
        if closure is None:
            raise TypeError("LBFGS.step: a closure is required (it recomputes the loss and its gradients)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]

        def evaluate():
            with enable_grad():
                loss = closure()
            return loss

        st = self.state.setdefault(id(self._params[0]), {"func_evals": 0, "n_iter": 0})
        first = evaluate()
        loss = float(first)
        evals = 1
        st["func_evals"] += 1
        g = self._flat_grad()
        if _absmax(g) <= tol_grad:
            return first
        d, t = st.get("d"), st.get("t")
        dirs, steps, rho = st.get("old_dirs", []), st.get("old_stps", []), st.get("ro", [])
        h_diag = st.get("H_diag", 1.0)
        g_prev, loss_prev = st.get("prev_flat_grad"), st.get("prev_loss")
        n = 0
        while n < max_iter:
            n += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d = -g
                dirs, steps, rho, h_diag = [], [], [], 1.0
            else:
                y = g - g_prev
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(dirs) == history_size:
                        dirs.pop(0), steps.pop(0), rho.pop(0)
                    dirs.append(y)
                    steps.append(s)
                    rho.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                # two-loop recursion: d = -H g
                q = -g
                alpha = [0.0] * len(dirs)
                for i in range(len(dirs) - 1, -1, -1):
                    alpha[i] = _dot(steps[i], q) * rho[i]
                    q = q - dirs[i] * alpha[i]
                d = q * h_diag
                for i in range(len(dirs)):
                    beta = _dot(dirs[i], d) * rho[i]
                    d = d + steps[i] * (alpha[i] - beta)
            g_prev, loss_prev = g, loss
            t = min(1.0, 1.0 / float(abs(g).sum().item())) * lr if st["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tol_change:  # not a descent direction (any more)
                break
            ls_evals = 0
            if line_search == "strong_wolfe":
                x0 = self._snapshot()

                def at(step, x0=x0, d=d):
                    self._add(step, d)
                    f = float(evaluate())
                    gr = self._flat_grad()
                    self._restore(x0)
                    return f, gr
                loss, g, t, ls_evals = _strong_wolfe(at, t, d, loss, g, gtd, tol_change)
                self._add(t, d)
            else:
                self._add(t, d)
                if n != max_iter:  # the last iteration's loss is the next step's first evaluation
                    loss = float(evaluate())
                    g = self._flat_grad()
                    ls_evals = 1
            evals += ls_evals
            st["func_evals"] += ls_evals
            if n == max_iter or evals >= max_eval:
                break
            if _absmax(g) <= tol_grad:
                break
            if _absmax(d) * abs(t) <= tol_change:
                break
            if abs(loss - loss_prev) < tol_change:
                break
        st.update(d=d, t=t, old_dirs=dirs, old_stps=steps, ro=rho, H_diag=h_diag,
                  prev_flat_grad=g_prev, prev_loss=loss_prev)
        return first
