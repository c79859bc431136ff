// GEMM family: C = alpha * op(A) * op(B) + beta * C, op = identity or transpose.
// A is (M, K) after op, B is (K, N) after op, C is (M, N); lda/ldb/ldc are row strides of the
// stored (row-major) matrices. beta == 0 never reads C (it may hold NaN).
// Every matmul in dlcore goes through gemm(): Tensor @, Linear, conv (im2col), RNN projections.
//
// CPU implementation (ops/gemm.cpp + kernels/gemm_*.cpp, docs/gemm.md): BLIS-style five loops
// with packing and an ISA-specific register-tile micro-kernel (AVX2 6x16 f32 / 6x8 f64,
// AVX-512 12x32 / 12x16, generic 4x8), GEMV kernels for M == 1 or N == 1, threads over
// M / N blocks only (never K), so results are bitwise identical for any thread count.
#pragma once
#include <cstdint>
#include <memory>

#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

// Activation applied by the fused epilogue.
enum class Epilogue : int { none = 0, relu = 1 };

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// Fused layer GEMM: C[i, j] = act(alpha * (op(A) op(B))[i, j] + beta * C[i, j] + bias[j]).
// bias is per output column (length N, contiguous) and may be null; act is none or relu.
// The bias and activation are applied to each register tile right after its last K block,
// while it is still in L1, so a layer costs one pass over C. Example, a Linear layer
// y = relu(x @ w.T + b) with x (R, in), w (out, in), y (R, out), all row-major:
//   gemm_bias_act<float>(false, true, R, out, in, 1.f, x, in, w, in, 0.f, y, out, b, Epilogue::relu);
template <class T>
void gemm_bias_act(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc,
                   const T* bias, Epilogue act);

// The general strided form the two above call: op(A)[i, k] = A[i*rsa + k*csa],
// op(B)[k, j] = B[k*rsb + j*csb] (any element strides, e.g. non-contiguous NumPy views; the
// packing absorbs them), C row-major with row stride ldc and unit column stride.
template <class T>
void gemm_strided(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa,
                  const T* B, int64_t rsb, int64_t csb, T beta, T* C, int64_t ldc,
                  const T* bias = nullptr, Epilogue act = Epilogue::none);

// A B operand packed once and reused by many GEMMs with different A and C (e.g. an RNN's
// recurrent weights over all time steps: gemm would re-pack them on every step).
// pack_b(trans_b, K, N, B, ldb, M) describes op(B) (K, N) exactly as gemm's B arguments do;
// M is the row count of the GEMMs that will use it: B is packed (into the micro-panels of the
// current kernels, one block per K block of gemm's K blocking) only when gemm itself would
// pack B for that M; otherwise nothing is stored and gemm_packed_b reads B in place as gemm
// does. B must stay alive and unchanged while the PackedB is used (the in-place paths read it).
// gemm_packed_b(trans_a, M, alpha, A, lda, pb, beta, C, ldc) gives BITWISE the same C as
// gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) for any M, thread count
// and path (same kernels, K blocks, tiles and summation order; only the packing copy is
// skipped). If the kernels or their blocking changed since packing (set_isa,
// gemm_set_blocking), it ignores the packed copy and runs gemm. Safe to use from several
// threads at once (read only).
template <class T> struct PackedB {
  struct Free {
    void operator()(T* p) const;
  };
  int64_t K = 0, N = 0;
  const T* B = nullptr;           // the original operand: op(B)[k, j] = B[k*rsb + j*csb]
  int64_t rsb = 0, csb = 0;
  std::unique_ptr<T, Free> buf;   // null: not packed (gemm would not pack B for this M)
  const void* kernels = nullptr;  // the kernel set and blocking the packing used
  int64_t kc = 0, nr = 0;
  bool packed() const { return buf != nullptr; }
};

template <class T>
PackedB<T> pack_b(bool trans_b, int64_t K, int64_t N, const T* B, int64_t ldb, int64_t M);
template <class T>
void gemm_packed_b(bool trans_a, int64_t M, T alpha, const T* A, int64_t lda, const PackedB<T>& pb,
                   T beta, T* C, int64_t ldc);

struct GemmTable {
  void (*sgemm)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                const float*, int64_t, float, float*, int64_t) = nullptr;
  void (*dgemm)(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                const double*, int64_t, double, double*, int64_t) = nullptr;
  // linear's epilogue on a GEMM result (CUDA; the CPU GEMM fuses it into its tiles):
  // out (rows, cols) contiguous, out[r, j] = act(out[r, j] + bias[j * bias_stride]), bias may be null.
  void (*bias_act_f32)(float* out, int64_t rows, int64_t cols, const float* bias, int64_t bias_stride,
                       Epilogue act) = nullptr;
  void (*bias_act_f64)(double* out, int64_t rows, int64_t cols, const double* bias, int64_t bias_stride,
                       Epilogue act) = nullptr;
};

// Tensor-level matmul with NumPy semantics for >= 2-D operands: batch dims broadcast,
// out is (batch..., M, N). Any strides are accepted without copies (packing absorbs them).
// Many small batches run one GEMM per thread (parallel over the batch); large ones run one
// at a time with threads inside each GEMM. Either way the result does not depend on threads.
void matmul(const View& a, const View& b, const View& out);
Shape matmul_out_shape(const View& a, const View& b);

// torch.nn.functional.linear: out = act(x @ w.T + bias), x (..., in), w (out, in),
// bias (out,) or null, out (..., out) contiguous. One GEMM call with trans_b (w is never
// copied or transposed) and the fused epilogue.
void linear(const View& x, const View& w, const View* bias, Epilogue act, const View& out);
Shape linear_out_shape(const View& x, const View& w, const View* bias);
Epilogue epilogue_from_name(const char* name);  // "none" | "relu", else ValueError

// Measured FMA throughput of this machine (12 independent FMA chains per core, widest vector
// ISA available to the current ISA choice), in GFLOP/s summed over `threads` threads; each
// thread is timed by its own CPU clock, so load from other processes does not lower it.
double fma_peak_gflops(int threads);

// Blocking of the current GEMM kernels for dtype (mr, nr, mc, kc, nc), and a tuning hook that
// overrides mc / kc / nc (values <= 0 keep the current one). Used by bench/ sweeps.
void gemm_blocking(DType dtype, int64_t out[5]);
void gemm_set_blocking(DType dtype, int64_t mc, int64_t kc, int64_t nc);

// CUDA SGEMM on device pointers (cuda/gemm.cu; only when built with CUDA): row-major
// C = alpha * op(A) op(B) + beta * C, same argument meaning as gemm(). Throws on launch errors.
// It fills GemmTable(cuda).sgemm (a plain tiled DGEMM fills .dgemm), which matmul, linear and
// the recurrent sequence loop call.
void cuda_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                int64_t ldc);

}  // namespace dlcore
