"""A DCGAN on Fashion-MNIST: a generator of transposed convolutions with batch norm, a
discriminator of strided convolutions with leaky ReLU, the non-saturating GAN loss. Logs the
discriminator's and the generator's losses, writes a PNG grid of samples, and scores the
samples with a classifier trained on the real images (the main job's CNN): the mean max-softmax
confidence (how clearly each sample looks like some class) and the entropy of the mean
prediction (how evenly the samples spread over the 10 classes; ln 10 = 2.303 at most), next to
the same two numbers for real test images.

    python -m dlcore.examples.gan                 # a few minutes on 2 cores
    python -m dlcore.examples.gan --full          # 20 epochs instead of 4, wider nets
    python -m dlcore.examples.gan --classifier cnn.safetensors   # score with a saved classifier
        (python -m dlcore.examples.fashion_mnist --model cnn --save cnn.safetensors)

Models (PyTorch-style modules and training loop; images scaled to [-1, 1]; Adam lr 2e-4, betas (0.5, 0.999)):
  G: z (N, 64) - Linear(64, 2w * 7 * 7) - BatchNorm1d - ReLU - Reshape(2w, 7, 7)
     - ConvTranspose2d(2w, w, 4, stride 2) - BatchNorm2d - ReLU - ConvTranspose2d(w, 1, 4, stride 2) - Tanh
  D: Conv2d(1, w, 4, stride 2) - LeakyReLU(0.2) - Conv2d(w, 2w, 4, stride 2) - BatchNorm2d - LeakyReLU(0.2)
     - Flatten - Linear(2w * 7 * 7, 1)  (a logit: real or generated)
"""
from __future__ import annotations

import argparse
import math
import sys

import dlcore
from dlcore import nn, optim
from dlcore.data import DataLoader
import dlcore.nn.functional as F

from . import _common
from .fashion_mnist import build_cnn

__all__ = ["generator", "discriminator", "train_gan", "sample", "train_classifier", "sample_quality",
           "parse_args", "main"]


def generator(z_dim=64, width=32):
    """DCGAN generator: z (N, z_dim) -> images (N, 1, 28, 28) in [-1, 1]."""
    w2 = 2 * width
    return nn.Sequential(
        nn.Linear(z_dim, w2 * 7 * 7, bias=False), nn.BatchNorm1d(w2 * 7 * 7), nn.ReLU(), nn.Reshape(w2, 7, 7),
        nn.ConvTranspose2d(w2, width, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh())


def discriminator(width=32):
    """DCGAN discriminator: images (N, 1, 28, 28) -> one logit per image (N, 1)."""
    w2 = 2 * width
    return nn.Sequential(
        nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, w2, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(w2), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(w2 * 7 * 7, 1))


def _init_dcgan(model):
    """The DCGAN paper's initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return model


def train_gan(G, D, x, epochs, batch_size=64, lr=2e-4, z_dim=64, log=None, log_every=100):
    """Alternating updates on the images x (a Tensor in [-1, 1]): D on a real and a generated
    batch, then G to make D call its samples real. Returns {'d_loss': [...], 'g_loss': [...],
    'd_real': [...], 'd_fake': [...]}, one mean per epoch (d_real / d_fake: D's mean
    probability of 'real' on real / generated images)."""
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    loader = DataLoader((x,), batch_size=batch_size, shuffle=True, drop_last=True)
    hist = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": []}
    G.train()
    D.train()
    step = 0
    for epoch in range(epochs):
        sums = dict.fromkeys(hist, 0.0)
        n = 0
        for (xb,) in loader:
            b = xb.shape[0]
            ones, zeros = dlcore.ones(b, 1), dlcore.zeros(b, 1)
            fake = G(dlcore.randn(b, z_dim))
            # discriminator: real -> 1, generated -> 0 (the generator's graph is cut by detach)
            d_real = D(xb)
            d_fake = D(fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(d_real, ones) + F.binary_cross_entropy_with_logits(d_fake, zeros)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # generator: the non-saturating loss -log D(G(z))
            g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            vals = {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
                    "d_real": d_real.sigmoid().mean().item(), "d_fake": d_fake.sigmoid().mean().item()}
            for k, v in vals.items():
                sums[k] += v
            n += 1
            step += 1
            if log and step % log_every == 0:
                log(f"  step {step}: D loss {vals['d_loss']:.3f}, G loss {vals['g_loss']:.3f}, "
                    f"D(real) {vals['d_real']:.2f}, D(G(z)) {vals['d_fake']:.2f}")
        for k in hist:
            hist[k].append(sums[k] / max(n, 1))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: D loss {hist['d_loss'][-1]:.3f}, G loss {hist['g_loss'][-1]:.3f}")
    return hist


def sample(G, n, z_dim=64, generator=None):
    """n generated images in [0, 1] (a Tensor (n, 1, 28, 28)), G in eval mode."""
    with dlcore.no_grad(), nn.eval_mode():
        return (G(dlcore.randn(n, z_dim, generator=generator)) + 1.0) * 0.5


def train_classifier(x, y, epochs=2, batch_size=64, verbose=0):
    """The main job's CNN (dlcore.examples.fashion_mnist.build_cnn), trained Keras-style on
    x in [0, 1]: the judge of the samples."""
    clf = build_cnn()
    clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clf.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose)
    return clf


def sample_quality(classifier, images):
    """{'confidence': mean max-softmax probability, 'class_entropy': entropy (nats) of the mean
    predicted distribution, 'histogram': predicted-class counts} of a classifier on images in [0, 1]."""
    logits = dlcore.tensor(classifier.predict(images, batch_size=500))
    p = F.softmax(logits, dim=1)
    conf = p.amax(dim=1).mean().item()
    mean = p.mean(dim=0)
    ent = -(mean * mean.clamp(1e-12, 1.0).log()).sum().item()
    hist = [int(c) for c in (dlcore.one_hot(logits.argmax(dim=1), 10).sum(dim=0)).tolist()]
    return {"confidence": conf, "class_entropy": ent, "histogram": hist}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.gan", description="A DCGAN on Fashion-MNIST.")
    p.add_argument("--epochs", type=int, default=None, help="default 4 (20 with --full)")
    p.add_argument("--train-size", type=int, default=None, help="training images (default all 60000)")
    p.add_argument("--width", type=int, default=None, help="channel width w (default 32, 64 with --full)")
    p.add_argument("--z-dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--samples", type=int, default=2000, help="generated images scored by the classifier")
    p.add_argument("--classifier", default=None,
                   help="a saved Fashion-MNIST classifier (.safetensors, e.g. from fashion_mnist --save); "
                        "default: train the main job's CNN here")
    p.add_argument("--classifier-epochs", type=int, default=2)
    p.add_argument("--classifier-size", type=int, default=None,
                   help="training images of the classifier (default 20000, all with --full)")
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns the loss history, the sample-quality numbers and the models."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    epochs = args.epochs or (20 if args.full else 4)
    width = args.width or (64 if args.full else 32)
    ntr = args.train_size
    (xtr_all, ytr_all), (xte, yte) = _common.load_fashion(args, None, None)
    xtr = xtr_all[:ntr]
    log = None if args.quiet else print
    G, D = _init_dcgan(generator(args.z_dim, width)), _init_dcgan(discriminator(width))
    print(f"{len(xtr)} training images, {epochs} epochs, batch {args.batch_size}; G "
          f"{sum(p.numel() for p in G.parameters()):,} / D {sum(p.numel() for p in D.parameters()):,} parameters")
    t = _common.Timer()
    hist = train_gan(G, D, dlcore.tensor(xtr * 2.0 - 1.0), epochs, args.batch_size, args.lr, args.z_dim, log)
    gan_s = t()
    fake = sample(G, args.samples, args.z_dim, dlcore.Generator(args.seed + 1))
    png = _common.save_grid(args, "gan_samples", [fake[i:i + 10].numpy() for i in range(0, 60, 10)])
    print(f"trained in {gan_s:.0f} s; wrote {png}")

    if args.classifier:
        clf = dlcore.load_model(args.classifier)
        clf_desc = f"the saved classifier {args.classifier}"
    else:
        ncl = args.classifier_size or (None if args.full else 20000)
        dlcore.manual_seed(args.seed)
        clf = train_classifier(xtr_all[:ncl], ytr_all[:ncl], args.classifier_epochs,
                               verbose=0 if args.quiet else 2)
        clf_desc = (f"the main job's CNN trained here on {len(xtr_all[:ncl])} images for "
                    f"{args.classifier_epochs} epochs")
    acc = float((clf.predict(xte, batch_size=500).argmax(1) == yte).mean())
    real = sample_quality(clf, xte[:args.samples])
    gen = sample_quality(clf, fake.numpy())
    print(f"classifier ({clf_desc}): test accuracy {acc:.4f}")
    print(f"real test images:  confidence {real['confidence']:.3f}, class entropy {real['class_entropy']:.3f} "
          f"(max {math.log(10):.3f}), classes {real['histogram']}")
    print(f"generated images:  confidence {gen['confidence']:.3f}, class entropy {gen['class_entropy']:.3f}, "
          f"classes {gen['histogram']}")
    out = {"history": hist, "real": real, "generated": gen, "classifier_accuracy": acc, "seconds": timer(),
           "generator": G, "discriminator": D, "classifier": clf}
    if args.write_results:
        names = ", ".join(f"{c} {n}" for c, n in zip(dlcore.datasets.FASHION_MNIST_CLASSES, gen["histogram"]))
        rows = ["| images | mean max-softmax confidence | entropy of the mean prediction (nats, max 2.303) |",
                "|---|---|---|",
                f"| {len(xte[:args.samples])} real test images | {real['confidence']:.3f} | {real['class_entropy']:.3f} |",
                f"| {args.samples} generated images | {gen['confidence']:.3f} | {gen['class_entropy']:.3f} |",
                "", "| epoch | D loss | G loss | D(real) | D(G(z)) |", "|---|---|---|---|---|"]
        rows += [f"| {e + 1} | {hist['d_loss'][e]:.3f} | {hist['g_loss'][e]:.3f} | {hist['d_real'][e]:.2f} | "
                 f"{hist['d_fake'][e]:.2f} |" for e in range(len(hist["d_loss"]))]
        rows += [f"\nJudge: {clf_desc}, test accuracy {acc:.4f}. Generated images by predicted class: {names}.",
                 f"\n{len(xtr)} training images, {epochs} epochs, width {width}, z {args.z_dim}, batch "
                 f"{args.batch_size}, Adam lr {args.lr} betas (0.5, 0.999), seed {args.seed}; GAN training {gan_s:.0f} s."]
        _common.write_results(args, "gan", "DCGAN", argv, rows, [("generated samples", png)], out["seconds"])
        print(f"wrote {args.results_file}")
    return out


if __name__ == "__main__":
    main()
