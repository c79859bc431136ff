// The direct convolution loops (ops/conv_direct_loops.h) compiled for the avx512 ISA (flags from
// CMakeLists.txt by file name), exported as the constant set convdirect_avx512_set.
#define DLCORE_LOOPS_NS cdl_avx512
#include "ops/conv_direct_loops.h"

DLCORE_CONVDIRECT_SET(avx512)
