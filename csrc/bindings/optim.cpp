// Bindings: optimizer family (ops/optim.h). One call updates all the tensors of a parameter
// group: Python passes lists (params, grads, per-slot state lists) and the group's options.
#include "ops/optim.h"

#include <cmath>
#include <map>

#include "bindings/common.h"

namespace {
using namespace dlcore;

OptimKind kind_from_name(const std::string& s) {
  static const std::map<std::string, OptimKind> m = {
      {"sgd", OptimKind::sgd},         {"adagrad", OptimKind::adagrad}, {"rmsprop", OptimKind::rmsprop},
      {"adadelta", OptimKind::adadelta}, {"adam", OptimKind::adam},     {"adamax", OptimKind::adamax},
      {"nadam", OptimKind::nadam},     {"lion", OptimKind::lion}};
  auto it = m.find(s);
  DLCORE_CHECK(it != m.end(), ValueError, "optim_step: unknown optimizer kind '", s,
               "' (sgd, adagrad, rmsprop, adadelta, adam, adamax, nadam, lion)");
  return it->second;
}

OptimHyper hyper_from_dict(const py::dict& d) {
  OptimHyper h;
  std::map<std::string, double*> num = {
      {"lr", &h.lr}, {"weight_decay", &h.weight_decay}, {"momentum", &h.momentum},
      {"dampening", &h.dampening}, {"eps", &h.eps}, {"beta1", &h.beta1}, {"beta2", &h.beta2},
      {"alpha", &h.alpha}, {"rho", &h.rho}, {"lr_decay", &h.lr_decay},
      {"momentum_decay", &h.momentum_decay}};
  std::map<std::string, bool*> flag = {
      {"nesterov", &h.nesterov}, {"maximize", &h.maximize}, {"centered", &h.centered},
      {"amsgrad", &h.amsgrad}, {"decoupled_weight_decay", &h.decoupled_weight_decay},
      {"keras", &h.keras}};
  for (auto item : d) {
    std::string k = py::str(item.first);
    if (auto it = num.find(k); it != num.end()) *it->second = item.second.cast<double>();
    else if (auto jt = flag.find(k); jt != flag.end()) *jt->second = item.second.cast<bool>();
    else throw ValueError(str("optim_step: unknown option '", k, "'"));
  }
  return h;
}

std::vector<View> views_of(const py::list& xs, const char* op, bool writable) {
  std::vector<View> v;
  for (size_t i = 0; i < xs.size(); ++i) v.push_back(to_view(xs[i], op, "tensors", writable));
  return v;
}

}  // namespace

DLCORE_BINDINGS(optim) {
  using namespace dlcore;
  // optim_step(kind, options, params, grads, states, steps, extras) -> new extras.
  // states: a list of up to 3 lists (state slot j of every tensor; an empty list or None when
  // that slot is unused); steps[i]: tensor i's step count after this update; extras[i]: NAdam's
  // mu_product before this update (returned updated; ignored otherwise).
  m.def("optim_step", [](const std::string& kind_name, py::dict options, py::list params, py::list grads,
                         py::list states, std::vector<double> steps, std::vector<double> extras) {
    OptimKind kind = kind_from_name(kind_name);
    const char* op = optim_kind_name(kind);
    OptimHyper h = hyper_from_dict(options);
    size_t n = params.size();
    DLCORE_CHECK(grads.size() == n, ValueError, op, ": got ", n, " params but ", grads.size(), " grads");
    DLCORE_CHECK(steps.size() == n, ValueError, op, ": got ", n, " params but ", steps.size(), " steps");
    DLCORE_CHECK(extras.size() == n || extras.empty(), ValueError, op, ": got ", n, " params but ",
                 extras.size(), " extras");
    DLCORE_CHECK(states.size() <= 3, ValueError, op, ": at most 3 state lists, got ", states.size());
    std::vector<OptimSlot> slots(n);
    std::vector<double> new_extras(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      slots[i].param = to_view(params[i], op, "params", true);
      slots[i].grad = to_view(grads[i], op, "grads");
      double ex = extras.empty() ? 1.0 : extras[i];
      new_extras[i] = ex;
      slots[i].coefs = optim_coefs(kind, h, steps[i], ex, &new_extras[i], slots[i].param.dtype == DType::f32);
    }
    for (size_t j = 0; j < states.size(); ++j) {
      if (states[j].is_none()) continue;
      py::list sl = states[j].cast<py::list>();
      if (sl.size() == 0) continue;
      DLCORE_CHECK(sl.size() == n, ValueError, op, ": state list ", j, " has ", sl.size(),
                   " tensors for ", n, " params");
      for (size_t i = 0; i < n; ++i) {
        if (sl[i].is_none()) continue;
        slots[i].state[j] = to_view(sl[i], op, "state", true);
        slots[i].has_state[j] = true;
      }
    }
    { py::gil_scoped_release nogil; optim_step(kind, h, slots); }
    return new_extras;
  }, py::arg("kind"), py::arg("options"), py::arg("params"), py::arg("grads"), py::arg("states"),
     py::arg("steps"), py::arg("extras") = std::vector<double>{});

  // Sum of |x|^p over all tensors (max |x| for p = inf), in double, deterministic.
  m.def("multi_norm_power", [](py::list xs, double p) {
    std::vector<View> v = views_of(xs, "clip_grad_norm_", false);
    py::gil_scoped_release nogil;
    return multi_norm_power(v, p);
  }, py::arg("tensors"), py::arg("p") = 2.0);
  m.def("multi_scale", [](py::list xs, double factor) {
    std::vector<View> v = views_of(xs, "multi_scale", true);
    py::gil_scoped_release nogil;
    multi_scale(v, factor);
  }, py::arg("tensors"), py::arg("factor"));
  m.def("multi_clamp", [](py::list xs, double lo, double hi) {
    std::vector<View> v = views_of(xs, "clip_grad_value_", true);
    py::gil_scoped_release nogil;
    multi_clamp(v, lo, hi);
  }, py::arg("tensors"), py::arg("lo"), py::arg("hi"));
}
