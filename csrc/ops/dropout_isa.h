// Per-ISA entry points of the dropout loops (ops/dropout_loops.h). Each
// csrc/kernels/dropout_<isa>.cpp compiles the loops with its own flags and exports one constant
// set; dropout_kernels() returns the set for the ISA chosen at run time (core/cpu.h), falling
// back to the generic set. The caller (ops/dropout.cpp) owns threading and checks.
#pragma once
#include <cstdint>

#include "core/cpu.h"

namespace dlcore {

template <class T> struct DropoutSet {
  // Philox blocks [b0, b1) of the mask (4 mask elements per block; nm elements in all):
  // mk[m] = keep decision of element m (ops/dropout_math.h dropout_keep).
  void (*draw)(uint64_t seed, uint64_t counter, double p, int64_t b0, int64_t b1, int64_t nm, bool* mk) = nullptr;
  // out[i] = in[i] * (keep ? k : 0) + (keep ? c_keep : c_drop), keep = mk[i / inner], over the
  // mask elements [m0, m1).
  void (*apply)(const T* in, const bool* mk, int64_t m0, int64_t m1, int64_t inner, T k, T c_keep, T c_drop,
                T* out) = nullptr;
};

using DropoutKernels = IsaKernelSets<DropoutSet>;

extern const DropoutKernels dropout_generic_set;
#if defined(DLCORE_X86)
extern const DropoutKernels dropout_avx2_set;
extern const DropoutKernels dropout_avx512_set;
#endif
const DropoutKernels& dropout_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/dropout_<isa>.cpp after including ops/dropout_loops.h.
#define DLCORE_DROPOUT_SET(NS)                                                                     \
  namespace dlcore {                                                                             \
  extern const DropoutKernels dropout_##NS##_set;                                                \
  const DropoutKernels dropout_##NS##_set = {                                                    \
      {dropout_loops_##NS::draw_blocks, dropout_loops_##NS::apply_range<float>},                 \
      {dropout_loops_##NS::draw_blocks, dropout_loops_##NS::apply_range<double>}};               \
  }
