// CUDA kernels of the elementwise family (csrc/ops/elementwise.h); the per-element math is
// csrc/ops/elementwise_math.h, the same functions the CPU kernels call.
#include "cuda/common.cuh"
#include "ops/elementwise.h"

namespace dlcore {
namespace {

using cuda::Indexer;

template <class T, class O>
__global__ void unary_kernel(UnaryOp op, const T* x, O* out, Indexer<2> ix, int64_t n, double p0, double p1) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[2];
    ix.offsets(i, off);
    if constexpr (std::is_same<O, bool>::value) out[off[0]] = unary_bool_apply<T>(op, x[off[1]]);
    else out[off[0]] = unary_apply<T>(op, x[off[1]], p0, p1);
  }
}

template <class T, class O>
__global__ void binary_kernel(BinaryOp op, const T* a, const T* b, O* out, Indexer<3> ix, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[3];
    ix.offsets(i, off);
    if constexpr (std::is_same<O, bool>::value) out[off[0]] = compare_apply<T>(op, a[off[1]], b[off[2]]);
    else out[off[0]] = binary_apply<T>(op, a[off[1]], b[off[2]]);
  }
}

template <class T>
__global__ void where_kernel(const bool* c, const T* a, const T* b, T* out, Indexer<4> ix, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[4];
    ix.offsets(i, off);
    out[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <class S, class D>
__global__ void copy_kernel(const S* s, D* out, Indexer<2> ix, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[2];
    ix.offsets(i, off);
    out[off[0]] = static_cast<D>(s[off[1]]);
  }
}

template <class T>
__global__ void fill_kernel(T* out, Indexer<1> ix, int64_t n, T v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[1];
    ix.offsets(i, off);
    out[off[0]] = v;
  }
}

template <class F> void by_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i64: f(int64_t{}); break;
    case DType::b8: f(bool{}); break;
  }
}

void cu_unary(UnaryOp op, const View& x, const View& out, double p0, double p1) {
  const View* ops[2] = {&out, &x};
  auto ix = cuda::make_indexer<2>(out, ops);
  int64_t n = out.numel();
  if (n == 0) return;
  by_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same<T, bool>::value) {
      throw ValueError("unary: bool inputs are not supported on CUDA");
    } else if (unary_outputs_bool(op)) {
      unary_kernel<T, bool><<<cuda::blocks_for(n), cuda::kThreads>>>(op, x.ptr<T>(), out.ptr<bool>(), ix, n, p0, p1);
    } else {
      unary_kernel<T, T><<<cuda::blocks_for(n), cuda::kThreads>>>(op, x.ptr<T>(), out.ptr<T>(), ix, n, p0, p1);
    }
  });
  cuda::check_launch("unary_kernel");
}

void cu_binary(BinaryOp op, const View& a, const View& b, const View& out) {
  const View* ops[3] = {&out, &a, &b};
  auto ix = cuda::make_indexer<3>(out, ops);
  int64_t n = out.numel();
  if (n == 0) return;
  by_dtype(a.dtype, [&](auto t) {
    using T = decltype(t);
    if (binary_outputs_bool(op)) {
      binary_kernel<T, bool><<<cuda::blocks_for(n), cuda::kThreads>>>(op, a.ptr<T>(), b.ptr<T>(), out.ptr<bool>(), ix, n);
    } else if constexpr (!std::is_same<T, bool>::value) {
      binary_kernel<T, T><<<cuda::blocks_for(n), cuda::kThreads>>>(op, a.ptr<T>(), b.ptr<T>(), out.ptr<T>(), ix, n);
    }
  });
  cuda::check_launch("binary_kernel");
}

void cu_where(const View& c, const View& a, const View& b, const View& out) {
  const View* ops[4] = {&out, &c, &a, &b};
  auto ix = cuda::make_indexer<4>(out, ops);
  int64_t n = out.numel();
  if (n == 0) return;
  by_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    where_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(c.ptr<bool>(), a.ptr<T>(), b.ptr<T>(), out.ptr<T>(), ix, n);
  });
  cuda::check_launch("where_kernel");
}

void cu_copy(const View& src, const View& out) {
  const View* ops[2] = {&out, &src};
  auto ix = cuda::make_indexer<2>(out, ops);
  int64_t n = out.numel();
  if (n == 0) return;
  by_dtype(src.dtype, [&](auto ts) {
    using S = decltype(ts);
    by_dtype(out.dtype, [&](auto td) {
      using D = decltype(td);
      copy_kernel<S, D><<<cuda::blocks_for(n), cuda::kThreads>>>(src.ptr<S>(), out.ptr<D>(), ix, n);
    });
  });
  cuda::check_launch("copy_kernel");
}

void cu_fill(const View& out, double value) {
  const View* ops[1] = {&out};
  auto ix = cuda::make_indexer<1>(out, ops);
  int64_t n = out.numel();
  if (n == 0) return;
  by_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    fill_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(out.ptr<T>(), ix, n, static_cast<T>(value));
  });
  cuda::check_launch("fill_kernel");
}

void fill_cuda_elementwise() {
  auto& t = dispatch_table<ElementwiseTable>(Device::cuda);
  t.unary = cu_unary;
  t.binary = cu_binary;
  t.where = cu_where;
  t.copy = cu_copy;
  t.fill = cu_fill;
}
DLCORE_REGISTER(fill_cuda_elementwise);

}  // namespace
}  // namespace dlcore
