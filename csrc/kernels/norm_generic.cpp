// The layer-norm row loops (ops/norm_loops.h) compiled for the generic ISA (flags from
// CMakeLists.txt by file name), exported as the constant set norm_generic_set.
#define DLCORE_NORM_NS norm_loops_generic
#include "ops/norm_loops.h"

DLCORE_NORM_SET(generic)
