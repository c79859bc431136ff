// Elementwise family: unary and binary ops with NumPy broadcasting, where, and the strided
// copy/cast that every layout change goes through. Outputs are allocated by the caller with
// the broadcast shape (broadcast_shapes in core/shape.h) and must not alias the inputs
// except exactly (in-place: out is the same view as a).
#pragma once
#include "core/dispatch.h"
#include "core/view.h"
#include "ops/elementwise_math.h"

namespace dlcore {

struct ElementwiseTable {
  // out = op(x); out has x's shape; x and out have the same dtype (bool out for predicates).
  void (*unary)(UnaryOp op, const View& x, const View& out, double p0, double p1) = nullptr;
  // out = op(a, b); a and b broadcast to out's shape; a, b same dtype.
  void (*binary)(BinaryOp op, const View& a, const View& b, const View& out) = nullptr;
  // out = cond ? a : b; all three broadcast to out's shape.
  void (*where)(const View& cond, const View& a, const View& b, const View& out) = nullptr;
  // out[...] = src[...] broadcast to out's shape, converting dtype.
  void (*copy)(const View& src, const View& out) = nullptr;
  // out = value everywhere.
  void (*fill)(const View& out, double value) = nullptr;
};

// The checked front doors used by the bindings (shape/dtype checks live here, once).
void unary(UnaryOp op, const View& x, const View& out, double p0 = 0, double p1 = 0);
void binary(BinaryOp op, const View& a, const View& b, const View& out);
void where(const View& cond, const View& a, const View& b, const View& out);
void copy(const View& src, const View& out);
void fill(const View& out, double value);

}  // namespace dlcore
