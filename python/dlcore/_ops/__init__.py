"""dlcore._ops: the autograd Functions, one module per op family (the csrc/ops names):
elementwise, reduce, shape (views, concat, split), index, gemm, activation, loss, norm,
dropout, conv, pool, rnn, embedding. Each Function works on raw arrays and calls only bound
kernels (dlcore._C), with forward and backward side by side; a Function is named by the
CamelCase of the functional op it implements (_ops.gemm.Linear, _ops.loss.CrossEntropy).
_args.py normalises arguments for all families.

Modules here import only _C, dtype, autograd and _ops._args (never tensor.py or nn); import the
family you need: ``from dlcore._ops import conv``. The package is private: ``dlcore.ops`` is the
Keras-style NumPy-like namespace users import."""

__all__ = []
