// CUDA kernels of the index family (twin of csrc/ops/index.cpp, whose front doors check every
// argument and every index before these run). Every kernel walks its elements with grid-stride
// loops over strided Views (cuda::Indexer). Accumulating writes keep the CPU's order, so results
// are deterministic and equal to the CPU's bit for bit, with no atomics: index_add and
// index_put with accumulate sort the target positions (a stable radix sort of (target, position
// in the index) pairs), then one thread per (distinct target, non-indexed element) adds that
// target's sources in index order; scatter_add gives each thread the output elements of one
// position of the non-indexed dims and walks the indexed dim in order.
// The prefix sum (nonzero), radix sort and segmented stable sort (argsort) are CUB's (part of
// the CUDA toolkit).
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/shape.h"
#include "cuda/common.cuh"
#include "ops/index.h"

namespace dlcore {
namespace {

using cuda::Indexer;
using cuda::DeviceBuffer;
using cuda::blocks_for;
using cuda::kThreads;

#define DLCORE_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

template <class F> void value_types(DType d, const char* op, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i64: f(int64_t{}); break;
    default: throw TypeError(str(op, ": not defined for ", dtype_name(d), " tensors"));
  }
}
template <class F> void all_types(DType d, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i64: f(int64_t{}); break;
    case DType::b8: f(bool{}); break;
  }
}

__global__ void iota_kernel(int64_t* out, int64_t n) {
  DLCORE_GRID_LOOP(i, n) out[i] = i;
}

// ---- index range check ---------------------------------------------------------------------

__global__ void out_of_range_kernel(const int64_t* p, Indexer<1> ix, int64_t n, int64_t lo, int64_t hi,
                                    unsigned long long* first) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[1];
    ix.offsets(e, off);
    const int64_t v = p[off[0]];
    if (v < lo || v >= hi) atomicMin(first, (unsigned long long)e);
  }
}

bool cuda_find_out_of_range(const View& idx, int64_t lo, int64_t hi, int64_t* bad) {
  const int64_t n = idx.numel();
  if (n == 0) return false;
  const int64_t* st[1] = {idx.strides};
  Indexer<1> ix = cuda::indexer_of<1>(idx.shape_vec(), st);
  DeviceBuffer first(sizeof(unsigned long long));
  const unsigned long long none = ~0ull;  // all bits set: what the memset below writes
  cuda::check(cudaMemsetAsync(first.get(), 0xFF, sizeof(unsigned long long), 0), "index check");
  out_of_range_kernel<<<blocks_for(n), kThreads>>>(idx.ptr<int64_t>(), ix, n, lo, hi,
                                                   first.as<unsigned long long>());
  cuda::check_launch("index check");
  const unsigned long long e = cuda::read_device(first.as<unsigned long long>(), "index check");
  if (e == none) return false;
  int64_t off[1];
  ix.offsets((int64_t)e, off);  // the first bad element (row-major), as the CPU reports it
  *bad = cuda::read_device(idx.ptr<int64_t>() + off[0], "index check");
  return true;
}

// ---- index_select / gather: out[o0] = x[o1 + idx[o2] * ax_stride] --------------------------

template <class T>
__global__ void take_kernel(T* out, const T* x, const int64_t* idx, Indexer<3> ix, int64_t n, int64_t ax_stride) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[3];
    ix.offsets(e, off);
    out[off[0]] = x[off[1] + idx[off[2]] * ax_stride];
  }
}

void launch_take(const char* op, const View& x, const View& idx, const View& out, const Shape& want,
                 const int64_t* so, const int64_t* sx, const int64_t* si, int64_t ax_stride) {
  const int64_t* st[3] = {so, sx, si};
  Indexer<3> ix = cuda::indexer_of<3>(want, st);
  const int64_t n = out.numel();
  value_types(x.dtype, op, [&](auto t) {
    using T = decltype(t);
    take_kernel<T><<<blocks_for(n), kThreads>>>(out.ptr<T>(), x.ptr<T>(), idx.ptr<int64_t>(), ix, n, ax_stride);
  });
  cuda::check_launch(op);
}

void cuda_index_select(const View& x, int axis, const View& idx, const View& out) {
  Shape want = out.shape_vec();
  int64_t sx[kMaxDims], so[kMaxDims], si[kMaxDims];
  index_select_strides(x, axis, idx, out, sx, so, si);
  launch_take("index_select", x, idx, out, want, so, sx, si, x.strides[axis]);
}

void cuda_gather(const View& x, int axis, const View& idx, const View& out) {
  Shape want = idx.shape_vec();
  int64_t sx[kMaxDims], so[kMaxDims], si[kMaxDims];
  gather_strides(x, axis, idx, out, sx, so, si);
  launch_take("gather", x, idx, out, want, so, sx, si, x.strides[axis]);
}

// ---- accumulation in index order: targets sorted, one thread per (distinct target, element) --

// keys (n) sorted stably with their positions 0..n-1: equal keys keep the index order.
struct SortedTargets {
  DeviceBuffer keys, pos;
  SortedTargets(const int64_t* keys_in, int64_t n, const char* op)
      : keys(sizeof(int64_t) * (size_t)n), pos(sizeof(int64_t) * (size_t)n) {
    DeviceBuffer pos_in(sizeof(int64_t) * (size_t)n);
    iota_kernel<<<blocks_for(n), kThreads>>>(pos_in.as<int64_t>(), n);
    cuda::check_launch(op);
    size_t temp_bytes = 0;
    cuda::check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys.as<int64_t>(), pos_in.as<int64_t>(),
                                                pos.as<int64_t>(), n),
                op);
    DeviceBuffer temp(temp_bytes);
    cuda::check(cub::DeviceRadixSort::SortPairs(temp.get(), temp_bytes, keys_in, keys.as<int64_t>(),
                                                pos_in.as<int64_t>(), pos.as<int64_t>(), n),
                op);
  }
};

// index_add's targets: the index values, read through the index's stride.
__global__ void gather_index_kernel(const int64_t* idx, int64_t is, int64_t n, int64_t* out) {
  DLCORE_GRID_LOOP(k, n) out[k] = idx[k * is];
}

// out[o0 + key * oax] += src[o1 + pos * sax] for the sorted (key, pos) pairs: thread (p, o) for
// sorted position p that starts a run of equal keys and outer position o adds the run in order.
template <class T>
__global__ void index_add_sorted_kernel(T* out, const T* src, const int64_t* keys, const int64_t* pos, int64_t n_idx,
                                        Indexer<2> ix, int64_t outer, int64_t oax, int64_t sax) {
  DLCORE_GRID_LOOP(e, n_idx * outer) {
    const int64_t p = e / outer, o = e % outer;
    const int64_t key = keys[p];
    if (p > 0 && keys[p - 1] == key) continue;  // not the first of its run
    int64_t off[2];
    ix.offsets(o, off);
    T* target = out + off[0] + key * oax;
    T acc = *target;
    for (int64_t q = p; q < n_idx && keys[q] == key; ++q) acc += src[off[1] + pos[q] * sax];
    *target = acc;
  }
}

void cuda_index_add(const View& out, int axis, const View& idx, const View& src) {
  Shape outer = src.shape_vec();
  outer[axis] = 1;
  int64_t so[kMaxDims], ss[kMaxDims];
  for (int d = 0; d < out.ndim; ++d) {
    so[d] = d == axis ? 0 : out.strides[d];
    ss[d] = d == axis ? 0 : src.strides[d];
  }
  const int64_t* st[2] = {so, ss};
  Indexer<2> ix = cuda::indexer_of<2>(outer, st);
  int64_t n = 1;
  for (auto s : outer) n *= s;
  const int64_t n_idx = idx.shape[0];
  DeviceBuffer targets(sizeof(int64_t) * (size_t)n_idx);
  gather_index_kernel<<<blocks_for(n_idx), kThreads>>>(idx.ptr<int64_t>(), idx.strides[0], n_idx,
                                                       targets.as<int64_t>());
  cuda::check_launch("index_add");
  SortedTargets sorted(targets.as<int64_t>(), n_idx, "index_add (sort)");
  value_types(out.dtype, "index_add", [&](auto t) {
    using T = decltype(t);
    index_add_sorted_kernel<T><<<blocks_for(n_idx * n), kThreads>>>(
        out.ptr<T>(), src.ptr<T>(), sorted.keys.as<int64_t>(), sorted.pos.as<int64_t>(), n_idx, ix, n,
        out.strides[axis], src.strides[axis]);
  });
  cuda::check_launch("index_add");
}

// ---- scatter_add: one thread per position of idx with the axis collapsed, j in order --------

template <class T>
__global__ void scatter_add_kernel(T* out, const T* src, const int64_t* idx, Indexer<3> ix, int64_t n, int64_t len,
                                   int64_t ax_out, int64_t ax_idx, int64_t ax_src) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[3];
    ix.offsets(e, off);
    for (int64_t j = 0; j < len; ++j) out[off[0] + idx[off[1] + j * ax_idx] * ax_out] += src[off[2] + j * ax_src];
  }
}

void cuda_scatter_add(const View& out, int axis, const View& idx, const View& src) {
  Shape outer = idx.shape_vec();
  const int64_t len = outer[axis];
  outer[axis] = 1;
  int64_t so[kMaxDims], si[kMaxDims], ss[kMaxDims];
  for (int d = 0; d < out.ndim; ++d) {
    so[d] = d == axis ? 0 : out.strides[d];
    si[d] = d == axis ? 0 : idx.strides[d];
    ss[d] = d == axis ? 0 : src.strides[d];
  }
  const int64_t* st[3] = {so, si, ss};
  Indexer<3> ix = cuda::indexer_of<3>(outer, st);
  int64_t n = 1;
  for (auto s : outer) n *= s;
  value_types(out.dtype, "scatter_add", [&](auto t) {
    using T = decltype(t);
    scatter_add_kernel<T><<<blocks_for(n), kThreads>>>(out.ptr<T>(), src.ptr<T>(), idx.ptr<int64_t>(), ix, n, len,
                                                        out.strides[axis], idx.strides[axis], src.strides[axis]);
  });
  cuda::check_launch("scatter_add");
}

// ---- one_hot (out contiguous) -------------------------------------------------------------

template <class T>
__global__ void one_hot_kernel(T* out, const int64_t* idx, Indexer<1> ix, int64_t n, int64_t classes) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[1];
    ix.offsets(e / classes, off);
    out[e] = idx[off[0]] == e % classes ? T(1) : T(0);
  }
}

void cuda_one_hot(const View& idx, int64_t classes, const View& out) {
  const int64_t* st[1] = {idx.strides};
  Indexer<1> ix = cuda::indexer_of<1>(idx.shape_vec(), st);
  const int64_t n = out.numel();
  value_types(out.dtype, "one_hot", [&](auto t) {
    using T = decltype(t);
    one_hot_kernel<T><<<blocks_for(n), kThreads>>>(out.ptr<T>(), idx.ptr<int64_t>(), ix, n, classes);
  });
  cuda::check_launch("one_hot");
}

// ---- advanced indexing ----------------------------------------------------------------------

// The plan by value: each index tensor's pointer and strides over B, the indexed dims' sizes
// and strides in x, and x's rest dims.
struct AdvArgs {
  int k = 0, nb = 0, nr = 0;
  const int64_t* idx[kMaxDims];
  int64_t istr[kMaxDims][kMaxDims];
  int64_t dim_size[kMaxDims], dim_stride[kMaxDims];
  int64_t bshape[kMaxDims];
  int64_t rshape[kMaxDims], rstride[kMaxDims];
  int64_t rest_numel = 1;

  // x's element offset of (flat B position b, flat rest position r)
  __device__ int64_t x_offset(int64_t b, int64_t r) const { return base_offset(b) + rest_offset(r); }
  __device__ int64_t rest_offset(int64_t r) const {
    int64_t off = 0;
    for (int d = nr - 1; d >= 0; --d) {
      off += (r % rshape[d]) * rstride[d];
      r /= rshape[d];
    }
    return off;
  }
  // the part of the offset the indices give
  __device__ int64_t base_offset(int64_t b) const {
    int64_t off = 0;
    int64_t io[kMaxDims];
    for (int j = 0; j < k; ++j) io[j] = 0;
    for (int d = nb - 1; d >= 0; --d) {
      const int64_t c = b % bshape[d];
      b /= bshape[d];
      for (int j = 0; j < k; ++j) io[j] += c * istr[j][d];
    }
    for (int j = 0; j < k; ++j) {
      const int64_t v = idx[j][io[j]];
      off += (v < 0 ? v + dim_size[j] : v) * dim_stride[j];
    }
    return off;
  }
};

AdvArgs adv_args(const View& x, const AdvancedIndexPlan& p) {
  AdvArgs a;
  a.k = (int)p.idx.size();
  a.nb = (int)p.bshape.size();
  a.nr = (int)p.rest_shape.size();
  for (int j = 0; j < a.k; ++j) {
    a.idx[j] = p.idx[j].ptr<int64_t>();
    for (int d = 0; d < a.nb; ++d) a.istr[j][d] = p.idx[j].strides[d];
    a.dim_size[j] = x.shape[p.dims[j]];
    a.dim_stride[j] = x.strides[p.dims[j]];
  }
  for (int d = 0; d < a.nb; ++d) a.bshape[d] = p.bshape[d];
  for (int d = 0; d < a.nr; ++d) {
    a.rshape[d] = p.rest_shape[d];
    a.rstride[d] = p.rest_strides[d];
  }
  a.rest_numel = p.rest_numel();
  return a;
}

// out (B..., rest...) and index_put's aligned values: Indexer<1> over the plan's out shape.
Indexer<1> out_indexer(const View& v) {
  const int64_t* st[1] = {v.strides};
  return cuda::indexer_of<1>(v.shape_vec(), st);
}

template <class T>
__global__ void index_get_kernel(T* out, const T* x, AdvArgs a, Indexer<1> oix, int64_t n) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[1];
    oix.offsets(e, off);
    out[off[0]] = x[a.x_offset(e / a.rest_numel, e % a.rest_numel)];
  }
}

// Plain writes: with repeated indices one of the writes wins (which one is unspecified, as in
// PyTorch's CUDA index_put_ without accumulate).
template <class T>
__global__ void index_put_kernel(T* x, const T* v, AdvArgs a, Indexer<1> vix, int64_t n) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[1];
    vix.offsets(e, off);
    x[a.x_offset(e / a.rest_numel, e % a.rest_numel)] = v[off[0]];
  }
}

// Accumulation: each B position's base offset in x, sorted stably; thread (p, r) for a sorted
// position p that starts a run of equal offsets adds the run's values in B order (the CPU's).
__global__ void base_offsets_kernel(AdvArgs a, int64_t nb_total, int64_t* out) {
  DLCORE_GRID_LOOP(b, nb_total) out[b] = a.base_offset(b);
}

template <class T>
__global__ void index_put_acc_kernel(T* x, const T* v, AdvArgs a, Indexer<1> vix, const int64_t* keys,
                                     const int64_t* pos, int64_t nb_total) {
  DLCORE_GRID_LOOP(e, nb_total * a.rest_numel) {
    const int64_t p = e / a.rest_numel, r = e % a.rest_numel;
    const int64_t key = keys[p];
    if (p > 0 && keys[p - 1] == key) continue;  // not the first of its run
    T* target = x + key + a.rest_offset(r);
    T acc = *target;
    for (int64_t q = p; q < nb_total && keys[q] == key; ++q) {
      int64_t off[1];
      vix.offsets(pos[q] * a.rest_numel + r, off);
      acc += v[off[0]];
    }
    *target = acc;
  }
}

void cuda_index_get(const View& x, const AdvancedIndexPlan& p, const View& out) {
  AdvArgs a = adv_args(x, p);
  Indexer<1> oix = out_indexer(out);
  const int64_t n = out.numel();
  all_types(x.dtype, [&](auto t) {
    using T = decltype(t);
    index_get_kernel<T><<<blocks_for(n), kThreads>>>(out.ptr<T>(), x.ptr<T>(), a, oix, n);
  });
  cuda::check_launch("index");
}

void cuda_index_put(const View& x, const AdvancedIndexPlan& p, const View& values, bool accumulate) {
  AdvArgs a = adv_args(x, p);
  Indexer<1> vix = out_indexer(values);
  const int64_t n = values.numel(), nb_total = p.b_numel();
  if (accumulate) {
    DLCORE_CHECK(x.dtype != DType::b8, TypeError, "index_put_: accumulate is not defined for bool tensors");
    DeviceBuffer base(sizeof(int64_t) * (size_t)nb_total);
    base_offsets_kernel<<<blocks_for(nb_total), kThreads>>>(a, nb_total, base.as<int64_t>());
    cuda::check_launch("index_put_");
    SortedTargets sorted(base.as<int64_t>(), nb_total, "index_put_ (sort)");
    value_types(x.dtype, "index_put_", [&](auto t) {
      using T = decltype(t);
      index_put_acc_kernel<T><<<blocks_for(nb_total * a.rest_numel), kThreads>>>(
          x.ptr<T>(), values.ptr<T>(), a, vix, sorted.keys.as<int64_t>(), sorted.pos.as<int64_t>(), nb_total);
    });
  } else {
    all_types(x.dtype, [&](auto t) {
      using T = decltype(t);
      index_put_kernel<T><<<blocks_for(n), kThreads>>>(x.ptr<T>(), values.ptr<T>(), a, vix, n);
    });
  }
  cuda::check_launch("index_put_");
}

// ---- nonzero: flags, inclusive prefix sum (CUB), then each true element writes its row ------

template <class T> __device__ __forceinline__ bool truthy(T v) { return v != T(0); }
template <> __device__ __forceinline__ bool truthy<bool>(bool v) { return v; }

template <class T>
__global__ void flags_kernel(const T* m, Indexer<1> ix, int64_t n, int64_t* flags) {
  DLCORE_GRID_LOOP(e, n) {
    int64_t off[1];
    ix.offsets(e, off);
    flags[e] = truthy(m[off[0]]) ? 1 : 0;
  }
}

// positions[e] = number of true elements in [0, e] (row-major), in a buffer of n int64.
void true_positions(const View& mask, DeviceBuffer& pos) {
  const int64_t n = mask.numel();
  Indexer<1> ix = out_indexer(mask);
  all_types(mask.dtype, [&](auto t) {
    using T = decltype(t);
    flags_kernel<T><<<blocks_for(n), kThreads>>>(mask.ptr<T>(), ix, n, pos.as<int64_t>());
  });
  cuda::check_launch("nonzero");
  size_t temp_bytes = 0;
  cuda::check(cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, pos.as<int64_t>(), pos.as<int64_t>(), n),
              "nonzero (prefix sum)");
  DeviceBuffer temp(temp_bytes);
  cuda::check(cub::DeviceScan::InclusiveSum(temp.get(), temp_bytes, pos.as<int64_t>(), pos.as<int64_t>(), n),
              "nonzero (prefix sum)");
}

int64_t cuda_count_nonzero(const View& mask) {
  const int64_t n = mask.numel();
  DeviceBuffer pos(sizeof(int64_t) * n);
  true_positions(mask, pos);
  return cuda::read_device(pos.as<int64_t>() + (n - 1), "nonzero");
}

__global__ void nonzero_kernel(const int64_t* pos, Indexer<1> shape, int64_t n, int64_t* out, int64_t rows,
                               int64_t s0, int64_t s1) {
  DLCORE_GRID_LOOP(e, n) {
    const int64_t before = e ? pos[e - 1] : 0, row = pos[e] - 1;
    if (pos[e] == before || row >= rows) continue;
    int64_t rem = e;
    for (int d = shape.ndim - 1; d >= 0; --d) {
      out[row * s0 + d * s1] = rem % shape.shape[d];
      rem /= shape.shape[d];
    }
  }
}

void cuda_nonzero(const View& mask, const View& out) {
  const int64_t n = mask.numel();
  if (n == 0) return;
  DeviceBuffer pos(sizeof(int64_t) * n);
  true_positions(mask, pos);
  Indexer<1> ix = out_indexer(mask);
  nonzero_kernel<<<blocks_for(n), kThreads>>>(pos.as<int64_t>(), ix, n, out.ptr<int64_t>(), out.shape[0],
                                              out.strides[0], out.strides[1]);
  cuda::check_launch("nonzero");
}

// ---- argsort: keys copied into contiguous rows (NaN made one +NaN, -0.0 made +0.0, so the radix
// order is the CPU comparison's), then CUB's stable segmented sort of (key, position) pairs ---

template <class T> __device__ __forceinline__ T canonical_key(T v) {
  if constexpr (std::is_floating_point<T>::value) {
    if (v != v) return T(NAN);
    if (v == T(0)) return T(0);
  }
  return v;
}

template <class T, class K>
__global__ void argsort_prepare_kernel(const T* keys, Indexer<1> rows_ix, int64_t len, int64_t st, int64_t n,
                                       K* k_out, int64_t* pos) {
  DLCORE_GRID_LOOP(e, n) {
    const int64_t r = e / len, i = e % len;
    int64_t off[1];
    rows_ix.offsets(r, off);
    k_out[e] = (K)canonical_key<T>(keys[off[0] + i * st]);
    pos[e] = i;
  }
}

__global__ void row_offsets_kernel(int64_t* offs, int64_t rows, int64_t len) {
  DLCORE_GRID_LOOP(r, rows + 1) offs[r] = r * len;
}

template <class T, class K> void argsort_t(const View& keys, const View& out) {
  const int64_t len = keys.shape[keys.ndim - 1], n = keys.numel(), rows = n / len;
  const int64_t* st[1] = {keys.strides};
  Indexer<1> rows_ix = cuda::indexer_of<1>(Shape(keys.shape, keys.shape + keys.ndim - 1), st);
  DeviceBuffer k_in(sizeof(K) * n), k_out(sizeof(K) * n), pos(sizeof(int64_t) * n),
      offs(sizeof(int64_t) * (rows + 1));
  argsort_prepare_kernel<T, K><<<blocks_for(n), kThreads>>>(keys.ptr<T>(), rows_ix, len, keys.strides[keys.ndim - 1],
                                                            n, k_in.as<K>(), pos.as<int64_t>());
  cuda::check_launch("argsort");
  row_offsets_kernel<<<blocks_for(rows + 1), kThreads>>>(offs.as<int64_t>(), rows, len);
  cuda::check_launch("argsort");
  const int64_t* ob = offs.as<int64_t>();
  size_t temp_bytes = 0;
  cuda::check(cub::DeviceSegmentedSort::StableSortPairs(nullptr, temp_bytes, k_in.as<K>(), k_out.as<K>(),
                                                        pos.as<int64_t>(), out.ptr<int64_t>(), n, rows, ob, ob + 1),
              "argsort (segmented sort)");
  DeviceBuffer temp(temp_bytes);
  cuda::check(cub::DeviceSegmentedSort::StableSortPairs(temp.get(), temp_bytes, k_in.as<K>(), k_out.as<K>(),
                                                        pos.as<int64_t>(), out.ptr<int64_t>(), n, rows, ob, ob + 1),
              "argsort (segmented sort)");
}

void cuda_argsort(const View& keys, const View& out) {
  switch (keys.dtype) {
    case DType::f32: argsort_t<float, float>(keys, out); break;
    case DType::f64: argsort_t<double, double>(keys, out); break;
    case DType::i64: argsort_t<int64_t, int64_t>(keys, out); break;
    case DType::b8: argsort_t<bool, uint8_t>(keys, out); break;
  }
}

void fill_cuda_index() {
  auto& t = dispatch_table<IndexTable>(Device::cuda);
  t.find_out_of_range = cuda_find_out_of_range;
  t.index_select = cuda_index_select;
  t.index_add = cuda_index_add;
  t.gather = cuda_gather;
  t.scatter_add = cuda_scatter_add;
  t.one_hot = cuda_one_hot;
  t.index_get = cuda_index_get;
  t.index_put = cuda_index_put;
  t.count_nonzero = cuda_count_nonzero;
  t.nonzero = cuda_nonzero;
  t.argsort = cuda_argsort;
}
DLCORE_REGISTER(fill_cuda_index);

}  // namespace
}  // namespace dlcore
