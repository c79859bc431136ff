// Optimizer family: fused in-place parameter updates over MANY tensors in one call, and the
// multi-tensor helpers of gradient clipping.
// Shapes: slot i holds param_i, grad_i and up to three state buffers of param_i's shape
// (any shape, contiguous, one float dtype for the whole call); tensors of different slots
// may have different shapes. The update of every element follows optim_math.h.
// State buffers per kind (s0, s1, s2; "-" = unused, "?" = only with that option):
//   sgd      momentum_buffer?(momentum != 0)
//   adagrad  sum
//   rmsprop  square_avg, grad_avg?(centered), momentum_buffer?(momentum > 0)
//   adadelta square_avg, acc_delta
//   adam     exp_avg, exp_avg_sq, max_exp_avg_sq?(amsgrad)      (AdamW = adam + decoupled)
//   adamax   exp_avg, exp_inf
//   nadam    exp_avg, exp_avg_sq
//   lion     exp_avg
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/view.h"
#include "ops/optim_math.h"

namespace dlcore {

struct OptimSlot {
  View param, grad;
  View state[3];
  bool has_state[3] = {false, false, false};
  OptimCoefs coefs;  // per-tensor scalars (optim_coefs of this tensor's step)
};

struct OptimTable {
  // Updates every slot in place.
  void (*step)(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots) = nullptr;
  // Sum over all tensors of |x|^p (0 < p < inf) or max |x| (p = inf), accumulated in double
  // over fixed blocks combined in a fixed order: the same bits for any thread count.
  double (*norm_power)(const std::vector<View>& xs, double p) = nullptr;
  // x *= factor for every tensor.
  void (*scale)(const std::vector<View>& xs, double factor) = nullptr;
  // x = min(max(x, lo), hi) for every tensor.
  void (*clamp)(const std::vector<View>& xs, double lo, double hi) = nullptr;
};

// Checked front doors (the family's checks live here, once).
void optim_step(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots);
double multi_norm_power(const std::vector<View>& xs, double p);
void multi_scale(const std::vector<View>& xs, double factor);
void multi_clamp(const std::vector<View>& xs, double lo, double hi);

const char* optim_kind_name(OptimKind k);
// Which state buffers kind needs under h (see the table above).
void optim_required_states(OptimKind kind, const OptimHyper& h, bool need[3]);

}  // namespace dlcore
