"""Elementwise family: binary ops with broadcasting (add, sub, mul, div, pow, maximum, minimum,
where), unary ops (neg, exp, log, sqrt, abs, sin, cos, log1p, expm1, clip, pow with a scalar
exponent), scalar affine arithmetic and dtype casts. Forward and backward side by side, each a
composition of bound kernels."""
from __future__ import annotations

from .. import _C
from ..autograd import Function
from ._args import Converted, sum_to

__all__ = ["Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Where", "Neg", "Exp", "Log",
           "Sqrt", "Abs", "Sin", "Cos", "Log1p", "Expm1", "Erf", "Clip", "PowScalar", "Affine", "Cast",
           "ToDevice"]

B = _C.Binary
U = _C.Unary


def _mul(a, b):
    return _C.binary(B.mul, a, b)


def _scale(a, s, shift=0.0):
    return _C.unary(U.mul_scalar, a, float(s), float(shift))


def _scalar(v, like):
    """A 0-d array holding v in like's dtype, on like's device."""
    return _C.full((), v, like.dtype, like.device)


# ---- binary ------------------------------------------------------------------------------------

class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return _C.binary(B.add, a, b)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shapes[0]), sum_to(g, ctx.shapes[1])


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return _C.binary(B.sub, a, b)

    @staticmethod
    def backward(ctx, g):
        gb = _C.unary(U.neg, g) if ctx.needs_input_grad[1] else None
        return sum_to(g, ctx.shapes[0]), (sum_to(gb, ctx.shapes[1]) if gb is not None else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _C.binary(B.mul, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to(_mul(g, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(_mul(g, a), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class _SavesOut(Function):
    """out = op(a, b) saving a, b and out (Div, Pow: their gradients read the result); the
    backward sums grad_a / grad_b(g, a, b, out) back to each input's shape, for the inputs
    that need one."""

    op = None

    @classmethod
    def forward(cls, ctx, a, b):
        out = _C.binary(cls.op, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @classmethod
    def backward(cls, ctx, g):
        a, b, out = ctx.saved_tensors
        ga = sum_to(cls.grad_a(g, a, b, out), a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(cls.grad_b(g, a, b, out), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(_SavesOut):
    op = B.div

    @staticmethod
    def grad_a(g, a, b, out):
        return _C.binary(B.div, g, b)

    @staticmethod
    def grad_b(g, a, b, out):  # d(a/b)/db = -out / b
        return _C.unary(U.neg, _C.binary(B.div, _mul(g, out), b))


class Pow(_SavesOut):
    op = B.pow

    @staticmethod
    def grad_a(g, a, b, out):  # b * a^(b-1); 0 where b == 0 (a^0 is constant), like PyTorch
        bm1 = _C.binary(B.sub, b, _scalar(1, b))
        d = _C.where(_C.binary(B.eq, b, _scalar(0, b)), _scalar(0, g), _mul(b, _C.binary(B.pow, a, bm1)))
        return _mul(g, d)

    @staticmethod
    def grad_b(g, a, b, out):  # out * log(a); 0 where a == 0 and b >= 0 (0^b is constant there)
        flat = _C.binary(B.logical_and, _C.binary(B.eq, a, _scalar(0, a)), _C.binary(B.ge, b, _scalar(0, b)))
        return _C.where(flat, _scalar(0, g), _mul(g, _mul(out, _C.unary(U.log, a))))


class Maximum(Function):
    """Elementwise maximum (Minimum: minimum); at ties the gradient is split evenly, like
    PyTorch."""

    _win, _lose, _code = B.gt, B.lt, B.maximum

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return _C.binary(cls._code, a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        tie = _C.binary(B.eq, a, b)
        half = _scale(g, 0.5)
        z = _scalar(0, g)
        ga = _C.where(_C.binary(cls._win, a, b), g, _C.where(tie, half, z))
        gb = _C.where(_C.binary(cls._lose, a, b), g, _C.where(tie, half, z))
        return sum_to(ga, a.shape), sum_to(gb, b.shape)


class Minimum(Maximum):
    _win, _lose, _code = B.lt, B.gt, B.minimum


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (a.shape, b.shape)
        return _C.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        z = _scalar(0, g)
        ga = sum_to(_C.where(ctx.cond, g, z), ctx.shapes[0]) if ctx.needs_input_grad[1] else None
        gb = sum_to(_C.where(ctx.cond, z, g), ctx.shapes[1]) if ctx.needs_input_grad[2] else None
        return None, ga, gb


# ---- unary -------------------------------------------------------------------------------------

class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return _C.unary(U.neg, x)

    @staticmethod
    def backward(ctx, g):
        return _C.unary(U.neg, g)


class _Unary(Function):
    """y = op(x); the backward is grad(g, s) with s the saved input, or the saved output y
    when the derivative is cheaper from it (exp, sqrt)."""

    op = None
    from_output = False

    @classmethod
    def forward(cls, ctx, x):
        y = _C.unary(cls.op, x)
        ctx.save_for_backward(y if cls.from_output else x)
        return y

    @classmethod
    def backward(cls, ctx, g):
        (s,) = ctx.saved_tensors
        return cls.grad(g, s)


class Exp(_Unary):
    op, from_output = U.exp, True

    @staticmethod
    def grad(g, y):
        return _mul(g, y)


class Log(_Unary):
    op = U.log

    @staticmethod
    def grad(g, x):
        return _C.binary(B.div, g, x)


class Sqrt(_Unary):
    op, from_output = U.sqrt, True

    @staticmethod
    def grad(g, y):  # y * 2 (not y * 2 + 0, which would turn sqrt(-0.) = -0. into +0.)
        return _C.binary(B.div, g, _mul(y, _scalar(2.0, y)))


class Abs(_Unary):
    op = U.abs

    @staticmethod
    def grad(g, x):
        return _mul(g, _C.unary(U.sign, x))


class Sin(_Unary):
    op = U.sin

    @staticmethod
    def grad(g, x):
        return _mul(g, _C.unary(U.cos, x))


class Cos(_Unary):
    op = U.cos

    @staticmethod
    def grad(g, x):
        return _C.unary(U.neg, _mul(g, _C.unary(U.sin, x)))


class Log1p(_Unary):
    op = U.log1p

    @staticmethod
    def grad(g, x):
        return _C.binary(B.div, g, _scale(x, 1.0, 1.0))


class Expm1(_Unary):
    op = U.expm1

    @staticmethod
    def grad(g, x):
        return _mul(g, _C.unary(U.exp, x))


class Erf(_Unary):
    op = U.erf

    @staticmethod
    def grad(g, x):  # 2 / sqrt(pi) exp(-x^2)
        return _mul(g, _scale(_C.unary(U.exp, _C.unary(U.neg, _mul(x, x))), 2.0 / 3.141592653589793 ** 0.5))


class Clip(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return _C.unary(U.clip, x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors  # gradient passes where lo <= x <= hi (PyTorch's clamp)
        inside = _C.binary(B.logical_and, _C.binary(B.ge, x, _scalar(ctx.lo, x)),
                           _C.binary(B.le, x, _scalar(ctx.hi, x)))
        return _C.where(inside, g, _scalar(0, g)), None, None


class PowScalar(Function):
    """x ** p for a Python number p."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return _C.unary(U.pow_scalar, x, p)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.p == 0:
            return _C.zeros(g.shape, g.dtype, g.device), None
        return _mul(g, _scale(_C.unary(U.pow_scalar, x, ctx.p - 1.0), ctx.p)), None


class Affine(Function):
    """x * a + b for Python scalars a, b (tensor-scalar add / sub / mul / div without
    broadcasting)."""

    @staticmethod
    def forward(ctx, x, a, b):
        ctx.a = a
        return _C.unary(U.mul_scalar, x, a, b)

    @staticmethod
    def backward(ctx, g):
        return _scale(g, ctx.a), None, None


class Cast(Converted):
    """x converted to another dtype (Tensor.type / to); the gradient is cast back."""

    of, by = "dtype", "astype"


class ToDevice(Converted):
    """x copied to another device (Tensor.to / cpu / cuda); the gradient is copied back."""

    of, by = "device", "to"
