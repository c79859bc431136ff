// CUDA reductions (csrc/ops/reduce.h): one thread block per output element; its threads
// stride over the reduced index space and combine partials with a fixed-shape tree in shared
// memory, so results are deterministic run to run.
#include <cfloat>

#include "cuda/common.cuh"
#include "ops/reduce.h"

namespace dlcore {
namespace {

constexpr int kBlock = 256;

struct ReduceGeometry {
  cuda::Indexer<2> kept;  // over the kept dims: strides of out (0) and x (1)
  cuda::Indexer<1> red;   // over the reduced dims: strides of x
  int64_t nred;
};

template <class T> struct Acc { using type = double; };
template <> struct Acc<int64_t> { using type = int64_t; };

template <class T>
__global__ void reduce_kernel(ReduceOp op, const T* x, void* out, ReduceGeometry g, double correction) {
  using A = typename Acc<T>::type;
  __shared__ A sv[kBlock];
  __shared__ int64_t si[kBlock];
  __shared__ bool snan[kBlock];
  int64_t off[2];
  g.kept.offsets(blockIdx.x, off);
  const T* base = x + off[1];
  const bool is_max = op == ReduceOp::max || op == ReduceOp::argmax;
  const bool is_ext = op == ReduceOp::max || op == ReduceOp::min || op == ReduceOp::argmax || op == ReduceOp::argmin;
  A v = op == ReduceOp::prod ? A(1) : A(0);
  int64_t vi = -1;
  bool nan = false;
  for (int64_t r = threadIdx.x; r < g.nred; r += blockDim.x) {
    int64_t ro[1];
    g.red.offsets(r, ro);
    A e = (A)base[ro[0]];
    if (is_ext) {
      if (e != e) { if (!nan) { nan = true; vi = r; } continue; }
      if (vi < 0 || (is_max ? e > v : e < v)) { v = e; vi = r; }
    } else if (op == ReduceOp::prod) {
      v *= e;
    } else {
      v += e;
    }
  }
  sv[threadIdx.x] = v;
  si[threadIdx.x] = vi;
  snan[threadIdx.x] = nan;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      int o = threadIdx.x + s;
      if (is_ext) {
        // NaN wins (lowest index), then the extreme value, then the lowest index at ties.
        bool take;
        if (snan[threadIdx.x] || snan[o]) take = snan[o] && (!snan[threadIdx.x] || si[o] < si[threadIdx.x]);
        else if (si[o] < 0) take = false;
        else if (si[threadIdx.x] < 0) take = true;
        else take = (is_max ? sv[o] > sv[threadIdx.x] : sv[o] < sv[threadIdx.x]) ||
                    (sv[o] == sv[threadIdx.x] && si[o] < si[threadIdx.x]);
        if (take) { sv[threadIdx.x] = sv[o]; si[threadIdx.x] = si[o]; snan[threadIdx.x] = snan[o]; }
      } else if (op == ReduceOp::prod) {
        sv[threadIdx.x] *= sv[o];
      } else {
        sv[threadIdx.x] += sv[o];
      }
    }
    __syncthreads();
  }
  if (op == ReduceOp::var) {  // second pass: squared deviations from the mean
    A mean = sv[0] / (A)g.nred;
    __syncthreads();
    A ss = 0;
    for (int64_t r = threadIdx.x; r < g.nred; r += blockDim.x) {
      int64_t ro[1];
      g.red.offsets(r, ro);
      A d = (A)base[ro[0]] - mean;
      ss += d * d;
    }
    sv[threadIdx.x] = ss;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) sv[threadIdx.x] += sv[threadIdx.x + s];
      __syncthreads();
    }
  }
  if (threadIdx.x != 0) return;
  int64_t o = off[0];
  switch (op) {
    case ReduceOp::argmax:
    case ReduceOp::argmin: static_cast<int64_t*>(out)[o] = si[0] < 0 ? 0 : si[0]; break;
    case ReduceOp::max:
    case ReduceOp::min:
      if constexpr (std::is_floating_point<T>::value)
        static_cast<T*>(out)[o] = snan[0] ? (T)NAN : (T)sv[0];
      else
        static_cast<T*>(out)[o] = (T)sv[0];
      break;
    case ReduceOp::mean: static_cast<T*>(out)[o] = (T)(sv[0] / (A)g.nred); break;
    case ReduceOp::var: {
      double denom = (double)g.nred - correction;
      static_cast<T*>(out)[o] = (T)(denom > 0 ? sv[0] / denom : NAN);
      break;
    }
    default: static_cast<T*>(out)[o] = (T)sv[0];
  }
}

void cu_reduce(ReduceOp op, const View& x, const std::vector<int>& axes, const View& out, double correction) {
  ReduceGeometry g;
  g.kept.ndim = 0;
  g.red.ndim = 0;
  g.nred = 1;
  int64_t nout = 1;
  for (int d = 0; d < x.ndim; ++d) {
    bool red = false;
    for (int a : axes) red |= a == d;
    if (red) {
      g.red.shape[g.red.ndim] = x.shape[d];
      g.red.strides[0][g.red.ndim++] = x.strides[d];
      g.nred *= x.shape[d];
    } else {
      g.kept.shape[g.kept.ndim] = x.shape[d];
      g.kept.strides[0][g.kept.ndim] = out.strides[d];
      g.kept.strides[1][g.kept.ndim++] = x.strides[d];
      nout *= x.shape[d];
    }
  }
  DLCORE_CHECK(nout < (1LL << 31), ValueError, "reduce (CUDA): too many outputs (", nout, ")");
  if (nout == 0) return;
  switch (x.dtype) {
    case DType::f32: reduce_kernel<float><<<(unsigned)nout, kBlock>>>(op, x.ptr<float>(), out.data, g, correction); break;
    case DType::f64: reduce_kernel<double><<<(unsigned)nout, kBlock>>>(op, x.ptr<double>(), out.data, g, correction); break;
    case DType::i64: reduce_kernel<int64_t><<<(unsigned)nout, kBlock>>>(op, x.ptr<int64_t>(), out.data, g, correction); break;
    default: throw TypeError("reduce (CUDA): bool tensors are not supported");
  }
  cuda::check_launch("reduce_kernel");
}

void fill_cuda_reduce() { dispatch_table<ReduceTable>(Device::cuda).reduce = cu_reduce; }
DLCORE_REGISTER(fill_cuda_reduce);

}  // namespace
}  // namespace dlcore
