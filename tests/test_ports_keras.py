"""Ports of well-known Keras example scripts (tests/ports_keras/*.py), each run twice from one
source: as written, on Keras 3 (the PyTorch backend), and with only its import lines changed to
dlcore's (``import dlcore as keras``, ``from dlcore import layers``). Each asserts that dlcore
runs it and its loss falls, and, where the weights can be made the same (Keras's
get_weights / set_weights layouts, dropout off, no shuffling), that the first epochs' losses
agree with Keras's. Keras is the reference only: these tests skip without it."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

import dlcore

PORTS = Path(__file__).parent / "ports_keras"
BEGIN, END = "# --- imports ---", "# --- end imports ---"


def _dlcore_import(line):
    """The dlcore form of one Keras-script import line (others unchanged)."""
    line = re.sub(r"^import (keras|torch)$", r"import dlcore as \1", line)
    line = re.sub(r"^import keras\.(\w+) as (\w+)$", r"from dlcore import \1 as \2", line)
    return re.sub(r"^from keras import ", "from dlcore import ", line)


def port_source(name, backend):
    """The port's source for ``backend`` ('keras' or 'dlcore'): the dlcore one differs from
    the file only inside its import block, and only in import lines."""
    text = (PORTS / f"{name}.py").read_text()
    head, rest = text.split(BEGIN + "\n", 1)
    block, tail = rest.split(END + "\n", 1)
    if backend == "dlcore":
        new = [_dlcore_import(line) for line in block.splitlines()]
        for old, line in zip(block.splitlines(), new):
            assert line == old or line.startswith(("import ", "from ")), line
        block = "\n".join(new) + "\n"
    return head + BEGIN + "\n" + block + END + "\n" + tail


def load_port(name, backend):
    """Executes the port as a module for ``backend``; returns its namespace."""
    if backend == "keras":
        os.environ["KERAS_BACKEND"] = "torch"
        pytest.importorskip("keras")
    ns = {"__name__": f"ports_keras_{name}_{backend}"}
    exec(compile(port_source(name, backend), str(PORTS / f"{name}.py"), "exec"), ns)
    return ns


def _seed(backend, seed):
    if backend == "keras":
        import keras  # noqa: F401  (loaded by load_port; seeds its generators)
        keras.utils.set_random_seed(seed)
    else:
        dlcore.utils.set_random_seed(seed)


def _falls(losses, factor):
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < factor * losses[0], losses


def test_only_import_lines_differ():
    for path in sorted(PORTS.glob("*.py")):
        a = port_source(path.stem, "keras").splitlines()
        b = port_source(path.stem, "dlcore").splitlines()
        assert len(a) == len(b)
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        assert diff, path.stem  # every port imports something of Keras's
        assert all(x.startswith(("import ", "from ")) and y.startswith(("import ", "from ")) for x, y in diff)


# ---- 1. keras.io "Simple MNIST convnet" -------------------------------------------------------

def test_mnist_convnet_learns():
    port = load_port("mnist_convnet", "dlcore")
    _seed("dlcore", 0)
    losses, (test_loss, test_acc) = port["train"](port["build_model"]())
    _falls(losses, 0.5)
    assert test_acc > 0.8


def test_mnist_convnet_matches_keras():
    ref, port = load_port("mnist_convnet", "keras"), load_port("mnist_convnet", "dlcore")
    _seed("keras", 0)
    km = ref["build_model"](dropout=0.0)
    m = port["build_model"](dropout=0.0)
    m.set_weights(km.get_weights())
    want, _ = ref["train"](km, epochs=2, shuffle=False)
    got, _ = port["train"](m, epochs=2, shuffle=False)
    np.testing.assert_allclose(got, want, rtol=1e-4)
