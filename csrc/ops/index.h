// Index family: index_select / index_add (one index vector along an axis), gather /
// scatter_add (an index tensor the shape of the output), one_hot. Every index is checked
// against the axis size before anything is written; a bad one raises IndexError naming it.
#pragma once
#include <vector>

#include "core/dispatch.h"
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
// indices count from the end; an index out of range raises IndexError naming it (CPU).
void index_get(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const View& out);
void index_put(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const View& values,
               bool accumulate);
// The number of true (nonzero) elements of mask, and their coordinates in row-major order
// into out (count, mask.ndim), int64 (CPU).
int64_t count_nonzero(const View& mask);
void nonzero(const View& mask, const View& out);
// out (int64, keys' shape) = the stable ascending argsort of each row (last dim) of keys; NaN
// sorts last (CPU).
void argsort(const View& keys, const View& out);

}  // namespace dlcore
