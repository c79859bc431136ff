"""dlcore.nn.utils.convert_parameters: all parameters as one flat vector and back
(torch.nn.utils.parameters_to_vector / vector_to_parameters). Each function reads
``parameters`` once, so a generator (model.parameters()) works as a list does."""
from __future__ import annotations

from ...autograd import no_grad
from ...tensor import Tensor, cat
from .clip_grad import _params

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated into one 1-D tensor (differentiable, like
    torch.nn.utils.parameters_to_vector)."""
    ps = _params(parameters, "parameters_to_vector")
    if not ps:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of the 1-D tensor ``vec`` into the parameters (in place, not
    recorded by autograd); vec must hold exactly as many elements as the parameters together."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: vec must be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    ps = _params(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in ps)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements but the parameters "
                         f"hold {total}")
    pos = 0
    with no_grad():
        for p in ps:
            n = p.numel()
            p.data.copy_(vec.detach()[pos:pos + n].reshape(p.shape))
            pos += n
