// The index family's front doors (every check, written once for all devices) and its CPU
// kernels (see index.h). Writes that can collide (index_add, scatter_add) are split over
// positions that cannot collide, and each position is updated in index order, so results do
// not depend on the thread count (cuda/index.cu keeps the same order).
#include "ops/index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "core/shape.h"
#include "ops/elementwise.h"

namespace dlcore {
namespace {

template <class F> void float_types(DType d, const char* op, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i64: f(int64_t{}); break;
    default: throw TypeError(str(op, ": not defined for ", dtype_name(d), " tensors"));
  }
}

// Calls f(flat row-major position, element offset, coordinates) for every element of v, in order.
template <class F> void walk(const View& v, F&& f) {
  int64_t n = v.numel();
  if (n == 0) return;
  int64_t idx[kMaxDims] = {0}, off = 0;
  for (int64_t k = 0; k < n; ++k) {
    f(k, off, idx);
    for (int d = v.ndim - 1; d >= 0; --d) {
      off += v.strides[d];
      if (++idx[d] < v.shape[d]) break;
      off -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
  }
}

// ---- CPU kernels (arguments checked by the front doors below) ------------------------------

bool cpu_find_out_of_range(const View& idx, int64_t lo, int64_t hi, int64_t* bad) {
  const int64_t* p = idx.ptr<int64_t>();
  bool found = false;
  int64_t n = idx.numel();
  if (n == 0) return false;
  int64_t c[kMaxDims] = {0}, off = 0;
  for (int64_t k = 0; k < n && !found; ++k) {
    int64_t v = p[off];
    if (v < lo || v >= hi) {
      *bad = v;
      found = true;
    }
    for (int d = idx.ndim - 1; d >= 0; --d) {
      off += idx.strides[d];
      if (++c[d] < idx.shape[d]) break;
      off -= idx.strides[d] * idx.shape[d];
      c[d] = 0;
    }
  }
  return found;
}

// index_select of contiguous x into contiguous out: every selected slice is one block of
// `inner` elements (the dims after axis), copied whole - a batch of rows (fit's shuffled
// batches, an embedding lookup) is a row copy per index, not a strided walk.
bool cpu_index_select_blocks(const View& x, int axis, const View& idx, const View& out) {
  if (x.dtype == DType::b8 || !x.is_contiguous() || !out.is_contiguous() || x.ndim == 0) return false;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape[d];
  for (int d = axis + 1; d < x.ndim; ++d) inner *= x.shape[d];
  if (inner < 8) return false;  // short blocks: the element walk is as fast
  const int64_t n_idx = idx.numel(), n_ax = x.shape[axis], is = idx.ndim ? idx.strides[0] : 0;
  const int64_t* ip = idx.ptr<int64_t>();
  const size_t bytes = size_t(inner) * dtype_size(x.dtype);
  const char* xp = static_cast<const char*>(x.data);
  char* op = static_cast<char*>(out.data);
  parallel_for(0, outer * n_idx, std::max<int64_t>(1, 32768 / inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / n_idx, k = r % n_idx;
      std::memcpy(op + size_t(r) * bytes, xp + size_t(o * n_ax + ip[k * is]) * bytes, bytes);
    }
  });
  return true;
}

void cpu_index_select(const View& x, int axis, const View& idx, const View& out) {
  if (cpu_index_select_blocks(x, axis, idx, out)) return;
  Shape want = out.shape_vec();
  // Walk out; x's stride along axis is replaced by a lookup through idx.
  int64_t sx[kMaxDims], so[kMaxDims], si[kMaxDims];
  index_select_strides(x, axis, idx, out, sx, so, si);
  const int64_t ax_stride = x.strides[axis];
  float_types(x.dtype, "index_select", [&](auto t) {
    using T = decltype(t);
    const int64_t* st[3] = {so, sx, si};
    StridedLoop<3> loop(want, st);
    const T* xp = x.ptr<T>();
    const int64_t* ip = idx.ptr<int64_t>();
    T* op = out.ptr<T>();
    parallel_for(0, loop.numel(), 16384, [&](int64_t b, int64_t e) {
      loop.run(b, e, [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j)
          op[off[0] + j * in[0]] = xp[off[1] + j * in[1] + ip[off[2] + j * in[2]] * ax_stride];
      });
    });
  });
}

void cpu_index_add(const View& out, int axis, const View& idx, const View& src) {
  // Outer positions (dims != axis) never collide; each is updated in index order.
  Shape outer = src.shape_vec();
  outer[axis] = 1;
  int64_t so[kMaxDims], ss[kMaxDims];
  View o1 = out, s1 = src;
  o1.shape[axis] = 1;
  s1.shape[axis] = 1;
  broadcast_strides(o1, outer, so);
  broadcast_strides(s1, outer, ss);
  float_types(out.dtype, "index_add", [&](auto t) {
    using T = decltype(t);
    const int64_t* st[2] = {so, ss};
    StridedLoop<2> loop(outer, st);
    T* op = out.ptr<T>();
    const T* sp = src.ptr<T>();
    const int64_t* ip = idx.ptr<int64_t>();
    const int64_t n_idx = idx.shape[0], is = idx.strides[0];
    const int64_t oax = out.strides[axis], sax = src.strides[axis];
    parallel_for(0, loop.numel(), 4096, [&](int64_t b, int64_t e) {
      loop.run(b, e, [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t k = 0; k < n_idx; ++k) {
          T* orow = op + off[0] + ip[k * is] * oax;
          const T* srow = sp + off[1] + k * sax;
          for (int64_t j = 0; j < n; ++j) orow[j * in[0]] += srow[j * in[1]];
        }
      });
    });
  });
}

void cpu_gather(const View& x, int axis, const View& idx, const View& out) {
  Shape want = idx.shape_vec();
  int64_t sx[kMaxDims], so[kMaxDims], si[kMaxDims];
  gather_strides(x, axis, idx, out, sx, so, si);
  const int64_t ax_stride = x.strides[axis];
  float_types(x.dtype, "gather", [&](auto t) {
    using T = decltype(t);
    const int64_t* st[3] = {so, sx, si};
    StridedLoop<3> loop(want, st);
    const T* xp = x.ptr<T>();
    const int64_t* ip = idx.ptr<int64_t>();
    T* op = out.ptr<T>();
    parallel_for(0, loop.numel(), 16384, [&](int64_t b, int64_t e) {
      loop.run(b, e, [&](const int64_t* off, int64_t n, const int64_t* in) {
        for (int64_t j = 0; j < n; ++j)
          op[off[0] + j * in[0]] = xp[off[1] + j * in[1] + ip[off[2] + j * in[2]] * ax_stride];
      });
    });
  });
}

void cpu_scatter_add(const View& out, int axis, const View& idx, const View& src) {
  Shape want = idx.shape_vec();
  int64_t so[kMaxDims], si[kMaxDims], ss[kMaxDims];
  for (int d = 0; d < out.ndim; ++d) so[d] = d == axis ? 0 : out.strides[d];
  broadcast_strides(idx, want, si);
  broadcast_strides(src, want, ss);
  const int64_t ax_stride = out.strides[axis];
  float_types(out.dtype, "scatter_add", [&](auto t) {
    using T = decltype(t);
    const int64_t* st[3] = {so, si, ss};
    StridedLoop<3> loop(want, st);
    T* op = out.ptr<T>();
    const int64_t* ip = idx.ptr<int64_t>();
    const T* sp = src.ptr<T>();
    // Serial: different positions along `axis` may hit the same output element.
    loop.run(0, loop.numel(), [&](const int64_t* off, int64_t n, const int64_t* in) {
      for (int64_t j = 0; j < n; ++j)
        op[off[0] + j * in[0] + ip[off[1] + j * in[1]] * ax_stride] += sp[off[2] + j * in[2]];
    });
  });
}

void cpu_one_hot(const View& idx, int64_t n, const View& out) {
  Shape s = idx.shape_vec();
  int64_t st[kMaxDims];
  broadcast_strides(idx, s, st);
  const int64_t* stp[1] = {st};
  StridedLoop<1> loop(s, stp);
  const int64_t* ip = idx.ptr<int64_t>();
  float_types(out.dtype, "one_hot", [&](auto t) {
    using T = decltype(t);
    T* op = out.ptr<T>();
    int64_t pos = 0;
    loop.run(0, loop.numel(), [&](const int64_t* off, int64_t m, const int64_t* in) {
      for (int64_t j = 0; j < m; ++j, ++pos) {
        T* row = op + pos * n;
        for (int64_t c = 0; c < n; ++c) row[c] = T(0);
        row[ip[off[0] + j * in[0]]] = T(1);
      }
    });
  });
}

bool truthy(const View& v, int64_t off) {
  switch (v.dtype) {
    case DType::f32: return v.ptr<float>()[off] != 0;
    case DType::f64: return v.ptr<double>()[off] != 0;
    case DType::i64: return v.ptr<int64_t>()[off] != 0;
    case DType::b8: return v.ptr<bool>()[off];
  }
  return false;
}

int64_t cpu_count_nonzero(const View& mask) {
  int64_t c = 0;
  walk(mask, [&](int64_t, int64_t off, const int64_t*) { c += truthy(mask, off); });
  return c;
}

void cpu_nonzero(const View& mask, const View& out) {
  int64_t row = 0;
  int64_t* o = out.ptr<int64_t>();
  walk(mask, [&](int64_t, int64_t off, const int64_t* idx) {
    if (!truthy(mask, off)) return;
    DLCORE_CHECK(row < out.shape[0], ValueError, "nonzero: more nonzero elements than rows in the output");
    for (int d = 0; d < mask.ndim; ++d) o[row * out.strides[0] + d * out.strides[1]] = idx[d];
    ++row;
  });
}

void cpu_argsort(const View& keys, const View& out) {
  int64_t len = keys.shape[keys.ndim - 1], rows = len ? keys.numel() / len : 0;
  View lead = keys;  // the rows: every dim but the last
  lead.ndim = keys.ndim - 1;
  std::vector<int64_t> row_off((size_t)rows);
  if (rows) walk(lead, [&](int64_t k, int64_t off, const int64_t*) { row_off[(size_t)k] = off; });
  int64_t st = keys.strides[keys.ndim - 1];
  auto sort_rows = [&](auto t) {
    using T = decltype(t);
    const T* kp = keys.ptr<T>();
    parallel_for(0, rows, 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t* o = out.ptr<int64_t>() + r * len;
        std::iota(o, o + len, int64_t(0));
        const T* k = kp + row_off[(size_t)r];
        std::stable_sort(o, o + len, [&](int64_t i, int64_t j) {
          T a = k[i * st], c = k[j * st];
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(a)) return false;
            if (std::isnan(c)) return true;
          }
          return a < c;
        });
      }
    });
  };
  switch (keys.dtype) {
    case DType::f32: sort_rows(float{}); break;
    case DType::f64: sort_rows(double{}); break;
    case DType::i64: sort_rows(int64_t{}); break;
    case DType::b8: sort_rows(bool{}); break;
  }
}

// x offset of each flat position b of the plan's B (indices already range-checked).
std::vector<int64_t> plan_offsets(const View& x, const AdvancedIndexPlan& p) {
  std::vector<int64_t> offsets((size_t)p.b_numel(), 0);
  for (size_t k = 0; k < p.idx.size(); ++k) {
    const int d = p.dims[k];
    const int64_t n = x.shape[d], xs = x.strides[d];
    const int64_t* ip = p.idx[k].ptr<int64_t>();
    walk(p.idx[k], [&](int64_t j, int64_t off, const int64_t*) {
      int64_t v = ip[off];
      offsets[(size_t)j] += (v < 0 ? v + n : v) * xs;
    });
  }
  return offsets;
}

// A View over x's rest dims starting at element offset `at`.
View rest_view(const View& x, const AdvancedIndexPlan& p, int64_t at) {
  View r = x;
  r.data = static_cast<char*>(x.data) + at * dtype_size(x.dtype);
  r.ndim = (int)p.rest_shape.size();
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = p.rest_shape[i];
    r.strides[i] = p.rest_strides[i];
  }
  return r;
}

// The sub-View of v (of shape `full` = B + rest) at flat B position j.
View block_of(const View& v, int nb_dims, int64_t j) {
  int64_t off = 0, rem = j;
  for (int i = nb_dims - 1; i >= 0; --i) {
    int64_t c = rem % v.shape[i];
    rem /= v.shape[i];
    off += c * v.strides[i];
  }
  View r = v;
  r.data = static_cast<char*>(v.data) + off * dtype_size(v.dtype);
  r.ndim = v.ndim - nb_dims;
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = v.shape[nb_dims + i];
    r.strides[i] = v.strides[nb_dims + i];
  }
  return r;
}

void cpu_index_get(const View& x, const AdvancedIndexPlan& p, const View& out) {
  std::vector<int64_t> offsets = plan_offsets(x, p);
  const int nb = (int)p.bshape.size();
  for (size_t j = 0; j < offsets.size(); ++j) copy(rest_view(x, p, offsets[j]), block_of(out, nb, (int64_t)j));
}

void cpu_index_put(const View& x, const AdvancedIndexPlan& p, const View& values, bool accumulate) {
  std::vector<int64_t> offsets = plan_offsets(x, p);
  const int nb = (int)p.bshape.size();
  for (size_t j = 0; j < offsets.size(); ++j) {
    View dst = rest_view(x, p, offsets[j]);
    View src = block_of(values, nb, (int64_t)j);
    if (accumulate) binary(BinaryOp::add, dst, src, dst);
    else copy(src, dst);
  }
}

void fill_cpu_index() {
  auto& t = dispatch_table<IndexTable>(Device::cpu);
  t.find_out_of_range = cpu_find_out_of_range;
  t.index_select = cpu_index_select;
  t.index_add = cpu_index_add;
  t.gather = cpu_gather;
  t.scatter_add = cpu_scatter_add;
  t.one_hot = cpu_one_hot;
  t.index_get = cpu_index_get;
  t.index_put = cpu_index_put;
  t.count_nonzero = cpu_count_nonzero;
  t.nonzero = cpu_nonzero;
  t.argsort = cpu_argsort;
}
DLCORE_REGISTER(fill_cpu_index);

// ---- checks shared by the front doors -------------------------------------------------------

// Every tensor of an op on one device: names the argument that is elsewhere and both devices.
void same_device(const char* op, const View& first, const char* first_name, const View& v, const char* name) {
  DLCORE_CHECK(v.device == first.device, ValueError, op, ": '", name, "' is on ", device_name(v.device),
               " but '", first_name, "' is on ", device_name(first.device), "; move them to one device");
}

// An int64 index whose values must lie in [lo, hi): the first one outside raises IndexError
// (`what` describes the axis for the message).
template <class... Msg>
void check_range(const View& idx, int64_t lo, int64_t hi, const char* op, const Msg&... what) {
  if (idx.numel() == 0) return;
  int64_t bad = 0;
  if (DLCORE_DISPATCH(IndexTable, idx.device, find_out_of_range)(idx, lo, hi, &bad))
    throw IndexError(str(op, ": index ", bad, " is out of bounds for ", what...));
}

void check_indices(const View& idx, int64_t size, const char* op, const View& x, int axis) {
  DLCORE_CHECK(idx.dtype == DType::i64, TypeError, op, ": 'index' must be int64, got ", dtype_name(idx.dtype));
  same_device(op, x, "input", idx, "index");
  check_range(idx, 0, size, op, "axis ", axis, " with size ", size, " (tensor shape ", x.shape_string(), ")");
}

void check_axis(const View& x, int axis, const char* op) {
  DLCORE_CHECK(x.ndim >= 1 && axis >= 0 && axis < x.ndim, IndexError, op, ": axis ", axis,
               " is out of range for a tensor of shape ", x.shape_string());
}

// The plan of an advanced index: dtypes, devices, dims and index ranges checked here.
AdvancedIndexPlan make_plan(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const char* op) {
  DLCORE_CHECK(!dims.empty() && dims.size() == idx.size(), ValueError, op, ": needs one index per indexed dim");
  AdvancedIndexPlan p;
  p.dims = dims;
  p.bshape = idx[0].shape_vec();
  for (auto& v : idx) {
    DLCORE_CHECK(v.dtype == DType::i64, TypeError, op, ": indices must be int64, got ", dtype_name(v.dtype));
    same_device(op, x, "input", v, "index");
    p.bshape = broadcast_shapes(p.bshape, v.shape_vec(), op);
  }
  DLCORE_CHECK(p.bshape.size() + x.ndim - dims.size() <= (size_t)kMaxDims, ValueError, op,
               ": the indexed result would have more than ", kMaxDims, " dims");
  bool indexed[kMaxDims] = {false};
  for (int d : dims) {
    DLCORE_CHECK(d >= 0 && d < x.ndim && !indexed[d], ValueError, op, ": bad indexed dim ", d);
    indexed[d] = true;
  }
  for (int d = 0; d < x.ndim; ++d)
    if (!indexed[d]) {
      p.rest_shape.push_back(x.shape[d]);
      p.rest_strides.push_back(x.strides[d]);
    }
  for (size_t k = 0; k < idx.size(); ++k) {
    const int d = dims[k];
    const int64_t n = x.shape[d];
    check_range(idx[k], -n, n, op, "dimension ", d, " with size ", n);
    View b = idx[k];
    int64_t st[kMaxDims];
    broadcast_strides(b, p.bshape, st);
    b.ndim = (int)p.bshape.size();
    for (int i = 0; i < b.ndim; ++i) {
      b.shape[i] = p.bshape[i];
      b.strides[i] = st[i];
    }
    p.idx.push_back(b);
  }
  return p;
}

// index_select / index_add: the axis, a 1-D index whose entries are checked against the axis
// size of x, and the shape the selected slices make (x's with shape[axis] = len(idx)).
Shape checked_selection(const View& x, int axis, const View& idx, const char* op) {
  check_axis(x, axis, op);
  DLCORE_CHECK(idx.ndim == 1, ValueError, op, ": 'index' must be 1-D, got shape ", idx.shape_string());
  check_indices(idx, x.shape[axis], op, x, axis);
  Shape want = x.shape_vec();
  want[axis] = idx.shape[0];
  return want;
}

}  // namespace

// ---- front doors ----------------------------------------------------------------------------

void index_select(const View& x, int axis, const View& idx, const View& out) {
  const Shape want = checked_selection(x, axis, idx, "index_select");
  DLCORE_CHECK(out.shape_vec() == want && out.dtype == x.dtype, ValueError,
               "index_select: output must have shape ", shape_str(want));
  same_device("index_select", x, "input", out, "out");
  if (out.numel()) DLCORE_DISPATCH(IndexTable, x.device, index_select)(x, axis, idx, out);
}

void index_add(const View& out, int axis, const View& idx, const View& src) {
  const Shape want = checked_selection(out, axis, idx, "index_add");
  DLCORE_CHECK(src.shape_vec() == want && src.dtype == out.dtype, ValueError, "index_add: 'source' has shape ",
               src.shape_string(), ", expected ", shape_str(want));
  same_device("index_add", out, "out", src, "source");
  if (src.numel()) DLCORE_DISPATCH(IndexTable, out.device, index_add)(out, axis, idx, src);
}

void gather(const View& x, int axis, const View& idx, const View& out) {
  check_axis(x, axis, "gather");
  DLCORE_CHECK(idx.ndim == x.ndim, ValueError, "gather: 'index' must have the same number of dims as 'input' (",
               x.shape_string(), "), got ", idx.shape_string());
  for (int d = 0; d < x.ndim; ++d)
    DLCORE_CHECK(d == axis || idx.shape[d] <= x.shape[d], ValueError, "gather: 'index' shape ", idx.shape_string(),
                 " exceeds 'input' shape ", x.shape_string(), " at dim ", d);
  check_indices(idx, x.shape[axis], "gather", x, axis);
  Shape want = idx.shape_vec();
  DLCORE_CHECK(out.shape_vec() == want && out.dtype == x.dtype, ValueError, "gather: output must have shape ", shape_str(want));
  same_device("gather", x, "input", out, "out");
  if (out.numel()) DLCORE_DISPATCH(IndexTable, x.device, gather)(x, axis, idx, out);
}

void scatter_add(const View& out, int axis, const View& idx, const View& src) {
  check_axis(out, axis, "scatter_add");
  DLCORE_CHECK(idx.ndim == out.ndim && src.shape_vec() == idx.shape_vec(), ValueError,
               "scatter_add: 'index' ", idx.shape_string(), " and 'src' ", src.shape_string(),
               " must share a shape with as many dims as 'out' ", out.shape_string());
  for (int d = 0; d < out.ndim; ++d)
    DLCORE_CHECK(d == axis || idx.shape[d] <= out.shape[d], ValueError, "scatter_add: 'index' shape ",
                 idx.shape_string(), " exceeds 'out' shape ", out.shape_string(), " at dim ", d);
  check_indices(idx, out.shape[axis], "scatter_add", out, axis);
  DLCORE_CHECK(src.dtype == out.dtype, TypeError, "scatter_add: dtypes differ");
  same_device("scatter_add", out, "out", src, "src");
  if (src.numel()) DLCORE_DISPATCH(IndexTable, out.device, scatter_add)(out, axis, idx, src);
}

void one_hot(const View& idx, int64_t n, const View& out) {
  DLCORE_CHECK(n > 0, ValueError, "one_hot: num_classes must be positive, got ", n);
  check_indices(idx, n, "one_hot", idx, idx.ndim);
  Shape want = idx.shape_vec();
  want.push_back(n);
  DLCORE_CHECK(out.shape_vec() == want && out.is_contiguous(), ValueError, "one_hot: output must be contiguous ",
               shape_str(want));
  same_device("one_hot", idx, "index", out, "out");
  if (out.numel()) DLCORE_DISPATCH(IndexTable, idx.device, one_hot)(idx, n, out);
}

int64_t count_nonzero(const View& mask) {
  return mask.numel() ? DLCORE_DISPATCH(IndexTable, mask.device, count_nonzero)(mask) : 0;
}

void nonzero(const View& mask, const View& out) {
  DLCORE_CHECK(out.dtype == DType::i64 && out.ndim == 2 && out.shape[1] == mask.ndim, ValueError,
               "nonzero: output must be int64 of shape (count, ", mask.ndim, ")");
  same_device("nonzero", mask, "input", out, "out");
  if (out.numel()) DLCORE_DISPATCH(IndexTable, mask.device, nonzero)(mask, out);
}

void argsort(const View& keys, const View& out) {
  DLCORE_CHECK(keys.ndim >= 1, ValueError, "argsort: the keys need at least one dimension");
  DLCORE_CHECK(out.dtype == DType::i64 && out.shape_vec() == keys.shape_vec() && out.is_contiguous(), ValueError,
               "argsort: output must be contiguous int64 of the keys' shape ", keys.shape_string());
  same_device("argsort", keys, "input", out, "out");
  if (out.numel()) DLCORE_DISPATCH(IndexTable, keys.device, argsort)(keys, out);
}

void index_get(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const View& out) {
  AdvancedIndexPlan p = make_plan(x, dims, idx, "index");
  Shape want = p.out_shape();
  DLCORE_CHECK(out.shape_vec() == want && out.dtype == x.dtype, ValueError, "index: output must have shape ",
               shape_str(want));
  same_device("index", x, "input", out, "out");
  if (out.numel()) DLCORE_DISPATCH(IndexTable, x.device, index_get)(x, p, out);
}

void index_put(const View& x, const std::vector<int>& dims, const std::vector<View>& idx, const View& values,
               bool accumulate) {
  AdvancedIndexPlan p = make_plan(x, dims, idx, "index_put_");
  Shape want = p.out_shape();
  Shape vs = values.shape_vec();
  DLCORE_CHECK(broadcast_shapes(vs, want, "index_put_") == want, ValueError, "index_put_: values of shape ",
               shape_str(vs), " cannot be broadcast to the indexed shape ", shape_str(want));
  DLCORE_CHECK(values.dtype == x.dtype, TypeError, "index_put_: values must have the tensor's dtype ",
               dtype_name(x.dtype), ", got ", dtype_name(values.dtype));
  same_device("index_put_", x, "input", values, "values");
  // values aligned to `want` (stride 0 where broadcast)
  View v = values;
  int64_t st[kMaxDims];
  broadcast_strides(values, want, st);
  v.ndim = (int)want.size();
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = want[i];
    v.strides[i] = st[i];
  }
  int64_t n = 1;
  for (auto s : want) n *= s;
  if (n) DLCORE_DISPATCH(IndexTable, x.device, index_put)(x, p, v, accumulate);
}

}  // namespace dlcore
