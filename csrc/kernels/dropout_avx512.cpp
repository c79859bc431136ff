// The dropout loops (ops/dropout_loops.h) compiled for the avx512 ISA (flags from CMakeLists.txt
// by file name), exported as the constant set dropout_avx512_set.
#define DLCORE_DROPOUT_NS dropout_loops_avx512
#include "ops/dropout_loops.h"

DLCORE_DROPOUT_SET(avx512)
