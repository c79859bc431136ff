// Per-element math of the optimizer family, shared by CPU (ops/optim.cpp) and CUDA
// (cuda/optim.cu). Each *_element function updates ONE element of a parameter and its state
// in place, following torch.optim's single-tensor code line by line (the order of the
// floating-point operations is kept, so float64 results agree to rounding).
// The per-tensor scalars (bias corrections, clr, ...) are computed once per tensor on the host
// by optim_coefs() from the group hyperparameters and the tensor's step count, in double,
// exactly where torch computes them as Python floats.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/view.h"

// The element functions are DLCORE_AHD (core/view.h): they are compiled into the ISA-specific
// csrc/kernels/optim_*.cpp, hence also the builtin square root / absolute value below.

namespace dlcore {

#if defined(__CUDA_ARCH__)
DLCORE_AHD float optim_sqrt(float x) { return sqrtf(x); }
DLCORE_AHD double optim_sqrt(double x) { return sqrt(x); }
#else
DLCORE_AHD float optim_sqrt(float x) { return __builtin_sqrtf(x); }
DLCORE_AHD double optim_sqrt(double x) { return __builtin_sqrt(x); }
#endif
template <class T> DLCORE_AHD T optim_abs(T x) { return x < T(0) ? -x : x; }

// State buffers that decay geometrically (momenta, running squares) are flushed to zero once
// they fall below the smallest normal number. Without it, an element whose gradient stays zero
// (a pixel that is always blank, a dead unit) decays into the subnormal range within some
// hundred steps, and every later update of it takes a microcode assist: on the Xeon of
// docs/speed.md an Adam step over such state ran 9x slower (0.18 -> 1.6 ms for 235k parameters).
// torch.optim keeps the subnormals; the difference is below 1.2e-38 (float) per element.
template <class T> DLCORE_AHD T optim_min_normal();
template <> DLCORE_AHD float optim_min_normal<float>() { return 1.17549435e-38f; }
template <> DLCORE_AHD double optim_min_normal<double>() { return 2.2250738585072014e-308; }
template <class T> DLCORE_AHD T optim_flush(T x) { return optim_abs(x) < optim_min_normal<T>() ? T(0) : x; }

enum class OptimKind : int { sgd = 0, adagrad, rmsprop, adadelta, adam, adamax, nadam, lion };

// Group hyperparameters (torch.optim's names). Unused fields are ignored by a given kind.
struct OptimHyper {
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0, eps = 0, beta1 = 0, beta2 = 0,
         alpha = 0, rho = 0, lr_decay = 0, momentum_decay = 0;
  bool nesterov = false, maximize = false, centered = false, amsgrad = false,
       decoupled_weight_decay = false;
  // Keras 3's update rules instead of torch.optim's (dlcore.optimizers): weight decay decoupled
  // for every kind (p *= 1 - lr * weight_decay first), and each kind's own Keras formula where it
  // differs (the *_keras branches below).
  bool keras = false;
};

// Per-tensor coefficients: c[] meaning depends on the kind (see optim_coefs).
struct OptimCoefs {
  double c[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  bool first = false;  // SGD: first step (momentum buffer := grad)
};

// Keras's per-step scalars (h.keras), computed in the variables' dtype T as Keras computes them
// (float32 tensors for float32 weights), so that the updates agree to rounding:
//   adam    c[2] = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)            (alpha)
//   adamax  c[1] = 1 - beta_1^t
//   nadam   c[0] = 1 - beta_2^t, c[1] = u_{t+1} / (1 - U_{t+1}), c[2] = (1 - u_t) / (1 - U_t) with
//           u_t = beta_1 (1 - 0.5 * 0.96^t) and U_t = U_{t-1} u_t (the extra: m_hat = c1 m + c2 g)
template <class T>
void keras_coefs(OptimKind kind, const OptimHyper& h, double step, double extra, double* extra_out, OptimCoefs& k) {
  const T t = T(step), one = T(1);
  switch (kind) {
    case OptimKind::adam: {
      T b1p = std::pow(T(h.beta1), t), b2p = std::pow(T(h.beta2), t);
      k.c[2] = double(T(h.lr) * optim_sqrt(one - b2p) / (one - b1p));
      break;
    }
    case OptimKind::adamax:
      k.c[1] = double(one - std::pow(T(h.beta1), t));
      break;
    case OptimKind::nadam: {
      const T decay = T(0.96), b1 = T(h.beta1);
      T u_t = b1 * (one - T(0.5) * std::pow(decay, t));
      T u_t1 = b1 * (one - T(0.5) * std::pow(decay, T(step + 1)));
      T up_t = T(extra) * u_t, up_t1 = up_t * u_t1;
      k.c[0] = double(one - std::pow(T(h.beta2), t));
      k.c[1] = double(u_t1 / (one - up_t1));
      k.c[2] = double((one - u_t) / (one - up_t));
      if (extra_out) *extra_out = double(up_t);
      break;
    }
    default:
      break;
  }
}

// step: the tensor's step count AFTER this update's increment (1 on the first update);
// extra: NAdam's mu_product before this update (returned updated through *extra_out);
// single: the tensors are float32 (Keras's scalars are then computed in float32).
inline OptimCoefs optim_coefs(OptimKind kind, const OptimHyper& h, double step, double extra,
                              double* extra_out, bool single = false) {
  OptimCoefs k;
  if (h.keras) {
    if (single) keras_coefs<float>(kind, h, step, extra, extra_out, k);
    else keras_coefs<double>(kind, h, step, extra, extra_out, k);
    return k;
  }
  switch (kind) {
    case OptimKind::sgd:
      k.first = step <= 1;
      break;
    case OptimKind::adagrad:
      k.c[0] = h.lr / (1 + (step - 1) * h.lr_decay);  // clr
      break;
    case OptimKind::adam: {
      double bc1 = 1 - std::pow(h.beta1, step);
      double bc2 = 1 - std::pow(h.beta2, step);
      k.c[0] = h.lr / bc1;         // step_size
      k.c[1] = optim_sqrt(bc2);     // bias_correction2_sqrt
      break;
    }
    case OptimKind::adamax:
      k.c[0] = h.lr / (1 - std::pow(h.beta1, step));  // clr
      break;
    case OptimKind::nadam: {
      double bc2 = 1 - std::pow(h.beta2, step);
      double mu = h.beta1 * (1.0 - 0.5 * std::pow(0.96, step * h.momentum_decay));
      double mu_next = h.beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1) * h.momentum_decay));
      double mu_product = extra * mu;
      double mu_product_next = mu_product * mu_next;
      k.c[0] = bc2;
      k.c[1] = -h.lr * (1.0 - mu) / (1.0 - mu_product);       // grad coefficient
      k.c[2] = (-h.lr * mu_next) / (1.0 - mu_product_next);   // exp_avg coefficient
      if (extra_out) *extra_out = mu_product;
      break;
    }
    default:
      break;
  }
  return k;
}

// ATen's lerp: a + w * (b - a), computed from the nearer end for accuracy.
template <class T> DLCORE_AHD T optim_lerp(T a, T b, T w) {
  return (w < T(0.5)) ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}

// Gradient as torch reads it: negated when maximizing, plus L2 weight decay (coupled).
template <class T> DLCORE_AHD T optim_grad(T p, T g, const OptimHyper& h, bool coupled_decay) {
  if (h.maximize) g = -g;
  if (coupled_decay && h.weight_decay != 0) g = g + T(h.weight_decay) * p;
  return g;
}

// SGD: buf (momentum buffer) may be null when momentum == 0. sgd_core holds the lines; the
// CPU loops call it with the options as compile-time constants (so the loop has no branches
// and vectorises), sgd_element with the run-time options.
template <class T>
DLCORE_AHD void sgd_core(T& p, T g, T* buf, bool maximize, bool decay, bool momentum, bool first,
                         bool nesterov, T wd, T mom, T damp1, T neg_lr) {
  if (maximize) g = -g;
  if (decay) g = g + wd * p;                  // grad = grad.add(param, alpha=weight_decay)
  if (momentum) {
    T b;
    if (first) b = g;                         // buf = clone(grad)
    else b = *buf * mom + damp1 * g;          // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
    b = optim_flush(b);
    *buf = b;
    g = nesterov ? g + mom * b : b;           // grad.add(buf, alpha=momentum) or buf
  }
  p = p + neg_lr * g;                         // param.add_(grad, alpha=-lr)
}
// Keras's decoupled weight decay, applied before every Keras update: p *= 1 - weight_decay * lr.
template <class T> DLCORE_AHD void keras_decay(T& p, const OptimHyper& h) {
  if (h.weight_decay != 0) p = p * T(1 - h.weight_decay * h.lr);
}

// Keras SGD: m = momentum m - lr g (m starts at 0); p += m, or with nesterov p += -lr g + momentum m.
template <class T> DLCORE_AHD void sgd_keras(T& p, T g, T* buf, const OptimHyper& h) {
  keras_decay(p, h);
  if (h.momentum != 0) {
    T b = optim_flush(*buf * T(h.momentum) + T(-h.lr) * g);
    *buf = b;
    if (h.nesterov) {
      p = p + T(-h.lr) * g;
      p = p + T(h.momentum) * b;
    } else {
      p = p + b;
    }
  } else {
    p = p + T(-h.lr) * g;
  }
}

template <class T> DLCORE_AHD void sgd_element(T& p, T g, T* buf, const OptimHyper& h, const OptimCoefs& k) {
  if (h.keras) return sgd_keras<T>(p, g, buf, h);
  sgd_core<T>(p, g, buf, h.maximize, h.weight_decay != 0, h.momentum != 0, k.first, h.nesterov,
              T(h.weight_decay), T(h.momentum), T(1 - h.dampening), T(-h.lr));
}

// Adagrad: sum (state_sum).
template <class T> DLCORE_AHD void adagrad_element(T& p, T g, T& sum, const OptimHyper& h, const OptimCoefs& k) {
  if (h.keras) {  // Keras: epsilon inside the root, no lr decay
    keras_decay(p, h);
    sum = sum + g * g;
    p = p - (g * T(h.lr)) / optim_sqrt(sum + T(h.eps));
    return;
  }
  g = optim_grad(p, g, h, true);
  sum = sum + g * g;
  T std_ = optim_sqrt(sum) + T(h.eps);
  p = p + T(-k.c[0]) * (g / std_);
}

// RMSprop: sq (square_avg), gavg (grad_avg, centered only), buf (momentum_buffer, momentum only).
template <class T>
DLCORE_AHD void rmsprop_element(T& p, T g, T& sq, T* gavg, T* buf, const OptimHyper& h) {
  if (h.keras) {  // Keras: p -= lr g / sqrt(v + eps) (centered: sqrt(v - gavg^2 + eps)), momentum on the increment
    keras_decay(p, h);
    const T rho = T(h.alpha);
    sq = optim_flush(sq * rho + T(1 - h.alpha) * (g * g));
    T den = sq + T(h.eps);
    if (h.centered) {
      T ga = optim_flush(*gavg * rho + T(1 - h.alpha) * g);
      *gavg = ga;
      den = den + T(-1) * (ga * ga);
    }
    T inc = (g * T(h.lr)) / optim_sqrt(den);
    if (h.momentum > 0) {
      T b = optim_flush(*buf * T(h.momentum) + inc);
      *buf = b;
      p = p - b;
    } else {
      p = p - inc;
    }
    return;
  }
  g = optim_grad(p, g, h, true);
  sq = optim_flush(sq * T(h.alpha) + T(1 - h.alpha) * g * g);
  T avg;
  if (h.centered) {
    T ga = optim_flush(optim_lerp(*gavg, g, T(1 - h.alpha)));
    *gavg = ga;
    avg = optim_sqrt(sq + T(-1) * ga * ga);
  } else {
    avg = optim_sqrt(sq);
  }
  avg = avg + T(h.eps);
  if (h.momentum > 0) {
    T b = optim_flush(*buf * T(h.momentum) + g / avg);
    *buf = b;
    p = p + T(-h.lr) * b;
  } else {
    p = p + T(-h.lr) * (g / avg);
  }
}

// Adadelta: sq (square_avg), acc (acc_delta).
template <class T> DLCORE_AHD void adadelta_element(T& p, T g, T& sq, T& acc, const OptimHyper& h) {
  if (h.keras) keras_decay(p, h);  // otherwise Keras's rule is torch's
  g = optim_grad(p, g, h, !h.keras);
  sq = optim_flush(sq * T(h.rho) + T(1 - h.rho) * g * g);
  T std_ = optim_sqrt(sq + T(h.eps));
  T delta = optim_sqrt(acc + T(h.eps));
  delta = delta / std_ * g;
  acc = optim_flush(acc * T(h.rho) + T(1 - h.rho) * delta * delta);
  p = p + T(-h.lr) * delta;
}

// Adam / AdamW: m (exp_avg), v (exp_avg_sq), vmax (max_exp_avg_sq, amsgrad only).
// Decay: 0 none, 1 coupled L2 (Adam), 2 decoupled (AdamW). The flags are template arguments
// so the CPU loop has no branches and vectorises. The scalars come from AdamScalars.
struct AdamScalars {
  double decay_mul, w1, beta2, w2, step_size, bc2s, eps, wd;
};
DLCORE_AHD AdamScalars adam_scalars(const OptimHyper& h, const OptimCoefs& k) {
  return {1 - h.lr * h.weight_decay, 1 - h.beta1, h.beta2, 1 - h.beta2, k.c[0], k.c[1], h.eps,
          h.weight_decay};
}
template <class T, bool Amsgrad, int Decay>
DLCORE_AHD void adam_element(T& p, T g, T& m, T& v, T* vmax, T decay_mul, T w1, T beta2, T w2,
                            T neg_step_size, T bc2s, T eps, T wd) {
  if (Decay == 2) p = p * decay_mul;            // param.mul_(1 - lr * weight_decay)
  if (Decay == 1) g = g + wd * p;               // grad = grad.add(param, alpha=weight_decay)
  m = optim_flush(optim_lerp(m, g, w1));        // exp_avg.lerp_(grad, 1 - beta1)
  v = optim_flush(v * beta2 + w2 * g * g);      // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
  T s = v;
  if (Amsgrad) {
    T mx = *vmax > v ? *vmax : v;               // torch.maximum(max_exp_avg_sqs, exp_avg_sq)
    *vmax = mx;
    s = mx;
  }
  T denom = optim_sqrt(s) / bc2s + eps;          // (sqrt / bias_correction2_sqrt).add_(eps)
  p = p + neg_step_size * (m / denom);          // param.addcdiv_(exp_avg, denom, value=-step_size)
}

// Keras Adam / AdamW: alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) (k.c[2]);
// p -= m alpha / (sqrt(v) + eps), v the running max with amsgrad.
template <class T>
DLCORE_AHD void adam_keras(T& p, T g, T& m, T& v, T* vmax, const OptimHyper& h, const OptimCoefs& k) {
  keras_decay(p, h);
  m = optim_flush(m * T(h.beta1) + T(1 - h.beta1) * g);
  v = optim_flush(v * T(h.beta2) + T(1 - h.beta2) * (g * g));
  T s = v;
  if (h.amsgrad) {
    s = *vmax > v ? *vmax : v;
    *vmax = s;
  }
  p = p - (m * T(k.c[2])) / (optim_sqrt(s) + T(h.eps));
}

// Adamax: m (exp_avg), u (exp_inf).
template <class T> DLCORE_AHD void adamax_element(T& p, T g, T& m, T& u, const OptimHyper& h, const OptimCoefs& k) {
  if (h.keras) {  // Keras: u = max(beta_2 u, |g|); p -= lr m / ((u + eps) (1 - beta_1^t))
    keras_decay(p, h);
    m = optim_flush(m * T(h.beta1) + T(1 - h.beta1) * g);
    T a = u * T(h.beta2), b = optim_abs(g);
    u = optim_flush(a > b ? a : b);
    p = p - (m * T(h.lr)) / ((u + T(h.eps)) * T(k.c[1]));
    return;
  }
  g = optim_grad(p, g, h, true);
  m = optim_flush(optim_lerp(m, g, T(1 - h.beta1)));
  T a = u * T(h.beta2), b = optim_abs(g) + T(h.eps);
  u = a > b ? a : b;
  p = p + T(-k.c[0]) * (m / u);
}

// NAdam: m (exp_avg), v (exp_avg_sq); coefficients from optim_coefs.
template <class T> DLCORE_AHD void nadam_element(T& p, T g, T& m, T& v, const OptimHyper& h, const OptimCoefs& k) {
  if (h.keras) {  // Keras: m_hat = c1 m + c2 g (optim_coefs), p -= lr m_hat / (sqrt(v / (1 - beta_2^t)) + eps)
    keras_decay(p, h);
    m = optim_flush(m * T(h.beta1) + T(1 - h.beta1) * g);
    v = optim_flush(v * T(h.beta2) + T(1 - h.beta2) * (g * g));
    T m_hat = m * T(k.c[1]) + g * T(k.c[2]);
    p = p - (m_hat * T(h.lr)) / (optim_sqrt(v / T(k.c[0])) + T(h.eps));
    return;
  }
  if (h.maximize) g = -g;
  if (h.weight_decay != 0) {
    if (h.decoupled_weight_decay) p = p * T(1 - h.lr * h.weight_decay);
    else g = g + T(h.weight_decay) * p;
  }
  m = optim_flush(optim_lerp(m, g, T(1 - h.beta1)));
  v = optim_flush(v * T(h.beta2) + T(1 - h.beta2) * g * g);
  T denom = optim_sqrt(v / T(k.c[0])) + T(h.eps);
  p = p + T(k.c[1]) * (g / denom);
  p = p + T(k.c[2]) * (m / denom);
}

// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): m (exp_avg).
//   c = beta1 m + (1 - beta1) g;  p = p (1 - lr wd) - lr sign(c);  m = beta2 m + (1 - beta2) g
template <class T> DLCORE_AHD void lion_element(T& p, T g, T& m, const OptimHyper& h) {
  if (h.maximize) g = -g;  // (Keras's Lion is this rule, its weight decay decoupled too)
  if (h.weight_decay != 0) p = p * T(1 - h.lr * h.weight_decay);
  T c = m * T(h.beta1) + T(1 - h.beta1) * g;
  T s = c > T(0) ? T(1) : (c < T(0) ? T(-1) : T(0));
  p = p + T(-h.lr) * s;
  m = optim_flush(m * T(h.beta2) + T(1 - h.beta2) * g);
}

}  // namespace dlcore
