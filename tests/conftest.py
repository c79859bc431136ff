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


@pytest.fixture(params=dlcore._C.supported_isas())
def every_isa(request):
    """Runs a test once per ISA path this CPU supports."""
    prev = dlcore._C.isa()
    dlcore._C.set_isa(request.param)
    yield request.param
    dlcore._C.set_isa(prev)


def rng(seed=0):
    return np.random.default_rng(seed)
