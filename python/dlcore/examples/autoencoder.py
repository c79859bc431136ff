"""Autoencoders on Fashion-MNIST: a dense one, a convolutional one (its decoder upsamples with
transposed convolutions) and a denoising variant of the convolutional one. Prints the test
reconstruction MSE of each next to the trivial baseline (predicting the mean training image)
and writes a PNG of test images with their reconstructions.

    python -m dlcore.examples.autoencoder            # a few minutes on 2 cores
    python -m dlcore.examples.autoencoder --full     # all 60,000 images, 15 epochs
    python -m dlcore.examples.autoencoder --write-results   # also rewrite docs/RESULTS.md's section

Models (PyTorch-style modules and training loop, Adam, MSE between the sigmoid output and the
clean image):
  dense:     Flatten - Linear(784, 256) - ReLU - Linear(256, code)
             | Linear(code, 256) - ReLU - Linear(256, 784) - Sigmoid - Reshape(1, 28, 28)
  conv:      Conv2d(1, 16, 3, stride 2) - ReLU - Conv2d(16, 32, 3, stride 2) - ReLU - Flatten
             - Linear(1568, code) | Linear(code, 1568) - ReLU - Reshape(32, 7, 7)
             - ConvTranspose2d(32, 16, 4, stride 2) - ReLU - ConvTranspose2d(16, 1, 4, stride 2) - Sigmoid
  denoising: the conv model trained to map image + N(0, noise^2) (clipped to [0, 1]) to the image
"""
from __future__ import annotations

import argparse
import sys

import dlcore
from dlcore import nn, optim
from dlcore.data import DataLoader
import dlcore.nn.functional as F

from . import _common

__all__ = ["AutoEncoder", "dense_autoencoder", "conv_autoencoder", "add_noise", "train_autoencoder",
           "reconstruct", "reconstruction_mse", "parse_args", "main"]


class AutoEncoder(nn.Module):
    """An encoder and a decoder: forward(x) = decoder(encoder(x))."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))


def dense_autoencoder(code=32, hidden=256):
    """784 - hidden - code - hidden - 784, sigmoid output shaped (1, 28, 28)."""
    return AutoEncoder(
        nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, code)),
        nn.Sequential(nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Sigmoid(),
                      nn.Reshape(1, 28, 28)))


def conv_autoencoder(code=32, width=16):
    """Two stride-2 convolutions down to 7x7, a linear code, two stride-2 transposed
    convolutions back up to 28x28."""
    w1, w2 = width, 2 * width
    return AutoEncoder(
        nn.Sequential(nn.Conv2d(1, w1, 3, stride=2, padding=1), nn.ReLU(),
                      nn.Conv2d(w1, w2, 3, stride=2, padding=1), nn.ReLU(),
                      nn.Flatten(), nn.Linear(w2 * 7 * 7, code)),
        nn.Sequential(nn.Linear(code, w2 * 7 * 7), nn.ReLU(), nn.Reshape(w2, 7, 7),
                      nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1), nn.ReLU(),
                      nn.ConvTranspose2d(w1, 1, 4, stride=2, padding=1), nn.Sigmoid()))


def add_noise(x, std, generator=None):
    """x + N(0, std^2) noise, clipped to [0, 1] (the denoising autoencoder's input)."""
    return (x + dlcore.randn(*x.shape, generator=generator) * std).clamp(0.0, 1.0)


def train_autoencoder(model, x, epochs, batch_size=128, lr=1e-3, noise=0.0, log=None):
    """Trains `model` to reconstruct the images x (a Tensor, (N, 1, 28, 28)) from themselves,
    or from noisy copies when noise > 0. Returns the mean training loss of every epoch."""
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader((x,), batch_size=batch_size, shuffle=True)
    losses = []
    model.train()
    for epoch in range(epochs):
        total, n = 0.0, 0
        for (xb,) in loader:
            inp = add_noise(xb, noise) if noise else xb
            loss = F.mse_loss(model(inp), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
            n += xb.shape[0]
        losses.append(total / n)
        if log:
            log(f"  epoch {epoch + 1}/{epochs}: train MSE {losses[-1]:.5f}")
    return losses


def reconstruct(model, x, batch_size=500):
    """model(x) in eval mode without gradients, batch by batch (x a Tensor)."""
    with dlcore.no_grad(), nn.eval_mode():
        return dlcore.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def reconstruction_mse(model, x, target=None):
    """Mean squared error between model(x) and target (default x itself)."""
    target = x if target is None else target
    return F.mse_loss(reconstruct(model, x), target).item()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.autoencoder",
                                description="Dense, convolutional and denoising autoencoders on Fashion-MNIST.")
    p.add_argument("--epochs", type=int, default=None, help="default 5 (15 with --full)")
    p.add_argument("--train-size", type=int, default=None, help="training images (default 20000, all with --full)")
    p.add_argument("--test-size", type=int, default=None, help="test images (default all 10000)")
    p.add_argument("--code", type=int, default=32, help="size of the code (bottleneck)")
    p.add_argument("--noise", type=float, default=0.3, help="noise std of the denoising variant")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--models", default="dense,conv,denoising", help="comma-separated subset to train")
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns {model: {'test_mse': ..., 'losses': [...]}, 'baseline_mse': ...}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    epochs = args.epochs or (15 if args.full else 5)
    ntr = args.train_size or (None if args.full else 20000)
    nte = args.test_size
    (xtr_np, _), (xte_np, _) = _common.load_fashion(args, ntr, nte)
    log = None if args.quiet else print
    xtr, xte = dlcore.tensor(xtr_np), dlcore.tensor(xte_np)
    baseline = _common.mean_image_mse(xtr_np, xte_np)
    noisy_te = add_noise(xte, args.noise, dlcore.Generator(args.seed + 1))  # the same noise for every model
    noisy_mse = F.mse_loss(noisy_te, xte).item()
    print(f"{len(xtr_np)} training / {len(xte_np)} test images, {epochs} epochs, code {args.code}; "
          f"baseline (mean training image) test MSE {baseline:.5f}")
    builders = {"dense": dense_autoencoder, "conv": conv_autoencoder, "denoising": conv_autoencoder}
    wanted = [m for m in args.models.split(",") if m]
    for m in wanted:
        if m not in builders:
            raise SystemExit(f"error: --models: unknown model {m!r}; choose from {', '.join(builders)}")
    out, recon_rows = {"baseline_mse": baseline, "noisy_input_mse": noisy_mse}, [xte_np[:10]]
    for name in wanted:
        dlcore.manual_seed(args.seed)
        model = builders[name](args.code)
        noise = args.noise if name == "denoising" else 0.0
        if log:
            log(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters")
        t = _common.Timer()
        losses = train_autoencoder(model, xtr, epochs, args.batch_size, args.lr, noise, log)
        secs = t()
        if noise:
            mse = reconstruction_mse(model, noisy_te, xte)
            recon_rows += [noisy_te[:10].numpy(), reconstruct(model, noisy_te[:10]).numpy()]
        else:
            mse = reconstruction_mse(model, xte)
            recon_rows.append(reconstruct(model, xte[:10]).numpy())
        out[name] = {"test_mse": mse, "losses": losses, "seconds": secs}
        what = f" (noisy input vs clean: {noisy_mse:.5f})" if noise else ""
        print(f"{name}: test reconstruction MSE {mse:.5f}{what}; {secs:.1f} s training")
    png = _common.save_grid(args, "autoencoder", recon_rows)
    print(f"wrote {png} (rows: test images, then " + ", ".join(
        ("noisy input, denoised" if m == "denoising" else m) for m in wanted) + ")")
    if args.write_results:
        rows = ["| model | parameters | test reconstruction MSE | training s |", "|---|---|---|---|",
                f"| baseline: the mean training image | 0 | {baseline:.5f} | - |"]
        for name in wanted:
            n = sum(p.numel() for p in builders[name](args.code).parameters())
            label = {"dense": "dense (784-256-code-256-784)", "conv": "convolutional (conv-transpose decoder)",
                     "denoising": f"denoising conv (input noise std {args.noise})"}[name]
            rows.append(f"| {label} | {n:,} | {out[name]['test_mse']:.5f} | {out[name]['seconds']:.0f} |")
        if "denoising" in wanted:
            rows.append(f"\nThe denoising model's MSE is between its output for noisy test images and the "
                        f"clean images; the noisy images themselves are at MSE {noisy_mse:.5f} from the clean ones.")
        rows.append(f"\n{len(xtr_np)} training / {len(xte_np)} test images, {epochs} epochs, batch "
                    f"{args.batch_size}, Adam lr {args.lr}, code size {args.code}, seed {args.seed}.")
        legend = "rows: test images, " + ", ".join(
            ("noisy input, denoised" if m == "denoising" else f"{m} reconstruction") for m in wanted)
        _common.write_results(args, "autoencoder", "Autoencoders (dense, convolutional, denoising)", argv, rows,
                              [(legend, png)], timer())
        print(f"wrote {args.results_file}")
    return out


if __name__ == "__main__":
    main()
