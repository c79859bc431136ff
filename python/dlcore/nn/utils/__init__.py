"""dlcore.nn.utils (torch.nn.utils's names): gradient clipping (clip_grad.py), parameters as one
vector (convert_parameters.py) and, in
dlcore.nn.utils.rnn, packed and padded variable-length sequence batches."""
from . import rnn  # noqa: F401
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401

__all__ = ["get_total_norm", "clip_grads_with_norm_", "clip_grad_norm_", "clip_grad_value_",
           "parameters_to_vector", "vector_to_parameters", "rnn"]
