// Per-ISA entry points of the pooling loops (ops/pool_loops.h). Each csrc/kernels/pool_<isa>.cpp
// compiles the loops with its own flags and exports one constant set; pool_kernels() returns the
// set for the ISA chosen at run time (core/cpu.h), falling back to the generic set. The caller
// (ops/pool.cpp) owns threading and checks.
#pragma once
#include <cstdint>
#include <type_traits>

#include "core/cpu.h"

namespace dlcore {

template <class T> struct PoolSet {
  // One output row of a 2x2 stride-2 unpadded max pool: rows r0, r1 of a plane of width W,
  // OW outputs, indices base + offset in the plane (ops/pool_loops.h max2x2_row).
  void (*max2x2_row)(const T* r0, const T* r1, int64_t OW, int64_t W, int64_t base, T* y, int64_t* idx) = nullptr;
  // All OH rows of one plane of width W (x, y, idx at the plane's start; max2x2_plane).
  void (*max2x2_plane)(const T* x, int64_t W, int64_t OH, int64_t OW, T* y, int64_t* idx) = nullptr;
};

using PoolKernels = IsaKernelSets<PoolSet>;

extern const PoolKernels pool_generic_set;
#if defined(DLCORE_X86)
extern const PoolKernels pool_avx2_set;
extern const PoolKernels pool_avx512_set;
#endif
const PoolKernels& pool_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/pool_<isa>.cpp after including ops/pool_loops.h.
#define DLCORE_POOL_SET(NS)                                                                   \
  namespace dlcore {                                                                        \
  extern const PoolKernels pool_##NS##_set;                                                 \
  const PoolKernels pool_##NS##_set = {                                                      \
      {pool_loops_##NS::max2x2_row<float>, pool_loops_##NS::max2x2_plane<float>},            \
      {pool_loops_##NS::max2x2_row<double>, pool_loops_##NS::max2x2_plane<double>}};         \
  }
