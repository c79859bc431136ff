// The optimizer hot loops (ops/optim_loops.h) compiled for the generic ISA (flags from
// CMakeLists.txt by file name), exported as the constant set optim_generic_set.
// Branch-free selects (amsgrad's max, lerp's two ends) only if-convert, and so vectorise, when
// the compiler may evaluate both sides: FP exception flags are never read in dlcore.
#pragma GCC optimize("no-trapping-math")
#define DLCORE_OPTIM_NS optim_loops_generic
#include "ops/optim_loops.h"

DLCORE_OPTIM_SET(generic)
