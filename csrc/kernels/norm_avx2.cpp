// The layer-norm row loops (ops/norm_loops.h) compiled for the avx2 ISA (flags from
// CMakeLists.txt by file name), exported as the constant set norm_avx2_set.
#define DLCORE_NORM_NS norm_loops_avx2
#include "ops/norm_loops.h"

DLCORE_NORM_SET(avx2)
