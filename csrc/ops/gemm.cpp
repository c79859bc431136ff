// GEMM front door and the CPU driver: BLIS five loops over the per-ISA kernels of
// kernels/gemm_kernels.h, GEMV paths for M == 1 / N == 1, threading, fused epilogue,
// batched matmul and linear. The micro-kernels and packing live in csrc/kernels/.
#include "ops/gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include <time.h>

#include "core/cpu.h"
#include "core/parallel.h"
#include "core/shape.h"
#include "kernels/gemm_kernels.h"

namespace dlcore {
namespace {

// ---- kernel choice -----------------------------------------------------------------------

GemmIsaKernels& isa_kernels(Isa isa) {
#if defined(DLCORE_X86)
  if (isa == Isa::avx512) return gemm_kernels_avx512();
  if (isa == Isa::avx2) return gemm_kernels_avx2();
#endif
  (void)isa;
  return gemm_kernels_generic();
}
template <class T> GemmKernels<T>& kernels_of(GemmIsaKernels& k);
template <> GemmKernels<float>& kernels_of<float>(GemmIsaKernels& k) { return k.s; }
template <> GemmKernels<double>& kernels_of<double>(GemmIsaKernels& k) { return k.d; }
template <class T> const GemmKernels<T>& current_kernels() {
  return kernels_of<T>(isa_kernels(current_isa()));
}

// Work below this many flops (2*M*N*K) runs on the calling thread: waking the pool costs more.
constexpr double kParallelMinFlops = 1 << 20;
// M up to this many micro-tiles reads B in place (row-contiguous B) instead of packing it.
constexpr int kNoPackBTiles = 2;  // larger M read B rows 1 page apart: TLB-bound, slower
// Rectangles at most this many NR micro-panels wide read a row-major A in place (ukr_da).
#ifndef DLCORE_GEMM_DIRECT_A_TILES
#define DLCORE_GEMM_DIRECT_A_TILES 16
#endif
constexpr int kDirectAMaxTiles = DLCORE_GEMM_DIRECT_A_TILES;
// Bytes of packed B per column block when A has one M block (blis_rect): L2-sized.
#ifndef DLCORE_GEMM_SWEPT_PANEL_KB
#define DLCORE_GEMM_SWEPT_PANEL_KB 512
#endif
constexpr size_t kSweptPanelBytes = (size_t)DLCORE_GEMM_SWEPT_PANEL_KB << 10;
// Extra elements at the end of pack buffers: SIMD packers may store a few lanes past a panel.
constexpr size_t kPackSlack = 64;
// GEMV chunks start at multiples of this (see GemmKernels::dots).
constexpr int64_t kGemvAlign = 64;
// GEMV with fewer flops (2*n*k) than this runs on the calling thread.
constexpr double kGemvParallelMinFlops = 1 << 19;  // 512 KFLOP: 1 MiB of float W, ~15 us

// ---- per-thread aligned scratch (reused across calls, never freed while the thread lives) ---

struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  ~Scratch() { std::free(p); }
  template <class T> T* get(size_t n) {
    size_t bytes = (n * sizeof(T) + 4095) / 4096 * 4096;
    if (bytes > cap) {
      std::free(p);
      p = std::aligned_alloc(4096, bytes);
      if (!p) throw std::bad_alloc();
      cap = bytes;
    }
    return static_cast<T*>(p);
  }
};
thread_local Scratch t_apack, t_bpack, t_vec0, t_vec1;

// ---- epilogue ----------------------------------------------------------------------------

template <class T>
inline void epilogue_tile(T* c, int64_t ldc, int64_t m, int64_t n, const T* bias, Epilogue act) {
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (bias)
      for (int64_t j = 0; j < n; ++j) ci[j] += bias[j];
    if (act == Epilogue::relu)
      for (int64_t j = 0; j < n; ++j) ci[j] = ci[j] < T(0) ? T(0) : ci[j];  // NaN stays NaN
  }
}

// C = beta * C (+ epilogue) when there is no product (K == 0 or alpha == 0).
template <class T>
void scale_only(int64_t M, int64_t N, T beta, T* C, int64_t ldc, const T* bias, Epilogue act) {
  for (int64_t i = 0; i < M; ++i) {
    T* ci = C + i * ldc;
    if (beta == T(0))
      for (int64_t j = 0; j < N; ++j) ci[j] = T(0);
    else if (beta != T(1))
      for (int64_t j = 0; j < N; ++j) ci[j] *= beta;
  }
  if (bias || act != Epilogue::none) epilogue_tile(C, ldc, M, N, bias, act);
}

// ---- BLIS loops on one rectangle C[m0:m1, n0:n1] -------------------------------------------
// The K blocking depends only on K and the kernel table (never on the rectangle or thread),
// and edge tiles go through the same micro-kernel, so every C element is computed by the same
// sequence of operations whatever the thread split: results are bitwise thread-invariant.

template <class T> struct Problem {
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t rsa, csa;
  const T* B;
  int64_t rsb, csb;
  T beta;
  T* C;
  int64_t ldc;
  const T* bias;
  Epilogue act;
  // B pre-packed by pack_b (null: pack per block): K block pc (gemm's balanced K blocking)
  // starts at bpk + pc * bpk_npad, panels of NR columns, kcur * NR elements each.
  const T* bpk = nullptr;
  int64_t bpk_npad = 0;
};

template <class T>
void blis_rect(const GemmKernels<T>& kr, const Problem<T>& p, int64_t m0, int64_t m1, int64_t n0,
               int64_t n1) {
  const int MR = kr.mr, NR = kr.nr;
  const int64_t K = p.K;
  const int64_t nkb = (K + kr.kc - 1) / kr.kc;
  const int64_t kcb = (K + nkb - 1) / nkb;                  // balanced K blocks
  // Balanced M blocks, like K: 128 rows run as one block of 132 (up to 1.5 mc: one sweep over
  // the packed B panel) instead of 120 + 8, whose second block re-reads B for 8 rows.
  const int64_t mround = (m1 - m0 + MR - 1) / MR * MR;
  const int64_t nmb = mround <= kr.mc + kr.mc / 2 ? 1 : (mround + kr.mc - 1) / kr.mc;
  const int64_t mc = ((mround + nmb - 1) / nmb + MR - 1) / MR * MR;
  int64_t nc = std::min<int64_t>(kr.nc, (n1 - n0 + NR - 1) / NR * NR);
  // One M block (few rows of A): the packed B panel is swept once, so it need not stay in L3
  // for later M blocks; a panel that fits L2 is still there when the micro-kernels read it.
  if (nmb == 1 && p.bpk == nullptr)
    nc = std::min(nc, std::max<int64_t>(4 * NR, (int64_t)(kSweptPanelBytes / (sizeof(T) * kcb)) / NR * NR));
  const bool direct_b = p.csb == 1 && p.M <= (int64_t)kNoPackBTiles * MR;
  // Row-major A and a narrow rectangle: each A element is used by few B micro-panels, so
  // packing A would cost about as much as reading it in place; the kernel reads it directly.
  const bool direct_a = p.csa == 1 && kr.ukr_da[MR] && n1 - n0 <= (int64_t)kDirectAMaxTiles * NR;
  T* abuf = direct_a ? nullptr : t_apack.get<T>((size_t)mc * kcb + kPackSlack);
  const bool prepacked = p.bpk && !direct_b;
  T* bbuf = prepacked ? nullptr : t_bpack.get<T>((size_t)kcb * (direct_b ? NR : nc) + kPackSlack);
  alignas(64) T tmp[16 * 32];                              // edge tile (mr * nr <= 512)
  const bool epi = p.bias || p.act != Epilogue::none;

  for (int64_t jc = n0; jc < n1; jc += nc) {
    const int64_t ncur = std::min(nc, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kcb) {
      const int64_t kcur = std::min(kcb, K - pc);
      const T beta = pc == 0 ? p.beta : T(1);
      const bool last = pc + kcur == K;
      const T* bsrc = p.B + pc * p.rsb + jc * p.csb;
      if (!direct_b && !prepacked) kr.pack_b(kcur, ncur, bsrc, p.rsb, p.csb, bbuf);
      // jc is a multiple of NR (rectangles and nc blocks start at multiples of NR)
      const T* bblk = prepacked ? p.bpk + pc * p.bpk_npad + (jc / NR) * NR * kcur : bbuf;
      for (int64_t ic = m0; ic < m1; ic += mc) {
        const int64_t mcur = std::min(mc, m1 - ic);
        if (!direct_a) kr.pack_a(mcur, kcur, p.A + ic * p.rsa + pc * p.csa, p.rsa, p.csa, abuf);
        for (int64_t jr = 0; jr < ncur; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, ncur - jr);
          const T* bp;
          int64_t ldb;
          if (!direct_b) {
            bp = bblk + (jr / NR) * NR * kcur;
            ldb = NR;
          } else if (nr == NR) {
            bp = bsrc + jr;
            ldb = p.rsb;
          } else {                                          // ragged right edge: pack it
            kr.pack_b(kcur, nr, bsrc + jr, p.rsb, 1, bbuf);
            bp = bbuf;
            ldb = NR;
          }
          for (int64_t ir = 0; ir < mcur; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mcur - ir);
            T* cp = p.C + (ic + ir) * p.ldc + jc + jr;
            const T* ap = direct_a ? p.A + (ic + ir) * p.rsa + pc : abuf + (ir / MR) * MR * kcur;
            // kernel on rows [0, mr) and the first w columns (NR or kr.half) of a tile at c
            auto tile = [&](T* c, int64_t ldc, int64_t w) {
              if (direct_a) (w == NR ? kr.ukr_da : kr.ukr_da_half)[mr](kcur, ap, p.rsa, bp, ldb, c, ldc, p.alpha, beta);
              else if (w < NR) kr.ukr_half[mr](kcur, ap, bp, ldb, c, ldc, p.alpha, beta);
              else if (mr == MR) kr.ukr(kcur, ap, bp, ldb, c, ldc, p.alpha, beta);
              else if (kr.ukr_rows[mr]) kr.ukr_rows[mr](kcur, ap, bp, ldb, c, ldc, p.alpha, beta);
              else kr.ukr(kcur, ap, bp, ldb, c, ldc, p.alpha, beta);  // all MR rows: c is a temp tile
            };
            if (nr == NR && (direct_a || mr == MR || kr.ukr_rows[mr])) {
              tile(cp, p.ldc, NR);
            } else {  // right edge (or a bottom edge without a rows kernel): through a temp tile
              const int64_t w = nr <= kr.half ? kr.half : NR;
              if (beta != T(0))
                for (int64_t i = 0; i < mr; ++i)
                  std::memcpy(tmp + i * NR, cp + i * p.ldc, sizeof(T) * nr);
              tile(tmp, NR, w);
              for (int64_t i = 0; i < mr; ++i)
                std::memcpy(cp + i * p.ldc, tmp + i * NR, sizeof(T) * nr);
            }
            if (last && epi) epilogue_tile(cp, p.ldc, mr, nr, p.bias ? p.bias + jc + jr : nullptr, p.act);
          }
        }
      }
    }
  }
}

// Splits C into a tm x tn grid of rectangles (boundaries at multiples of MR / NR), choosing
// the grid that minimises the packing each task repeats (K * (M/tm + N/tn)). Threads take
// rectangles from a shared counter: large problems get kTasksPerThread rectangles per thread
// so that a thread slowed down by other processes on this shared machine hands work to the
// other one. Which thread computes a rectangle never changes its values.
#ifndef DLCORE_GEMM_TASKS_PER_THREAD
#define DLCORE_GEMM_TASKS_PER_THREAD 2
#endif
constexpr int kTasksPerThread = DLCORE_GEMM_TASKS_PER_THREAD;
constexpr double kMinTaskFlops = 1e8;  // below this per task, one rectangle per thread (packing repeats)

template <class T>
void blis_gemm(const GemmKernels<T>& kr, const Problem<T>& p) {
  const double flops = 2.0 * p.M * p.N * p.K;
  int nt = get_num_threads();
  if (flops < kParallelMinFlops || in_parallel_region()) nt = 1;
  const int64_t mtiles = (p.M + kr.mr - 1) / kr.mr, ntiles = (p.N + kr.nr - 1) / kr.nr;
  nt = (int)std::min<int64_t>(nt, mtiles * ntiles);
  if (nt <= 1) {
    blis_rect(kr, p, 0, p.M, 0, p.N);
    return;
  }
  int tasks = nt;
  if (kTasksPerThread > 1 && flops / (nt * kTasksPerThread) >= kMinTaskFlops) tasks = nt * kTasksPerThread;
  int tm = 0;
  double best = 1e300;
  for (int a = 1; a <= tasks; ++a) {
    if (tasks % a) continue;
    const int b = tasks / a;
    if (a > mtiles || b > ntiles) continue;
    const double cost = (double)p.M / a + (double)p.N / b;
    if (cost < best - 1e-9) best = cost, tm = a;
  }
  if (tm == 0) {  // cannot split that finely: one rectangle per thread along the longer side
    tasks = nt;
    tm = mtiles >= ntiles ? nt : 1;
  }
  const int tn = tasks / tm;
  const int64_t mstep = (mtiles + tm - 1) / tm * kr.mr, nstep = (ntiles + tn - 1) / tn * kr.nr;
  std::atomic<int> next{0};
  parallel_run(nt, [&](int, int) {
    for (int t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int ti = t / tn, tj = t % tn;
      const int64_t m0 = std::min(p.M, ti * mstep), m1 = std::min(p.M, m0 + mstep);
      const int64_t n0 = std::min(p.N, tj * nstep), n1 = std::min(p.N, n0 + nstep);
      if (m0 < m1 && n0 < n1) blis_rect(kr, p, m0, m1, n0, n1);
    }
  });
}

// ---- GEMV (M == 1 or N == 1) ---------------------------------------------------------------
// y[j*incy] = act(alpha * sum_p x[p*incx] W(j, p) + beta * y[j*incy] + bias[j*incbias]),
// W(j, p) = w[j*ldw + p] (dots) or w[p*ldw + j] (axpys). Chunks of n start at multiples of
// kGemvAlign, so the thread count does not change any value.
template <class T>
void gemv(const GemmKernels<T>& kr, bool use_dots, int64_t n, int64_t k, T alpha, const T* x,
          int64_t incx, const T* w, int64_t ldw, T beta, T* y, int64_t incy, const T* bias,
          int64_t incbias, Epilogue act) {
  if (incx != 1) {
    T* xc = t_vec0.get<T>((size_t)k);
    for (int64_t p = 0; p < k; ++p) xc[p] = x[p * incx];
    x = xc;
  }
  auto chunk = [&](int64_t j0, int64_t j1) {
    T* out = t_vec1.get<T>((size_t)(j1 - j0));
    if (use_dots) kr.dots(j1 - j0, k, x, w + j0 * ldw, ldw, out);
    else kr.axpys(j1 - j0, k, x, w + j0, ldw, out);
    for (int64_t j = j0; j < j1; ++j) {
      T& yj = y[j * incy];
      T v = alpha * out[j - j0];
      if (beta != T(0)) v += beta * yj;
      if (bias) v += bias[j * incbias];
      if (act == Epilogue::relu) v = v < T(0) ? T(0) : v;
      yj = v;
    }
  };
  const int64_t nblocks = (n + kGemvAlign - 1) / kGemvAlign;
  int nt = get_num_threads();
  // Memory (L2/L3) bound: each thread streams its own part of W once, so two threads add
  // bandwidth as soon as the work outweighs the (spinning) pool's hand-off.
  if (2.0 * n * k < kGemvParallelMinFlops || in_parallel_region()) nt = 1;
  nt = (int)std::min<int64_t>(nt, nblocks);
  if (nt <= 1) {
    chunk(0, n);
    return;
  }
  parallel_run(nt, [&](int tid, int ntr) {
    const int64_t per = (nblocks + ntr - 1) / ntr;
    const int64_t j0 = std::min(n, tid * per * kGemvAlign), j1 = std::min(n, (tid + 1) * per * kGemvAlign);
    if (j0 < j1) chunk(j0, j1);
  });
}

template <class T>
void gemm_impl(const Problem<T>& p) {
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0 || p.alpha == T(0)) {
    scale_only(p.M, p.N, p.beta, p.C, p.ldc, p.bias, p.act);
    return;
  }
  const GemmKernels<T>& kr = current_kernels<T>();
  if (p.M == 1 && (p.csb == 1 || p.rsb == 1)) {
    // c[0, j] = sum_p A[0, p] B[p, j]
    const bool dots = p.rsb == 1 && !(p.csb == 1 && p.N > 1);
    gemv(kr, dots, p.N, p.K, p.alpha, p.A, p.csa, p.B, dots ? p.csb : p.rsb, p.beta, p.C, 1,
         p.bias, 1, p.act);
    return;
  }
  if (p.N == 1 && (p.csa == 1 || p.rsa == 1)) {
    // c[i, 0] = sum_p A[i, p] B[p, 0]; the bias is one value for the single column
    const bool dots = p.csa == 1;
    gemv(kr, dots, p.M, p.K, p.alpha, p.B, p.rsb, p.A, dots ? p.rsa : p.csa, p.beta, p.C, p.ldc,
         p.bias, 0, p.act);
    return;
  }
  blis_gemm(kr, p);
}

template <class T>
void gemm_front(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  gemm_strided<T>(M, N, K, alpha, A, ta ? 1 : lda, ta ? lda : 1, B, tb ? 1 : ldb, tb ? ldb : 1,
                  beta, C, ldc, nullptr, Epilogue::none);
}

void fill_cpu_gemm() {
  auto& t = dispatch_table<GemmTable>(Device::cpu);
  t.sgemm = gemm_front<float>;
  t.dgemm = gemm_front<double>;
}
DLCORE_REGISTER(fill_cpu_gemm);

}  // namespace

template <class T>
void gemm_strided(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa,
                  const T* B, int64_t rsb, int64_t csb, T beta, T* C, int64_t ldc, const T* bias,
                  Epilogue act) {
  DLCORE_CHECK(M >= 0 && N >= 0 && K >= 0, ValueError, "gemm: negative size M=", M, " N=", N, " K=", K);
  gemm_impl<T>(Problem<T>{M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, bias, act});
}
template void gemm_strided<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                  const float*, int64_t, int64_t, float, float*, int64_t,
                                  const float*, Epilogue);
template void gemm_strided<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                   const double*, int64_t, int64_t, double, double*, int64_t,
                                   const double*, Epilogue);

// ---- pre-packed B (ops/gemm.h: PackedB) ---------------------------------------------------

template <class T> void PackedB<T>::Free::operator()(T* p) const { std::free(p); }

namespace {
// Would gemm_impl pack B for an (M, N, K) product with these B strides? (Mirrors its path
// choice: GEMV for M == 1 / N == 1, B read in place for few row tiles.) The N == 1 GEMV also
// needs a unit stride in A, unknown here: packing for it is only wasted, never wrong.
template <class T>
bool gemm_would_pack_b(const GemmKernels<T>& kr, int64_t M, int64_t N, int64_t K, int64_t rsb, int64_t csb) {
  if (M <= 0 || N <= 0 || K <= 0) return false;
  if (M == 1 && (csb == 1 || rsb == 1)) return false;
  if (N == 1) return false;
  return !(csb == 1 && M <= (int64_t)kNoPackBTiles * kr.mr);
}
}  // namespace

template <class T>
PackedB<T> pack_b(bool trans_b, int64_t K, int64_t N, const T* B, int64_t ldb, int64_t M) {
  DLCORE_CHECK(M >= 0 && N >= 0 && K >= 0, ValueError, "pack_b: negative size M=", M, " N=", N, " K=", K);
  PackedB<T> pb;
  pb.K = K;
  pb.N = N;
  pb.B = B;
  pb.rsb = trans_b ? 1 : ldb;
  pb.csb = trans_b ? ldb : 1;
  const GemmKernels<T>& kr = current_kernels<T>();
  if (!gemm_would_pack_b(kr, M, N, K, pb.rsb, pb.csb)) return pb;
  // The same balanced K blocks as blis_rect; each block holds all ceil(N/NR) panels.
  const int64_t nkb = (K + kr.kc - 1) / kr.kc, kcb = (K + nkb - 1) / nkb;
  const int64_t npad = (N + kr.nr - 1) / kr.nr * kr.nr;
  const size_t bytes = ((size_t)(K * npad) + kPackSlack) * sizeof(T);
  T* buf = static_cast<T*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  if (!buf) throw std::bad_alloc();
  pb.buf.reset(buf);
  // Blocks in increasing K: a packer's few stores past its block land in the next block
  // (packed after it) or in the slack.
  for (int64_t pc = 0; pc < K; pc += kcb)
    kr.pack_b(std::min(kcb, K - pc), N, B + pc * pb.rsb, pb.rsb, pb.csb, buf + pc * npad);
  pb.kernels = &kr;
  pb.kc = kr.kc;
  pb.nr = kr.nr;
  return pb;
}

template <class T>
void gemm_packed_b(bool ta, int64_t M, T alpha, const T* A, int64_t lda, const PackedB<T>& pb, T beta,
                   T* C, int64_t ldc) {
  DLCORE_CHECK(M >= 0, ValueError, "gemm_packed_b: negative size M=", M);
  Problem<T> p{M, pb.N, pb.K, alpha, A, ta ? 1 : lda, ta ? lda : 1, pb.B, pb.rsb, pb.csb, beta, C, ldc,
               nullptr, Epilogue::none};
  const GemmKernels<T>& kr = current_kernels<T>();
  if (pb.packed() && pb.kernels == &kr && pb.kc == kr.kc && pb.nr == kr.nr) {
    p.bpk = pb.buf.get();
    p.bpk_npad = (pb.N + kr.nr - 1) / kr.nr * kr.nr;
  }
  gemm_impl<T>(p);
}

template struct PackedB<float>;
template struct PackedB<double>;
template PackedB<float> pack_b<float>(bool, int64_t, int64_t, const float*, int64_t, int64_t);
template PackedB<double> pack_b<double>(bool, int64_t, int64_t, const double*, int64_t, int64_t);
template void gemm_packed_b<float>(bool, int64_t, float, const float*, int64_t, const PackedB<float>&, float,
                                   float*, int64_t);
template void gemm_packed_b<double>(bool, int64_t, double, const double*, int64_t, const PackedB<double>&,
                                    double, double*, int64_t);

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  dispatch_table<GemmTable>(Device::cpu).sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dispatch_table<GemmTable>(Device::cpu).dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_bias_act(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const T* bias,
                   Epilogue act) {
  gemm_strided<T>(M, N, K, alpha, A, ta ? 1 : lda, ta ? lda : 1, B, tb ? 1 : ldb, tb ? ldb : 1,
                  beta, C, ldc, bias, act);
}
template void gemm_bias_act<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                   const float*, int64_t, float, float*, int64_t, const float*, Epilogue);
template void gemm_bias_act<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                    const double*, int64_t, double, double*, int64_t, const double*, Epilogue);

// ---- tensor level --------------------------------------------------------------------------

Shape matmul_out_shape(const View& a, const View& b) {
  DLCORE_CHECK(a.ndim >= 1 && b.ndim >= 1, ValueError, "matmul: operands must have at least 1 dimension, got shapes ",
               a.shape_string(), " and ", b.shape_string());
  DLCORE_CHECK(a.ndim >= 2 && b.ndim >= 2, ValueError, "matmul: the kernel takes >= 2-D operands (the Python layer lifts 1-D ones), got ",
               a.shape_string(), " and ", b.shape_string());
  int64_t K = a.shape[a.ndim - 1];
  DLCORE_CHECK(b.shape[b.ndim - 2] == K, ValueError, "matmul: shapes ", a.shape_string(), " and ",
               b.shape_string(), " are not aligned: ", K, " (dim ", a.ndim - 1, " of a) != ",
               b.shape[b.ndim - 2], " (dim ", b.ndim - 2, " of b)");
  Shape ba(a.shape, a.shape + a.ndim - 2), bb(b.shape, b.shape + b.ndim - 2);
  Shape out = broadcast_shapes(ba, bb, "matmul (batch dimensions)");
  out.push_back(a.shape[a.ndim - 2]);
  out.push_back(b.shape[b.ndim - 1]);
  return out;
}

namespace {
// A (rows, cols) slice with element strides (rs, cs) is op(stored) for a row-major stored
// matrix when one stride is 1: sets trans and the leading dimension, or returns false.
bool as_gemm_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool& trans, int64_t& ld) {
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
    trans = false;
    ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    return true;
  }
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
    trans = true;
    ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    return true;
  }
  return false;
}

// CUDA tensors: one SGEMM per batch through GemmTable(cuda); each 2-D slice must have a unit
// stride in one dim (a transposed view is fine), otherwise the caller makes it contiguous.
// The CUDA GEMM of T (SGEMM or DGEMM) with dlcore::gemm's argument meaning.
template <class T>
void cuda_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
               int64_t ldb, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same<T, float>::value)
    DLCORE_DISPATCH(GemmTable, Device::cuda, sgemm)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    DLCORE_DISPATCH(GemmTable, Device::cuda, dgemm)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void matmul_cuda_t(const View& a, const View& b, const View& out, int64_t M, int64_t N, int64_t K) {
  Shape want = out.shape_vec();
  Shape batch(want.begin(), want.end() - 2);
  int64_t nb = 1;
  for (auto d : batch) nb *= d;
  if (nb == 0 || M == 0 || N == 0) return;
  bool ta, tb;
  int64_t lda, ldb;
  DLCORE_CHECK(as_gemm_operand(M, K, a.strides[a.ndim - 2], a.strides[a.ndim - 1], ta, lda) &&
                   as_gemm_operand(K, N, b.strides[b.ndim - 2], b.strides[b.ndim - 1], tb, ldb),
               ValueError, "matmul (CUDA): operands ", a.shape_string(), " and ", b.shape_string(),
               " need a unit stride in one of their last two dims; call contiguous() first");
  View ab = a, bbv = b;
  ab.ndim = a.ndim - 2;
  bbv.ndim = b.ndim - 2;
  int64_t sa[kMaxDims] = {0}, sb[kMaxDims] = {0};
  broadcast_strides(ab, batch, sa);
  broadcast_strides(bbv, batch, sb);
  for (int64_t bi = 0; bi < nb; ++bi) {
    int64_t oa = 0, ob = 0, rem = bi;
    for (int d = (int)batch.size() - 1; d >= 0; --d) {
      int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    cuda_gemm<T>(ta, tb, M, N, K, T(1), a.ptr<T>() + oa, lda, b.ptr<T>() + ob, ldb, T(0), out.ptr<T>() + bi * M * N, N);
  }
}

void matmul_cuda(const View& a, const View& b, const View& out, int64_t M, int64_t N, int64_t K) {
  if (a.dtype == DType::f32) matmul_cuda_t<float>(a, b, out, M, N, K);
  else matmul_cuda_t<double>(a, b, out, M, N, K);
}

// linear on CUDA: one SGEMM (x's rows in place, w read through trans_b), then the bias / ReLU
// epilogue kernel. x_rs: the row stride x's leading dims collapse to, or -1 when they do not.
template <class T>
void linear_cuda_t(const View& x, const View& w, const View* bias, Epilogue act, const View& out, int64_t rows,
                   int64_t x_rs) {
  const int64_t in = w.shape[1], outf = w.shape[0];
  bool ta, tb;
  int64_t lda, ldb;
  DLCORE_CHECK(x_rs >= 0 && as_gemm_operand(rows, in, x_rs, x.strides[x.ndim - 1], ta, lda) &&
                   as_gemm_operand(in, outf, w.strides[1], w.strides[0], tb, ldb),
               ValueError, "linear (CUDA): input ", x.shape_string(), " and weight ", w.shape_string(),
               " need rows with a unit stride; call contiguous() first");
  cuda_gemm<T>(ta, tb, rows, outf, in, T(1), x.ptr<T>(), lda, w.ptr<T>(), ldb, T(0), out.ptr<T>(), outf);
  if (bias || act != Epilogue::none) {
    auto& t = dispatch_table<GemmTable>(Device::cuda);
    const T* bp = bias ? bias->ptr<T>() : nullptr;
    const int64_t bs = bias ? bias->strides[0] : 0;
    if constexpr (std::is_same<T, float>::value)
      checked_entry(t.bias_act_f32, Device::cuda, "bias_act_f32")(out.ptr<T>(), rows, outf, bp, bs, act);
    else
      checked_entry(t.bias_act_f64, Device::cuda, "bias_act_f64")(out.ptr<T>(), rows, outf, bp, bs, act);
  }
}

void linear_cuda(const View& x, const View& w, const View* bias, Epilogue act, const View& out, int64_t rows,
                 int64_t x_rs) {
  if (x.dtype == DType::f32) linear_cuda_t<float>(x, w, bias, act, out, rows, x_rs);
  else linear_cuda_t<double>(x, w, bias, act, out, rows, x_rs);
}

}  // namespace

void matmul(const View& a, const View& b, const View& out) {
  Shape want = matmul_out_shape(a, b);
  DLCORE_CHECK(a.dtype == b.dtype && a.dtype == out.dtype, TypeError, "matmul: dtypes differ (a ",
               dtype_name(a.dtype), ", b ", dtype_name(b.dtype), ", out ", dtype_name(out.dtype), ")");
  DLCORE_CHECK(is_float(a.dtype), TypeError, "matmul: needs float32 or float64, got ", dtype_name(a.dtype));
  DLCORE_CHECK(a.device == b.device && a.device == out.device, ValueError, "matmul: operands on different devices");
  DLCORE_CHECK(out.shape_vec() == want && (out.numel() == 0 || out.is_contiguous()), ValueError,
               "matmul: output must be contiguous with shape ", shape_str(want), ", got ",
               out.shape_string(), out.is_contiguous() ? "" : " (non-contiguous)");
  const int64_t M = a.shape[a.ndim - 2], K = a.shape[a.ndim - 1], N = b.shape[b.ndim - 1];
  if (a.device == Device::cuda) {
    matmul_cuda(a, b, out, M, N, K);
    return;
  }
  Shape batch(want.begin(), want.end() - 2);
  int64_t nb = 1;
  for (auto d : batch) nb *= d;
  if (nb == 0 || M == 0 || N == 0) return;
  View ab = a, bbv = b;
  ab.ndim = a.ndim - 2;
  bbv.ndim = b.ndim - 2;
  int64_t sa[kMaxDims] = {0}, sb[kMaxDims] = {0};
  broadcast_strides(ab, batch, sa);
  broadcast_strides(bbv, batch, sb);
  const int64_t ars = a.strides[a.ndim - 2], acs = a.strides[a.ndim - 1];
  const int64_t brs = b.strides[b.ndim - 2], bcs = b.strides[b.ndim - 1];
  auto run = [&](auto tag) {
    using T = decltype(tag);
    auto one = [&](int64_t bi) {
      int64_t oa = 0, ob = 0, rem = bi;
      for (int d = (int)batch.size() - 1; d >= 0; --d) {
        int64_t idx = rem % batch[d];
        rem /= batch[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      gemm_strided<T>(M, N, K, T(1), a.ptr<T>() + oa, ars, acs, b.ptr<T>() + ob, brs, bcs, T(0),
                      out.ptr<T>() + bi * M * N, N);
    };
    // Many GEMMs: one per thread (each runs single-threaded inside the parallel region), which
    // keeps every value identical to the serial run. Few large ones: threads inside each GEMM.
    const int nt = get_num_threads();
    const double flops = 2.0 * M * N * K;
    const bool over_batch = nb >= nt && nt > 1 &&
                            (flops < (1 << 24) || nb % nt == 0 || nb >= 8 * nt);
    if (over_batch && flops * nb >= kParallelMinFlops) {
      parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t bi = b0; bi < b1; ++bi) one(bi);
      });
    } else {
      for (int64_t bi = 0; bi < nb; ++bi) one(bi);
    }
  };
  if (a.dtype == DType::f32) run(float{});
  else run(double{});
}

Epilogue epilogue_from_name(const char* name) {
  std::string s(name);
  if (s == "none" || s.empty()) return Epilogue::none;
  if (s == "relu") return Epilogue::relu;
  throw ValueError(str("linear: unknown activation '", s, "': expected 'none' or 'relu'"));
}

Shape linear_out_shape(const View& x, const View& w, const View* bias) {
  DLCORE_CHECK(x.ndim >= 1, ValueError, "linear: input 'x' must have at least 1 dimension, got shape ", x.shape_string());
  DLCORE_CHECK(w.ndim == 2, ValueError, "linear: 'weight' must be 2-D (out_features, in_features), got shape ",
               w.shape_string());
  DLCORE_CHECK(x.shape[x.ndim - 1] == w.shape[1], ValueError, "linear: input 'x' of shape ", x.shape_string(),
               " has ", x.shape[x.ndim - 1], " features but 'weight' of shape ", w.shape_string(), " expects ",
               w.shape[1]);
  if (bias)
    DLCORE_CHECK(bias->ndim == 1 && bias->shape[0] == w.shape[0], ValueError, "linear: 'bias' must have shape (",
                 w.shape[0], ",) to match 'weight' ", w.shape_string(), ", got ", bias->shape_string());
  Shape out(x.shape, x.shape + x.ndim - 1);
  out.push_back(w.shape[0]);
  return out;
}

void linear(const View& x, const View& w, const View* bias, Epilogue act, const View& out) {
  Shape want = linear_out_shape(x, w, bias);
  DLCORE_CHECK(x.dtype == w.dtype && x.dtype == out.dtype && (!bias || bias->dtype == x.dtype), TypeError,
               "linear: dtypes differ (x ", dtype_name(x.dtype), ", weight ", dtype_name(w.dtype),
               bias ? ", bias " : "", bias ? dtype_name(bias->dtype) : "", ")");
  DLCORE_CHECK(is_float(x.dtype), TypeError, "linear: needs float32 or float64, got ", dtype_name(x.dtype));
  DLCORE_CHECK(x.device == w.device && x.device == out.device && (!bias || bias->device == x.device), ValueError,
               "linear: input, weight", bias ? ", bias" : "", " and output must be on one device (input on ",
               device_name(x.device), ", weight on ", device_name(w.device), ")");
  DLCORE_CHECK(out.shape_vec() == want && (out.numel() == 0 || out.is_contiguous()), ValueError,
               "linear: output must be contiguous with shape ", shape_str(want), ", got ", out.shape_string());
  const int64_t in = w.shape[1], outf = w.shape[0];
  int64_t rows = 1;
  for (int i = 0; i < x.ndim - 1; ++i) rows *= x.shape[i];
  if (rows == 0 || outf == 0) return;
  // The leading dims of x must collapse into one row stride; otherwise copy x once.
  bool collapsible = true;
  int64_t rs = in, expect = -1;
  for (int i = x.ndim - 2; i >= 0; --i) {
    if (x.shape[i] == 1) continue;
    if (expect != -1 && x.strides[i] != expect) {
      collapsible = false;
      break;
    }
    if (expect == -1) rs = x.strides[i];
    expect = x.strides[i] * x.shape[i];
  }
  if (x.device == Device::cuda) {
    linear_cuda(x, w, bias, act, out, rows, collapsible ? rs : -1);
    return;
  }
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.ptr<T>();
    int64_t xrs = rs, xcs = x.strides[x.ndim - 1];
    std::vector<T> xcopy, bcopy;
    if (!collapsible) {
      xcopy.resize((size_t)(rows * in));
      int64_t idx[kMaxDims] = {0};
      for (int64_t r = 0; r < rows; ++r) {
        int64_t off = 0;
        for (int d = 0; d < x.ndim - 1; ++d) off += idx[d] * x.strides[d];
        for (int64_t c = 0; c < in; ++c) xcopy[(size_t)(r * in + c)] = xp[off + c * x.strides[x.ndim - 1]];
        for (int d = x.ndim - 2; d >= 0; --d) {
          if (++idx[d] < x.shape[d]) break;
          idx[d] = 0;
        }
      }
      xp = xcopy.data();
      xrs = in;
      xcs = 1;
    }
    const T* bp = nullptr;
    if (bias) {
      bp = bias->ptr<T>();
      if (bias->strides[0] != 1 && outf > 1) {
        bcopy.resize((size_t)outf);
        for (int64_t j = 0; j < outf; ++j) bcopy[(size_t)j] = bp[j * bias->strides[0]];
        bp = bcopy.data();
      }
    }
    // out (rows, outf) = x (rows, in) @ w.T: op(B)[k, j] = w[j, k] -> rsb = w.strides[1], csb = w.strides[0]
    gemm_strided<T>(rows, outf, in, T(1), xp, xrs, xcs, w.ptr<T>(), w.strides[1], w.strides[0], T(0),
                    out.ptr<T>(), outf, bp, act);
  };
  if (x.dtype == DType::f32) run(float{});
  else run(double{});
}

// ---- probes and tuning hooks ---------------------------------------------------------------

// Each thread times its probe with its own CPU clock (CLOCK_THREAD_CPUTIME_ID), so the result
// is the FMA throughput of a core while the thread runs, summed over threads: other processes
// time-sharing the cores (a shared build machine) do not lower it. Best of 5.
double fma_peak_gflops(int threads) {
  double (*probe)(int64_t) = nullptr;
#if defined(DLCORE_X86)
  if (current_isa() == Isa::avx512) probe = fma_probe_avx512;
  else if (cpu_supports(Isa::avx2)) probe = fma_probe_avx2;
#endif
  DLCORE_CHECK(probe != nullptr, ValueError, "fma_peak_gflops: needs an x86-64 CPU with AVX2/FMA");
  threads = std::max(1, std::min(threads, get_num_threads()));
  auto thread_cpu = [] {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
  };
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<double> rate(threads, 0);
    parallel_run(threads, [&](int tid, int) {
      const double t0 = thread_cpu();
      const double f = probe(4000000);
      const double dt = thread_cpu() - t0;
      rate[tid] = dt > 0 ? f / dt / 1e9 : 0;
    });
    double sum = 0;
    for (double r : rate) sum += r;
    best = std::max(best, sum);
  }
  return best;
}

void gemm_blocking(DType dtype, int64_t out[5]) {
  GemmIsaKernels& k = isa_kernels(current_isa());
  auto put = [&](auto& kr) {
    out[0] = kr.mr, out[1] = kr.nr, out[2] = kr.mc, out[3] = kr.kc, out[4] = kr.nc;
  };
  if (dtype == DType::f64) put(k.d);
  else put(k.s);
}

void gemm_set_blocking(DType dtype, int64_t mc, int64_t kc, int64_t nc) {
  GemmIsaKernels& k = isa_kernels(current_isa());
  auto set = [&](auto& kr) {
    if (mc > 0) {
      DLCORE_CHECK(mc % kr.mr == 0 && mc <= 8192, ValueError, "gemm_set_blocking: mc=", mc,
                   " must be a multiple of mr=", kr.mr, " and <= 8192");
      kr.mc = (int)mc;
    }
    if (kc > 0) {
      DLCORE_CHECK(kc <= 8192, ValueError, "gemm_set_blocking: kc=", kc, " must be <= 8192");
      kr.kc = (int)kc;
    }
    if (nc > 0) {
      DLCORE_CHECK(nc % kr.nr == 0 && nc <= 65536, ValueError, "gemm_set_blocking: nc=", nc,
                   " must be a multiple of nr=", kr.nr, " and <= 65536");
      kr.nc = (int)nc;
    }
  };
  if (dtype == DType::f64) set(k.d);
  else set(k.s);
}

#if !defined(DLCORE_WITH_CUDA)
void cuda_sgemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                int64_t, float, float*, int64_t) {
  throw ValueError("cuda_sgemm: dlcore was built without CUDA");
}
#endif

}  // namespace dlcore
