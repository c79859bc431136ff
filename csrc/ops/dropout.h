// Dropout family. Shapes: x, y, dy, dx are contiguous with n elements; the mask is a
// contiguous bool array of n / inner elements, element i of x using mask[i / inner]
// (inner = 1: elementwise dropout; inner = prod(spatial dims): channel dropout, Dropout1d/2d/3d).
// Mask element m is drawn from Philox4x32-10 (core/rng.h) block `counter + m / 4`, lane
// m % 4: it depends only on (seed, counter, m), so masks are identical for any thread count
// and on any device. A dropout of n_mask mask elements consumes dropout_blocks(n_mask)
// counter blocks (the Python generator advances by that much).
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

// standard: inverted dropout, y = keep ? x / (1 - p) : 0.
// alpha:    SELU-preserving, y = keep ? a * x + b : a * alpha' + b (see dropout_math.h).
enum class DropoutKind : int { standard = 0, alpha = 1 };

int64_t dropout_blocks(int64_t n_mask);

struct DropoutTable {
  void (*forward)(DropoutKind kind, const View& x, double p, uint64_t seed, uint64_t counter,
                  int64_t inner, const View& y, const View& mask) = nullptr;
  // dx[i] = mask[i / inner] ? dy[i] * scale : 0
  void (*backward)(const View& dy, const View& mask, int64_t inner, double scale,
                   const View& dx) = nullptr;
};

// Checked front doors. p in [0, 1]; p == 1 drops everything (y = x * 0, as PyTorch).
void dropout_forward(DropoutKind kind, const View& x, double p, uint64_t seed, uint64_t counter,
                     int64_t inner, const View& y, const View& mask);
void dropout_backward(const View& dy, const View& mask, int64_t inner, double scale, const View& dx);
// The factor the backward multiplies kept gradients by: 1 / (1 - p), or a for alpha dropout
// (0 when p == 1).
double dropout_grad_scale(DropoutKind kind, double p);

}  // namespace dlcore
