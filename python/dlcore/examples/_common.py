"""What the course examples share: their common command-line options, Fashion-MNIST subsets,
image grids written as PNG files (a small writer of its own, so no plotting package is needed),
and the sections they write into docs/RESULTS.md.

Images and results are host data (the examples are an edge of the library, like the data side):
NumPy is used here for pixels and file bytes, never between dlcore ops.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import struct
import sys
import time
import zlib

import numpy as np

import dlcore

__all__ = ["add_common_args", "setup", "load_fashion", "load_fortunes", "FORTUNES_HELP", "optional_torch",
           "class_subset", "write_png", "image_grid",
           "save_grid", "results_path", "write_results", "Timer", "mean_image_mse"]


def add_common_args(p: argparse.ArgumentParser, full_help=None, data_help=None) -> argparse.ArgumentParser:
    """The options every course example takes: --full, --seed, --threads, --data,
    --write-results, --results-file, --img-dir, --quiet (full_help / data_help: their help
    for an example whose data is not Fashion-MNIST)."""
    p.add_argument("--full", action="store_true",
                   help=full_help or "the full run (all 60,000 training images, more epochs) instead of the "
                                     "few-minute default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="dlcore threads (default: all cores)")
    p.add_argument("--data", default=None, help=data_help or "directory with the Fashion-MNIST IDX files")
    p.add_argument("--write-results", action="store_true",
                   help="write this run's section of docs/RESULTS.md (and its PNGs under docs/img/)")
    p.add_argument("--results-file", default=os.path.join("docs", "RESULTS.md"))
    p.add_argument("--img-dir", default=None,
                   help="where PNGs go (default: docs/img with --write-results, else the current directory)")
    p.add_argument("--quiet", action="store_true", help="print only the final numbers")
    return p


def setup(args):
    """Applies --threads and --seed; fills in --img-dir."""
    if args.threads:
        dlcore.set_num_threads(args.threads)
    dlcore.manual_seed(args.seed)
    if args.img_dir is None:
        args.img_dir = os.path.join(os.path.dirname(args.results_file) or ".", "img") if args.write_results else "."
    return args


def load_fashion(args, n_train, n_test):
    """The first n_train training and n_test test images of Fashion-MNIST (float32 in [0, 1],
    (N, 1, 28, 28)) with their labels; None takes all. Exits with a clear message when the
    files are missing (nothing is downloaded)."""
    try:
        (xtr, ytr), (xte, yte) = dlcore.datasets.fashion_mnist(args.data)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    return (xtr[:n_train], ytr[:n_train]), (xte[:n_test], yte[:n_test])


FORTUNES_HELP = "directory with the fortune topic files (default /usr/share/games/fortunes)"


def load_fortunes(path=None, topics=None):
    """dlcore.datasets.fortunes(path, topics): (texts, topic names). Exits with a clear message
    naming the Debian package when the corpus is missing (nothing is downloaded)."""
    try:
        return dlcore.datasets.fortunes(path, topics)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)


def optional_torch(no_torch=False):
    """(PyTorch or None, a note for the run's header line): the text examples' optional
    reference, None when --no-torch was given or it is not installed; its thread count is set to
    dlcore's, so the two are compared on the same cores."""
    if no_torch:
        return None, ""
    try:
        import torch
    except ImportError:
        return None, "; PyTorch comparison skipped (torch not installed)"
    torch.set_num_threads(dlcore.get_num_threads())
    return torch, ""


def class_subset(x, y, classes, per_class=None, relabel=True):
    """The samples of `classes` (at most per_class of each, the first ones), labels renumbered
    0..len(classes)-1 in the order given when relabel is true."""
    keep = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        keep.append(idx[:per_class] if per_class else idx)
    idx = np.sort(np.concatenate(keep))
    ys = y[idx]
    if relabel:
        table = np.full(int(y.max()) + 1, -1, np.int64)
        table[list(classes)] = np.arange(len(classes))
        ys = table[ys]
    return x[idx], ys


def mean_image_mse(x_train, x_test):
    """The trivial baseline: mean squared error of predicting the mean training image."""
    return float(((x_test - x_train.mean(0, keepdims=True)) ** 2).mean())


def _chunk(tag, payload):
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)


def write_png(path, img):
    """Writes a grayscale image ((H, W) floats in [0, 1] or uint8) as an 8-bit PNG."""
    a = np.asarray(img)
    if a.ndim != 2:
        raise ValueError(f"write_png: expects one (H, W) grayscale image, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    h, w = a.shape
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))  # filter type 0 on every row
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def image_grid(rows, pad=2, background=1.0):
    """Tiles rows of images (a list of (N, 1, H, W) or (N, H, W) arrays, one per row, or one
    (R, N, H, W) array) into one (H', W') image with `pad` pixels between tiles."""
    rows = [np.asarray(r, np.float32).reshape(len(r), *np.asarray(r).shape[-2:]) for r in rows]
    h, w = rows[0].shape[-2:]
    n = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad), background, np.float32)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            y0, x0 = pad + i * (h + pad), pad + j * (w + pad)
            out[y0:y0 + h, x0:x0 + w] = im
    return out


def save_grid(args, name, rows, pad=2):
    """Writes image_grid(rows) to <img-dir>/<name>.png; returns the path."""
    return write_png(os.path.join(args.img_dir, name + ".png"), image_grid(rows, pad))


def results_path(args, path):
    """`path` as RESULTS.md links it (relative to the results file's directory)."""
    return os.path.relpath(path, os.path.dirname(os.path.abspath(args.results_file))).replace(os.sep, "/")


_HEADER = """# Results of the course examples

Each section is written by its example when run with `--write-results` (the command, the
machine as `dlcore.config()` names it, the date and the measured numbers); rerunning an
example rewrites only its own section. The PNGs are under docs/img/. Numbers depend on the
machine and the seed; the defaults are small runs that finish in a few minutes on 2 cores,
`--full` trains on all the data for longer. The seconds were measured on a machine shared with
other jobs: read them as upper bounds.
"""


def write_results(args, name, title, argv, lines, images=(), seconds=None):
    """Rewrites (or appends) the section `name` of args.results_file: a title, the command,
    the machine, the date, `lines` (Markdown) and the images."""
    cfg = dlcore.config()
    cmd = "python -m dlcore.examples." + name + "".join(" " + a for a in argv)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<!-- results:{name} -->", f"## {title}", "",
            f"Command: `{cmd}`  ", f"Machine: {cfg['cpu']}, ISA {cfg['isa']}, {cfg['num_threads']} threads, "
            f"dlcore {cfg['version']}  ", f"Date: {when}" + (f"; wall time {seconds:.0f} s" if seconds else ""), ""]
    body += list(lines)
    for alt, path in images:
        body += ["", f"![{alt}]({results_path(args, path)})"]
    body += ["", f"<!-- /results:{name} -->"]
    section = "\n".join(body)
    path = args.results_file
    text = open(path).read() if os.path.exists(path) else _HEADER
    pat = re.compile(rf"<!-- results:{re.escape(name)} -->.*?<!-- /results:{re.escape(name)} -->", re.S)
    if pat.search(text):
        text = pat.sub(lambda m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


class Timer:
    """Wall-clock seconds since creation (`timer()` reads it)."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self):
        return time.perf_counter() - self.t0
