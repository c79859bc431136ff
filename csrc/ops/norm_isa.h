// Per-ISA entry points of the layer-norm row loops and batch-norm (N, C) sweeps (ops/norm_loops.h). Each
// csrc/kernels/norm_<isa>.cpp compiles the loops with its own flags and exports one constant
// set; norm_kernels() returns the set for the ISA chosen at run time (core/cpu.h), falling back
// to the generic set. The caller (ops/norm.cpp) owns threading, checks and the dgamma / dbeta
// block partials.
#pragma once
#include <cstdint>

#include "core/cpu.h"

namespace dlcore {

template <class T> struct NormSet {
  // Rows [r0, r1) of x (rows of K): y, and per row mean / rstd (see ln_fwd_rows).
  void (*ln_fwd_rows)(const T* x, const T* gamma, const T* beta, double eps, int64_t K, int64_t r0,
                      int64_t r1, T* y, T* mean, T* rstd) = nullptr;
  // Rows [r0, r1): dx, and ab[j] += sum dy, ag[j] += sum dy * xhat over these rows (in T).
  void (*ln_bwd_rows)(const T* dy, const T* x, const T* gamma, const T* mean, const T* rstd,
                      int64_t K, int64_t r0, int64_t r1, T* dx, T* ab, T* ag) = nullptr;
  // Batch norm over (N, C, S), one channel: forward sums (shifted) and the affine line over one
  // run; backward sums over its N runs of S values, and the dx line over one run (see
  // norm_loops.h bn_stats / bn_affine_run / bn_bwd_sums / bn_dx_run).
  void (*bn_stats)(const T* x, int64_t N, int64_t stride, int64_t S, double shift, double* s, double* q) = nullptr;
  // relu / y: the fused ReLU on the output (norm_math.h norm_relu, norm_relu_grad; y null: none).
  void (*bn_affine_run)(const T* x, T* y, int64_t n, T scale, T shift, bool relu) = nullptr;
  void (*bn_bwd_sums)(const T* dy, const T* x, const T* y, int64_t N, int64_t stride, int64_t S, double mean,
                      double* s, double* t) = nullptr;
  void (*bn_dx_run)(const T* dy, const T* x, const T* y, T* dx, int64_t n, T k, T a, T b) = nullptr;
  // Batch norm over (N, C), channel block [c0, c0 + w) swept row by row (see norm_loops.h).
  void (*bn1d_stats)(const T* x, int64_t N, int64_t C, int64_t c0, int64_t w, const double* k0,
                     double* sum, double* sq) = nullptr;
  void (*bn1d_affine)(const T* x, T* y, int64_t N, int64_t C, int64_t c0, int64_t w, const T* scale,
                      const T* shift) = nullptr;
  void (*bn1d_bwd_sums)(const T* dy, const T* x, int64_t N, int64_t C, int64_t c0, int64_t w,
                        const double* mean, double* sdy, double* sdyx) = nullptr;
  void (*bn1d_dx)(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t c0, int64_t w,
                  const T* kk, const T* aa, const T* bb) = nullptr;
};

using NormKernels = IsaKernelSets<NormSet>;

extern const NormKernels norm_generic_set;
#if defined(DLCORE_X86)
extern const NormKernels norm_avx2_set;
extern const NormKernels norm_avx512_set;
#endif
const NormKernels& norm_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/norm_<isa>.cpp after including ops/norm_loops.h.
#define DLCORE_NORM_SET(NS)                                                                    \
  namespace dlcore {                                                                         \
  extern const NormKernels norm_##NS##_set;                                                  \
  const NormKernels norm_##NS##_set = {                                                      \
      {norm_loops_##NS::ln_fwd_rows<float>, norm_loops_##NS::ln_bwd_rows<float>,             \
       norm_loops_##NS::bn_stats<float>, norm_loops_##NS::bn_affine_run<float>,              \
       norm_loops_##NS::bn_bwd_sums<float>, norm_loops_##NS::bn_dx_run<float>,               \
       norm_loops_##NS::bn1d_stats<float>, norm_loops_##NS::bn1d_affine<float>,              \
       norm_loops_##NS::bn1d_bwd_sums<float>, norm_loops_##NS::bn1d_dx<float>},              \
      {norm_loops_##NS::ln_fwd_rows<double>, norm_loops_##NS::ln_bwd_rows<double>,           \
       norm_loops_##NS::bn_stats<double>, norm_loops_##NS::bn_affine_run<double>,            \
       norm_loops_##NS::bn_bwd_sums<double>, norm_loops_##NS::bn_dx_run<double>,             \
       norm_loops_##NS::bn1d_stats<double>, norm_loops_##NS::bn1d_affine<double>,            \
       norm_loops_##NS::bn1d_bwd_sums<double>, norm_loops_##NS::bn1d_dx<double>}};           \
  }
