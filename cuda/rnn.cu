// CUDA cell kernels of the recurrent family (twin of csrc/ops/rnn.cpp): one thread per
// (row n, hidden unit j) of a time step, the gate math from ops/rnn_math.h. All pointers in
// RnnCellArgs / RnnCellGradArgs are device pointers (lengths too). Shapes: see ops/rnn.h.
#include <cuda_runtime.h>

#include "core/dispatch.h"
#include "ops/rnn.h"
#include "ops/rnn_math.h"

namespace dlcore {
namespace {

constexpr int kThreads = 256;
static_assert(kThreads % 32 == 0, "block size must be a multiple of the warp size");

template <class T> __device__ __forceinline__ T bias_at(const T* b, int64_t k) { return b ? b[k] : T(0); }

template <class T>
__global__ void cell_forward_kernel(RnnMode mode, int64_t N, int64_t H, const T* xg, const T* hg,
                                    const T* bi, const T* bh, const T* hp, const T* cp, T* hn, T* cn,
                                    T* ws, T* y, const int64_t* lengths, int64_t t) {
  const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= N * H) return;
  const int64_t n = e / H, j = e - n * H;
  const int64_t GH = rnn_gates(mode) * H, KH = rnn_saved(mode) * H;
  if (lengths && t >= lengths[n]) {  // padded step: carry the state, output zero
    hn[e] = hp[e];
    if (mode == RnnMode::lstm) cn[e] = cp[e];
    if (y) y[e] = T(0);
    return;
  }
  const T* xr = xg + n * GH;
  const T* hr = hg + n * GH;
  T* w = ws ? ws + n * KH : nullptr;
  auto pre = [&](int64_t k) { return xr[k] + hr[k] + bias_at(bi, k) + bias_at(bh, k); };
  if (mode == RnnMode::rnn_tanh || mode == RnnMode::rnn_relu) {
    hn[e] = rnn_cell_forward<T>(mode == RnnMode::rnn_relu, pre(j));
  } else if (mode == RnnMode::lstm) {
    lstm_cell_forward<T>(pre(j), pre(H + j), pre(2 * H + j), pre(3 * H + j), cp[e], &w[j], &w[H + j],
                         &w[2 * H + j], &w[3 * H + j], &cn[e], &hn[e]);
  } else {
    T hnb = hr[2 * H + j] + bias_at(bh, 2 * H + j);
    w[3 * H + j] = hnb;
    gru_cell_forward<T>(xr[j] + bias_at(bi, j), xr[H + j] + bias_at(bi, H + j),
                        xr[2 * H + j] + bias_at(bi, 2 * H + j), hr[j] + bias_at(bh, j),
                        hr[H + j] + bias_at(bh, H + j), hnb, hp[e], &w[j], &w[H + j], &w[2 * H + j],
                        &hn[e]);
  }
  if (y) y[e] = hn[e];
}

template <class T>
__global__ void cell_backward_kernel(RnnMode mode, int64_t N, int64_t H, const T* ws, const T* hp,
                                     const T* cp, const T* hnx, const T* cnx, const T* dy,
                                     const T* dh, const T* dc, T* dxg, T* dhg, T* dhp, T* dcp,
                                     const int64_t* lengths, int64_t t) {
  const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= N * H) return;
  const int64_t n = e / H, j = e - n * H;
  const int64_t GH = rnn_gates(mode) * H, KH = rnn_saved(mode) * H;
  T* gx = dxg + n * GH;
  T* gh = dhg ? dhg + n * GH : nullptr;
  if (lengths && t >= lengths[n]) {  // padded step: gradients pass through unchanged
    dhp[e] = dh ? dh[e] : T(0);
    if (mode == RnnMode::lstm) dcp[e] = dc ? dc[e] : T(0);
    for (int64_t g = 0; g < GH; g += H) {
      gx[g + j] = T(0);
      if (gh) gh[g + j] = T(0);
    }
    return;
  }
  const T* w = ws ? ws + n * KH : nullptr;
  const T dht = (dh ? dh[e] : T(0)) + (dy ? dy[e] : T(0));
  if (mode == RnnMode::rnn_tanh || mode == RnnMode::rnn_relu) {
    gx[j] = rnn_cell_backward<T>(mode == RnnMode::rnn_relu, hnx[e], dht);
    dhp[e] = T(0);
  } else if (mode == RnnMode::lstm) {
    lstm_cell_backward<T>(w[j], w[H + j], w[2 * H + j], w[3 * H + j], cp[e], cnx[e], dht,
                          dc ? dc[e] : T(0), &gx[j], &gx[H + j], &gx[2 * H + j], &gx[3 * H + j], &dcp[e]);
    dhp[e] = T(0);
  } else {
    gru_cell_backward<T>(w[j], w[H + j], w[2 * H + j], w[3 * H + j], hp[e], dht, &gx[j], &gx[H + j],
                         &gx[2 * H + j], &gh[2 * H + j], &dhp[e]);
    gh[j] = gx[j];
    gh[H + j] = gx[H + j];
  }
}

inline unsigned grid_for(int64_t n) { return (unsigned)((n + kThreads - 1) / kThreads); }

inline void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  DLCORE_CHECK(err == cudaSuccess, ValueError, what, ": CUDA launch failed: ", cudaGetErrorString(err));
}

template <class T> void launch_forward(const RnnCellArgs& a) {
  const int64_t total = a.N * a.H;
  if (total == 0) return;
  cell_forward_kernel<T><<<grid_for(total), kThreads>>>(
      a.mode, a.N, a.H, (const T*)a.xg, (const T*)a.hg, (const T*)a.b_ih, (const T*)a.b_hh,
      (const T*)a.h_prev, (const T*)a.c_prev, (T*)a.h_next, (T*)a.c_next, (T*)a.ws, (T*)a.y,
      a.lengths, a.t);
  check_launch("rnn cell_forward");
}

template <class T> void launch_backward(const RnnCellGradArgs& a) {
  const int64_t total = a.N * a.H;
  if (total == 0) return;
  cell_backward_kernel<T><<<grid_for(total), kThreads>>>(
      a.mode, a.N, a.H, (const T*)a.ws, (const T*)a.h_prev, (const T*)a.c_prev, (const T*)a.h_next,
      (const T*)a.c_next, (const T*)a.dy, (const T*)a.dh, (const T*)a.dc, (T*)a.dxg, (T*)a.dhg,
      (T*)a.dh_prev, (T*)a.dc_prev, a.lengths, a.t);
  check_launch("rnn cell_backward");
}

void cuda_cell_forward(const RnnCellArgs& a) {
  if (a.dtype == DType::f32) launch_forward<float>(a);
  else if (a.dtype == DType::f64) launch_forward<double>(a);
  else throw TypeError("rnn cell_forward: needs float32 or float64");
}
void cuda_cell_backward(const RnnCellGradArgs& a) {
  if (a.dtype == DType::f32) launch_backward<float>(a);
  else if (a.dtype == DType::f64) launch_backward<double>(a);
  else throw TypeError("rnn cell_backward: needs float32 or float64");
}

void fill_cuda_rnn() {
  auto& t = dispatch_table<RnnTable>(Device::cuda);
  t.cell_forward = cuda_cell_forward;
  t.cell_backward = cuda_cell_backward;
}
DLCORE_REGISTER(fill_cuda_rnn);

}  // namespace
}  // namespace dlcore
