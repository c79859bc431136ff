import contextlib

import numpy as np
import pytest

import dlcore

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except Exception:  # torch is a test-only reference; its tests skip when it is absent
    HAVE_TORCH = False

requires_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch (test-only reference) not installed")
requires_cuda = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no CUDA device")


@pytest.fixture(autouse=True)
def _seed():
    dlcore.manual_seed(0)
    yield


@contextlib.contextmanager
def isa(name):
    """Runs the block on ISA path `name`, then restores the previous one."""
    prev = dlcore._C.isa()
    dlcore._C.set_isa(name)
    try:
        yield
    finally:
        dlcore._C.set_isa(prev)


@contextlib.contextmanager
def threads(n):
    """Runs the block with an n-thread pool, then restores the previous size."""
    prev = dlcore.get_num_threads()
    dlcore.set_num_threads(n)
    try:
        yield
    finally:
        dlcore.set_num_threads(prev)


@pytest.fixture(params=dlcore._C.supported_isas())
def every_isa(request):
    """Runs a test once per ISA path this CPU supports."""
    with isa(request.param):
        yield request.param


def rng(seed=0):
    return np.random.default_rng(seed)


def cuda_array(a):
    """A dlcore Array on the GPU holding a copy of the NumPy array a (None stays None)."""
    return None if a is None else dlcore._C.from_object(a).to("cuda")


def host_array(a):
    """A NumPy copy of a dlcore Array on any device (None stays None)."""
    return None if a is None else np.asarray(a.to("cpu"))
