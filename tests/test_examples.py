"""The course examples (issue 15) learn, on tiny real-data settings that take seconds: the
autoencoders beat the mean-image baseline and the denoiser beats its noisy input, the VAE's
ELBO beats a decoder that ignores z, the GAN's samples move toward the data, transfer and
scratch classifiers beat chance with the frozen features untouched, the tuned MLP beats
chance, and so does the residual network (with its Add layers and 1x1 projections).
--write-results writes (and rewrites, never duplicates) its RESULTS.md section and small
valid PNGs."""
import os
import struct
import zlib

import numpy as np
import pytest

import dlcore
from dlcore.examples import _common, autoencoder, gan, resnet, transfer, tune_mlp, vae

try:
    dlcore.datasets.fashion_mnist()
    HAVE_DATA = True
except FileNotFoundError:
    HAVE_DATA = False

pytestmark = pytest.mark.skipif(not HAVE_DATA, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


def _out(tmp_path):
    return ["--quiet", "--img-dir", str(tmp_path / "img"), "--results-file", str(tmp_path / "RESULTS.md")]


def read_png(path):
    """Decodes the 8-bit grayscale, filter-0 PNGs that _common.write_png writes."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(raw):
        n, = struct.unpack(">I", raw[pos:pos + 4])
        tag, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", raw[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + n
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 0)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, w + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def test_png_writer_round_trips(tmp_path):
    img = np.linspace(0, 1, 35 * 17, dtype=np.float32).reshape(35, 17)
    back = read_png(_common.write_png(tmp_path / "a.png", img))
    np.testing.assert_array_equal(back, (img * 255 + 0.5).astype(np.uint8))
    grid = _common.image_grid([np.zeros((3, 1, 4, 4)), np.ones((2, 4, 4))], pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1) and grid[1:5, 1:5].max() == 0 and grid[6:10, 1:5].min() == 1


def test_autoencoders_beat_the_mean_image_and_the_denoiser_its_noisy_input(tmp_path):
    r = autoencoder.main(["--models", "dense,denoising", "--train-size", "3000", "--test-size", "500",
                          "--epochs", "3", "--batch-size", "64"] + _out(tmp_path))
    for name in ("dense", "denoising"):
        assert r[name]["losses"][-1] < r[name]["losses"][0]
        assert r[name]["test_mse"] < 0.6 * r["baseline_mse"]
    assert r["denoising"]["test_mse"] < 0.75 * r["noisy_input_mse"]
    assert read_png(tmp_path / "img" / "autoencoder.png").shape == (2 + 4 * 30, 2 + 10 * 30)


def test_vae_elbo_beats_a_decoder_that_ignores_z_and_writes_results(tmp_path):
    args = ["--train-size", "3000", "--test-size", "500", "--epochs", "2", "--write-results"] + _out(tmp_path)
    r = vae.main(args)
    assert r["losses"][-1] < r["losses"][0]
    assert r["elbo"] > r["prior_elbo_bound"] + 20  # nats per image
    assert r["kl"] > 0 and r["elbo"] == pytest.approx(-(r["reconstruction"] + r["kl"]))
    text = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- results:vae -->" in text and f"{r['elbo']:.2f}" in text and "img/vae_samples.png" in text
    for name in ("vae_samples", "vae_latent_walk"):
        p = tmp_path / "img" / f"{name}.png"
        assert p.stat().st_size < 100_000 and read_png(p).size
    vae.main(args)  # a second run rewrites its own section only
    text2 = (tmp_path / "RESULTS.md").read_text()
    assert text2.count("<!-- results:vae -->") == 1 and text2.startswith("# Results of the course examples")


def test_gan_samples_move_toward_the_data(tmp_path):
    r = gan.main(["--train-size", "1920", "--epochs", "1", "--width", "16", "--lr", "1e-3", "--samples", "200",
                  "--classifier-size", "2000", "--classifier-epochs", "1"] + _out(tmp_path))
    h = r["history"]
    assert h["d_real"][0] > h["d_fake"][0]  # D tells real from generated
    (xtr, _), _ = dlcore.datasets.fashion_mnist()
    mean = xtr[:1920].mean(0)
    dlcore.manual_seed(0)
    untrained = gan._init_dcgan(gan.generator(64, 16))
    far = np.abs(gan.sample(untrained, 200).numpy().mean(0) - mean).mean()
    near = np.abs(gan.sample(r["generator"], 200).numpy().mean(0) - mean).mean()
    assert near < 0.75 * far
    assert r["classifier_accuracy"] > 0.5 and r["real"]["confidence"] > 0.5
    assert 0 <= r["generated"]["class_entropy"] <= np.log(10) + 1e-6 and sum(r["generated"]["histogram"]) == 200


def test_transfer_and_scratch_beat_chance_with_frozen_features_untouched(tmp_path):
    r = transfer.main(["--pretrain-size", "2000", "--pretrain-epochs", "1", "--per-class", "60",
                       "--epochs", "3"] + _out(tmp_path))
    assert r["pretrain_accuracy"] > 0.6
    for k in ("transfer_accuracy", "finetune_all_accuracy", "scratch_accuracy"):
        assert r[k] > 0.5, k  # chance: 0.2
    assert all(p.requires_grad for p in r["models"]["finetune_all"].parameters())
    m = r["models"]
    assert m["transfer"][0] is m["source"][0]
    assert not any(p.requires_grad for p in m["transfer"][0].parameters())
    assert r["trainable_transfer"] == sum(p.numel() for p in m["transfer"][1].parameters())
    _, (xte, yte) = dlcore.datasets.fashion_mnist()
    xs, ys = _common.class_subset(xte, yte, transfer.SOURCE)
    # fine-tuning left the shared features as pre-training made them
    assert m["source"].evaluate(xs, ys, batch_size=500)[1] == pytest.approx(r["pretrain_accuracy"])


def test_tuned_mlp_beats_chance_and_restores_its_best(tmp_path):
    r = tune_mlp.main(["--trials", "3", "--epochs", "2", "--train-size", "3000"] + _out(tmp_path))
    s = r["search"]
    assert len(s.trials) == 3 and s.best_score == max(t.score for t in s.trials)
    assert s.best_score > 0.5 and r["test_accuracy"] > 0.5  # chance: 0.1


def test_resnet_is_residual_and_beats_chance(tmp_path):
    r = resnet.main(["--train-size", "2000", "--test-size", "500", "--epochs", "2", "--batch-size", "16",
                     "--width", "8", "--write-results"] + _out(tmp_path))
    assert r["test_accuracy"] > 0.5  # chance: 0.1
    assert r["history"]["loss"][-1] < r["history"]["loss"][0]
    model = r["model"]
    adds = [layer for layer in model.layers if isinstance(layer, dlcore.layers.Add)]
    assert len(adds) == r["residual_adds"] == 3  # one block per stage
    proj = [layer for layer in model.layers if layer.name.endswith("_proj")]
    assert [tuple(layer.kernel_size) for layer in proj] == [(1, 1), (1, 1)]  # where the width and size change
    assert tuple(model.outputs[0].shape) == (None, 10)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- results:resnet -->" in text and f"{r['test_accuracy']:.4f}" in text


def test_resnet_augmentation_keeps_channels_last_batches_whole():
    x = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)
    out = resnet.augmentation(padding=2)(x, generator=dlcore.Generator(1))
    assert out.shape == x.shape
    for a, b in zip(out, x):  # each image is x shifted by at most 2 pixels, maybe mirrored
        assert any(np.allclose(a[2:-2, 2:-2], c[2 + dy:26 + dy, 2 + dx:26 + dx])
                   for c in (b, b[:, ::-1]) for dy in range(-2, 3) for dx in range(-2, 3))
    assert resnet.augmentation(0, flip=False) is None
