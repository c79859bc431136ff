// The pooling loops (ops/pool_loops.h) compiled for the generic ISA (flags from CMakeLists.txt by
// file name), exported as the constant set pool_generic_set.
#define DLCORE_POOL_NS pool_loops_generic
#include "ops/pool_loops.h"

DLCORE_POOL_SET(generic)
