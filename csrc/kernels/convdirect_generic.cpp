// The direct convolution loops (ops/conv_direct_loops.h) compiled for the generic ISA (flags from
// CMakeLists.txt by file name), exported as the constant set convdirect_generic_set.
#define DLCORE_LOOPS_NS cdl_generic
#include "ops/conv_direct_loops.h"

DLCORE_CONVDIRECT_SET(generic)
