"""A small end-to-end demo: an MLP trained with autograd and SGD on a generated two-spirals
problem; prints the held-out accuracy. Run: python -m dlcore.examples.demo"""
import math
import time

import numpy as np

import dlcore
import dlcore.nn as nn
import dlcore.optim as optim

__all__ = ["spirals", "main"]


def spirals(n, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.25, 1.0, n) * 3 * math.pi
    label = rng.integers(0, 2, n)
    r = t / (3 * math.pi)
    ang = t + label * math.pi
    x = np.stack([r * np.cos(ang), r * np.sin(ang)], 1) + rng.normal(0, 0.02, (n, 2))
    return x.astype(np.float32), label.astype(np.float32)


def main():
    dlcore.manual_seed(0)
    xtr, ytr = spirals(2000, 0)
    xte, yte = spirals(1000, 1)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = dlcore.from_numpy(xtr), dlcore.from_numpy(ytr).reshape(-1, 1)
    t0 = time.perf_counter()
    for epoch in range(300):
        opt.zero_grad()
        p = dlcore.sigmoid(model(x)).clip(1e-7, 1 - 1e-7)
        loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
        loss.backward()
        opt.step()
    with dlcore.no_grad():
        pred = (model(dlcore.from_numpy(xte)).reshape(-1) > 0).numpy()
    acc = float((pred == (yte > 0.5)).mean())
    print(f"two-spirals MLP: final train loss {loss.item():.4f}, test accuracy {acc:.3f} "
          f"({time.perf_counter() - t0:.1f} s)")
    return acc


if __name__ == "__main__":
    main()
