"""How tensors print: NumPy's formatting of a host copy (printing is one of NumPy's edges)."""
from __future__ import annotations

import numpy as np


def array_body(arr, prefix):
    """The body of repr(tensor) for the Array arr, aligned after `prefix`."""
    host = arr if arr.device == "cpu" else arr.to("cpu")
    return np.array2string(host.numpy(), separator=", ", prefix=prefix)
