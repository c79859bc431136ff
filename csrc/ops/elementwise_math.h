// Per-element math of the elementwise family, shared by the CPU kernels (elementwise.cpp) and
// the CUDA kernels (cuda/elementwise.cu). One inline function per op; the op codes are the
// ones the Python layer passes (dlcore._C.Unary / dlcore._C.Binary).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/view.h"

namespace dlcore {

enum class UnaryOp : int {
  neg, exp, log, sqrt, abs, sign, relu, sigmoid, tanh, square, reciprocal, sin, cos,
  log1p, expm1, floor, ceil, round, erf,
  // with scalar parameters p0, p1:
  clip,        // min(max(x, p0), p1); NaN stays NaN
  pow_scalar,  // x ** p0
  rpow_scalar, // p0 ** x
  mul_scalar,  // x * p0 + p1  (affine: scale and shift)
  isnan, isinf, logical_not,
  kCount
};

enum class BinaryOp : int {
  add, sub, mul, div, pow, maximum, minimum,
  eq, ne, lt, le, gt, ge,  // comparisons: output is bool
  logical_and, logical_or,
  kCount
};

// Names for error messages (the Python-visible names of dlcore._C.Unary / Binary).
inline const char* unary_name(UnaryOp op) {
  static const char* n[] = {"neg", "exp", "log", "sqrt", "abs", "sign", "relu", "sigmoid", "tanh",
                            "square", "reciprocal", "sin", "cos", "log1p", "expm1", "floor",
                            "ceil", "round", "erf", "clip", "pow", "pow", "mul_scalar", "isnan", "isinf",
                            "logical_not"};
  static_assert(sizeof(n) / sizeof(n[0]) == (int)UnaryOp::kCount, "one name per UnaryOp");
  return (int)op >= 0 && op < UnaryOp::kCount ? n[(int)op] : "unary";
}
inline const char* binary_name(BinaryOp op) {
  static const char* n[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne",
                            "lt", "le", "gt", "ge", "logical_and", "logical_or"};
  static_assert(sizeof(n) / sizeof(n[0]) == (int)BinaryOp::kCount, "one name per BinaryOp");
  return (int)op >= 0 && op < BinaryOp::kCount ? n[(int)op] : "binary";
}

inline bool unary_needs_float(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: case UnaryOp::abs: case UnaryOp::sign: case UnaryOp::relu:
    case UnaryOp::square: case UnaryOp::clip: case UnaryOp::mul_scalar:
    case UnaryOp::isnan: case UnaryOp::isinf: case UnaryOp::logical_not:
      return false;
    default:
      return true;
  }
}
inline bool unary_outputs_bool(UnaryOp op) {
  return op == UnaryOp::isnan || op == UnaryOp::isinf || op == UnaryOp::logical_not;
}
inline bool binary_outputs_bool(BinaryOp op) { return op >= BinaryOp::eq; }

template <class T> DLCORE_HD T sigmoid_of(T x) {
  // Stable for large |x|: never exponentiates a large positive number.
  if (x >= T(0)) {
    T z = std::exp(-x);
    return T(1) / (T(1) + z);
  }
  T z = std::exp(x);
  return z / (T(1) + z);
}

template <class T> DLCORE_HD bool is_nan_val(T x) { return x != x; }  // false for integers

template <class T> DLCORE_HD T unary_apply(UnaryOp op, T x, double p0, double p1) {
  switch (op) {  // ops defined for every dtype
    case UnaryOp::neg: return -x;
    case UnaryOp::abs: return x < T(0) ? -x : x;
    case UnaryOp::sign: return is_nan_val(x) ? x : T((x > T(0)) - (x < T(0)));
    case UnaryOp::relu: return is_nan_val(x) ? x : (x > T(0) ? x : T(0));
    case UnaryOp::square: return x * x;
    case UnaryOp::clip: {
      // Compared in double: an open bound is +-inf, which must never be converted to an
      // integer T (undefined behaviour); a bound is converted only when it is the result.
      if (is_nan_val(x)) return x;
      double xd = (double)x;
      return xd < p0 ? T(p0) : (xd > p1 ? T(p1) : x);
    }
    case UnaryOp::mul_scalar: return (T)(x * (T)p0 + (T)p1);
    default: break;
  }
  if constexpr (std::is_floating_point<T>::value) {  // float-only ops (the front door checks)
    switch (op) {
      case UnaryOp::exp: return std::exp(x);
      case UnaryOp::log: return std::log(x);
      case UnaryOp::sqrt: return std::sqrt(x);
      case UnaryOp::sigmoid: return sigmoid_of(x);
      case UnaryOp::tanh: return std::tanh(x);
      case UnaryOp::reciprocal: return T(1) / x;
      case UnaryOp::sin: return std::sin(x);
      case UnaryOp::cos: return std::cos(x);
      case UnaryOp::log1p: return std::log1p(x);
      case UnaryOp::expm1: return std::expm1(x);
      case UnaryOp::floor: return std::floor(x);
      case UnaryOp::ceil: return std::ceil(x);
      case UnaryOp::round: return std::nearbyint(x);  // half to even, like NumPy and PyTorch
      case UnaryOp::erf: return std::erf(x);
      case UnaryOp::pow_scalar: return (T)std::pow(x, (T)p0);
      case UnaryOp::rpow_scalar: return (T)std::pow((T)p0, x);
      default: break;
    }
  }
  return x;
}

template <class T> DLCORE_HD bool unary_bool_apply(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::isnan: return is_nan_val(x);
    case UnaryOp::isinf: return !is_nan_val(x) && (x - x) != (x - x);
    case UnaryOp::logical_not: return !(x != T(0));
    default: return false;
  }
}

// a / b. For integers, C++ division traps (SIGFPE) on b == 0 and on INT64_MIN / -1: return 0
// for b == 0 (NumPy's result) and the wrapped negation for b == -1, so no input can crash.
template <class T> DLCORE_HD T div_value(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == T(0)) return T(0);
    if (b == T(-1)) return (T)((std::make_unsigned_t<T>)0 - (std::make_unsigned_t<T>)a);
  }
  return a / b;
}

template <class T> DLCORE_HD T binary_apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return div_value(a, b);
    case BinaryOp::pow:
      if constexpr (std::is_floating_point<T>::value) {
        return (T)std::pow(a, b);
      } else {  // exact integer power by squaring (device-safe: no host-only std::pow)
        if (b < 0) return T(a == 1 ? 1 : (a == -1 ? ((b % 2) ? -1 : 1) : 0));
        T r = 1, base = a;
        for (T e = b; e > 0; e /= 2) {
          if (e % 2) r *= base;
          base *= base;
        }
        return r;
      }
    // maximum/minimum propagate NaN like NumPy and PyTorch
    case BinaryOp::maximum: return is_nan_val(a) ? a : (is_nan_val(b) ? b : (a > b ? a : b));
    case BinaryOp::minimum: return is_nan_val(a) ? a : (is_nan_val(b) ? b : (a < b ? a : b));
    default: return a;
  }
}

template <class T> DLCORE_HD bool compare_apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::eq: return a == b;
    case BinaryOp::ne: return a != b;
    case BinaryOp::lt: return a < b;
    case BinaryOp::le: return a <= b;
    case BinaryOp::gt: return a > b;
    case BinaryOp::ge: return a >= b;
    case BinaryOp::logical_and: return (a != T(0)) && (b != T(0));
    case BinaryOp::logical_or: return (a != T(0)) || (b != T(0));
    default: return false;
  }
}

}  // namespace dlcore
