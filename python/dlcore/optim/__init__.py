"""dlcore.optim: optimizers (one fused C++ update per parameter) and lr schedules."""
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
