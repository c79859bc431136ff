// The dropout loops (ops/dropout_loops.h) compiled for the generic ISA (flags from CMakeLists.txt
// by file name), exported as the constant set dropout_generic_set.
#define DLCORE_DROPOUT_NS dropout_loops_generic
#include "ops/dropout_loops.h"

DLCORE_DROPOUT_SET(generic)
