"""Keras-style Embedding (on nn.functional.embedding) and Masking."""
from __future__ import annotations

from .. import initializers
from ..nn.embedding import embedding
from ..nn.module import Parameter
from .._ops._args import integer
from ..tensor import Tensor, tensor
from .base import Layer

__all__ = ["Embedding", "Masking"]


class Embedding(Layer):
    """Rows of an (input_dim, output_dim) table by integer index: (N, T) -> (N, T, output_dim).
    Keras 3's arguments and defaults: embeddings_initializer='uniform' (U(-0.05, 0.05)); the
    weight is ``embeddings`` (Keras's name and layout, so get_weights / set_weights carry
    Keras weights over). Float indices (from an Input of the default float dtype) are cast to
    int64, as Keras casts them. mask_zero=True: index 0 is padding; ``compute_mask`` gives
    ``inputs != 0`` and Sequential / Model hand it to the next layer (an RNN then skips those
    steps)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.input_dim = integer(input_dim, "Embedding", "input_dim", 1)
        self.output_dim = integer(output_dim, "Embedding", "output_dim", 1)
        self.embeddings_initializer = embeddings_initializer
        self.mask_zero = bool(mask_zero)
        self.embeddings = Parameter(initializers.get(embeddings_initializer)((self.input_dim, self.output_dim)))
        self.built = True

    def forward(self, x):
        if x.dtype.is_floating_point:
            x = x.long()
        return embedding(x, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        x = inputs if isinstance(inputs, Tensor) else tensor(inputs)
        return x != 0

    def get_config(self):
        init = self.embeddings_initializer
        return {"name": self.name, "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": init if isinstance(init, str) else type(init).__name__,
                "mask_zero": self.mask_zero}


class Masking(Layer):
    """Masks the time steps of a (N, T, F) input whose features all equal ``mask_value``: the
    output is the input with those steps zeroed, and ``compute_mask`` gives the (N, T) mask
    the next layer (an RNN) receives."""

    supports_masking = True

    def __init__(self, mask_value=0.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.mask_value = float(mask_value)
        self.built = True

    def _keep(self, x):
        return (x != self.mask_value).any(-1)

    def forward(self, x):
        return x * self._keep(x).unsqueeze(-1).type(x.dtype)

    def compute_mask(self, inputs, mask=None):
        x = inputs if isinstance(inputs, Tensor) else tensor(inputs)
        return self._keep(x)

    def get_config(self):
        return {"name": self.name, "mask_value": self.mask_value}
