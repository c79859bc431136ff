// CPU kernels of the recurrent family (see rnn.h for shapes and the state indexing):
// the fused pointwise cell kernels (forward / backward, split over the hidden units of a step;
// float32 LSTM / GRU rows run the per-ISA loops of ops/rnn_loops.h, the rest the loops here)
// and the sequence routines that drive them with dlcore::gemm.
#if defined(__GNUC__) && !defined(__clang__)
// Lets GCC if-convert the clamps of the branch-free float activations so the cell loops
// vectorise (this file never inspects floating-point exception flags).
#pragma GCC optimize("no-trapping-math")
#endif
#include "ops/rnn.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "ops/gemm.h"
#include "ops/rnn_isa.h"

namespace dlcore {
namespace {

// Units of a row are split between threads at multiples of this (so every element sits at
// the same position of the vector loops whatever the thread count).
constexpr int64_t kUnitAlign = 16;
// Cell steps with fewer elements than this run on the calling thread.
constexpr int64_t kCellParallelMin = 4096;

inline bool row_valid(const int64_t* lengths, int64_t n, int64_t t) { return !lengths || t < lengths[n]; }

// Runs part(c, b, e) over [0, n), one chunk c per thread, each chunk starting at a multiple of
// `align` (threads take the chunks from a shared counter); serial (one chunk, c = 0) when
// `parallel` is false. Every element is computed the same way whichever chunk holds it. The
// chunks depend only on n, align, `parallel` and the thread context, so a sequence call sees the
// same chunks at every step (what it packs per chunk stays valid).
template <class F> void for_aligned_chunks(int64_t n, int64_t align, bool parallel, F&& part) {
  const int nt = parallel && !in_parallel_region() ? get_num_threads() : 1;
  const int64_t blocks = (n + align - 1) / align;
  if (nt <= 1 || blocks < 2) {
    part(int64_t(0), int64_t(0), n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(blocks, (int64_t)nt);
  const int64_t per = (blocks + chunks - 1) / chunks * align;
  std::atomic<int64_t> next{0};
  parallel_run((int)std::min<int64_t>(nt, chunks), [&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      const int64_t b = std::min(n, c * per), e = std::min(n, b + per);
      if (b < e) part(c, b, e);
    }
  });
}
// Units [0, H) of a step in chunks at multiples of kUnitAlign: part(j0, j1).
template <class F> void for_unit_chunks(int64_t H, bool parallel, F&& part) {
  for_aligned_chunks(H, kUnitAlign, parallel, [&](int64_t, int64_t j0, int64_t j1) { part(j0, j1); });
}

// ---- fused cell forward -----------------------------------------------------------------
// One row part (row n, units [j0, j1)) of a step. float32 LSTM / GRU run the per-ISA loops
// (ops/rnn_loops.h, AVX2 / AVX-512 when available); the rest runs the loops below, straight-line
// over restrict pointers with the same gate math (vectorised where the math allows). `zeros`
// holds G*H zeros that stand in for absent biases.
template <class T> void cell_forward_row(const RnnCellArgs& a, const T* zeros, int64_t n, int64_t j0, int64_t j1) {
  const int64_t H = a.H, GH = rnn_gates(a.mode) * H, KH = rnn_saved(a.mode) * H;
  const RnnMode mode = a.mode;
  const T* __restrict bi = a.b_ih ? (const T*)a.b_ih : zeros;
  const T* __restrict bh = a.b_hh ? (const T*)a.b_hh : zeros;
  const int64_t o = n * H;
  const T* __restrict hp = (const T*)a.h_prev + o;
  const T* __restrict cp = mode == RnnMode::lstm ? (const T*)a.c_prev + o : nullptr;
  T* __restrict hn = (T*)a.h_next + o;
  T* __restrict cn = mode == RnnMode::lstm ? (T*)a.c_next + o : nullptr;
  T* __restrict y = a.y ? (T*)a.y + o : nullptr;
  if (!row_valid(a.lengths, n, a.t)) {  // padded step: carry the state, output zero
    for (int64_t j = j0; j < j1; ++j) hn[j] = hp[j];
    if (cn)
      for (int64_t j = j0; j < j1; ++j) cn[j] = cp[j];
    if (y)
      for (int64_t j = j0; j < j1; ++j) y[j] = T(0);
    return;
  }
  const T* __restrict xr = (const T*)a.xg + n * GH;
  const T* __restrict hr = (const T*)a.hg + n * GH;
  T* __restrict w = a.ws ? (T*)a.ws + n * KH : nullptr;
  if constexpr (std::is_same<T, float>::value) {
    if (mode == RnnMode::lstm || mode == RnnMode::gru) {
      RnnRowFwd r;
      r.len = j1 - j0;
      r.H = H;
      r.xg = xr + j0;
      r.hg = hr + j0;
      r.bi = bi + j0;
      r.bh = bh + j0;
      r.hp = hp + j0;
      r.cp = cp ? cp + j0 : nullptr;
      r.ws = w + j0;
      r.hn = hn + j0;
      r.cn = cn ? cn + j0 : nullptr;
      r.y = y ? y + j0 : nullptr;
      const RnnCellKernels& k = rnn_cell_kernels();
      (mode == RnnMode::lstm ? k.lstm_fwd : k.gru_fwd)(r);
      return;
    }
  }
  switch (mode) {
    case RnnMode::rnn_tanh:
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j)
        hn[j] = rnn_cell_forward<T, RnnFastAct>(false, xr[j] + hr[j] + bi[j] + bh[j]);
      break;
    case RnnMode::rnn_relu:
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j)
        hn[j] = rnn_cell_forward<T, RnnFastAct>(true, xr[j] + hr[j] + bi[j] + bh[j]);
      break;
    case RnnMode::lstm: {
      T* __restrict wi = w;
      T* __restrict wf = w + H;
      T* __restrict wg = w + 2 * H;
      T* __restrict wo = w + 3 * H;
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t f = H + j, g = 2 * H + j, q = 3 * H + j;
        lstm_cell_forward<T, RnnFastAct>(xr[j] + hr[j] + bi[j] + bh[j], xr[f] + hr[f] + bi[f] + bh[f],
                                         xr[g] + hr[g] + bi[g] + bh[g], xr[q] + hr[q] + bi[q] + bh[q],
                                         cp[j], &wi[j], &wf[j], &wg[j], &wo[j], &cn[j], &hn[j]);
      }
      break;
    }
    case RnnMode::gru: {
      T* __restrict wr = w;
      T* __restrict wz = w + H;
      T* __restrict wn = w + 2 * H;
      T* __restrict whn = w + 3 * H;
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t z = H + j, m = 2 * H + j;
        T hnb = hr[m] + bh[m];
        whn[j] = hnb;
        gru_cell_forward<T, RnnFastAct>(xr[j] + bi[j], xr[z] + bi[z], xr[m] + bi[m], hr[j] + bh[j],
                                        hr[z] + bh[z], hnb, hp[j], &wr[j], &wz[j], &wn[j], &hn[j]);
      }
      break;
    }
  }
  if (y)
    for (int64_t j = j0; j < j1; ++j) y[j] = hn[j];
}

// Rows [0, N) x units [j0, j1) of a step.
template <class T> void cell_forward_cols(const RnnCellArgs& a, const T* zeros, int64_t j0, int64_t j1) {
  for (int64_t n = 0; n < a.N; ++n) cell_forward_row<T>(a, zeros, n, j0, j1);
}

template <class T> void cell_forward_t(const RnnCellArgs& a) {
  std::vector<T> zeros((a.b_ih && a.b_hh) ? 0 : (size_t)(rnn_gates(a.mode) * a.H), T(0));
  for_unit_chunks(a.H, a.N * a.H >= kCellParallelMin,
                  [&](int64_t j0, int64_t j1) { cell_forward_cols<T>(a, zeros.data(), j0, j1); });
}

// ---- fused cell backward (differentiates cell_forward_row line by line via rnn_math.h) ----
// `zeros` holds H zeros that stand in for absent dy / dh / dc.
template <class T> void cell_backward_row(const RnnCellGradArgs& a, const T* zeros, int64_t n, int64_t j0, int64_t j1) {
  const int64_t H = a.H, GH = rnn_gates(a.mode) * H, KH = rnn_saved(a.mode) * H;
  const RnnMode mode = a.mode;
  const int64_t o = n * H;
  const T* __restrict dh = a.dh ? (const T*)a.dh + o : zeros;
  const T* __restrict dc = a.dc ? (const T*)a.dc + o : zeros;
  const T* __restrict dy = a.dy ? (const T*)a.dy + o : zeros;
  T* __restrict dhp = (T*)a.dh_prev + o;
  T* __restrict dcp = mode == RnnMode::lstm ? (T*)a.dc_prev + o : nullptr;
  T* __restrict gx = (T*)a.dxg + n * GH;
  T* __restrict gh = a.dhg ? (T*)a.dhg + n * GH : nullptr;
  if (!row_valid(a.lengths, n, a.t)) {  // padded step: gradients pass through unchanged
    for (int64_t j = j0; j < j1; ++j) dhp[j] = dh[j];
    if (dcp)
      for (int64_t j = j0; j < j1; ++j) dcp[j] = dc[j];
    for (int64_t g = 0; g < GH; g += H) {
      for (int64_t j = j0; j < j1; ++j) gx[g + j] = T(0);
      if (gh)
        for (int64_t j = j0; j < j1; ++j) gh[g + j] = T(0);
    }
    return;
  }
  const T* __restrict w = a.ws ? (const T*)a.ws + n * KH : nullptr;
  if constexpr (std::is_same<T, float>::value) {
    if (mode == RnnMode::lstm || mode == RnnMode::gru) {
      RnnRowBwd r;
      r.len = j1 - j0;
      r.H = H;
      r.ws = w + j0;
      r.hp = (const T*)a.h_prev + o + j0;
      r.cp = mode == RnnMode::lstm ? (const T*)a.c_prev + o + j0 : nullptr;
      r.cn = mode == RnnMode::lstm ? (const T*)a.c_next + o + j0 : nullptr;
      r.dh = dh + j0;
      r.dy = dy + j0;
      r.dc = dc + j0;
      r.gx = gx + j0;
      r.gh = gh ? gh + j0 : nullptr;
      r.dhp = dhp + j0;
      r.dcp = dcp ? dcp + j0 : nullptr;
      const RnnCellKernels& k = rnn_cell_kernels();
      (mode == RnnMode::lstm ? k.lstm_bwd : k.gru_bwd)(r);
      return;
    }
  }
  switch (mode) {
    case RnnMode::rnn_tanh:
    case RnnMode::rnn_relu: {
      const bool relu = mode == RnnMode::rnn_relu;
      const T* __restrict hnx = (const T*)a.h_next + o;
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) {
        gx[j] = rnn_cell_backward<T>(relu, hnx[j], dh[j] + dy[j]);
        dhp[j] = T(0);
      }
      break;
    }
    case RnnMode::lstm: {
      const T* __restrict cp = (const T*)a.c_prev + o;
      const T* __restrict cnx = (const T*)a.c_next + o;
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) {
        lstm_cell_backward<T, RnnFastAct>(w[j], w[H + j], w[2 * H + j], w[3 * H + j], cp[j], cnx[j],
                                          dh[j] + dy[j], dc[j], &gx[j], &gx[H + j], &gx[2 * H + j],
                                          &gx[3 * H + j], &dcp[j]);
        dhp[j] = T(0);
      }
      break;
    }
    case RnnMode::gru: {
      const T* __restrict hp = (const T*)a.h_prev + o;
#pragma GCC ivdep
      for (int64_t j = j0; j < j1; ++j) {
        gru_cell_backward<T>(w[j], w[H + j], w[2 * H + j], w[3 * H + j], hp[j], dh[j] + dy[j], &gx[j],
                             &gx[H + j], &gx[2 * H + j], &gh[2 * H + j], &dhp[j]);
        gh[j] = gx[j];
        gh[H + j] = gx[H + j];
      }
      break;
    }
  }
}

template <class T> void cell_backward_t(const RnnCellGradArgs& a) {
  std::vector<T> zeros((a.dy && a.dh && a.dc) ? 0 : (size_t)a.H, T(0));
  for_unit_chunks(a.H, a.N * a.H >= kCellParallelMin, [&](int64_t j0, int64_t j1) {
    for (int64_t n = 0; n < a.N; ++n) cell_backward_row<T>(a, zeros.data(), n, j0, j1);
  });
}

}  // namespace

const RnnCellKernels& rnn_cell_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(rnn_generic_set, &rnn_avx2_set, &rnn_avx512_set);
#else
  return rnn_generic_set;
#endif
}

namespace {

void cpu_cell_forward(const RnnCellArgs& a) {
  if (a.dtype == DType::f32) cell_forward_t<float>(a);
  else cell_forward_t<double>(a);
}
void cpu_cell_backward(const RnnCellGradArgs& a) {
  if (a.dtype == DType::f32) cell_backward_t<float>(a);
  else cell_backward_t<double>(a);
}

void fill_cpu_rnn() {
  auto& t = dispatch_table<RnnTable>(Device::cpu);
  t.cell_forward = cpu_cell_forward;
  t.cell_backward = cpu_cell_backward;
}
DLCORE_REGISTER(fill_cpu_rnn);

// Uninitialised scratch (every element is written before it is read; no zero-fill pass).
template <class T> struct Scratch {
  std::unique_ptr<T[]> p;
  explicit Scratch(int64_t n) : p(n > 0 ? new T[(size_t)n] : nullptr) {}
  T* data() { return p.get(); }
};

// out (cols, rows) = m^T for a row-major (rows, cols) matrix m; parallel over output rows.
template <class T> void transpose_into(const T* m, int64_t rows, int64_t cols, T* out) {
  parallel_for(0, cols, std::max<int64_t>(1, 16384 / std::max<int64_t>(rows, 1)), [&](int64_t c0, int64_t c1) {
    for (int64_t r0 = 0; r0 < rows; r0 += 32) {  // 32-row blocks keep the reads cache-friendly
      const int64_t r1 = std::min(rows, r0 + 32);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) out[c * rows + r] = m[r * cols + c];
    }
  });
}

// out[j] = sum_r m[r, j], in parallel over column chunks (each column summed in row order).
template <class T> void column_sums(const T* m, int64_t rows, int64_t cols, T* out) {
  parallel_for(0, cols, 64, [&](int64_t c0, int64_t c1) {
    for (int64_t j = c0; j < c1; ++j) out[j] = T(0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = m + r * cols;
      for (int64_t j = c0; j < c1; ++j) out[j] += row[j];
    }
  });
}

// A step's recurrent GEMM and cell run in one parallel region when the step has at least
// this many flops (2 * N * G*H * H); smaller steps run on the calling thread.
constexpr double kStepParallelFlops = 1 << 19;

// The input projection is computed for chunks of time steps of about this many rows, just
// before the steps read them (a cache-sized buffer instead of a (T*N, G*H) one).
constexpr int64_t kXgChunkRows = 256;

template <class T>
void rnn_forward_t(RnnMode mode, const RnnDims& d, const View& x, const View& h0, const View& c0,
                   const View& w_ih, const View& w_hh, const View& b_ih, const View& b_hh,
                   const View& lengths, bool reverse, bool save, const View& y, const View& S,
                   const View& C, const View& ws) {
  const int64_t T_ = d.T, N = d.N, I = d.I, H = d.H, G = d.G, GH = G * H, NH = N * H, KH = d.K * H;
  const bool lstm = mode == RnnMode::lstm;
  T* Sp = S.ptr<T>();
  T* Cp = lstm ? C.ptr<T>() : nullptr;
  // States: with save, S / C hold all T+1 states (see rnn.h); without, two slots used in turn
  // (step s reads slot s % 2 and writes the other) and a one-step workspace.
  const int64_t start = save ? (reverse ? T_ : 0) : 0;
  Scratch<T> ws_step(save ? 0 : N * KH);
  if (h0.data) std::memcpy(Sp + start * NH, h0.data, sizeof(T) * NH);
  else std::fill(Sp + start * NH, Sp + (start + 1) * NH, T(0));
  if (lstm) {
    if (c0.data) std::memcpy(Cp + start * NH, c0.data, sizeof(T) * NH);
    else std::fill(Cp + start * NH, Cp + (start + 1) * NH, T(0));
  }
  // Input projection XG (rows of N, G*H) = X @ W_ih^T for a chunk of steps at a time (W_ih read
  // in place through trans_b); b_ih is added by the cell kernel.
  const int64_t chunk = std::min<int64_t>(T_, std::max<int64_t>(1, (kXgChunkRows + N - 1) / N));
  Scratch<T> XG(chunk * N * GH);
  // Recurrent weights read in place through trans_b: the rows of W_hh (G*H, H) of one gate's
  // units are a contiguous block (a GEMV over contiguous rows for batch 1). Small batches
  // (2..16 rows) use W_hh^T (H, G*H), transposed once per call: the GEMM reads a row-major B
  // of so few rows in place, where through trans_b it would pack all of W_hh every step.
  const T* Whh = w_hh.ptr<T>();
  const bool small = N > 1 && N <= 16;
  Scratch<T> WhhT(small ? H * GH : 0);
  if (small) transpose_into<T>(Whh, GH, H, WhhT.data());
  // packed once only where gemm would pack it (batches above kNoPackBTiles row tiles)
  const PackedB<T> whhT_pk = small ? pack_b<T>(false, H, GH, WhhT.data(), GH, N) : PackedB<T>();
  std::vector<T> zeros((b_ih.data && b_hh.data) ? 0 : (size_t)GH, T(0));
  Scratch<T> HG(N * GH);
  RnnCellArgs a;
  a.mode = mode;
  a.dtype = x.dtype;
  a.N = N;
  a.H = H;
  a.hg = HG.data();
  a.b_ih = b_ih.data;
  a.b_hh = b_hh.data;
  a.lengths = lengths.data ? lengths.ptr<int64_t>() : nullptr;
  const bool par = 2.0 * N * GH * H >= kStepParallelFlops;
  // Units [j0, j1) of one step (one chunk per thread, in one parallel region per step): the G
  // gate slices of HG = h @ W_hh^T for those units (one GEMM per gate over a contiguous block
  // of W_hh rows; a GEMV for batch 1, which the GEMM alone would run on one core), then the
  // cell on them while they are in this core's cache. One synchronisation per step: on this
  // shared 2-core machine every extra one costs far more than re-packing h per gate slice.
  // Small batches (2..16): the step GEMM on W_hh^T (threaded inside the GEMM), then the cell.
  // Either way, which thread computes a value never changes it (GEMMs are split over output
  // columns, the cell is elementwise).
  // Each chunk's G slices of W_hh are packed once per call (gemm_packed_b: the same values as
  // gemm, which would re-pack the whole of W_hh on every step for batches above a few rows).
  const int64_t max_chunks = std::max(1, get_num_threads());
  std::vector<PackedB<T>> pk(small ? 0 : (size_t)(max_chunks * G));
  if (!small && N > 1)
    for_aligned_chunks(H, kUnitAlign, par, [&](int64_t c, int64_t j0, int64_t j1) {
      for (int64_t g = 0; g < G; ++g)
        pk[(size_t)(c * G + g)] = pack_b<T>(true, H, j1 - j0, Whh + (g * H + j0) * H, H, N);
    });
  auto part = [&](int64_t ci, int64_t j0, int64_t j1) {
    const T* hprev = (const T*)a.h_prev;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t c = g * H + j0;
      const PackedB<T>& pb = pk[(size_t)(ci * G + g)];
      if (pb.packed())
        gemm_packed_b<T>(false, N, T(1), hprev, H, pb, T(0), HG.data() + c, GH);
      else
        gemm<T>(false, true, N, j1 - j0, H, T(1), hprev, H, Whh + c * H, H, T(0), HG.data() + c, GH);
    }
    cell_forward_cols<T>(a, zeros.data(), j0, j1);
  };
  auto cells = [&](int64_t j0, int64_t j1) { cell_forward_cols<T>(a, zeros.data(), j0, j1); };
  int64_t xt0 = 0;
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    const int64_t rd = save ? (reverse ? t + 1 : t) : (s & 1), wr = save ? (reverse ? t : t + 1) : ((s + 1) & 1);
    if (s % chunk == 0) {  // project the chunk of steps [s, s + len) (times [xt0, xt0 + len))
      const int64_t len = std::min(chunk, T_ - s);
      xt0 = reverse ? T_ - s - len : s;
      gemm<T>(false, true, len * N, GH, I, T(1), x.ptr<T>() + xt0 * N * I, I, w_ih.ptr<T>(), I, T(0),
              XG.data(), GH);
    }
    const int64_t row = t - xt0;
    a.xg = XG.data() + row * N * GH;
    a.h_prev = Sp + rd * NH;
    a.h_next = Sp + wr * NH;
    a.c_prev = lstm ? Cp + rd * NH : nullptr;
    a.c_next = lstm ? Cp + wr * NH : nullptr;
    a.ws = KH ? (save ? ws.ptr<T>() + t * N * KH : ws_step.data()) : nullptr;
    a.y = y.ptr<T>() + t * NH;
    a.t = t;
    if (!small) {
      for_aligned_chunks(H, kUnitAlign, par, part);
    } else {
      gemm_packed_b<T>(false, N, T(1), Sp + rd * NH, H, whhT_pk, T(0), HG.data(), GH);
      for_unit_chunks(H, N * H >= kCellParallelMin, cells);
    }
  }
}

template <class T>
void rnn_backward_t(RnnMode mode, const RnnDims& d, const View& x, const View& w_ih,
                    const View& w_hh, const View& lengths, bool reverse, const View& S,
                    const View& C, const View& ws, const View& dy, const View& dhT,
                    const View& dcT, const View& dx, const View& dh0, const View& dc0,
                    const View& dw_ih, const View& dw_hh, const View& db_ih, const View& db_hh) {
  const int64_t T_ = d.T, N = d.N, I = d.I, H = d.H, GH = d.G * H, NH = N * H, KH = d.K * H;
  const bool lstm = mode == RnnMode::lstm, gru = mode == RnnMode::gru;
  const T* Sp = S.ptr<T>();
  const T* Cp = lstm ? C.ptr<T>() : nullptr;
  Scratch<T> DXG(T_ * N * GH), DHG(gru ? T_ * N * GH : 0);
  std::vector<T> dh_a((size_t)NH, T(0)), dh_b((size_t)NH), dc_a(lstm ? (size_t)NH : 0, T(0)),
      dc_b(lstm ? (size_t)NH : 0);
  if (dhT.data) std::memcpy(dh_a.data(), dhT.data, sizeof(T) * NH);
  if (lstm && dcT.data) std::memcpy(dc_a.data(), dcT.data, sizeof(T) * NH);
  T *dh_cur = dh_a.data(), *dh_nxt = dh_b.data(), *dc_cur = dc_a.data(), *dc_nxt = dc_b.data();
  auto cell = DLCORE_DISPATCH(RnnTable, Device::cpu, cell_backward);
  RnnCellGradArgs a;
  a.mode = mode;
  a.dtype = x.dtype;
  a.N = N;
  a.H = H;
  a.lengths = lengths.data ? lengths.ptr<int64_t>() : nullptr;
  T* rec = gru ? DHG.data() : DXG.data();  // gradient of the recurrent projection, (T*N, G*H)
  const T* Whh = w_hh.ptr<T>();
  const bool par = 2.0 * N * GH * H >= kStepParallelFlops;
  // W_hh as the B of d h_prev's GEMM, packed once for all steps (only where gemm would pack it).
  std::vector<T> zeros((size_t)H, T(0));  // stands in for absent dy (and dc for RNN / GRU)
  int64_t blk[5];
  gemm_blocking(x.dtype, blk);
  const int64_t mr = blk[0];  // row chunks start at multiples of the GEMM's row tile
  const PackedB<T> whh_pk = pack_b<T>(false, GH, H, Whh, H, N);
  const RnnGradSteps<T> steps{KH ? ws.ptr<T>() : nullptr, Sp, Cp, dy.data ? dy.ptr<T>() : nullptr, DXG.data(),
                              gru ? DHG.data() : nullptr, T_, KH, GH, reverse};
  for (int64_t s = T_ - 1; s >= 0; --s) {  // reverse of the forward processing order
    const int64_t t = rnn_grad_step(a, steps, s, dh_cur, dc_cur, dh_nxt, dc_nxt);
    // d h_prev += dGates_rec (N, G*H) @ W_hh (G*H, H). Batch 1 (a GEMV, which the GEMM would
    // run on one core): the cell, then the GEMV split here over the columns of d h_prev. Larger
    // batches: rows are independent, so each thread runs the cell and then the GEMM (on the
    // packed W_hh) for its own rows, in one parallel region per step (one synchronisation).
    const T* dg = rec + t * N * GH;
    if (N == 1) {
      cell(a);
      for_unit_chunks(H, par, [&](int64_t j0, int64_t j1) {
        gemm<T>(false, false, 1, j1 - j0, GH, T(1), dg, GH, Whh + j0, H, T(1), dh_nxt + j0, H);
      });
    } else {
      for_aligned_chunks(N, mr, par, [&](int64_t, int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) cell_backward_row<T>(a, zeros.data(), n, 0, H);
        gemm_packed_b<T>(false, n1 - n0, T(1), dg + n0 * GH, GH, whh_pk, T(1), dh_nxt + n0 * H, H);
      });
    }
    std::swap(dh_cur, dh_nxt);
    std::swap(dc_cur, dc_nxt);
  }
  std::memcpy(dh0.data, dh_cur, sizeof(T) * NH);
  if (lstm) std::memcpy(dc0.data, dc_cur, sizeof(T) * NH);
  const int64_t TN = T_ * N;
  // dX (T*N, I) = dGates_in @ W_ih;  dW_ih (G*H, I) = dGates_in^T @ X
  if (dx.data) gemm<T>(false, false, TN, I, GH, T(1), DXG.data(), GH, w_ih.ptr<T>(), I, T(0), dx.ptr<T>(), I);
  gemm<T>(true, false, GH, I, TN, T(1), DXG.data(), GH, x.ptr<T>(), I, T(0), dw_ih.ptr<T>(), I);
  // dW_hh (G*H, H) = dGates_rec^T @ H_prev, H_prev = the T states read by the steps, in time order
  gemm<T>(true, false, GH, H, TN, T(1), rec, GH, Sp + (reverse ? NH : 0), H, T(0), dw_hh.ptr<T>(), H);
  if (db_ih.data) column_sums<T>(DXG.data(), TN, GH, db_ih.ptr<T>());
  if (db_hh.data) {
    if (rec == DXG.data() && db_ih.data)  // RNN / LSTM: both biases see the same gate gradients
      std::memcpy(db_hh.data, db_ih.data, sizeof(T) * GH);
    else
      column_sums<T>(rec, TN, GH, db_hh.ptr<T>());
  }
}

void cpu_sequence_forward(RnnMode mode, const RnnDims& d, const View& x, const View& h0, const View& c0,
                          const View& w_ih, const View& w_hh, const View& b_ih, const View& b_hh,
                          const View& lengths, bool reverse, bool save, const View& y, const View& S,
                          const View& C, const View& ws) {
  if (x.dtype == DType::f32)
    rnn_forward_t<float>(mode, d, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, save, y, S, C, ws);
  else
    rnn_forward_t<double>(mode, d, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, save, y, S, C, ws);
}

void cpu_sequence_backward(RnnMode mode, const RnnDims& d, const View& x, const View& w_ih, const View& w_hh,
                           const View& lengths, bool reverse, const View& S, const View& C, const View& ws,
                           const View& dy, const View& dhT, const View& dcT, const View& dx, const View& dh0,
                           const View& dc0, const View& dw_ih, const View& dw_hh, const View& db_ih,
                           const View& db_hh) {
  if (x.dtype == DType::f32)
    rnn_backward_t<float>(mode, d, x, w_ih, w_hh, lengths, reverse, S, C, ws, dy, dhT, dcT, dx, dh0, dc0, dw_ih,
                          dw_hh, db_ih, db_hh);
  else
    rnn_backward_t<double>(mode, d, x, w_ih, w_hh, lengths, reverse, S, C, ws, dy, dhT, dcT, dx, dh0, dc0, dw_ih,
                           dw_hh, db_ih, db_hh);
}

void fill_cpu_rnn_sequence() {
  auto& t = dispatch_table<RnnTable>(Device::cpu);
  t.sequence_forward = cpu_sequence_forward;
  t.sequence_backward = cpu_sequence_backward;
}
DLCORE_REGISTER(fill_cpu_rnn_sequence);

void expect_shape(const View& v, const Shape& want, const char* op, const char* arg) {
  DLCORE_CHECK(v.data, ValueError, op, ": argument '", arg, "' is missing");
  DLCORE_CHECK(v.shape_vec() == want, ValueError, op, ": '", arg, "' has shape ", v.shape_string(),
               ", expected ", shape_str(want));
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": '", arg, "' must be contiguous");
}
void expect_dtype(const View& v, DType dt, Device dev, const char* op, const char* arg) {
  DLCORE_CHECK(v.dtype == dt, TypeError, op, ": '", arg, "' is ", dtype_name(v.dtype), " but the input is ",
               dtype_name(dt));
  DLCORE_CHECK(v.device == dev, ValueError, op, ": '", arg, "' is on ", device_name(v.device),
               " but the input is on ", device_name(dev), "; move them to one device");
}
void opt_check(const View& v, const Shape& want, DType dt, Device dev, const char* op, const char* arg) {
  if (!v.data) return;
  expect_dtype(v, dt, dev, op, arg);
  expect_shape(v, want, op, arg);
}

}  // namespace

RnnDims rnn_check(RnnMode mode, const View& x, const View& h0, const View& c0, const View& w_ih,
                  const View& w_hh, const View& b_ih, const View& b_hh, const View& lengths) {
  const char* op = rnn_mode_name(mode);
  DLCORE_CHECK(x.data || x.ndim == 3, ValueError, op, ": input is missing");
  DLCORE_CHECK(x.ndim == 3, ValueError, op, ": input must be 3-D (T, N, input_size), got shape ", x.shape_string());
  DLCORE_CHECK(is_float(x.dtype), TypeError, op, ": input must be float32 or float64, got ", dtype_name(x.dtype));
  DLCORE_CHECK(w_hh.ndim == 2 && w_ih.ndim == 2, ValueError, op, ": weights must be 2-D, got weight_ih ",
               w_ih.shape_string(), " and weight_hh ", w_hh.shape_string());
  RnnDims d;
  d.T = x.shape[0];
  d.N = x.shape[1];
  d.I = x.shape[2];
  d.H = w_hh.shape[1];
  d.G = rnn_gates(mode);
  d.K = rnn_saved(mode);
  DLCORE_CHECK(d.T > 0, ValueError, op, ": empty sequence: input has shape ", x.shape_string(), " (T = 0)");
  DLCORE_CHECK(d.N > 0, ValueError, op, ": empty batch: input has shape ", x.shape_string(), " (N = 0)");
  DLCORE_CHECK(d.H > 0, ValueError, op, ": hidden_size must be positive, weight_hh has shape ", w_hh.shape_string());
  DLCORE_CHECK(w_ih.shape[1] == d.I, ValueError, op, ": input has ", d.I, " features (shape ", x.shape_string(),
               ") but weight_ih has shape ", w_ih.shape_string(), " (input_size ", w_ih.shape[1], ")");
  expect_dtype(x, x.dtype, x.device, op, "input");
  DLCORE_CHECK(x.is_contiguous(), ValueError, op, ": input must be contiguous");
  expect_dtype(w_ih, x.dtype, x.device, op, "weight_ih");
  expect_shape(w_ih, {d.G * d.H, d.I}, op, "weight_ih");
  expect_dtype(w_hh, x.dtype, x.device, op, "weight_hh");
  expect_shape(w_hh, {d.G * d.H, d.H}, op, "weight_hh");
  opt_check(b_ih, {d.G * d.H}, x.dtype, x.device, op, "bias_ih");
  opt_check(b_hh, {d.G * d.H}, x.dtype, x.device, op, "bias_hh");
  opt_check(h0, {d.N, d.H}, x.dtype, x.device, op, "h0");
  if (mode == RnnMode::lstm) opt_check(c0, {d.N, d.H}, x.dtype, x.device, op, "c0");
  if (lengths.data) {
    DLCORE_CHECK(lengths.dtype == DType::i64 && lengths.device == Device::cpu, TypeError, op,
                 ": lengths must be an int64 array on the CPU, got ", dtype_name(lengths.dtype));
    expect_shape(lengths, {d.N}, op, "lengths");
    const int64_t* L = lengths.ptr<int64_t>();
    for (int64_t n = 0; n < d.N; ++n)
      DLCORE_CHECK(L[n] >= 0 && L[n] <= d.T, ValueError, op, ": lengths[", n, "] = ", L[n],
                   " is outside [0, ", d.T, "] (T = ", d.T, " time steps)");
  }
  return d;
}

void rnn_forward(RnnMode mode, const View& x, const View& h0, const View& c0, const View& w_ih,
                 const View& w_hh, const View& b_ih, const View& b_hh, const View& lengths,
                 bool reverse, bool save, const View& y, const View& S, const View& C,
                 const View& ws) {
  RnnDims d = rnn_check(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths);
  const int64_t slots = save ? d.T + 1 : 2;
  const char* op = rnn_mode_name(mode);
  expect_dtype(y, x.dtype, x.device, op, "output");
  expect_shape(y, {d.T, d.N, d.H}, op, "output");
  expect_dtype(S, x.dtype, x.device, op, "states");
  expect_shape(S, {slots, d.N, d.H}, op, "states");
  if (mode == RnnMode::lstm) {
    expect_dtype(C, x.dtype, x.device, op, "cell states");
    expect_shape(C, {slots, d.N, d.H}, op, "cell states");
  }
  if (d.K && save) {
    expect_dtype(ws, x.dtype, x.device, op, "workspace");
    expect_shape(ws, {d.T, d.N, d.K * d.H}, op, "workspace");
  }
  DLCORE_DISPATCH(RnnTable, x.device, sequence_forward)(mode, d, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths,
                                                       reverse, save, y, S, C, ws);
}

void rnn_backward(RnnMode mode, const View& x, const View& w_ih, const View& w_hh,
                  const View& lengths, bool reverse, const View& S, const View& C, const View& ws,
                  const View& dy, const View& dhT, const View& dcT, const View& dx,
                  const View& dh0, const View& dc0, const View& dw_ih, const View& dw_hh,
                  const View& db_ih, const View& db_hh) {
  View none;
  RnnDims d = rnn_check(mode, x, none, none, w_ih, w_hh, none, none, lengths);
  const char* op = rnn_mode_name(mode);
  const DType dt = x.dtype;
  const Shape state{d.N, d.H}, seq{d.T + 1, d.N, d.H};
  expect_dtype(S, dt, x.device, op, "states");
  expect_shape(S, seq, op, "states");
  if (mode == RnnMode::lstm) {
    expect_dtype(C, dt, x.device, op, "cell states");
    expect_shape(C, seq, op, "cell states");
  }
  if (d.K) {
    expect_dtype(ws, dt, x.device, op, "workspace");
    expect_shape(ws, {d.T, d.N, d.K * d.H}, op, "workspace");
  }
  opt_check(dy, {d.T, d.N, d.H}, dt, x.device, op, "grad_output");
  opt_check(dhT, state, dt, x.device, op, "grad_h_n");
  if (mode == RnnMode::lstm) opt_check(dcT, state, dt, x.device, op, "grad_c_n");
  opt_check(dx, {d.T, d.N, d.I}, dt, x.device, op, "grad_input");
  expect_dtype(dh0, dt, x.device, op, "grad_h0");
  expect_shape(dh0, state, op, "grad_h0");
  if (mode == RnnMode::lstm) {
    expect_dtype(dc0, dt, x.device, op, "grad_c0");
    expect_shape(dc0, state, op, "grad_c0");
  }
  expect_dtype(dw_ih, dt, x.device, op, "grad_weight_ih");
  expect_shape(dw_ih, {d.G * d.H, d.I}, op, "grad_weight_ih");
  expect_dtype(dw_hh, dt, x.device, op, "grad_weight_hh");
  expect_shape(dw_hh, {d.G * d.H, d.H}, op, "grad_weight_hh");
  opt_check(db_ih, {d.G * d.H}, dt, x.device, op, "grad_bias_ih");
  opt_check(db_hh, {d.G * d.H}, dt, x.device, op, "grad_bias_hh");
  DLCORE_DISPATCH(RnnTable, x.device, sequence_backward)(mode, d, x, w_ih, w_hh, lengths, reverse, S, C, ws, dy,
                                                        dhT, dcT, dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh);
}

namespace {
void cell_arg(const View& v, bool required, const Shape& want, DType dt, Device dev, const char* op, const char* arg) {
  if (!v.data) {
    DLCORE_CHECK(!required, ValueError, op, ": argument '", arg, "' is missing");
    return;
  }
  DLCORE_CHECK(v.dtype == dt, TypeError, op, ": '", arg, "' is ", dtype_name(v.dtype), ", expected ", dtype_name(dt));
  DLCORE_CHECK(v.device == dev, ValueError, op, ": '", arg, "' is on ", device_name(v.device), " but xg is on ",
               device_name(dev));
  expect_shape(v, want, op, arg);
}
}  // namespace

void rnn_cell_forward(RnnMode mode, const View& xg, const View& hg, const View& b_ih,
                      const View& b_hh, const View& h_prev, const View& c_prev,
                      const View& lengths, int64_t t, const View& h_next, const View& c_next,
                      const View& ws, const View& y) {
  const char* op = "rnn_cell_forward";
  DLCORE_CHECK(xg.ndim == 2 && h_prev.ndim == 2, ValueError, op, ": xg and h_prev must be 2-D, got ",
               xg.shape_string(), " and ", h_prev.shape_string());
  DLCORE_CHECK(is_float(xg.dtype), TypeError, op, ": needs float32 or float64, got ", dtype_name(xg.dtype));
  const int64_t N = h_prev.shape[0], H = h_prev.shape[1], G = rnn_gates(mode), K = rnn_saved(mode);
  const DType dt = xg.dtype;
  const Device dev = xg.device;
  const bool lstm = mode == RnnMode::lstm;
  cell_arg(xg, true, {N, G * H}, dt, dev, op, "xg");
  cell_arg(hg, true, {N, G * H}, dt, dev, op, "hg");
  cell_arg(b_ih, false, {G * H}, dt, dev, op, "b_ih");
  cell_arg(b_hh, false, {G * H}, dt, dev, op, "b_hh");
  cell_arg(h_prev, true, {N, H}, dt, dev, op, "h_prev");
  cell_arg(c_prev, lstm, {N, H}, dt, dev, op, "c_prev");
  cell_arg(lengths, false, {N}, DType::i64, dev, op, "lengths");
  cell_arg(h_next, true, {N, H}, dt, dev, op, "h_next");
  cell_arg(c_next, lstm, {N, H}, dt, dev, op, "c_next");
  cell_arg(ws, K > 0, {N, K * H}, dt, dev, op, "ws");
  cell_arg(y, false, {N, H}, dt, dev, op, "y");
  RnnCellArgs a;
  a.mode = mode;
  a.dtype = dt;
  a.N = N;
  a.H = H;
  a.xg = xg.data;
  a.hg = hg.data;
  a.b_ih = b_ih.data;
  a.b_hh = b_hh.data;
  a.h_prev = h_prev.data;
  a.c_prev = lstm ? c_prev.data : nullptr;
  a.h_next = h_next.data;
  a.c_next = lstm ? c_next.data : nullptr;
  a.ws = K ? ws.data : nullptr;
  a.y = y.data;
  a.lengths = lengths.data ? lengths.ptr<int64_t>() : nullptr;
  a.t = t;
  DLCORE_DISPATCH(RnnTable, dev, cell_forward)(a);
}

void rnn_cell_backward(RnnMode mode, const View& ws, const View& h_prev, const View& c_prev,
                       const View& h_next, const View& c_next, const View& dy, const View& dh,
                       const View& dc, const View& lengths, int64_t t, const View& dxg,
                       const View& dhg, const View& dh_prev, const View& dc_prev) {
  const char* op = "rnn_cell_backward";
  DLCORE_CHECK(h_prev.ndim == 2, ValueError, op, ": h_prev must be 2-D, got ", h_prev.shape_string());
  DLCORE_CHECK(is_float(h_prev.dtype), TypeError, op, ": needs float32 or float64, got ", dtype_name(h_prev.dtype));
  const int64_t N = h_prev.shape[0], H = h_prev.shape[1], G = rnn_gates(mode), K = rnn_saved(mode);
  const DType dt = h_prev.dtype;
  const Device dev = h_prev.device;
  const bool lstm = mode == RnnMode::lstm, gru = mode == RnnMode::gru;
  cell_arg(ws, K > 0, {N, K * H}, dt, dev, op, "ws");
  cell_arg(h_prev, true, {N, H}, dt, dev, op, "h_prev");
  cell_arg(c_prev, lstm, {N, H}, dt, dev, op, "c_prev");
  cell_arg(h_next, true, {N, H}, dt, dev, op, "h_next");
  cell_arg(c_next, lstm, {N, H}, dt, dev, op, "c_next");
  cell_arg(dy, false, {N, H}, dt, dev, op, "dy");
  cell_arg(dh, false, {N, H}, dt, dev, op, "dh");
  cell_arg(dc, false, {N, H}, dt, dev, op, "dc");
  cell_arg(lengths, false, {N}, DType::i64, dev, op, "lengths");
  cell_arg(dxg, true, {N, G * H}, dt, dev, op, "dxg");
  cell_arg(dhg, gru, {N, G * H}, dt, dev, op, "dhg");
  cell_arg(dh_prev, true, {N, H}, dt, dev, op, "dh_prev");
  cell_arg(dc_prev, lstm, {N, H}, dt, dev, op, "dc_prev");
  RnnCellGradArgs a;
  a.mode = mode;
  a.dtype = dt;
  a.N = N;
  a.H = H;
  a.ws = K ? ws.data : nullptr;
  a.h_prev = h_prev.data;
  a.c_prev = lstm ? c_prev.data : nullptr;
  a.h_next = h_next.data;
  a.c_next = lstm ? c_next.data : nullptr;
  a.dy = dy.data;
  a.dh = dh.data;
  a.dc = lstm ? dc.data : nullptr;
  a.dxg = dxg.data;
  a.dhg = gru ? dhg.data : nullptr;
  a.dh_prev = dh_prev.data;
  a.dc_prev = lstm ? dc_prev.data : nullptr;
  a.lengths = lengths.data ? lengths.ptr<int64_t>() : nullptr;
  a.t = t;
  DLCORE_DISPATCH(RnnTable, dev, cell_backward)(a);
}

}  // namespace dlcore
