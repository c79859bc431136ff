// Per-ISA entry points of the activation / loss hot loops (ops/activation_loops.h). Each
// csrc/kernels/actloss_<isa>.cpp compiles the loops with its own flags and fills its slot;
// actloss_kernels() returns the set for the ISA chosen at run time (core/cpu.h), falling back
// to the generic set. Callers (ops/activation.cpp, ops/loss.cpp) own threading and checks.
#pragma once
#include <cstdint>

#include "core/cpu.h"
#include "ops/activation_math.h"

namespace dlcore {

// Arguments of the fused cross-entropy rows (see ce_fwd in ops/activation_loops.h).
struct CeArgs {
  int64_t C = 0;
  const int64_t* tidx = nullptr;   // class indices (rows,), or null
  const void* tprob = nullptr;     // class probabilities (rows, C), or null
  const void* weight = nullptr;    // class weights (C,), or null
  int64_t ignore_index = -100;
  double eps = 0;                  // label smoothing
};

template <class T> struct ActLossSet {
  void (*act_fwd)(ActOp, const T*, T*, int64_t, T, T) = nullptr;
  void (*act_bwd)(ActOp, const T*, const T*, T*, int64_t, T, T) = nullptr;
  void (*softmax_fwd)(const T*, T*, int64_t, int64_t, int64_t, int64_t, bool) = nullptr;
  void (*softmax_bwd)(const T*, const T*, T*, int64_t, int64_t, int64_t, int64_t, bool) = nullptr;
  void (*ce_fwd)(const T*, const CeArgs&, int64_t, int64_t, T*, T*, T*) = nullptr;
  void (*ce_bwd)(const T*, const CeArgs&, const T*, const T*, int64_t, int64_t, int64_t, T*) = nullptr;
};

using ActLossKernels = IsaKernelSets<ActLossSet>;

// One constant-initialised set per ISA file (pure data: no code of that ISA runs at load time).
extern const ActLossKernels actloss_generic_set;
#if defined(DLCORE_X86)
extern const ActLossKernels actloss_avx2_set;
extern const ActLossKernels actloss_avx512_set;
#endif
const ActLossKernels& actloss_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/actloss_<isa>.cpp after including ops/activation_loops.h.
#define DLCORE_ACTLOSS_SET(NS)                                                       \
  namespace dlcore {                                                               \
  extern const ActLossKernels actloss_##NS##_set;                                  \
  const ActLossKernels actloss_##NS##_set = {                                      \
      {loops_##NS::act_fwd_span<float>, loops_##NS::act_bwd_span<float>,            \
       loops_##NS::softmax_fwd<float>, loops_##NS::softmax_bwd<float>,              \
       loops_##NS::ce_fwd<float>, loops_##NS::ce_bwd<float>},                       \
      {loops_##NS::act_fwd_span<double>, loops_##NS::act_bwd_span<double>,          \
       loops_##NS::softmax_fwd<double>, loops_##NS::softmax_bwd<double>,            \
       loops_##NS::ce_fwd<double>, loops_##NS::ce_bwd<double>}};                    \
  }
