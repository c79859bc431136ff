// The optimizer hot loops (ops/optim_loops.h) compiled for the avx512 ISA (flags from
// CMakeLists.txt by file name), exported as the constant set optim_avx512_set.
// Branch-free selects (amsgrad's max, lerp's two ends) only if-convert, and so vectorise, when
// the compiler may evaluate both sides: FP exception flags are never read in dlcore.
#pragma GCC optimize("no-trapping-math")
#define DLCORE_OPTIM_NS optim_loops_avx512
#include "ops/optim_loops.h"

DLCORE_OPTIM_SET(avx512)
