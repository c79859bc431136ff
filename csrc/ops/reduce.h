// Reduction family: sum, mean, prod, max, min, var (with correction), argmax, argmin over any
// set of axes. Work is split over OUTPUT elements only; every output element is reduced in an
// order fixed by the layout alone, so results are bitwise identical for any thread count.
// `out` always has the keepdims shape (reduced axes of size 1); the caller reshapes.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

enum class ReduceOp : int { sum, mean, prod, max, min, var, argmax, argmin, kCount };

struct ReduceTable {
  // axes: sorted, unique, normalised. correction: only for var.
  void (*reduce)(ReduceOp op, const View& x, const std::vector<int>& axes, const View& out,
                 double correction) = nullptr;
};

// Checked front door; returns the keepdims output shape for (x, axes) when out is null.
Shape reduce_out_shape(const View& x, const std::vector<int>& axes);
std::vector<int> normalize_axes(const std::vector<int64_t>& axes, int ndim, const char* op,
                                const Shape& shape);
void reduce(ReduceOp op, const View& x, const std::vector<int>& axes, const View& out,
            double correction = 1.0);

}  // namespace dlcore
