// The float32 cell loops of the recurrent family, written once and compiled once per ISA:
// csrc/kernels/rnn_{generic,avx2,avx512}.cpp include this file inside their own namespace
// (DLCORE_RNN_LOOPS_NS = rnn_loops_<isa>) with their own -m flags and export the set declared
// in ops/rnn_isa.h. Each function handles one row part (see rnn_isa.h) with a plain
// unit-stride loop over the gate math of ops/rnn_math.h (always inlined, branch-free float
// activations), which the compiler vectorises. Every element's value depends only on its own
// inputs, so how callers split rows and units over threads never changes a result.
#pragma once
#include <cstdint>

#include "ops/rnn_isa.h"
#include "ops/rnn_math.h"

#ifndef DLCORE_RNN_LOOPS_NS
#error "define DLCORE_RNN_LOOPS_NS before including ops/rnn_loops.h"
#endif

namespace dlcore {
namespace DLCORE_RNN_LOOPS_NS {

// LSTM forward (rnn_math.h lstm_cell_forward): ws blocks (i, f, g, o), c', h' (and y = h').
static void lstm_fwd(const RnnRowFwd& a) {
  const int64_t len = a.len, H = a.H;
  const float* __restrict x = a.xg;
  const float* __restrict h = a.hg;
  const float* __restrict bi = a.bi;
  const float* __restrict bh = a.bh;
  const float* __restrict cp = a.cp;
  float* __restrict wi = a.ws;
  float* __restrict wf = a.ws + H;
  float* __restrict wg = a.ws + 2 * H;
  float* __restrict wo = a.ws + 3 * H;
  float* __restrict cn = a.cn;
  float* __restrict hn = a.hn;
#pragma GCC ivdep
  for (int64_t j = 0; j < len; ++j) {
    const int64_t f = H + j, g = 2 * H + j, q = 3 * H + j;
    lstm_cell_forward<float, RnnFastAct>(x[j] + h[j] + bi[j] + bh[j], x[f] + h[f] + bi[f] + bh[f],
                                         x[g] + h[g] + bi[g] + bh[g], x[q] + h[q] + bi[q] + bh[q], cp[j],
                                         &wi[j], &wf[j], &wg[j], &wo[j], &cn[j], &hn[j]);
  }
  if (a.y) {
    float* __restrict y = a.y;
    for (int64_t j = 0; j < len; ++j) y[j] = hn[j];
  }
}

// GRU forward (rnn_math.h gru_cell_forward): ws blocks (r, z, n, W_hn h + b_hn), h' (and y).
static void gru_fwd(const RnnRowFwd& a) {
  const int64_t len = a.len, H = a.H;
  const float* __restrict x = a.xg;
  const float* __restrict h = a.hg;
  const float* __restrict bi = a.bi;
  const float* __restrict bh = a.bh;
  const float* __restrict hp = a.hp;
  float* __restrict wr = a.ws;
  float* __restrict wz = a.ws + H;
  float* __restrict wn = a.ws + 2 * H;
  float* __restrict whn = a.ws + 3 * H;
  float* __restrict hn = a.hn;
#pragma GCC ivdep
  for (int64_t j = 0; j < len; ++j) {
    const int64_t z = H + j, m = 2 * H + j;
    const float hnb = h[m] + bh[m];
    whn[j] = hnb;
    gru_cell_forward<float, RnnFastAct>(x[j] + bi[j], x[z] + bi[z], x[m] + bi[m], h[j] + bh[j], h[z] + bh[z],
                                        hnb, hp[j], &wr[j], &wz[j], &wn[j], &hn[j]);
  }
  if (a.y) {
    float* __restrict y = a.y;
    for (int64_t j = 0; j < len; ++j) y[j] = hn[j];
  }
}

// LSTM backward (rnn_math.h lstm_cell_backward, which differentiates lstm_cell_forward);
// the direct part of d h_prev is zero (all of it goes through W_hh).
static void lstm_bwd(const RnnRowBwd& a) {
  const int64_t len = a.len, H = a.H;
  const float* __restrict w = a.ws;
  const float* __restrict cp = a.cp;
  const float* __restrict cn = a.cn;
  const float* __restrict dh = a.dh;
  const float* __restrict dy = a.dy;
  const float* __restrict dc = a.dc;
  float* __restrict gx = a.gx;
  float* __restrict dhp = a.dhp;
  float* __restrict dcp = a.dcp;
#pragma GCC ivdep
  for (int64_t j = 0; j < len; ++j) {
    lstm_cell_backward<float, RnnFastAct>(w[j], w[H + j], w[2 * H + j], w[3 * H + j], cp[j], cn[j],
                                          dh[j] + dy[j], dc[j], &gx[j], &gx[H + j], &gx[2 * H + j],
                                          &gx[3 * H + j], &dcp[j]);
    dhp[j] = 0.0f;
  }
}

// GRU backward (rnn_math.h gru_cell_backward, which differentiates gru_cell_forward).
static void gru_bwd(const RnnRowBwd& a) {
  const int64_t len = a.len, H = a.H;
  const float* __restrict w = a.ws;
  const float* __restrict hp = a.hp;
  const float* __restrict dh = a.dh;
  const float* __restrict dy = a.dy;
  float* __restrict gx = a.gx;
  float* __restrict gh = a.gh;
  float* __restrict dhp = a.dhp;
#pragma GCC ivdep
  for (int64_t j = 0; j < len; ++j) {
    gru_cell_backward<float>(w[j], w[H + j], w[2 * H + j], w[3 * H + j], hp[j], dh[j] + dy[j], &gx[j],
                             &gx[H + j], &gx[2 * H + j], &gh[2 * H + j], &dhp[j]);
    gh[j] = gx[j];
    gh[H + j] = gx[H + j];
  }
}

}  // namespace DLCORE_RNN_LOOPS_NS
}  // namespace dlcore
