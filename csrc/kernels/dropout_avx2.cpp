// The dropout loops (ops/dropout_loops.h) compiled for the avx2 ISA (flags from CMakeLists.txt
// by file name), exported as the constant set dropout_avx2_set.
#define DLCORE_DROPOUT_NS dropout_loops_avx2
#include "ops/dropout_loops.h"

DLCORE_DROPOUT_SET(avx2)
