// CPU kernels of the optimizer family (see optim.h for the contract, optim_math.h for the
// per-element formulas; the update loops are compiled per ISA from optim_loops.h). All tensors
// of one call are laid end to end in one index space of `total` elements; parallel_for splits
// that space into chunks, each chunk walks the pieces of the tensors it covers. Every element
// is updated independently, so the result does not depend on the thread count.
#include "ops/optim.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"
#include "ops/optim_isa.h"

namespace dlcore {

const OptimKernels& optim_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(optim_generic_set, &optim_avx2_set, &optim_avx512_set);
#else
  return optim_generic_set;
#endif
}

namespace {

constexpr int64_t kGrain = 32768;        // elements per parallel chunk (at least)
constexpr int64_t kNormBlock = 1 << 16;  // fixed reduction block of the norm (thread-independent)

std::vector<int64_t> prefix_offsets(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> off(sizes.size() + 1, 0);
  for (size_t i = 0; i < sizes.size(); ++i) off[i + 1] = off[i] + sizes[i];
  return off;
}

// Calls f(tensor_index, begin, end) for the parts of the tensors that [lo, hi) covers.
template <class F> void for_segments(const std::vector<int64_t>& off, int64_t lo, int64_t hi, F&& f) {
  size_t i = std::upper_bound(off.begin(), off.end(), lo) - off.begin() - 1;
  while (lo < hi && i + 1 < off.size()) {
    int64_t e = std::min(hi, off[i + 1]);
    if (e > lo) f(i, lo - off[i], e - off[i]);
    lo = e;
    ++i;
  }
}

template <class T> void step_typed(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots) {
  std::vector<int64_t> sizes;
  for (auto& s : slots) sizes.push_back(s.param.numel());
  std::vector<int64_t> off = prefix_offsets(sizes);
  const auto fn = optim_kernels().get<T>().step;
  parallel_for(0, off.back(), kGrain, [&](int64_t lo, int64_t hi) {
    for_segments(off, lo, hi, [&](size_t i, int64_t b, int64_t e) {
      const OptimSlot& s = slots[i];
      T* s0 = s.has_state[0] ? s.state[0].ptr<T>() + b : nullptr;
      T* s1 = s.has_state[1] ? s.state[1].ptr<T>() + b : nullptr;
      T* s2 = s.has_state[2] ? s.state[2].ptr<T>() + b : nullptr;
      fn(kind, h, s.coefs, s.param.ptr<T>() + b, s.grad.ptr<T>() + b, s0, s1, s2, e - b);
    });
  });
}

void cpu_step(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots) {
  if (slots.empty()) return;
  if (slots[0].param.dtype == DType::f32) step_typed<float>(kind, h, slots);
  else step_typed<double>(kind, h, slots);
}

// Partial sum of |x|^p over x[0, n) with eight fixed accumulators (fixed order: deterministic).
template <class T> double block_power(const T* x, int64_t n, double p) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  if (p == 2.0) {
    for (; j + 8 <= n; j += 8)
      for (int q = 0; q < 8; ++q) acc[q] += (double)x[j + q] * (double)x[j + q];
    for (; j < n; ++j) acc[0] += (double)x[j] * (double)x[j];
  } else if (p == 1.0) {
    for (; j + 8 <= n; j += 8)
      for (int q = 0; q < 8; ++q) acc[q] += std::abs((double)x[j + q]);
    for (; j < n; ++j) acc[0] += std::abs((double)x[j]);
  } else if (std::isinf(p)) {
    double mx = 0;
    bool nan = false;
    for (; j < n; ++j) {
      double a = std::abs((double)x[j]);
      if (std::isnan(a)) nan = true;
      else if (a > mx) mx = a;
    }
    return nan ? std::numeric_limits<double>::quiet_NaN() : mx;
  } else {
    for (; j < n; ++j) acc[0] += std::pow(std::abs((double)x[j]), p);
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double cpu_norm_power(const std::vector<View>& xs, double p) {
  struct Block { size_t t; int64_t b, e; };
  std::vector<Block> blocks;
  for (size_t t = 0; t < xs.size(); ++t)
    for (int64_t b = 0; b < xs[t].numel(); b += kNormBlock)
      blocks.push_back({t, b, std::min(xs[t].numel(), b + kNormBlock)});
  std::vector<double> part(blocks.size(), 0.0);
  parallel_for(0, (int64_t)blocks.size(), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const Block& bl = blocks[i];
      const View& x = xs[bl.t];
      part[i] = x.dtype == DType::f32 ? block_power(x.ptr<float>() + bl.b, bl.e - bl.b, p)
                                      : block_power(x.ptr<double>() + bl.b, bl.e - bl.b, p);
    }
  });
  double total = 0;
  bool inf_norm = std::isinf(p);
  for (double v : part) {
    if (inf_norm) total = (std::isnan(v) || std::isnan(total)) ? std::numeric_limits<double>::quiet_NaN()
                                                               : std::max(total, v);
    else total += v;
  }
  return total;
}

template <class F> void for_all(const std::vector<View>& xs, F&& f) {
  std::vector<int64_t> sizes;
  for (auto& x : xs) sizes.push_back(x.numel());
  std::vector<int64_t> off = prefix_offsets(sizes);
  parallel_for(0, off.back(), kGrain, [&](int64_t lo, int64_t hi) {
    for_segments(off, lo, hi, [&](size_t i, int64_t b, int64_t e) {
      if (xs[i].dtype == DType::f32) f(xs[i].ptr<float>() + b, e - b);
      else f(xs[i].ptr<double>() + b, e - b);
    });
  });
}

void cpu_scale(const std::vector<View>& xs, double factor) {
  for_all(xs, [&](auto* x, int64_t n) {
    using T = std::remove_pointer_t<decltype(x)>;
    T f = (T)factor;
    for (int64_t j = 0; j < n; ++j) x[j] = x[j] * f;
  });
}

void cpu_clamp(const std::vector<View>& xs, double lo, double hi) {
  for_all(xs, [&](auto* x, int64_t n) {
    using T = std::remove_pointer_t<decltype(x)>;
    T l = (T)lo, u = (T)hi;
    for (int64_t j = 0; j < n; ++j) {
      T v = x[j];  // NaN stays NaN, like torch.clamp
      x[j] = v < l ? l : (v > u ? u : v);
    }
  });
}

void fill_cpu_optim() {
  auto& t = dispatch_table<OptimTable>(Device::cpu);
  t.step = cpu_step;
  t.norm_power = cpu_norm_power;
  t.scale = cpu_scale;
  t.clamp = cpu_clamp;
}
DLCORE_REGISTER(fill_cpu_optim);

void check_tensor(const View& v, const View& ref, const char* op, const char* arg, size_t i) {
  DLCORE_CHECK(is_float(v.dtype), TypeError, op, ": ", arg, "[", i, "] has dtype ", dtype_name(v.dtype),
               "; optimizers take float32 or float64 tensors");
  DLCORE_CHECK(v.dtype == ref.dtype, TypeError, op, ": ", arg, "[", i, "] has dtype ", dtype_name(v.dtype),
               " but the first parameter has ", dtype_name(ref.dtype), "; one call takes one dtype");
  DLCORE_CHECK(v.device == ref.device, ValueError, op, ": ", arg, "[", i, "] is on ", device_name(v.device),
               " but the first parameter is on ", device_name(ref.device));
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": ", arg, "[", i, "] (shape ", v.shape_string(),
               ") must be contiguous");
}

}  // namespace

const char* optim_kind_name(OptimKind k) {
  switch (k) {
    case OptimKind::sgd: return "sgd";
    case OptimKind::adagrad: return "adagrad";
    case OptimKind::rmsprop: return "rmsprop";
    case OptimKind::adadelta: return "adadelta";
    case OptimKind::adam: return "adam";
    case OptimKind::adamax: return "adamax";
    case OptimKind::nadam: return "nadam";
    case OptimKind::lion: return "lion";
  }
  return "?";
}

void optim_required_states(OptimKind kind, const OptimHyper& h, bool need[3]) {
  need[0] = need[1] = need[2] = false;
  switch (kind) {
    case OptimKind::sgd: need[0] = h.momentum != 0; break;
    case OptimKind::adagrad: need[0] = true; break;
    case OptimKind::rmsprop: need[0] = true; need[1] = h.centered; need[2] = h.momentum > 0; break;
    case OptimKind::adadelta: need[0] = need[1] = true; break;
    case OptimKind::adam: need[0] = need[1] = true; need[2] = h.amsgrad; break;
    case OptimKind::adamax: need[0] = need[1] = true; break;
    case OptimKind::nadam: need[0] = need[1] = true; break;
    case OptimKind::lion: need[0] = true; break;
  }
}

void optim_step(OptimKind kind, const OptimHyper& h, const std::vector<OptimSlot>& slots) {
  const char* op = optim_kind_name(kind);
  if (slots.empty()) return;
  bool need[3];
  optim_required_states(kind, h, need);
  const View& ref = slots[0].param;
  static const char* state_arg[3] = {"state0", "state1", "state2"};
  for (size_t i = 0; i < slots.size(); ++i) {
    const OptimSlot& s = slots[i];
    check_tensor(s.param, ref, op, "params", i);
    check_tensor(s.grad, ref, op, "grads", i);
    DLCORE_CHECK(s.grad.shape_vec() == s.param.shape_vec(), ValueError, op, ": grads[", i, "] has shape ",
                 s.grad.shape_string(), " but params[", i, "] has shape ", s.param.shape_string());
    DLCORE_CHECK(s.grad.data != s.param.data || s.param.numel() == 0, ValueError, op, ": grads[", i,
                 "] is the same memory as params[", i, "]");
    for (int j = 0; j < 3; ++j) {
      DLCORE_CHECK(!need[j] || s.has_state[j], ValueError, op, ": ", state_arg[j], "[", i,
                   "] is missing (this optimizer with these options needs it)");
      if (!s.has_state[j]) continue;
      check_tensor(s.state[j], ref, op, state_arg[j], i);
      DLCORE_CHECK(s.state[j].shape_vec() == s.param.shape_vec(), ValueError, op, ": ", state_arg[j], "[",
                   i, "] has shape ", s.state[j].shape_string(), " but params[", i, "] has shape ",
                   s.param.shape_string());
    }
  }
  DLCORE_DISPATCH(OptimTable, ref.device, step)(kind, h, slots);
}

static void check_list(const std::vector<View>& xs, const char* op) {
  for (size_t i = 0; i < xs.size(); ++i) check_tensor(xs[i], xs[0], op, "tensors", i);
}

double multi_norm_power(const std::vector<View>& xs, double p) {
  DLCORE_CHECK(p > 0, ValueError, "clip_grad_norm_: norm_type must be positive (or inf), got ", p);
  if (xs.empty()) return 0.0;
  check_list(xs, "clip_grad_norm_");
  return DLCORE_DISPATCH(OptimTable, xs[0].device, norm_power)(xs, p);
}

void multi_scale(const std::vector<View>& xs, double factor) {
  if (xs.empty()) return;
  check_list(xs, "multi_scale");
  DLCORE_DISPATCH(OptimTable, xs[0].device, scale)(xs, factor);
}

void multi_clamp(const std::vector<View>& xs, double lo, double hi) {
  DLCORE_CHECK(lo <= hi, ValueError, "clip_grad_value_: lower bound ", lo, " exceeds upper bound ", hi);
  if (xs.empty()) return;
  check_list(xs, "clip_grad_value_");
  DLCORE_DISPATCH(OptimTable, xs[0].device, clamp)(xs, lo, hi);
}

}  // namespace dlcore
