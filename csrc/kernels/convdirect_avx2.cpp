// The direct convolution loops (ops/conv_direct_loops.h) compiled for the avx2 ISA (flags from
// CMakeLists.txt by file name), exported as the constant set convdirect_avx2_set.
#define DLCORE_LOOPS_NS cdl_avx2
#include "ops/conv_direct_loops.h"

DLCORE_CONVDIRECT_SET(avx2)
