"""dlcore.datasets: Fashion-MNIST and MNIST from local IDX files, and the fortunes text corpus
(never downloads).

Where the files are looked for - one place, never a silent fall-back from an explicit choice:
  1. the ``path`` argument, when given: that directory only;
  2. else $DLCORE_DATA, when set: $DLCORE_DATA/<name>/, else $DLCORE_DATA/ itself;
  3. else /usr/share/datasets/<name>/ (Debian: ``apt-get install dataset-fashion-mnist``).
The four files always come from one directory: the first candidate that holds all four (a
directory holding only some of them is an error naming what it lacks). Each file may be
gzip-compressed (``train-images-idx3-ubyte.gz``) or raw (``train-images-idx3-ubyte``, also the
``train-images.idx3-ubyte`` spelling).

The IDX header is validated: magic number (0x00000803 for uint8 images, 0x00000801 for uint8
labels), dimension count, and payload size; images and labels must have the same count.

fortunes(): the quotations of the BSD ``fortune`` program as Debian's ``fortunes`` package
installs them (``apt-get install fortunes``: /usr/share/games/fortunes/<topic>, one file per
topic, each fortune ended by a line holding only ``%``, with the ``<topic>.dat`` index that
``strfile`` writes beside it). The same three places are searched, with Debian's directory
/usr/share/games/fortunes as the default.
"""
from __future__ import annotations

import gzip
import os
import re
import struct

import numpy as np

__all__ = ["fashion_mnist", "mnist", "fortunes", "load_idx", "search_paths", "FASHION_MNIST_CLASSES"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")

_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
          "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def load_idx(path, expect_ndim=None, expect_uint8=False):
    """Reads one IDX file (gz or raw) into a NumPy array, validating the header and size."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip CRC / truncation errors are OSError / EOFError
        raise ValueError(f"load_idx: cannot read {path}: {e}") from e
    if len(raw) < 4:
        raise ValueError(f"load_idx: {path} is too short ({len(raw)} bytes) to be an IDX file")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _DTYPES or ndim == 0:
        raise ValueError(f"load_idx: {path} has a bad magic number 0x{raw[:4].hex()} "
                         f"(expected 0x0000080{expect_ndim or 'N'} for uint8 data)")
    if expect_uint8 and code != 0x08:
        raise ValueError(f"load_idx: {path} has magic number 0x{raw[:4].hex()} (data type 0x{code:02x}); "
                         f"image and label files must be uint8 (0x0000080{expect_ndim or 'N'})")
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(f"load_idx: {path} has {ndim} dimensions (magic 0x{raw[:4].hex()}), "
                         f"expected {expect_ndim}")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"load_idx: {path} is truncated inside its header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:head])
    dt = np.dtype(_DTYPES[code])
    need = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if len(raw) - head != need:
        raise ValueError(f"load_idx: {path} holds {len(raw) - head} data bytes but its header "
                         f"{dims} needs {need}: the file is truncated or corrupt")
    return np.frombuffer(raw, dt, offset=head).reshape(dims).astype(dt.newbyteorder("="))


def search_paths(name, path=None, default=None):
    """The candidate directories, in order: only ``path`` when it is given, else only
    $DLCORE_DATA's (<DLCORE_DATA>/<name>, then <DLCORE_DATA>) when it is set, else Debian's
    (``default``, /usr/share/datasets/<name> when not given)."""
    if path is not None:
        return [os.fsdecode(os.fspath(path))]
    env = os.environ.get("DLCORE_DATA")
    if env:
        return [os.path.join(env, name), env]
    return [default or os.path.join("/usr/share/datasets", name)]


def _find(stem, dirs):
    alt = stem.replace("-idx", ".idx")
    for d in dirs:
        for fname in (stem + ".gz", stem, alt + ".gz", alt):
            p = os.path.join(d, fname)
            if os.path.isfile(p):
                return p
    return None


def _searched(path):
    """Where a data search looked, in the words of an error message."""
    return ("the path argument" if path is not None else
            "$DLCORE_DATA" if os.environ.get("DLCORE_DATA") else "the default location")


def _load(name, path, flatten, normalize, dtype, package):
    dirs = search_paths(name, path)
    found, lacks = None, []
    for d in dirs:
        here = {k: _find(stem, [d]) for k, stem in _FILES.items()}
        missing = [_FILES[k] + "[.gz]" for k, v in here.items() if v is None]
        if not missing:
            found = here
            break
        lacks.append(f"{d} {'lacks ' + ', '.join(missing) if os.path.isdir(d) else 'does not exist'}")
    if found is None:
        source = _searched(path)
        raise FileNotFoundError(
            f"{name}: no directory holds all four IDX files ({source}): {'; '.join(lacks)}. "
            f"dlcore never downloads data and never falls back from an explicit path. Get the files "
            f"with `apt-get install {package}` (Debian/Ubuntu, installs to "
            f"/usr/share/datasets/{name}/) or put the four IDX files in one directory and pass "
            f"path=... (--data) or set DLCORE_DATA.")
    out = []
    for split in ("train", "test"):
        x = load_idx(found[f"{split}_images"], expect_ndim=3, expect_uint8=True)
        y = load_idx(found[f"{split}_labels"], expect_ndim=1, expect_uint8=True)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: {found[f'{split}_images']} has {x.shape[0]} images but "
                             f"{found[f'{split}_labels']} has {y.shape[0]} labels")
        if y.size and y.max() > 9:
            raise ValueError(f"{name}: label file {found[f'{split}_labels']} has a label {y.max()} > 9")
        n, h, w = x.shape
        x = x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
        x = x.astype(dtype)
        if normalize:
            x /= 255.0
        out.append((x, y.astype(np.int64)))
    return tuple(out)


def fashion_mnist(path=None, flatten=False, normalize=True, dtype=np.float32):
    """((x_train, y_train), (x_test, y_test)): 60,000 + 10,000 Zalando article images.
    x: float32 in [0, 1] (normalize=False keeps 0..255 as floats), shape (N, 1, 28, 28), or
    (N, 784) with flatten=True; y: int64 class indices 0..9 (see FASHION_MNIST_CLASSES)."""
    return _load("fashion-mnist", path, flatten, normalize, dtype, "dataset-fashion-mnist")


def mnist(path=None, flatten=False, normalize=True, dtype=np.float32):
    """((x_train, y_train), (x_test, y_test)) for handwritten digits; same layout as fashion_mnist."""
    return _load("mnist", path, flatten, normalize, dtype, "dataset-mnist (if your distribution has it)")


FORTUNES_DIR = "/usr/share/games/fortunes"


def _fortune_topics(d):
    """The topic files of directory d: names without a dot that have a strfile index <name>.dat."""
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if "." not in f
                  and os.path.isfile(os.path.join(d, f)) and os.path.isfile(os.path.join(d, f + ".dat")))


def _overstrike(text):
    """Resolves backspace overstriking (the underlines and accents of old terminals): each
    backspace removes the character before it, so the character typed over it stays."""
    if "\b" not in text:
        return text
    out = []
    for ch in text:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


def fortunes(path=None, topics=None):
    """(texts, topics): every fortune (a str, trailing whitespace removed, backspace
    overstriking resolved) and the name of the topic file it comes from, both lists in file
    order with the topics sorted by name. ``topics`` (names) loads only those.

    The files are those of Debian's ``fortunes`` package (``apt-get install fortunes``:
    /usr/share/games/fortunes, about 15,000 quotations in 40-odd topics, e.g. computers,
    science, politics); path / $DLCORE_DATA name another directory holding topic files with
    their ``.dat`` indexes (see the module docstring). Nothing is downloaded."""
    dirs = search_paths("fortunes", path, FORTUNES_DIR)
    found = have = None
    for d in dirs:  # each directory listed once: its topics are kept for below
        have = _fortune_topics(d)
        if have:
            found = d
            break
    if found is None:
        source = _searched(path)
        raise FileNotFoundError(
            f"fortunes: no fortune topic files (<topic> with its <topic>.dat index) in {source}: "
            f"{', '.join(dirs)}. dlcore never downloads data and never falls back from an explicit "
            f"path. Install Debian's `fortunes` package (`apt-get install fortunes`, installs to "
            f"{FORTUNES_DIR}/) or pass path=... (--data) or set DLCORE_DATA to a directory holding "
            f"the topic files.")
    if topics is None:
        wanted = have
    else:
        wanted = [topics] if isinstance(topics, str) else list(topics)
        missing = [t for t in wanted if t not in have]
        if missing:
            raise ValueError(f"fortunes: topics {missing} are not in {found}; it has {have}")
    texts, names = [], []
    for t in wanted:
        with open(os.path.join(found, t), "rb") as f:
            raw = f.read().decode("utf-8", errors="replace")
        for part in re.split(r"^%[ \t]*\r?$", raw, flags=re.M):
            text = "\n".join(line.rstrip() for line in _overstrike(part).strip("\r\n").split("\n")).rstrip()
            if text.strip():
                texts.append(text)
                names.append(t)
    return texts, names
