"""A variational autoencoder on Fashion-MNIST: a Gaussian encoder q(z|x), the
reparameterisation z = mu + exp(logvar / 2) * eps, a Bernoulli decoder p(x|z) and the standard
normal prior. Prints the test-set ELBO (nats per image, one z sample per image) with its
reconstruction and KL terms, and writes two PNGs: decoded samples from the prior, and a walk
over a 2-D grid of the latent space.

    python -m dlcore.examples.vae                  # a few minutes on 2 cores
    python -m dlcore.examples.vae --full           # 50 epochs instead of 10
    python -m dlcore.examples.vae --latent 16      # bigger code (the walk varies z[0], z[1])

Model (PyTorch-style modules and training loop, Adam):
  encoder: Flatten - Linear(784, 512) - ReLU - Linear(512, 256) - ReLU - Linear(256, 2 * latent) -> (mu, logvar)
  decoder: Linear(latent, 256) - ReLU - Linear(256, 512) - ReLU - Linear(512, 784) -> Bernoulli logits
  loss = -ELBO = sum over pixels of BCE(decoder logits, x) + KL(N(mu, var) || N(0, I)), mean over the batch
"""
from __future__ import annotations

import argparse
import statistics
import sys

import dlcore
from dlcore import nn, optim
from dlcore.data import DataLoader
import dlcore.nn.functional as F

from . import _common

__all__ = ["VAE", "vae_loss", "train_vae", "evaluate_elbo", "latent_walk", "parse_args", "main"]


class VAE(nn.Module):
    """Dense Gaussian-encoder / Bernoulli-decoder VAE for 28x28 images.

    forward(x) -> (logits, mu, logvar); decode(z) -> pixel probabilities (N, 1, 28, 28)."""

    def __init__(self, latent=2, hidden=(512, 256)):
        super().__init__()
        h1, h2 = hidden
        self.latent = latent
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(),
                                     nn.Linear(h2, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(),
                                     nn.Linear(h1, 784))

    def encode(self, x):
        """(mu, logvar) of q(z|x), each (N, latent)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def reparameterize(self, mu, logvar, generator=None):
        """z = mu + sigma * eps with eps ~ N(0, I): a sample whose gradient flows to mu and logvar."""
        eps = dlcore.randn(*mu.shape, generator=generator)
        return mu + (logvar * 0.5).exp() * eps

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decoder(self.reparameterize(mu, logvar)), mu, logvar

    def decode(self, z):
        return self.decoder(z).sigmoid().reshape(-1, 1, 28, 28)


def vae_loss(logits, x, mu, logvar):
    """(-ELBO, reconstruction term, KL term), each the mean over the batch of a per-image sum (nats)."""
    n = x.shape[0]
    rec = F.binary_cross_entropy_with_logits(logits, x.reshape(n, -1), reduction="sum") / n
    kl = ((mu * mu + logvar.exp() - logvar - 1.0) * 0.5).sum() / n
    return rec + kl, rec, kl


def train_vae(model, x, epochs, batch_size=128, lr=1e-3, log=None):
    """Trains on the images x (a Tensor); returns the mean training -ELBO of every epoch."""
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader((x,), batch_size=batch_size, shuffle=True)
    model.train()
    losses = []
    for epoch in range(epochs):
        total, n = 0.0, 0
        for (xb,) in loader:
            logits, mu, logvar = model(xb)
            loss, _, _ = vae_loss(logits, xb, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
            n += xb.shape[0]
        losses.append(total / n)
        if log:
            log(f"  epoch {epoch + 1}/{epochs}: train -ELBO {losses[-1]:.2f} nats")
    return losses


def evaluate_elbo(model, x, batch_size=500, seed=0):
    """Test-set ELBO (nats per image, one z sample per image with a seeded generator):
    {'elbo', 'reconstruction', 'kl'}."""
    gen = dlcore.Generator(seed)
    tot = [0.0, 0.0, 0.0]
    with dlcore.no_grad(), nn.eval_mode():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size]
            mu, logvar = model.encode(xb)
            logits = model.decoder(model.reparameterize(mu, logvar, gen))
            loss, rec, kl = vae_loss(logits, xb, mu, logvar)
            for j, v in enumerate((loss, rec, kl)):
                tot[j] += v.item() * xb.shape[0]
    n = x.shape[0]
    return {"elbo": -tot[0] / n, "reconstruction": tot[1] / n, "kl": tot[2] / n}


def latent_walk(model, steps=10):
    """Decoded images over a steps x steps grid of (z[0], z[1]) at the prior's quantiles 5%..95%
    (other latent dims 0): a list of `steps` rows of (steps, 1, 28, 28) arrays."""
    nd = statistics.NormalDist()
    qs = [nd.inv_cdf(0.05 + 0.9 * i / (steps - 1)) for i in range(steps)]
    rows = []
    with dlcore.no_grad(), nn.eval_mode():
        for a in reversed(qs):
            z = dlcore.zeros(steps, model.latent)
            for j, b in enumerate(qs):
                z[j, 0] = b
                z[j, 1] = a
            rows.append(model.decode(z).numpy())
    return rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.vae",
                                description="A variational autoencoder on Fashion-MNIST.")
    p.add_argument("--epochs", type=int, default=None, help="default 10 (50 with --full)")
    p.add_argument("--train-size", type=int, default=None, help="training images (default all 60000)")
    p.add_argument("--test-size", type=int, default=None, help="test images (default all 10000)")
    p.add_argument("--latent", type=int, default=2, help="latent dimensions (2: the walk covers the whole code)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns {'elbo', 'reconstruction', 'kl', 'losses', 'prior_elbo_bound'}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    epochs = args.epochs or (50 if args.full else 10)
    ntr = args.train_size
    (xtr_np, _), (xte_np, _) = _common.load_fashion(args, ntr, args.test_size)
    xtr, xte = dlcore.tensor(xtr_np), dlcore.tensor(xte_np)
    if args.latent < 2:
        raise SystemExit("error: --latent must be at least 2 (the latent walk needs two dimensions)")
    model = VAE(args.latent)
    print(f"{len(xtr_np)} training / {len(xte_np)} test images, {epochs} epochs, latent {args.latent}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    losses = train_vae(model, xtr, epochs, args.batch_size, args.lr, None if args.quiet else print)
    res = evaluate_elbo(model, xte, seed=args.seed + 1)
    # what a decoder ignoring z can reach: each pixel Bernoulli with the mean training intensity
    m = xtr.mean(0).reshape(1, -1).clamp(1e-4, 1 - 1e-4)
    logit = (m / (1.0 - m)).log().expand(xte.shape[0], 784)
    base = F.binary_cross_entropy_with_logits(logit, xte.reshape(xte.shape[0], -1), reduction="sum").item() / xte.shape[0]
    res.update(losses=losses, prior_elbo_bound=-base, seconds=timer())
    print(f"test ELBO {res['elbo']:.2f} nats per image (reconstruction {res['reconstruction']:.2f}, "
          f"KL {res['kl']:.2f}); a model ignoring z (per-pixel mean intensities) reaches {-base:.2f}")
    dlcore.manual_seed(args.seed + 2)
    with dlcore.no_grad(), nn.eval_mode():
        samples = model.decode(dlcore.randn(40, args.latent)).numpy()
    png_s = _common.save_grid(args, "vae_samples", [samples[i:i + 10] for i in range(0, 40, 10)])
    png_w = _common.save_grid(args, "vae_latent_walk", latent_walk(model), pad=0)
    print(f"wrote {png_s} and {png_w}")
    if args.write_results:
        rows = ["| quantity (test set, nats per image) | value |", "|---|---|",
                f"| ELBO (one z sample per image) | {res['elbo']:.2f} |",
                f"| reconstruction term E[-log p(x\\|z)] | {res['reconstruction']:.2f} |",
                f"| KL(q(z\\|x) \\|\\| p(z)) | {res['kl']:.2f} |",
                f"| baseline: a decoder ignoring z (per-pixel mean intensity) | {-base:.2f} |",
                f"\n{len(xtr_np)} training / {len(xte_np)} test images, {epochs} epochs, latent {args.latent}, "
                f"batch {args.batch_size}, Adam lr {args.lr}, seed {args.seed}; training -ELBO by epoch: "
                + ", ".join(f"{v:.1f}" for v in losses) + "."]
        _common.write_results(args, "vae", "Variational autoencoder", argv, rows,
                              [("samples decoded from z ~ N(0, I)", png_s),
                               ("latent walk over (z0, z1) at the prior's 5%..95% quantiles", png_w)], res["seconds"])
        print(f"wrote {args.results_file}")
    return res


if __name__ == "__main__":
    main()
