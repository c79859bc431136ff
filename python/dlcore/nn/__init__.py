"""dlcore.nn: PyTorch-style modules. Each op family adds its modules' import line here."""
from . import init  # noqa: F401
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential  # noqa: F401
from .linear import Flatten, Identity, Linear, Reshape  # noqa: F401
from .activation import ReLU, Sigmoid, Tanh  # noqa: F401
from .. import functional  # noqa: F401
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, Embedding  # noqa: F401
