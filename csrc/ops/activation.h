// Activation family. Shapes:
//   act_forward:  x (any shape) -> y (same shape); y = f(x; p0, p1) per ActOp (activation_math.h)
//   act_backward: g, s, gx all of x's shape; gx = g * f'(.), s = y or x (act_backward_uses_output)
//   softmax / log_softmax over `axis`: x viewed as (outer, D, inner) -> y of x's shape;
//     backward: g, y -> gx (y is the forward output)
//   prelu: x (N, C, d...) (channel axis 1; a 1-D x is (C,)) with weight (C,) or (1,) shared;
//     y = x > 0 ? x : w_c x. backward: gx = x > 0 ? g : w_c g, gw_c = sum over c's elements of
//     (x > 0 ? 0 : x g)
//   maxout over `axis` with `pieces`: x (outer, C, inner) -> y, idx (outer, C / pieces, inner);
//     y[o, c, i] = max_k x[o, c * pieces + k, i], idx = its k (first max; NaN wins).
//     backward: gx (x's shape) = 0 except gx[o, c * pieces + idx, i] = g[o, c, i]
// Every View here is contiguous and float32 / float64 (idx is int64); the front doors check.
#pragma once
#include "core/dispatch.h"
#include "core/view.h"
#include "ops/activation_math.h"

namespace dlcore {

struct ActivationTable {
  void (*act_forward)(ActOp op, const View& x, const View& y, double p0, double p1) = nullptr;
  void (*act_backward)(ActOp op, const View& g, const View& s, const View& gx, double p0,
                       double p1) = nullptr;
  void (*softmax_forward)(const View& x, const View& y, int axis, bool log) = nullptr;
  void (*softmax_backward)(const View& g, const View& y, const View& gx, int axis, bool log) = nullptr;
  void (*prelu_forward)(const View& x, const View& w, const View& y) = nullptr;
  // gx / gw may have data == nullptr (not wanted).
  void (*prelu_backward)(const View& g, const View& x, const View& w, const View& gx,
                         const View& gw) = nullptr;
  void (*maxout_forward)(const View& x, int axis, int64_t pieces, const View& y, const View& idx) = nullptr;
  void (*maxout_backward)(const View& g, const View& idx, int axis, int64_t pieces, const View& gx) = nullptr;
};

// Checked front doors (all shape / dtype / contiguity checks of the family live here).
void act_forward(ActOp op, const View& x, const View& y, double p0, double p1);
void act_backward(ActOp op, const View& g, const View& s, const View& gx, double p0, double p1);
void softmax_forward(const View& x, const View& y, int64_t axis, bool log);
void softmax_backward(const View& g, const View& y, const View& gx, int64_t axis, bool log);
void prelu_forward(const View& x, const View& w, const View& y);
void prelu_backward(const View& g, const View& x, const View& w, const View& gx, const View& gw);
Shape maxout_out_shape(const View& x, int64_t axis, int64_t pieces);
void maxout_forward(const View& x, int64_t axis, int64_t pieces, const View& y, const View& idx);
void maxout_backward(const View& g, const View& idx, int64_t axis, int64_t pieces, const View& gx);

// (outer, D, inner) split of a shape around `axis` (normalised).
inline void split_axis(const View& v, int axis, int64_t& outer, int64_t& D, int64_t& inner) {
  outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= v.shape[i];
  D = v.ndim ? v.shape[axis] : 1;
  for (int i = axis + 1; i < v.ndim; ++i) inner *= v.shape[i];
}

}  // namespace dlcore
