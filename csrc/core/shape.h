// Shape helpers shared by every op family: broadcasting, axis normalisation, strided walks.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/errors.h"
#include "core/view.h"

namespace dlcore {

// NumPy broadcasting of two shapes; the error names the op and both shapes.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DLCORE_CHECK(da == db || da == 1 || db == 1, ValueError, op, ": shapes ", shape_str(a),
                 " and ", shape_str(b), " cannot be broadcast together (dimension ", i,
                 ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Strides of v aligned to `shape` (which v broadcasts to): 0 where v is broadcast.
inline void broadcast_strides(const View& v, const Shape& shape, int64_t* out) {
  int n = (int)shape.size(), off = n - v.ndim;
  for (int i = 0; i < n; ++i) {
    int j = i - off;
    out[i] = (j < 0 || v.shape[j] == 1) ? 0 : v.strides[j];
  }
}

// Normalises an axis into [0, ndim) or raises IndexError naming the op and the shape.
// Like PyTorch, a 0-d tensor accepts axis 0 and -1 (both give 0): callers that index
// shape[axis] must check ndim >= 1 themselves.
inline int normalize_axis(int64_t axis, int ndim, const char* op, const Shape& shape) {
  int64_t a = axis < 0 ? axis + std::max(ndim, 1) : axis;
  DLCORE_CHECK(a >= 0 && a < std::max(ndim, 1), IndexError, op, ": axis ", axis,
               " is out of range for a tensor of shape ", shape_str(shape), " (ndim ", ndim, ")");
  return (int)a;
}

// A walk over an N-d index space with K operands, merged into as few dims as possible.
// run(offsets[K], n, inner_strides[K]) is called for each run along the innermost dim.
template <int K> struct StridedLoop {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];

  StridedLoop(const Shape& shp, const int64_t* const* strd) {
    // Drop size-1 dims, then merge dim i into i+1 when all operands allow it.
    for (int i = 0; i < (int)shp.size(); ++i) {
      if (shp[i] == 1) continue;
      shape[ndim] = shp[i];
      for (int k = 0; k < K; ++k) strides[k][ndim] = strd[k][i];
      ++ndim;
    }
    int m = 0;
    for (int i = 0; i < ndim; ++i) {
      if (m > 0) {
        bool can = true;
        for (int k = 0; k < K; ++k)
          if (strides[k][m - 1] != strides[k][i] * shape[i]) can = false;
        if (can) {
          shape[m - 1] *= shape[i];
          for (int k = 0; k < K; ++k) strides[k][m - 1] = strides[k][i];
          continue;
        }
      }
      shape[m] = shape[i];
      for (int k = 0; k < K; ++k) strides[k][m] = strides[k][i];
      ++m;
    }
    ndim = m;
    if (ndim == 0) {
      ndim = 1;
      shape[0] = 1;
      for (int k = 0; k < K; ++k) strides[k][0] = 0;
    }
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  // Visits linear indices [begin, end) in row-major order.
  template <class F> void run(int64_t begin, int64_t end, F&& f) const {
    if (begin >= end) return;  // an empty range (a zero-size dim would divide by 0 below)
    int last = ndim - 1;
    int64_t idx[kMaxDims];
    int64_t rem = begin;
    for (int i = last; i >= 0; --i) {
      idx[i] = rem % shape[i];
      rem /= shape[i];
    }
    int64_t inner[K];
    for (int k = 0; k < K; ++k) inner[k] = strides[k][last];
    int64_t pos = begin;
    while (pos < end) {
      int64_t off[K];
      for (int k = 0; k < K; ++k) {
        off[k] = 0;
        for (int i = 0; i < ndim; ++i) off[k] += idx[i] * strides[k][i];
      }
      int64_t n = std::min(shape[last] - idx[last], end - pos);
      f(off, n, inner);
      pos += n;
      idx[last] += n;
      for (int i = last; i > 0 && idx[i] >= shape[i]; --i) {
        idx[i] = 0;
        ++idx[i - 1];
      }
    }
  }
};

}  // namespace dlcore
