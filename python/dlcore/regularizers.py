"""dlcore.regularizers: Keras's weight regularizers (``keras.regularizers``), the penalties of
dlcore.nn.regularizers under their Keras names. A Keras layer's kernel_regularizer= /
recurrent_regularizer= / bias_regularizer= attaches one to the weight, and fit / evaluate add
the penalties to the loss."""
from __future__ import annotations

from .nn.regularizers import L1, L1L2, L2, Regularizer, l1, l1_l2, l2

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]

_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier):
    """A regularizer by Keras name ('l1', 'l2', 'l1_l2': default factors) or the object itself."""
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"regularizers.get: unknown regularizer {identifier!r}; known: {sorted(_NAMES)}")
