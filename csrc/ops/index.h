// Index family: index_select / index_add (one index vector along an axis), gather /
// scatter_add (an index tensor the shape of the output), one_hot, advanced indexing
// (index_get / index_put), nonzero, argsort. The front doors below (ops/index.cpp) hold every
// shape and dtype check and check every index against the axis size before anything is written
// (a bad one raises IndexError naming it, on every device); the kernels, CPU (index.cpp) and
// CUDA (cuda/index.cu), sit behind IndexTable. Accumulating writes (index_add, scatter_add,
// index_put with accumulate) add into each element in index order on both devices, so results
// are deterministic and the devices agree bit for bit.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/shape.h"
#include "core/view.h"

namespace dlcore {

// out = x.take(idx, axis): out.shape = x.shape with shape[axis] = len(idx).
void index_select(const View& x, int axis, const View& idx, const View& out);
// out[..., idx[j], ...] += src[..., j, ...]  (backward of index_select; embedding backward)
void index_add(const View& out, int axis, const View& idx, const View& src);
// out[i][j][k] = x[i][idx[i][j][k]][k] (axis 1); idx and out share a shape.
void gather(const View& x, int axis, const View& idx, const View& out);
// out[i][idx[i][j][k]][k] += src[i][j][k] (axis 1); the backward of gather.
void scatter_add(const View& out, int axis, const View& idx, const View& src);
// out (..., n) = one-hot of int64 idx (...).
void one_hot(const View& idx, int64_t n, const View& out);
// Advanced indexing. x is indexed along `dims` (k distinct dims, in order) by k int64 index
// tensors of one common (broadcast) shape B; the other dims ("rest") keep their order.
// index_get: out (B..., rest...) = x[..., idx0, ..., idx1, ...]. index_put: x[...] = values
// (B..., rest...) broadcast, or += when accumulate (in index order: deterministic). Negative
// indices count from the end; an index out of range raises IndexError naming it.
void index_get(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const View& out);
void index_put(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const View& values,
               bool accumulate);
// The number of true (nonzero) elements of mask, and their coordinates in row-major order
// into out (count, mask.ndim), int64, on mask's device.
int64_t count_nonzero(const View& mask);
void nonzero(const View& mask, const View& out);
// out (int64, keys' shape, contiguous) = the stable ascending argsort of each row (last dim)
// of keys; NaN sorts last, -0.0 and +0.0 are equal.
void argsort(const View& keys, const View& out);

// Advanced indexing as the front door hands it to a kernel: every index (already checked to be
// in [-size, size) of its dim) broadcast to bshape (ndim = bshape.size(), stride 0 where
// broadcast), and x's other dims.
struct AdvancedIndexPlan {
  std::vector<int> dims;
  std::vector<View> idx;
  Shape bshape;
  Shape rest_shape, rest_strides;  // x's dims not indexed, in order, and x's strides there
  int64_t b_numel() const {
    int64_t n = 1;
    for (auto s : bshape) n *= s;
    return n;
  }
  int64_t rest_numel() const {
    int64_t n = 1;
    for (auto s : rest_shape) n *= s;
    return n;
  }
  Shape out_shape() const {
    Shape s = bshape;
    s.insert(s.end(), rest_shape.begin(), rest_shape.end());
    return s;
  }
};

// Kernels, one table per device. Arguments arrive checked (shapes, dtypes, devices, index
// ranges); `values` of index_put is aligned to the plan's out_shape (stride 0 where broadcast).
struct IndexTable {
  // true and *bad = the first element (row-major) of idx outside [lo, hi), else false
  bool (*find_out_of_range)(const View& idx, int64_t lo, int64_t hi, int64_t* bad) = nullptr;
  void (*index_select)(const View& x, int axis, const View& idx, const View& out) = nullptr;
  void (*index_add)(const View& out, int axis, const View& idx, const View& src) = nullptr;
  void (*gather)(const View& x, int axis, const View& idx, const View& out) = nullptr;
  void (*scatter_add)(const View& out, int axis, const View& idx, const View& src) = nullptr;
  void (*one_hot)(const View& idx, int64_t n, const View& out) = nullptr;
  void (*index_get)(const View& x, const AdvancedIndexPlan& p, const View& out) = nullptr;
  void (*index_put)(const View& x, const AdvancedIndexPlan& p, const View& values, bool accumulate) = nullptr;
  int64_t (*count_nonzero)(const View& mask) = nullptr;
  void (*nonzero)(const View& mask, const View& out) = nullptr;
  void (*argsort)(const View& keys, const View& out) = nullptr;
};

// The strides of the walk over the output that index_select and gather kernels take on both
// devices (element j of the walk reads x at sx . j + idx[si . j] * x.strides[axis]): so of out,
// sx of x with its axis stride zeroed (the index supplies it), si of the index. index_select:
// the index runs along axis only; gather: the index has the output's shape.
inline void index_select_strides(const View& x, int axis, const View& idx, const View& out,
                                 int64_t* sx, int64_t* so, int64_t* si) {
  const Shape want = out.shape_vec();
  View xs = x;
  xs.strides[axis] = 0;
  xs.shape[axis] = want[axis];
  broadcast_strides(xs, want, sx);
  broadcast_strides(out, want, so);
  for (int d = 0; d < out.ndim; ++d) si[d] = 0;
  si[axis] = idx.strides[0];
}

inline void gather_strides(const View& x, int axis, const View& idx, const View& out, int64_t* sx,
                           int64_t* so, int64_t* si) {
  const Shape want = idx.shape_vec();
  for (int d = 0; d < x.ndim; ++d) sx[d] = d == axis ? 0 : x.strides[d];
  broadcast_strides(out, want, so);
  broadcast_strides(idx, want, si);
}

}  // namespace dlcore
