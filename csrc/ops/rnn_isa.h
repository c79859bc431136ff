// Per-ISA entry points of the recurrent family's float32 cell loops (ops/rnn_loops.h). Each
// csrc/kernels/rnn_<isa>.cpp compiles the loops with its own flags and exports one constant
// set; rnn_cell_kernels() returns the set for the ISA chosen at run time (core/cpu.h). Callers
// (ops/rnn.cpp) own threading, checks and padded (length-masked) rows.
//
// A "row part" is units [j0, j1) of one batch row n of a time step; every pointer below is
// already offset to (n, j0) of its array, len = j1 - j0, and H is the stride between gate
// blocks inside a row of xg / hg / ws / biases (so gate k of unit j is p[k*H + j]).
#pragma once
#include <cstdint>

#include "core/cpu.h"

namespace dlcore {

struct RnnRowFwd {
  int64_t len = 0, H = 0;
  const float* xg = nullptr;  // input projection (no bias), G blocks
  const float* hg = nullptr;  // recurrent projection (no bias), G blocks
  const float* bi = nullptr;  // b_ih (zeros when absent), G blocks
  const float* bh = nullptr;  // b_hh (zeros when absent), G blocks
  const float* hp = nullptr;  // h_prev (GRU)
  const float* cp = nullptr;  // c_prev (LSTM)
  float* ws = nullptr;        // saved activations, 4 blocks
  float* hn = nullptr;        // h_next
  float* cn = nullptr;        // c_next (LSTM)
  float* y = nullptr;         // output copy of h_next, or null
};

struct RnnRowBwd {
  int64_t len = 0, H = 0;
  const float* ws = nullptr;   // saved activations, 4 blocks
  const float* hp = nullptr;   // h_prev (GRU)
  const float* cp = nullptr;   // c_prev (LSTM)
  const float* cn = nullptr;   // c_next (LSTM)
  const float* dh = nullptr;   // d h_next from later steps (zeros when absent)
  const float* dy = nullptr;   // d output (zeros when absent)
  const float* dc = nullptr;   // d c_next (LSTM; zeros when absent)
  float* gx = nullptr;         // d gate pre-activations, input side, G blocks
  float* gh = nullptr;         // recurrent side (GRU), G blocks
  float* dhp = nullptr;        // direct part of d h_prev
  float* dcp = nullptr;        // d c_prev (LSTM)
};

struct RnnCellKernels {
  void (*lstm_fwd)(const RnnRowFwd&) = nullptr;
  void (*gru_fwd)(const RnnRowFwd&) = nullptr;
  void (*lstm_bwd)(const RnnRowBwd&) = nullptr;
  void (*gru_bwd)(const RnnRowBwd&) = nullptr;
};

extern const RnnCellKernels rnn_generic_set;
#if defined(DLCORE_X86)
extern const RnnCellKernels rnn_avx2_set;
extern const RnnCellKernels rnn_avx512_set;
#endif
const RnnCellKernels& rnn_cell_kernels();  // the set for current_isa()

}  // namespace dlcore

// Used by csrc/kernels/rnn_<isa>.cpp after including ops/rnn_loops.h.
#define DLCORE_RNN_SET(NS)                                                                 \
  namespace dlcore {                                                                     \
  extern const RnnCellKernels rnn_##NS##_set;                                            \
  const RnnCellKernels rnn_##NS##_set = {rnn_loops_##NS::lstm_fwd, rnn_loops_##NS::gru_fwd, \
                                         rnn_loops_##NS::lstm_bwd, rnn_loops_##NS::gru_bwd}; \
  }
