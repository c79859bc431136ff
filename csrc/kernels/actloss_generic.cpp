// The activation / loss hot loops (ops/activation_loops.h) compiled for the generic ISA
// (flags from CMakeLists.txt by file name), exported as the constant set actloss_generic_set.
// The branch-free math only if-converts (and so vectorises) when the compiler may evaluate
// both sides of a select: FP exception flags are never read in dlcore, so allow it here.
#pragma GCC optimize("no-trapping-math")
#define DLCORE_LOOPS_NS loops_generic
#include "ops/activation_loops.h"

DLCORE_ACTLOSS_SET(generic)
