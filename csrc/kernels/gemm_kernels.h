// GEMM inner kernels, one set per ISA (csrc/kernels/gemm_{generic,avx2,avx512}.cpp, each file
// compiled with its own -m flags). ops/gemm.cpp holds the BLIS loops and picks a set at run
// time from current_isa(). Every set carries its own blocking table (mr, nr, mc, kc, nc).
//
// Layouts (T = float or double):
//   packed A micro-panel: mr rows x k, stored a[p*mr + i]        (i < mr, p < k)
//   B micro-panel:        k x nr,     stored b[p*ldb + j]        (j < nr; packed: ldb = nr)
//   C tile:               mr x nr,    c[i*ldc + j] (unit column stride)
#pragma once
#include <cstdint>

namespace dlcore {

template <class T> struct GemmKernels {
  const char* isa;
  int mr, nr;       // micro-tile held in registers
  int mc, kc, nc;   // cache blocking: mc % mr == 0, nc % nr == 0
  // C = alpha * A_panel * B_panel + beta * C on a full mr x nr tile. beta == 0: C is
  // write-only (never read, so NaN in C does not propagate). k may be 0.
  void (*ukr)(int64_t k, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T alpha, T beta);
  // Packs the mc x kc block X[i*rs + p*cs] into ceil(mc/mr) micro-panels (zero padded).
  // Packers may write up to 16 elements past the last panel (the driver allocates slack).
  void (*pack_a)(int64_t mc, int64_t kc, const T* x, int64_t rs, int64_t cs, T* dst);
  // Packs the kc x nc block X[p*rs + j*cs] into ceil(nc/nr) micro-panels (zero padded).
  void (*pack_b)(int64_t kc, int64_t nc, const T* x, int64_t rs, int64_t cs, T* dst);
  // GEMV helpers (x contiguous, length k; out contiguous, length n):
  //   dots:  out[j] = sum_p x[p] * w[j*ldw + p]     (w rows contiguous)
  //   axpys: out[j] = sum_p x[p] * w[p*ldw + j]     (w rows contiguous)
  // Each out[j] is computed by the same instruction sequence wherever j falls in a chunk
  // that starts at a multiple of 64, so threads splitting n there do not change results.
  void (*dots)(int64_t n, int64_t k, const T* x, const T* w, int64_t ldw, T* out);
  void (*axpys)(int64_t n, int64_t k, const T* x, const T* w, int64_t ldw, T* out);
  // Bottom-edge variants: ukr_rows[m] computes only rows [0, m) of the tile (1 <= m < mr),
  // with the same per-element arithmetic as ukr; null entries fall back to ukr on a temp tile.
  void (*ukr_rows[16])(int64_t k, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T alpha, T beta);
  // Direct-A kernels: ukr_da[m] (1 <= m <= mr) computes rows [0, m) of the tile reading A in
  // place, row i at a[i*lda + p] (contiguous along k: a row-major A needs no packing), with the
  // same per-element arithmetic as ukr. Null: the set has none (the driver packs A).
  void (*ukr_da[17])(int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                     T alpha, T beta);
  // Half-width right-edge kernels: like ukr_rows / ukr_da (index = rows, 1 <= m <= mr) but
  // only columns [0, half) of the tile, reading the first `half` columns of an nr-wide B panel
  // (half = 0 and null entries: none; the driver runs the full-width kernel on a temp tile).
  int half;
  void (*ukr_half[17])(int64_t k, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T alpha, T beta);
  void (*ukr_da_half[17])(int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                          T alpha, T beta);
};

struct GemmIsaKernels {
  GemmKernels<float> s;
  GemmKernels<double> d;
};

// Mutable so that bench/tuning code can try other blocking (ops/gemm.h: gemm_set_blocking).
GemmIsaKernels& gemm_kernels_generic();
#if defined(DLCORE_X86)
GemmIsaKernels& gemm_kernels_avx2();
GemmIsaKernels& gemm_kernels_avx512();
// FMA throughput probes: run `iters` rounds of 12 independent FMA chains on one core and
// return the number of floating-point operations done (the caller times them).
double fma_probe_avx2(int64_t iters);
double fma_probe_avx512(int64_t iters);
// The AVX-512 set reuses these AVX2 GEMV helpers (memory bound; the wider vector buys little).
void gemv_dots_avx2_f32(int64_t n, int64_t k, const float* x, const float* w, int64_t ldw, float* out);
void gemv_axpys_avx2_f32(int64_t n, int64_t k, const float* x, const float* w, int64_t ldw, float* out);
void gemv_dots_avx2_f64(int64_t n, int64_t k, const double* x, const double* w, int64_t ldw, double* out);
void gemv_axpys_avx2_f64(int64_t n, int64_t k, const double* x, const double* w, int64_t ldw, double* out);
#endif

}  // namespace dlcore
