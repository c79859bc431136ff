// The optimizer hot loops, written once and compiled once per ISA: csrc/kernels/optim_{generic,
// avx2,avx512}.cpp include this file inside their own namespace (DLCORE_OPTIM_NS) with their own
// -m flags and export step_span<T> through DLCORE_OPTIM_SET (ops/optim_isa.h); ops/optim.cpp
// picks the current ISA's set and splits the elements over threads.
// Each loop is a plain unit-stride loop over one tensor's elements with __restrict pointers and
// the options as template constants, around the per-element lines of ops/optim_math.h (the
// torch.optim formulas), so the compiler vectorises it. Every element is independent: the
// result never depends on the thread count. The vector ISAs may contract a * b + c into one FMA,
// so their results can differ from the generic build in the last bit (as torch's own vectorised
// kernels do); the tests hold every ISA to torch.optim.
#pragma once
#include <cstdint>

#include "ops/optim_isa.h"
#include "ops/optim_math.h"

#ifndef DLCORE_OPTIM_NS
#error "define DLCORE_OPTIM_NS before including ops/optim_loops.h"
#endif

namespace dlcore {
namespace DLCORE_OPTIM_NS {

// Only static (internal) functions here, and only always-inline math from optim_math.h: an
// inline library function instantiated in this ISA's object could otherwise be picked by the
// linker for callers in generic code.

// ---- Adam / AdamW ----------------------------------------------------------------------------
template <class T, bool A, int D>
static void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                      T* __restrict vm, int64_t n, const AdamScalars& s, T gsign) {
  const T decay_mul = (T)s.decay_mul, w1 = (T)s.w1, beta2 = (T)s.beta2, w2 = (T)s.w2,
          nss = (T)(-s.step_size), bc2s = (T)s.bc2s, eps = (T)s.eps, wd = (T)s.wd;
  if (!A) vm = m;  // never read or written: keeps the pointer valid
  for (int64_t j = 0; j < n; ++j)
    adam_element<T, A, D>(p[j], g[j] * gsign, m[j], v[j], vm + j, decay_mul, w1, beta2, w2, nss,
                          bc2s, eps, wd);
}

template <class T>
static void adam_span(const OptimHyper& h, const OptimCoefs& k, T* p, const T* g, T* m, T* v, T* vm,
                      int64_t n) {
  const AdamScalars s = adam_scalars(h, k);
  const T gs = h.maximize ? T(-1) : T(1);  // g * -1 is exactly -g
  const int decay = h.weight_decay == 0 ? 0 : (h.decoupled_weight_decay ? 2 : 1);
  if (h.amsgrad) {
    if (decay == 0) adam_loop<T, true, 0>(p, g, m, v, vm, n, s, gs);
    else if (decay == 1) adam_loop<T, true, 1>(p, g, m, v, vm, n, s, gs);
    else adam_loop<T, true, 2>(p, g, m, v, vm, n, s, gs);
  } else {
    if (decay == 0) adam_loop<T, false, 0>(p, g, m, v, vm, n, s, gs);
    else if (decay == 1) adam_loop<T, false, 1>(p, g, m, v, vm, n, s, gs);
    else adam_loop<T, false, 2>(p, g, m, v, vm, n, s, gs);
  }
}

// ---- SGD ---------------------------------------------------------------------------------------
template <class T, bool Decay, bool Mom, bool First, bool Nest>
static void sgd_loop(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n, T gsign,
                     T wd, T mom, T damp1, T neg_lr) {
  if (!Mom) buf = p;  // never read or written
  for (int64_t j = 0; j < n; ++j)
    sgd_core<T>(p[j], g[j] * gsign, buf + j, false, Decay, Mom, First, Nest, wd, mom, damp1, neg_lr);
}

template <class T>
static void sgd_span(const OptimHyper& h, const OptimCoefs& k, T* p, const T* g, T* buf, int64_t n) {
  if (h.keras) {  // Keras's rule (dlcore.optimizers): one run-time-option loop
    for (int64_t j = 0; j < n; ++j) sgd_keras<T>(p[j], g[j], buf ? buf + j : nullptr, h);
    return;
  }
  const T gs = h.maximize ? T(-1) : T(1);
  const T wd = T(h.weight_decay), mom = T(h.momentum), damp1 = T(1 - h.dampening), nlr = T(-h.lr);
  const bool decay = h.weight_decay != 0;
#define DLCORE_SGD(D, M, F, N) sgd_loop<T, D, M, F, N>(p, g, buf, n, gs, wd, mom, damp1, nlr)
  if (h.momentum == 0) {
    if (decay) DLCORE_SGD(true, false, false, false);
    else DLCORE_SGD(false, false, false, false);
    return;
  }
  const int code = (decay ? 4 : 0) | (k.first ? 2 : 0) | (h.nesterov ? 1 : 0);
  switch (code) {
    case 0: DLCORE_SGD(false, true, false, false); break;
    case 1: DLCORE_SGD(false, true, false, true); break;
    case 2: DLCORE_SGD(false, true, true, false); break;
    case 3: DLCORE_SGD(false, true, true, true); break;
    case 4: DLCORE_SGD(true, true, false, false); break;
    case 5: DLCORE_SGD(true, true, false, true); break;
    case 6: DLCORE_SGD(true, true, true, false); break;
    default: DLCORE_SGD(true, true, true, true); break;
  }
#undef DLCORE_SGD
}

// ---- the rest: run-time options (loop-invariant branches the compiler may unswitch) ---------------
template <class T>
void step_span(OptimKind kind, const OptimHyper& h, const OptimCoefs& k, T* __restrict p,
               const T* __restrict g, T* __restrict s0, T* __restrict s1, T* __restrict s2, int64_t n) {
  switch (kind) {
    case OptimKind::sgd:
      sgd_span<T>(h, k, p, g, s0, n);
      break;
    case OptimKind::adam:
      if (h.keras) {
        for (int64_t j = 0; j < n; ++j) adam_keras<T>(p[j], g[j], s0[j], s1[j], s2 ? s2 + j : nullptr, h, k);
        break;
      }
      adam_span<T>(h, k, p, g, s0, s1, s2, n);
      break;
    case OptimKind::adagrad:
      for (int64_t j = 0; j < n; ++j) adagrad_element<T>(p[j], g[j], s0[j], h, k);
      break;
    case OptimKind::rmsprop:
      for (int64_t j = 0; j < n; ++j)
        rmsprop_element<T>(p[j], g[j], s0[j], s1 ? s1 + j : nullptr, s2 ? s2 + j : nullptr, h);
      break;
    case OptimKind::adadelta:
      for (int64_t j = 0; j < n; ++j) adadelta_element<T>(p[j], g[j], s0[j], s1[j], h);
      break;
    case OptimKind::adamax:
      for (int64_t j = 0; j < n; ++j) adamax_element<T>(p[j], g[j], s0[j], s1[j], h, k);
      break;
    case OptimKind::nadam:
      for (int64_t j = 0; j < n; ++j) nadam_element<T>(p[j], g[j], s0[j], s1[j], h, k);
      break;
    case OptimKind::lion:
      for (int64_t j = 0; j < n; ++j) lion_element<T>(p[j], g[j], s0[j], h);
      break;
  }
}

}  // namespace DLCORE_OPTIM_NS
}  // namespace dlcore
