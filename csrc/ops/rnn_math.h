// Per-element gate math of the recurrent family, shared by the CPU cell kernels (ops/rnn.cpp)
// and the CUDA cell kernels (cuda/rnn.cu). PyTorch's gate order and formulas:
//   RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu
//   LSTM: gates (i, f, g, o) = W_ih x + b_ih + W_hh h + b_hh, split in 4 blocks of H
//         i, f, o = sigmoid(.), g = tanh(.);  c' = f*c + i*g;  h' = o*tanh(c')
//   GRU:  blocks (r, z, n);  r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z)
//         n = tanh(x_n + r * h_n)  with x_* = W_i* x + b_i*, h_* = W_h* h + b_h*
//         h' = (1 - z) * n + z * h
// Every backward function states the forward line it differentiates.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/view.h"
#include "ops/activation_math.h"   // am::exp_poly, the vectorisable float exp
#include "ops/elementwise_math.h"  // sigmoid_of

namespace dlcore {

enum class RnnMode : int { rnn_tanh = 0, rnn_relu = 1, lstm = 2, gru = 3 };

// Number of gate blocks (rows of W_ih are gates * H).
DLCORE_AHD int rnn_gates(RnnMode m) {
  return m == RnnMode::lstm ? 4 : (m == RnnMode::gru ? 3 : 1);
}
// Saved activations per hidden unit for backward (workspace is (T, N, saved * H)).
DLCORE_AHD int rnn_saved(RnnMode m) {
  return m == RnnMode::lstm ? 4 : (m == RnnMode::gru ? 4 : 0);
}
inline const char* rnn_mode_name(RnnMode m) {
  switch (m) {
    case RnnMode::rnn_tanh: return "RNN_TANH";
    case RnnMode::rnn_relu: return "RNN_RELU";
    case RnnMode::lstm: return "LSTM";
    case RnnMode::gru: return "GRU";
  }
  return "?";
}

// Activation policies: the gate functions take the sigmoid / tanh to use as a template
// parameter. RnnStdAct (the default, used by CUDA and for float64) calls the libm functions;
// RnnFastAct (CPU float32) uses the activation family's branch-free exp (am::exp_poly), which
// the compiler vectorises. The float functions here are DLCORE_AHD (always inlined on the host):
// they are compiled into the per-ISA cell loops (kernels/rnn_<isa>.cpp via ops/rnn_loops.h), and
// an out-of-line copy built for one ISA must never be picked by the linker for another.
struct RnnStdAct {
  template <class T> static DLCORE_HD T sigmoid(T x) { return sigmoid_of(x); }
  template <class T> static DLCORE_HD T tanh(T x) { return std::tanh(x); }
};

struct RnnFastAct {
  static DLCORE_AHD float sigmoid(float x) { return 1.0f / (1.0f + am::exp_poly(-x)); }
  static DLCORE_AHD float tanh(float x) {
    // |x| >= 9 rounds to +-1 in float; the clamp also keeps e finite (inf / inf would be NaN)
    x = x > 9.0f ? 9.0f : x;
    x = x < -9.0f ? -9.0f : x;
    float e = am::exp_poly(2.0f * x);
    return (e - 1.0f) / (e + 1.0f);
  }
  static inline double sigmoid(double x) { return sigmoid_of(x); }
  static inline double tanh(double x) { return std::tanh(x); }
};

// ---- vanilla RNN ------------------------------------------------------------------------
// forward: h' = act(pre)
template <class T, class Act = RnnStdAct> DLCORE_AHD T rnn_cell_forward(bool relu, T pre) {
  if (relu) return pre > T(0) ? pre : T(0);
  return Act::tanh(pre);
}
// backward of h' = act(pre), written in terms of the output h': d pre = dh' * act'(pre)
template <class T> DLCORE_AHD T rnn_cell_backward(bool relu, T h_next, T dh) {
  if (relu) return h_next > T(0) ? dh : T(0);
  return dh * (T(1) - h_next * h_next);
}

// ---- LSTM -------------------------------------------------------------------------------
// forward: from the gate pre-activations (sums of both projections and both biases) and c,
// the activated gates (saved for backward), c' and h'.
template <class T, class Act = RnnStdAct>
DLCORE_AHD void lstm_cell_forward(T pi, T pf, T pg, T po, T c, T* i, T* f, T* g, T* o, T* c_next,
                                 T* h_next) {
  T ii = Act::sigmoid(pi), ff = Act::sigmoid(pf), gg = Act::tanh(pg), oo = Act::sigmoid(po);
  T cn = ff * c + ii * gg;  // c' = f*c + i*g
  *i = ii;
  *f = ff;
  *g = gg;
  *o = oo;
  *c_next = cn;
  *h_next = oo * Act::tanh(cn);  // h' = o*tanh(c')
}
// backward: dh (d loss / d h'), dc (d loss / d c' from later steps) -> gradients of the four
// gate pre-activations and of c.
template <class T, class Act = RnnStdAct>
DLCORE_AHD void lstm_cell_backward(T i, T f, T g, T o, T c, T c_next, T dh, T dc, T* dpi, T* dpf,
                                  T* dpg, T* dpo, T* dc_prev) {
  T tc = Act::tanh(c_next);
  T dct = dc + dh * o * (T(1) - tc * tc);  // h' = o*tanh(c'), through c'
  T d_o = dh * tc;                         // h' = o*tanh(c'), through o
  T d_i = dct * g, d_g = dct * i, d_f = dct * c;  // c' = f*c + i*g
  *dc_prev = dct * f;
  *dpi = d_i * i * (T(1) - i);  // i = sigmoid(pi)
  *dpf = d_f * f * (T(1) - f);  // f = sigmoid(pf)
  *dpg = d_g * (T(1) - g * g);  // g = tanh(pg)
  *dpo = d_o * o * (T(1) - o);  // o = sigmoid(po)
}

// ---- GRU --------------------------------------------------------------------------------
// forward: xr, xz, xn = input projections (+ b_ih); hr, hz, hn = recurrent projections
// (+ b_hh); h = previous state. hn is saved because backward needs it for r's gradient.
template <class T, class Act = RnnStdAct>
DLCORE_AHD void gru_cell_forward(T xr, T xz, T xn, T hr, T hz, T hn, T h, T* r, T* z, T* n,
                                T* h_next) {
  T rr = Act::sigmoid(xr + hr);     // r = sigmoid(x_r + h_r)
  T zz = Act::sigmoid(xz + hz);     // z = sigmoid(x_z + h_z)
  T nn = Act::tanh(xn + rr * hn);   // n = tanh(x_n + r*h_n)
  *r = rr;
  *z = zz;
  *n = nn;
  *h_next = (T(1) - zz) * nn + zz * h;  // h' = (1-z)*n + z*h
}
// backward: dh = d loss / d h'. Outputs the gradients of the input-projection blocks
// (dxr, dxz, dxn), of the recurrent n block (dhn; the r and z blocks equal dxr and dxz),
// and the direct part of d h (through z*h; the W_hh part is added by a GEMM).
template <class T>
DLCORE_AHD void gru_cell_backward(T r, T z, T n, T hn, T h, T dh, T* dxr, T* dxz, T* dxn, T* dhn,
                                 T* dh_direct) {
  T dn = dh * (T(1) - z);            // h' = (1-z)*n + z*h, through n
  T dz = dh * (h - n);               // ... through z
  *dh_direct = dh * z;               // ... through h
  T dpn = dn * (T(1) - n * n);       // n = tanh(x_n + r*h_n)
  *dxn = dpn;
  *dhn = dpn * r;
  T dr = dpn * hn;
  *dxr = dr * r * (T(1) - r);        // r = sigmoid(x_r + h_r)
  *dxz = dz * z * (T(1) - z);        // z = sigmoid(x_z + h_z)
}

}  // namespace dlcore
