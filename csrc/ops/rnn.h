// Recurrent family: RNN (tanh / relu), LSTM and GRU, one layer and one direction at a time.
// Shapes (G = gates: 1 RNN, 4 LSTM (i,f,g,o), 3 GRU (r,z,n); K = rnn_saved(mode)):
//   x (T, N, I)  time-major, contiguous;  h0, c0 (N, H)
//   w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H,)  -- PyTorch's layout, biases optional
//   lengths (N,) int64 on the host, 0 <= lengths[n] <= T, optional: row n is valid at time t when
//     t < lengths[n]; at other steps its state is carried unchanged and its output is zero,
//     so a reverse direction starts at each row's last valid step (pack_padded_sequence).
//   y (T, N, H)    output at each time step
//   S (T+1, N, H)  states: forward direction reads S[t], writes S[t+1] (S[0] = h0, final S[T]);
//                  reverse reads S[t+1], writes S[t] (S[T] = h0, final S[0])
//   C (T+1, N, H)  LSTM cell states, same indexing; ws (T, N, K*H) activations for backward.
// Forward per layer-direction: the input projection X @ W_ih^T as a few GEMMs over chunks of
// steps (each just before its steps), then per step one GEMM h @ W_hh^T and one fused
// pointwise cell kernel, run together in one parallel region split over hidden units. Backward through time: per step one
// fused pointwise backward kernel and one GEMM dGates @ W_hh for dh; then dX, dW_ih, dW_hh as
// three GEMMs over all steps and the bias gradients as column sums.
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/view.h"
#include "ops/rnn_math.h"

namespace dlcore {

// One time step of N rows (raw pointers, contiguous rows, element type given by dtype).
struct RnnCellArgs {
  RnnMode mode = RnnMode::lstm;
  DType dtype = DType::f32;
  int64_t N = 0, H = 0;
  const void* xg = nullptr;      // (N, G*H) input projection W_ih x (no bias)
  const void* hg = nullptr;      // (N, G*H) recurrent projection W_hh h (no bias)
  const void* b_ih = nullptr;    // (G*H,) or null
  const void* b_hh = nullptr;    // (G*H,) or null
  const void* h_prev = nullptr;  // (N, H)
  const void* c_prev = nullptr;  // (N, H) LSTM only
  void* h_next = nullptr;        // (N, H)
  void* c_next = nullptr;        // (N, H) LSTM only
  void* ws = nullptr;            // (N, K*H) saved activations
  void* y = nullptr;             // (N, H) output of this step (zero for padded rows), or null
  const int64_t* lengths = nullptr;  // (N,) or null
  int64_t t = 0;                 // time index of this step (for lengths)
};

struct RnnCellGradArgs {
  RnnMode mode = RnnMode::lstm;
  DType dtype = DType::f32;
  int64_t N = 0, H = 0;
  const void* ws = nullptr;      // (N, K*H) from the forward step
  const void* h_prev = nullptr;  // (N, H)
  const void* c_prev = nullptr;  // (N, H) LSTM
  const void* h_next = nullptr;  // (N, H)
  const void* c_next = nullptr;  // (N, H) LSTM
  const void* dy = nullptr;      // (N, H) gradient of this step's output, or null
  const void* dh = nullptr;      // (N, H) gradient of h_next from later steps / final state
  const void* dc = nullptr;      // (N, H) gradient of c_next (LSTM), or null
  void* dxg = nullptr;           // (N, G*H) gradient of the gate pre-activations (input side)
  void* dhg = nullptr;           // (N, G*H) recurrent side (GRU only; others use dxg)
  void* dh_prev = nullptr;       // (N, H) direct part of d h_prev (the W_hh GEMM adds to it)
  void* dc_prev = nullptr;       // (N, H) LSTM
  const int64_t* lengths = nullptr;
  int64_t t = 0;
};

// The buffers a sequence backward walks, in time order (device pointers on CUDA): the
// forward's ws (T, N, K*H) and states S / C (T+1, N, H; C null unless LSTM), dy (T, N, H) or
// null, and the gate gradients it writes, dxg and dhg (T, N, G*H; dhg null unless GRU).
template <class T> struct RnnGradSteps {
  const T* ws;
  const T* S;
  const T* C;
  const T* dy;
  T* dxg;
  T* dhg;
  int64_t T_, KH, GH;
  bool reverse;
};

// Points a (mode, N and H set) at step s of the walk back through time (s = T-1 .. 0, the
// reverse of the forward's processing order) with the running gradients dh / dc of the state
// it wrote and dh_prev / dc_prev of the one it read; returns the step's time index t. The one
// per-step setup of both devices' BPTT loops.
template <class T>
inline int64_t rnn_grad_step(RnnCellGradArgs& a, const RnnGradSteps<T>& b, int64_t s, T* dh, T* dc, T* dh_prev,
                             T* dc_prev) {
  const bool lstm = a.mode == RnnMode::lstm;
  const int64_t N = a.N, NH = a.N * a.H;
  const int64_t t = b.reverse ? b.T_ - 1 - s : s, rd = b.reverse ? t + 1 : t, wr = b.reverse ? t : t + 1;
  a.ws = b.KH ? b.ws + t * N * b.KH : nullptr;
  a.h_prev = b.S + rd * NH;
  a.h_next = b.S + wr * NH;
  a.c_prev = lstm ? b.C + rd * NH : nullptr;
  a.c_next = lstm ? b.C + wr * NH : nullptr;
  a.dy = b.dy ? b.dy + t * NH : nullptr;
  a.dh = dh;
  a.dc = lstm ? dc : nullptr;
  a.dxg = b.dxg + t * N * b.GH;
  a.dhg = b.dhg ? b.dhg + t * N * b.GH : nullptr;
  a.dh_prev = dh_prev;
  a.dc_prev = lstm ? dc_prev : nullptr;
  a.t = t;
  return t;
}

// Checked front doors. Optional Views (h0, c0, biases, lengths, dy, dhT, dcT, dx, db_*) have
// data == nullptr when absent (zeros for states and gradients).
struct RnnDims {
  int64_t T, N, I, H, G, K;
};

// Kernels, one table per device: the fused cells, and the whole-sequence loops behind
// rnn_forward / rnn_backward (arguments checked by those front doors; every View on one device
// except lengths, which stays on the host where the front door checks it).
struct RnnTable {
  void (*cell_forward)(const RnnCellArgs& a) = nullptr;
  void (*cell_backward)(const RnnCellGradArgs& a) = nullptr;
  void (*sequence_forward)(RnnMode mode, const RnnDims& d, const View& x, const View& h0, const View& c0,
                           const View& w_ih, const View& w_hh, const View& b_ih, const View& b_hh,
                           const View& lengths, bool reverse, bool save, const View& y, const View& S,
                           const View& C, const View& ws) = nullptr;
  void (*sequence_backward)(RnnMode mode, const RnnDims& d, const View& x, const View& w_ih, const View& w_hh,
                            const View& lengths, bool reverse, const View& S, const View& C, const View& ws,
                            const View& dy, const View& dhT, const View& dcT, const View& dx, const View& dh0,
                            const View& dc0, const View& dw_ih, const View& dw_hh, const View& db_ih,
                            const View& db_hh) = nullptr;
};
RnnDims rnn_check(RnnMode mode, const View& x, const View& h0, const View& c0, const View& w_ih,
                  const View& w_hh, const View& b_ih, const View& b_hh, const View& lengths);

// save = false (inference, nothing for backward): S and C are (2, N, H) slots used in turn,
// step s reads slot s % 2 and writes the other (final state in slot T % 2), ws is not used.
void rnn_forward(RnnMode mode, const View& x, const View& h0, const View& c0, const View& w_ih,
                 const View& w_hh, const View& b_ih, const View& b_hh, const View& lengths,
                 bool reverse, bool save, const View& y, const View& S, const View& C,
                 const View& ws);

// dx may be absent (not computed); db_ih / db_hh absent when the layer has no bias.
void rnn_backward(RnnMode mode, const View& x, const View& w_ih, const View& w_hh,
                  const View& lengths, bool reverse, const View& S, const View& C, const View& ws,
                  const View& dy, const View& dhT, const View& dcT, const View& dx,
                  const View& dh0, const View& dc0, const View& dw_ih, const View& dw_hh,
                  const View& db_ih, const View& db_hh);

// One fused cell step on any device (dispatches on xg's device; all arrays on that device):
// xg, hg (N, G*H) projections without bias; b_ih, b_hh (G*H,) optional; h_prev, c_prev (N, H)
// (c_prev LSTM only); lengths (N,) int64 optional with time index t. Writes h_next, c_next
// (LSTM), ws (N, K*H) (K > 0) and y (N, H).
void rnn_cell_forward(RnnMode mode, const View& xg, const View& hg, const View& b_ih,
                      const View& b_hh, const View& h_prev, const View& c_prev,
                      const View& lengths, int64_t t, const View& h_next, const View& c_next,
                      const View& ws, const View& y);
// Its backward: dy, dh, dc (N, H) optional; writes dxg (N, G*H), dhg (N, G*H) (GRU only),
// dh_prev (the part not through W_hh) and dc_prev (LSTM).
void rnn_cell_backward(RnnMode mode, const View& ws, const View& h_prev, const View& c_prev,
                       const View& h_next, const View& c_next, const View& dy, const View& dh,
                       const View& dc, const View& lengths, int64_t t, const View& dxg,
                       const View& dhg, const View& dh_prev, const View& dc_prev);

}  // namespace dlcore
