// CUDA kernels of the recurrent family (twin of csrc/ops/rnn.cpp): the fused cells, one thread
// per (row n, hidden unit j) of a time step with the gate math from ops/rnn_math.h, and the
// whole-sequence loops behind rnn_forward / rnn_backward: the input projection of all steps as
// one GEMM, then per step the recurrent GEMM (cuda/gemm.cu's SGEMM) and the fused cell; BPTT
// with the weight gradients as three large GEMMs and the bias gradients as column sums in row
// order (the CPU's order). All pointers in RnnCellArgs / RnnCellGradArgs are device pointers
// (lengths too; the sequence loops copy the host lengths over once). Shapes: see ops/rnn.h.
// float32 runs on the tiled SGEMM, float64 on the plain DGEMM (cuda/gemm.cu).
#include <cuda_runtime.h>

#include <utility>

#include "core/dispatch.h"
#include "cuda/common.cuh"
#include "ops/gemm.h"
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

inline void check_launch(const char* what) { cuda::check_launch(what); }

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

// ---- sequence loops --------------------------------------------------------------------------

using cuda::DeviceBuffer;

// The CUDA GEMM of T: cuda/gemm.cu's SGEMM or DGEMM.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  DLCORE_DISPATCH(GemmTable, Device::cuda, sgemm)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  DLCORE_DISPATCH(GemmTable, Device::cuda, dgemm)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void d2d(void* dst, const void* src, size_t bytes, const char* op) {
  cuda::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0), op);
}
void zero(void* dst, size_t bytes, const char* op) { cuda::check(cudaMemsetAsync(dst, 0, bytes, 0), op); }

// The host lengths (checked by the front door) on the device, or null.
struct DeviceLengths {
  DeviceBuffer buf;
  explicit DeviceLengths(const View& lengths, int64_t N)
      : buf(lengths.data ? sizeof(int64_t) * (size_t)N : 0) {
    if (lengths.data)
      cuda::check(cudaMemcpy(buf.get(), lengths.data, sizeof(int64_t) * (size_t)N, cudaMemcpyHostToDevice),
                  "rnn lengths");
  }
  const int64_t* get() const { return buf.as<const int64_t>(); }
};

template <class T>
void sequence_forward_t(RnnMode mode, const RnnDims& d, const View& x, const View& h0, const View& c0,
                        const View& w_ih, const View& w_hh, const View& b_ih, const View& b_hh,
                        const View& lengths, bool reverse, bool save, const View& y, const View& S,
                        const View& C, const View& ws) {
  const char* op = rnn_mode_name(mode);
  const int64_t T_ = d.T, N = d.N, I = d.I, H = d.H, GH = d.G * H, NH = N * H, KH = d.K * H;
  const bool lstm = mode == RnnMode::lstm;
  T* Sp = S.ptr<T>();
  T* Cp = lstm ? C.ptr<T>() : nullptr;
  const int64_t start = save ? (reverse ? T_ : 0) : 0;
  const size_t state_bytes = sizeof(T) * (size_t)NH;
  if (h0.data) d2d(Sp + start * NH, h0.data, state_bytes, op);
  else zero(Sp + start * NH, state_bytes, op);
  if (lstm) {
    if (c0.data) d2d(Cp + start * NH, c0.data, state_bytes, op);
    else zero(Cp + start * NH, state_bytes, op);
  }
  DeviceLengths len(lengths, N);
  // XG (T*N, G*H) = X @ W_ih^T for every step at once; b_ih is added by the cell kernel.
  DeviceBuffer XG(sizeof(T) * (size_t)(T_ * N * GH)), HG(sizeof(T) * (size_t)(N * GH)),
      ws_step(save ? 0 : sizeof(T) * (size_t)(N * KH));
  gemm(false, true, T_ * N, GH, I, T(1), x.ptr<T>(), I, w_ih.ptr<T>(), I, T(0), XG.as<T>(), GH);
  RnnCellArgs a;
  a.mode = mode;
  a.dtype = x.dtype;
  a.N = N;
  a.H = H;
  a.hg = HG.as<T>();
  a.b_ih = b_ih.data;
  a.b_hh = b_hh.data;
  a.lengths = len.get();
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    const int64_t rd = save ? (reverse ? t + 1 : t) : (s & 1), wr = save ? (reverse ? t : t + 1) : ((s + 1) & 1);
    a.xg = XG.as<T>() + t * N * GH;
    a.h_prev = Sp + rd * NH;
    a.h_next = Sp + wr * NH;
    a.c_prev = lstm ? Cp + rd * NH : nullptr;
    a.c_next = lstm ? Cp + wr * NH : nullptr;
    a.ws = KH ? (save ? ws.ptr<T>() + t * N * KH : ws_step.as<T>()) : nullptr;
    a.y = y.ptr<T>() + t * NH;
    a.t = t;
    // HG (N, G*H) = h_prev @ W_hh^T, then the fused cell
    gemm(false, true, N, GH, H, T(1), Sp + rd * NH, H, w_hh.ptr<T>(), H, T(0), HG.as<T>(), GH);
    launch_forward<T>(a);
  }
}

// out[j] = sum over rows r (in order) of m[r, j]: one thread per column.
template <class T> __global__ void column_sums_kernel(const T* m, int64_t rows, int64_t cols, T* out) {
  for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < cols; j += (int64_t)gridDim.x * blockDim.x) {
    T acc = T(0);
    for (int64_t r = 0; r < rows; ++r) acc += m[r * cols + j];
    out[j] = acc;
  }
}
template <class T> void column_sums(const T* m, int64_t rows, int64_t cols, T* out) {
  column_sums_kernel<T><<<cuda::blocks_for(cols), cuda::kThreads>>>(m, rows, cols, out);
  check_launch("rnn bias gradient");
}

template <class T>
void sequence_backward_t(RnnMode mode, const RnnDims& d, const View& x, const View& w_ih, const View& w_hh,
                         const View& lengths, bool reverse, const View& S, const View& C, const View& ws,
                         const View& dy, const View& dhT, const View& dcT, const View& dx, const View& dh0,
                         const View& dc0, const View& dw_ih, const View& dw_hh, const View& db_ih,
                         const View& db_hh) {
  const char* op = rnn_mode_name(mode);
  const int64_t T_ = d.T, N = d.N, I = d.I, H = d.H, GH = d.G * H, NH = N * H, KH = d.K * H;
  const bool lstm = mode == RnnMode::lstm, gru = mode == RnnMode::gru;
  const T* Sp = S.ptr<T>();
  const T* Cp = lstm ? C.ptr<T>() : nullptr;
  const size_t state_bytes = sizeof(T) * (size_t)NH;
  DeviceBuffer DXG(sizeof(T) * (size_t)(T_ * N * GH)), DHG(gru ? sizeof(T) * (size_t)(T_ * N * GH) : 0);
  DeviceBuffer dh_a(state_bytes), dh_b(state_bytes), dc_a(lstm ? state_bytes : 0), dc_b(lstm ? state_bytes : 0);
  if (dhT.data) d2d(dh_a.get(), dhT.data, state_bytes, op);
  else zero(dh_a.get(), state_bytes, op);
  if (lstm) {
    if (dcT.data) d2d(dc_a.get(), dcT.data, state_bytes, op);
    else zero(dc_a.get(), state_bytes, op);
  }
  DeviceLengths len(lengths, N);
  T *dh_cur = dh_a.as<T>(), *dh_nxt = dh_b.as<T>(), *dc_cur = dc_a.as<T>(), *dc_nxt = dc_b.as<T>();
  RnnCellGradArgs a;
  a.mode = mode;
  a.dtype = x.dtype;
  a.N = N;
  a.H = H;
  a.lengths = len.get();
  T* rec = gru ? DHG.as<T>() : DXG.as<T>();  // gradient of the recurrent projection (T*N, G*H)
  const RnnGradSteps<T> steps{KH ? ws.ptr<T>() : nullptr, Sp, Cp, dy.data ? dy.ptr<T>() : nullptr, DXG.as<T>(),
                              gru ? DHG.as<T>() : nullptr, T_, KH, GH, reverse};
  for (int64_t s = T_ - 1; s >= 0; --s) {  // reverse of the forward processing order
    const int64_t t = rnn_grad_step(a, steps, s, dh_cur, dc_cur, dh_nxt, dc_nxt);
    launch_backward<T>(a);
    // d h_prev += dGates_rec (N, G*H) @ W_hh (G*H, H)
    gemm(false, false, N, H, GH, T(1), rec + t * N * GH, GH, w_hh.ptr<T>(), H, T(1), dh_nxt, H);
    std::swap(dh_cur, dh_nxt);
    std::swap(dc_cur, dc_nxt);
  }
  d2d(dh0.data, dh_cur, state_bytes, op);
  if (lstm) d2d(dc0.data, dc_cur, state_bytes, op);
  const int64_t TN = T_ * N;
  // dX (T*N, I) = dGates_in @ W_ih;  dW_ih (G*H, I) = dGates_in^T @ X
  if (dx.data) gemm(false, false, TN, I, GH, T(1), DXG.as<T>(), GH, w_ih.ptr<T>(), I, T(0), dx.ptr<T>(), I);
  gemm(true, false, GH, I, TN, T(1), DXG.as<T>(), GH, x.ptr<T>(), I, T(0), dw_ih.ptr<T>(), I);
  // dW_hh (G*H, H) = dGates_rec^T @ H_prev, H_prev = the T states read by the steps, in time order
  gemm(true, false, GH, H, TN, T(1), rec, GH, Sp + (reverse ? NH : 0), H, T(0), dw_hh.ptr<T>(), H);
  if (db_ih.data) column_sums(DXG.as<T>(), TN, GH, db_ih.ptr<T>());
  if (db_hh.data) {
    if (rec == DXG.as<T>() && db_ih.data)  // RNN / LSTM: both biases see the same gate gradients
      d2d(db_hh.data, db_ih.data, sizeof(T) * (size_t)GH, op);
    else
      column_sums(rec, TN, GH, db_hh.ptr<T>());
  }
}

void cuda_sequence_forward(RnnMode mode, const RnnDims& d, const View& x, const View& h0, const View& c0,
                           const View& w_ih, const View& w_hh, const View& b_ih, const View& b_hh,
                           const View& lengths, bool reverse, bool save, const View& y, const View& S,
                           const View& C, const View& ws) {
  if (x.dtype == DType::f32)
    sequence_forward_t<float>(mode, d, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, save, y, S, C, ws);
  else
    sequence_forward_t<double>(mode, d, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, save, y, S, C, ws);
}

void cuda_sequence_backward(RnnMode mode, const RnnDims& d, const View& x, const View& w_ih, const View& w_hh,
                            const View& lengths, bool reverse, const View& S, const View& C, const View& ws,
                            const View& dy, const View& dhT, const View& dcT, const View& dx, const View& dh0,
                            const View& dc0, const View& dw_ih, const View& dw_hh, const View& db_ih,
                            const View& db_hh) {
  if (x.dtype == DType::f32)
    sequence_backward_t<float>(mode, d, x, w_ih, w_hh, lengths, reverse, S, C, ws, dy, dhT, dcT, dx, dh0, dc0,
                               dw_ih, dw_hh, db_ih, db_hh);
  else
    sequence_backward_t<double>(mode, d, x, w_ih, w_hh, lengths, reverse, S, C, ws, dy, dhT, dcT, dx, dh0, dc0,
                                dw_ih, dw_hh, db_ih, db_hh);
}

void fill_cuda_rnn() {
  auto& t = dispatch_table<RnnTable>(Device::cuda);
  t.cell_forward = cuda_cell_forward;
  t.cell_backward = cuda_cell_backward;
  t.sequence_forward = cuda_sequence_forward;
  t.sequence_backward = cuda_sequence_backward;
}
DLCORE_REGISTER(fill_cuda_rnn);

}  // namespace
}  // namespace dlcore
