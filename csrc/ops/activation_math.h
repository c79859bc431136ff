// Per-element math of the activation family: forward f(x) and derivative f'(x) for every
// activation, shared by the CPU kernels (ops/activation_loops.h, compiled once per ISA) and the
// CUDA kernels (cuda/activation.cu). Everything is branch-free (ternaries become blends) so the
// CPU loops auto-vectorise; exp / expm1 / log1p / tanh / erf have polynomial versions here
// because libm calls block vectorisation. On the GPU the CUDA intrinsics are used instead.
//
// Accuracy (float, checked by tests/test_activation.py against PyTorch): exp ~1 ulp,
// erf < 4.3e-7 absolute (rational, no exp), log1p / tanh a few ulp. Double uses the polynomial
// exp (degree 13, < 2 ulp) and libm for tanh / erf / log1p.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/view.h"

namespace dlcore {

// The activation op codes (dlcore._C.Act). p0/p1 are the scalar parameters listed per op.
enum class ActOp : int {
  sigmoid, tanh, relu, relu6,
  leaky_relu,   // p0 = negative_slope
  elu,          // p0 = alpha
  selu,
  celu,         // p0 = alpha
  gelu,         // exact: 0.5 x (1 + erf(x / sqrt 2))
  gelu_tanh,    // approximate='tanh'
  silu,         // p0 = beta: x * sigmoid(beta x)  (swish)
  mish,
  softplus,     // p0 = beta, p1 = threshold
  softsign, hard_sigmoid, hard_swish,
  hard_tanh,    // p0 = min_val, p1 = max_val
  log_sigmoid,
  kCount
};

// Whether the backward kernel wants the forward OUTPUT y (true) or the input x (false).
DLCORE_AHD bool act_backward_uses_output(ActOp op) {
  return op == ActOp::sigmoid || op == ActOp::tanh || op == ActOp::relu;
}

namespace am {  // activation math helpers

DLCORE_AHD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
DLCORE_AHD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
DLCORE_AHD double bits_f64(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double((long long)u);
#else
  double f;
  std::memcpy(&f, &u, 8);
  return f;
#endif
}
DLCORE_AHD uint64_t f64_bits(double f) {
#if defined(__CUDA_ARCH__)
  return (uint64_t)__double_as_longlong(f);
#else
  uint64_t u;
  std::memcpy(&u, &f, 8);
  return u;
#endif
}

// exp(x): x = n ln2 + r (Cody-Waite), e^r by a Taylor polynomial on |r| <= ln2/2, 2^n built
// from exponent bits in two halves (so results down to the subnormals are right). The
// rounding n = round(x / ln2) uses the 1.5 * 2^23 trick, whose low mantissa bits ARE n: no
// float->int conversion, so NaN goes through without undefined behaviour and stays NaN.
DLCORE_AHD float exp_poly(float x) {
  x = x > 89.0f ? 89.0f : x;          // e^89 overflows to inf below, as it should
  x = x < -104.0f ? -104.0f : x;      // below this e^x is 0 in float
  const float magic = 12582912.0f;    // 1.5 * 2^23
  float v = x * 1.44269504088896341f + magic;
  float n = v - magic;
  int32_t ni = (int32_t)(f32_bits(v) - f32_bits(magic));
  float r = x - n * 0.693359375f;     // ln2 high part (exact product for |n| < 2^9)
  r = r - n * -2.12194440e-4f;        // ln2 low part
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t n1 = ni >> 1, n2 = ni - n1;
  float s1 = bits_f32((uint32_t)(n1 + 127) << 23);
  float s2 = bits_f32((uint32_t)(n2 + 127) << 23);
  return p * s1 * s2;
}

DLCORE_AHD double exp_poly(double x) {
  x = x > 710.0 ? 710.0 : x;
  x = x < -746.0 ? -746.0 : x;
  const double magic = 6755399441055744.0;  // 1.5 * 2^52
  double v = x * 1.4426950408889634074 + magic;
  double n = v - magic;
  int64_t ni = (int64_t)(f64_bits(v) - f64_bits(magic));
  double r = x - n * 6.93147180369123816490e-01;  // ln2 hi (trailing zero bits)
  r = r - n * 1.90821492927058770002e-10;         // ln2 lo
  double p = 1.0 / 6227020800.0;                    // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  int64_t n1 = ni >> 1, n2 = ni - n1;
  double s1 = bits_f64((uint64_t)(n1 + 1023) << 52);
  double s2 = bits_f64((uint64_t)(n2 + 1023) << 52);
  return p * s1 * s2;
}

template <class T> DLCORE_AHD T exp_(T x) {
#if defined(__CUDA_ARCH__)
  return exp(x);
#else
  return exp_poly(x);
#endif
}

// log1p(u) for u in [0, 1] (enough for softplus / log-sigmoid, where u = e^-|x|):
// log1p(u) = 2 atanh(s), s = u / (2 + u) in [0, 1/3]; relative accuracy holds for tiny u.
DLCORE_AHD float log1p_unit(float u) {
#if defined(__CUDA_ARCH__)
  return log1pf(u);
#else
  float s = u / (2.0f + u);
  float s2 = s * s;
  float p = 1.0f / 17.0f;
  p = p * s2 + 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
#endif
}
DLCORE_AHD double log1p_unit(double u) { return log1p(u); }

// expm1(z) for float: Taylor below |z| < 0.5 (no cancellation near 0), e^z - 1 above.
DLCORE_AHD float expm1_(float z) {
#if defined(__CUDA_ARCH__)
  return expm1f(z);
#else
  float t = 1.0f / 3628800.0f;
  t = t * z + 1.0f / 362880.0f;
  t = t * z + 1.0f / 40320.0f;
  t = t * z + 1.0f / 5040.0f;
  t = t * z + 1.0f / 720.0f;
  t = t * z + 1.0f / 120.0f;
  t = t * z + 1.0f / 24.0f;
  t = t * z + 1.0f / 6.0f;
  t = t * z + 0.5f;
  t = t * z + 1.0f;
  t = t * z;
  float a = z < 0.0f ? -z : z;
  return a < 0.5f ? t : exp_poly(z) - 1.0f;
#endif
}
DLCORE_AHD double expm1_(double z) { return expm1(z); }

// tanh: float via e / (e + 2) with e = expm1(2|x|); |x| clamped at 20 (tanh is 1 there).
DLCORE_AHD float tanh_(float x) {
#if defined(__CUDA_ARCH__)
  return tanhf(x);
#else
  float a = x < 0.0f ? -x : x;
  a = a > 20.0f ? 20.0f : a;
  float e = expm1_(2.0f * a);
  float r = e / (e + 2.0f);
  r = x < 0.0f ? -r : r;
  return x != x ? x : r;
#endif
}
DLCORE_AHD double tanh_(double x) { return tanh(x); }

// erf (float): z P(z^2) / Q(z^2) on z = x clamped to [-4, 4] (beyond 4, erf is 1 in float), the
// rational form of Eigen / XLA (generic_fast_erf_float): numerator degree 13 (odd), denominator
// degree 8 (even). Absolute error < 7e-8 in exact arithmetic, < 4.3e-7 evaluated in float
// (against math.erf); relative ~2e-7 near 0. No exp, no select: ~15 vector ops and one division,
// a third of the two-polynomial + exp form it replaced (abs error ~1e-7, but 2.6-3.7x slower).
// GELU's float error over [-6, 6] is now 1.5e-6 at most (PyTorch 2.13's: 1.2e-6; the old form:
// 4.5e-7), its derivative's 2.2e-7 (PyTorch: 2.8e-7). NaN stays NaN through the clamps.
DLCORE_AHD float erf_(float x) {
#if defined(__CUDA_ARCH__)
  return erff(x);
#else
  float z = x > 4.0f ? 4.0f : x;
  z = z < -4.0f ? -4.0f : z;
  const float z2 = z * z;
  float p = -2.72614225801306e-10f;
  p = p * z2 + 2.77068142495902e-08f;
  p = p * z2 - 2.10102402082508e-06f;
  p = p * z2 - 5.69250639462346e-05f;
  p = p * z2 - 7.34990630326855e-04f;
  p = p * z2 - 2.95459980854025e-03f;
  p = p * z2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * z2 - 2.13374055278905e-04f;
  q = q * z2 - 1.68282697438203e-03f;
  q = q * z2 - 7.37332916720468e-03f;
  q = q * z2 - 1.42647390514189e-02f;
  return z * p / q;
#endif
}
DLCORE_AHD double erf_(double x) { return erf(x); }

// sigmoid as 1 / (1 + e^-x) (PyTorch's SiLU form): e^-x overflowing to inf for x < -88 gives
// 0, as it should; no |x|, no select. For SiLU, whose x * sigmoid(x) needs no subnormal
// sigmoid values (sigmoid_ below keeps them for the sigmoid op itself).
template <class T> DLCORE_AHD T sigmoid_direct(T x) { return T(1) / (T(1) + exp_(-x)); }
template <class T> DLCORE_AHD T sigmoid_(T x) {
  T e = exp_(x < T(0) ? x : -x);  // e^-|x|, never overflows
  T r = T(1) / (T(1) + e);
  return x < T(0) ? e * r : r;
}
// softplus(x) = max(x, 0) + log1p(e^-|x|), stable for all x; NaN propagates.
template <class T> DLCORE_AHD T softplus_(T x) {
  T a = x < T(0) ? -x : x;
  T m = x > T(0) ? x : T(0);
  T r = m + log1p_unit(exp_(-a));
  return x != x ? x : r;
}

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluTanhC = 0.044715;

}  // namespace am

// Forward: y = f(x). NaN inputs give NaN (like PyTorch).
template <class T> DLCORE_AHD T act_forward(ActOp op, T x, T p0, T p1) {
  using namespace am;
  switch (op) {
    case ActOp::sigmoid: return sigmoid_(x);
    case ActOp::tanh: return tanh_(x);
    case ActOp::relu: return x < T(0) ? T(0) : x;
    case ActOp::relu6: { T r = x < T(0) ? T(0) : x; return r > T(6) ? T(6) : r; }
    case ActOp::leaky_relu: return x > T(0) ? x : x * p0;
    case ActOp::elu: { T n = p0 * expm1_(x > T(0) ? T(0) : x); return x > T(0) ? x : n; }
    case ActOp::selu: {
      T n = T(kSeluAlpha) * expm1_(x > T(0) ? T(0) : x);
      return T(kSeluScale) * (x > T(0) ? x : n);
    }
    case ActOp::celu: {
      T z = x / p0;
      T n = p0 * expm1_(z > T(0) ? T(0) : z);
      return x > T(0) ? x : n;
    }
    case ActOp::gelu: return T(0.5) * x * (T(1) + erf_(x * T(kSqrt1_2)));
    case ActOp::gelu_tanh: {
      T inner = T(kSqrt2OverPi) * (x + T(kGeluTanhC) * x * x * x);
      return T(0.5) * x * (T(1) + tanh_(inner));
    }
    case ActOp::silu: return x * sigmoid_direct(p0 * x);
    case ActOp::mish: return x * tanh_(softplus_(x));
    case ActOp::softplus: {
      T bx = p0 * x;
      return bx > p1 ? x : softplus_(bx) / p0;
    }
    case ActOp::softsign: return x / (T(1) + (x < T(0) ? -x : x));
    case ActOp::hard_sigmoid: {
      T r = x + T(3);
      r = r < T(0) ? T(0) : r;
      r = r > T(6) ? T(6) : r;
      return r * T(1.0 / 6.0);
    }
    case ActOp::hard_swish: {
      T r = x + T(3);
      r = r < T(0) ? T(0) : r;
      r = r > T(6) ? T(6) : r;
      return x * r * T(1.0 / 6.0);
    }
    case ActOp::hard_tanh: { T r = x < p0 ? p0 : x; return r > p1 ? p1 : r; }
    case ActOp::log_sigmoid: return -softplus_(-x);
    default: return x;
  }
}

// Backward: grad_in = g * f'(x). s is the forward OUTPUT y when act_backward_uses_output(op),
// else the input x. Values at kinks follow PyTorch's kernels.
template <class T> DLCORE_AHD T act_backward(ActOp op, T g, T s, T p0, T p1) {
  using namespace am;
  switch (op) {
    case ActOp::sigmoid: return g * s * (T(1) - s);             // y = sigmoid(x)
    case ActOp::tanh: return g * (T(1) - s * s);                // y = tanh(x)
    case ActOp::relu: return s <= T(0) ? T(0) : g;              // y = max(x, 0)
    case ActOp::relu6: return (s > T(0) && s < T(6)) ? g : T(0);
    case ActOp::leaky_relu: return s > T(0) ? g : g * p0;
    case ActOp::elu: return s > T(0) ? g : g * p0 * exp_(s > T(0) ? T(0) : s);
    case ActOp::selu:
      return s > T(0) ? g * T(kSeluScale)
                      : g * T(kSeluScale * kSeluAlpha) * exp_(s > T(0) ? T(0) : s);
    case ActOp::celu: {
      T z = s / p0;
      return s > T(0) ? g : g * exp_(z > T(0) ? T(0) : z);
    }
    case ActOp::gelu: {  // Phi(x) + x phi(x)
      T a = s * T(kSqrt1_2);
      T cdf = T(0.5) * (T(1) + erf_(a));
      T pdf = T(kInvSqrt2Pi) * exp_(-(a * a));
      return g * (cdf + s * pdf);
    }
    case ActOp::gelu_tanh: {
      T x2 = s * s;
      T inner = T(kSqrt2OverPi) * (s + T(kGeluTanhC) * x2 * s);
      T t = tanh_(inner);
      T dinner = T(kSqrt2OverPi) * (T(1) + T(3.0 * kGeluTanhC) * x2);
      return g * (T(0.5) * (T(1) + t) + T(0.5) * s * (T(1) - t * t) * dinner);
    }
    case ActOp::silu: {  // d/dx x sig(bx) = sig + b x sig (1 - sig)
      T sg = sigmoid_direct(p0 * s);
      return g * sg * (T(1) + p0 * s * (T(1) - sg));
    }
    case ActOp::mish: {  // tanh(sp) + x sig(x) (1 - tanh(sp)^2)
      T t = tanh_(softplus_(s));
      return g * (t + s * sigmoid_(s) * (T(1) - t * t));
    }
    case ActOp::softplus: {
      T bx = p0 * s;
      return bx > p1 ? g : g * sigmoid_(bx);
    }
    case ActOp::softsign: {
      T d = T(1) + (s < T(0) ? -s : s);
      return g / (d * d);
    }
    case ActOp::hard_sigmoid: return (s > T(-3) && s < T(3)) ? g * T(1.0 / 6.0) : T(0);
    case ActOp::hard_swish:
      // PyTorch's convention at the kinks: 0 at x = -3, g at x = 3
      return s <= T(-3) ? T(0) : (s >= T(3) ? g : g * (s * T(1.0 / 3.0) + T(0.5)));
    case ActOp::hard_tanh: return (s > p0 && s < p1) ? g : T(0);
    case ActOp::log_sigmoid: return g * sigmoid_(-s);
    default: return g;
  }
}

}  // namespace dlcore
