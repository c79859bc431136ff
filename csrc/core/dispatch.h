// One dispatch table per op family: a struct of function pointers, one instance per device.
// The CPU file of a family fills table(Device::cpu) from a static initializer; the matching
// cuda/<family>.cu fills table(Device::cuda) the same way when the CUDA variant is built.
// Callers never write #ifdef: they call DLCORE_DISPATCH, which raises a clear error when the
// device has no kernel for that entry.
#pragma once
#include "core/errors.h"
#include "core/view.h"

namespace dlcore {

template <class Table> Table& dispatch_table(Device d) {
  static Table tables[2];
  return tables[(int)d];
}

inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

template <class Fn> Fn checked_entry(Fn fn, Device d, const char* entry) {
  DLCORE_CHECK(fn != nullptr, ValueError, entry, ": no kernel for device '", device_name(d),
               "'", d == Device::cuda ? " (dlcore was built without CUDA, or this op has no CUDA kernel yet)" : "");
  return fn;
}

}  // namespace dlcore

#define DLCORE_DISPATCH(Table, dev, entry) \
  (::dlcore::checked_entry(::dlcore::dispatch_table<Table>(dev).entry, dev, #entry))

// Registers a table filler to run at load time: DLCORE_REGISTER(fill_cpu_elementwise);
#define DLCORE_REGISTER(fn) \
  static const bool fn##_registered = (fn(), true)
