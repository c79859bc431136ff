// The pooling loops (ops/pool_loops.h) compiled for the avx2 ISA (flags from CMakeLists.txt by
// file name), exported as the constant set pool_avx2_set.
#define DLCORE_POOL_NS pool_loops_avx2
#include "ops/pool_loops.h"

DLCORE_POOL_SET(avx2)
