// Per-ISA entry points of the optimizer hot loops (ops/optim_loops.h). Each
// csrc/kernels/optim_<isa>.cpp compiles the loops with its own flags and exports one constant
// set; optim_kernels() returns the set for the ISA chosen at run time (core/cpu.h), falling
// back to the generic set. The caller (ops/optim.cpp) owns threading and checks.
#pragma once
#include <cstdint>

#include "core/cpu.h"
#include "ops/optim_math.h"

namespace dlcore {

template <class T> struct OptimSet {
  // Updates n elements of one tensor in place: p, g and the state pointers s0..s2 (null when
  // that slot is unused) all start at the same element; k is the tensor's coefficients.
  void (*step)(OptimKind kind, const OptimHyper& h, const OptimCoefs& k, T* p, const T* g, T* s0,
               T* s1, T* s2, int64_t n) = nullptr;
};

using OptimKernels = IsaKernelSets<OptimSet>;

// One constant-initialised set per ISA file (pure data: no code of that ISA runs at load time).
extern const OptimKernels optim_generic_set;
#if defined(DLCORE_X86)
extern const OptimKernels optim_avx2_set;
extern const OptimKernels optim_avx512_set;
#endif
const OptimKernels& optim_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/optim_<isa>.cpp after including ops/optim_loops.h.
#define DLCORE_OPTIM_SET(NS)                                                   \
  namespace dlcore {                                                         \
  extern const OptimKernels optim_##NS##_set;                                \
  const OptimKernels optim_##NS##_set = {{optim_loops_##NS::step_span<float>}, \
                                         {optim_loops_##NS::step_span<double>}}; \
  }
