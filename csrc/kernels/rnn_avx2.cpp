// The recurrent family's float32 cell loops (ops/rnn_loops.h) compiled for the avx2 ISA
// (flags from CMakeLists.txt by file name), exported as the constant set rnn_avx2_set.
// The branch-free activations only if-convert (and so vectorise) when the compiler may
// evaluate both sides of a select: FP exception flags are never read in dlcore, so allow it.
#pragma GCC optimize("no-trapping-math")
#define DLCORE_RNN_LOOPS_NS rnn_loops_avx2
#include "ops/rnn_loops.h"

DLCORE_RNN_SET(avx2)
