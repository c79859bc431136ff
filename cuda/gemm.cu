// CUDA SGEMM (row-major): C = alpha * op(A) * op(B) + beta * C, the GPU side of ops/gemm.h.
// A is (M, K) after op, B is (K, N) after op, C is (M, N); lda/ldb/ldc are row strides of the
// stored matrices (as for dlcore::gemm). beta == 0 never reads C.
//
// Kernel: a thread block computes a BM x BN tile of C. Each K step stages a BM x BK slice of
// op(A) and a BK x BN slice of op(B) in shared memory (A stored k-major so that a thread reads
// its TM rows as float4), then every thread accumulates a TM x TN register tile with outer
// products. Global loads are float4 when the slice is fully inside the matrix and the rows are
// 16-byte aligned, scalar with bounds checks (zero fill) otherwise. Untested on hardware in
// this repository (the development machine has no GPU); it compiles for sm_80/sm_90.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>

#include "core/dispatch.h"
#include "core/errors.h"
#include "cuda/common.cuh"
#include "ops/gemm.h"

namespace dlcore {
namespace {

template <int BM, int BN, int BK, int TM, int TN>
struct TileConfig {
  static constexpr int kThreads = (BM / TM) * (BN / TN);
  static_assert(BM % TM == 0 && BN % TN == 0, "tile must split into thread tiles");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "thread tiles are read from shared memory as float4");
  static_assert(BK % 4 == 0 && BM % 4 == 0 && BN % 4 == 0, "float4 global loads");
  static_assert((BM * BK) % (4 * kThreads) == 0 && (BK * BN) % (4 * kThreads) == 0,
                "every thread loads the same number of float4 per slice");
  static_assert(kThreads <= 1024, "block too large");
};

__device__ __forceinline__ bool aligned16(const float* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

template <int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__(TileConfig<BM, BN, BK, TM, TN>::kThreads)
sgemm_tiled(bool ta, bool tb, int M, int N, int K, float alpha, const float* __restrict__ A,
            int64_t lda, const float* __restrict__ B, int64_t ldb, float beta,
            float* __restrict__ C, int64_t ldc) {
  constexpr int NT = TileConfig<BM, BN, BK, TM, TN>::kThreads;
  __shared__ __align__(16) float As[BK][BM + 4];  // As[k][m] (padding keeps rows 16B-aligned)
  __shared__ __align__(16) float Bs[BK][BN + 4];  // Bs[k][n]
  const int tid = threadIdx.x;
  const int tr = tid / (BN / TN), tc = tid % (BN / TN);
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  // float4 loads are legal when every row start is 16-byte aligned
  const bool a_vec = (lda % 4 == 0) && aligned16(A);
  const bool b_vec = (ldb % 4 == 0) && aligned16(B);

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  for (int k0 = 0; k0 < K; k0 += BK) {
    const bool k_full = k0 + BK <= K;
    // ---- op(A)[m0 + i, k0 + k] -> As[k][i] ----
    if (!ta) {  // stored (M, K): contiguous along k
      if (a_vec && k_full && m0 + BM <= M) {
#pragma unroll
        for (int e = tid; e < BM * BK / 4; e += NT) {
          const int i = e / (BK / 4), k = (e % (BK / 4)) * 4;
          const float4 v = *reinterpret_cast<const float4*>(A + (int64_t)(m0 + i) * lda + k0 + k);
          As[k][i] = v.x; As[k + 1][i] = v.y; As[k + 2][i] = v.z; As[k + 3][i] = v.w;
        }
      } else {
        for (int e = tid; e < BM * BK; e += NT) {
          const int i = e / BK, k = e % BK;
          const int m = m0 + i, kk = k0 + k;
          As[k][i] = (m < M && kk < K) ? A[(int64_t)m * lda + kk] : 0.f;
        }
      }
    } else {    // stored (K, M): contiguous along m
      if (a_vec && k_full && m0 + BM <= M) {
#pragma unroll
        for (int e = tid; e < BM * BK / 4; e += NT) {
          const int k = e / (BM / 4), i = (e % (BM / 4)) * 4;
          *reinterpret_cast<float4*>(&As[k][i]) =
              *reinterpret_cast<const float4*>(A + (int64_t)(k0 + k) * lda + m0 + i);
        }
      } else {
        for (int e = tid; e < BM * BK; e += NT) {
          const int k = e / BM, i = e % BM;
          const int m = m0 + i, kk = k0 + k;
          As[k][i] = (m < M && kk < K) ? A[(int64_t)kk * lda + m] : 0.f;
        }
      }
    }
    // ---- op(B)[k0 + k, n0 + j] -> Bs[k][j] ----
    if (!tb) {  // stored (K, N): contiguous along n
      if (b_vec && k_full && n0 + BN <= N) {
#pragma unroll
        for (int e = tid; e < BN * BK / 4; e += NT) {
          const int k = e / (BN / 4), j = (e % (BN / 4)) * 4;
          *reinterpret_cast<float4*>(&Bs[k][j]) =
              *reinterpret_cast<const float4*>(B + (int64_t)(k0 + k) * ldb + n0 + j);
        }
      } else {
        for (int e = tid; e < BN * BK; e += NT) {
          const int k = e / BN, j = e % BN;
          const int n = n0 + j, kk = k0 + k;
          Bs[k][j] = (n < N && kk < K) ? B[(int64_t)kk * ldb + n] : 0.f;
        }
      }
    } else {    // stored (N, K): contiguous along k
      if (b_vec && k_full && n0 + BN <= N) {
#pragma unroll
        for (int e = tid; e < BN * BK / 4; e += NT) {
          const int j = e / (BK / 4), k = (e % (BK / 4)) * 4;
          const float4 v = *reinterpret_cast<const float4*>(B + (int64_t)(n0 + j) * ldb + k0 + k);
          Bs[k][j] = v.x; Bs[k + 1][j] = v.y; Bs[k + 2][j] = v.z; Bs[k + 3][j] = v.w;
        }
      } else {
        for (int e = tid; e < BN * BK; e += NT) {
          const int j = e / BK, k = e % BK;
          const int n = n0 + j, kk = k0 + k;
          Bs[k][j] = (n < N && kk < K) ? B[(int64_t)n * ldb + kk] : 0.f;
        }
      }
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 v = *reinterpret_cast<const float4*>(&As[k][tr * TM + i]);
        a[i] = v.x; a[i + 1] = v.y; a[i + 2] = v.z; a[i + 3] = v.w;
      }
#pragma unroll
      for (int j = 0; j < TN; j += 4) {
        const float4 v = *reinterpret_cast<const float4*>(&Bs[k][tc * TN + j]);
        b[j] = v.x; b[j + 1] = v.y; b[j + 2] = v.z; b[j + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  // ---- epilogue: bounds-checked; beta == 0 never reads C ----
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + tr * TM + i;
    if (m >= M) break;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tc * TN + j;
      if (n < N) {
        float* c = C + (int64_t)m * ldc + n;
        *c = beta == 0.f ? alpha * acc[i][j] : fmaf(beta, *c, alpha * acc[i][j]);
      }
    }
  }
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <int BM, int BN, int BK, int TM, int TN>
void launch(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
            const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const dim3 block(TileConfig<BM, BN, BK, TM, TN>::kThreads);
  const dim3 grid((unsigned)ceil_div(N, BN), (unsigned)ceil_div(M, BM));
  DLCORE_CHECK(grid.y <= 65535, ValueError, "cuda_sgemm: M=", M, " needs more than 65535 row blocks");
  sgemm_tiled<BM, BN, BK, TM, TN><<<grid, block>>>(ta, tb, (int)M, (int)N, (int)K, alpha, A, lda, B,
                                                   ldb, beta, C, ldc);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(str("cuda_sgemm: kernel launch failed (M=", M, ", N=", N, ", K=", K,
                                 "): ", cudaGetErrorString(err)));
}

// ---- DGEMM: a plain shared-memory tiled kernel (float64 is for checks and small models; the
// float32 kernel above is the fast one). A 64 x 64 tile of C per block of 16 x 16 threads, each
// thread a 4 x 4 register tile, K in slices of 16 staged in shared memory with zero fill at the
// edges. Same argument meaning as the SGEMM; beta == 0 never reads C.
constexpr int kDT = 64, kDK = 16, kDR = 4;

__global__ void __launch_bounds__(256)
dgemm_tiled(bool ta, bool tb, int M, int N, int K, double alpha, const double* __restrict__ A, int64_t lda,
            const double* __restrict__ B, int64_t ldb, double beta, double* __restrict__ C, int64_t ldc) {
  __shared__ double As[kDK][kDT + 1];  // As[k][m]
  __shared__ double Bs[kDK][kDT + 1];  // Bs[k][n]
  const int tid = threadIdx.x, tr = tid / 16, tc = tid % 16;
  const int m0 = blockIdx.y * kDT, n0 = blockIdx.x * kDT;
  double acc[kDR][kDR];
  for (int i = 0; i < kDR; ++i)
    for (int j = 0; j < kDR; ++j) acc[i][j] = 0.0;
  for (int k0 = 0; k0 < K; k0 += kDK) {
    for (int e = tid; e < kDT * kDK; e += 256) {
      const int k = e / kDT, i = e % kDT, kk = k0 + k;
      const int m = m0 + i, n = n0 + i;
      As[k][i] = (m < M && kk < K) ? (ta ? A[(int64_t)kk * lda + m] : A[(int64_t)m * lda + kk]) : 0.0;
      Bs[k][i] = (n < N && kk < K) ? (tb ? B[(int64_t)n * ldb + kk] : B[(int64_t)kk * ldb + n]) : 0.0;
    }
    __syncthreads();
    for (int k = 0; k < kDK; ++k) {
      double a[kDR], b[kDR];
      for (int i = 0; i < kDR; ++i) a[i] = As[k][tr * kDR + i];
      for (int j = 0; j < kDR; ++j) b[j] = Bs[k][tc * kDR + j];
      for (int i = 0; i < kDR; ++i)
        for (int j = 0; j < kDR; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < kDR; ++i) {
    const int m = m0 + tr * kDR + i;
    if (m >= M) break;
    for (int j = 0; j < kDR; ++j) {
      const int n = n0 + tc * kDR + j;
      if (n < N) {
        double* c = C + (int64_t)m * ldc + n;
        *c = beta == 0.0 ? alpha * acc[i][j] : fma(beta, *c, alpha * acc[i][j]);
      }
    }
  }
}

void cuda_dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  DLCORE_CHECK(M >= 0 && N >= 0 && K >= 0, ValueError, "cuda_dgemm: negative size M=", M, " N=", N, " K=", K);
  DLCORE_CHECK(M < (1ll << 31) && N < (1ll << 31) && K < (1ll << 31), ValueError,
               "cuda_dgemm: sizes must be < 2^31, got M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  const dim3 grid((unsigned)ceil_div(N, kDT), (unsigned)ceil_div(M, kDT));
  DLCORE_CHECK(grid.y <= 65535, ValueError, "cuda_dgemm: M=", M, " needs more than 65535 row blocks");
  dgemm_tiled<<<grid, 256>>>(ta, tb, (int)M, (int)N, (int)K, alpha, A, lda, B, ldb, beta, C, ldc);
  cuda::check_launch("cuda_dgemm");
}

// linear's epilogue: out[r, j] = act(out[r, j] + bias[j * bias_stride]) over a contiguous (rows, cols).
template <class T>
__global__ void bias_act_kernel(T* out, int64_t n, int64_t cols, const T* bias, int64_t bias_stride, bool relu) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T v = out[i];
    if (bias) v += bias[(i % cols) * bias_stride];
    out[i] = relu ? (v > T(0) ? v : T(0)) : v;
  }
}

template <class T>
void cuda_bias_act(T* out, int64_t rows, int64_t cols, const T* bias, int64_t bias_stride, Epilogue act) {
  const int64_t n = rows * cols;
  if (n == 0) return;
  bias_act_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(out, n, cols, bias, bias_stride,
                                                              act == Epilogue::relu);
  cuda::check_launch("linear (bias / relu epilogue)");
}

void fill_cuda_gemm() {
  auto& t = dispatch_table<GemmTable>(Device::cuda);
  t.sgemm = cuda_sgemm;
  t.dgemm = cuda_dgemm;
  t.bias_act_f32 = cuda_bias_act<float>;
  t.bias_act_f64 = cuda_bias_act<double>;
}
DLCORE_REGISTER(fill_cuda_gemm);

}  // namespace

void cuda_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  DLCORE_CHECK(M >= 0 && N >= 0 && K >= 0, ValueError, "cuda_sgemm: negative size M=", M, " N=", N, " K=", K);
  DLCORE_CHECK(M < (1ll << 31) && N < (1ll << 31) && K < (1ll << 31), ValueError,
               "cuda_sgemm: sizes must be < 2^31, got M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  // Large outputs: 128x128 tiles, 8x8 per thread (256 threads). Small ones: 64x64x16 tiles,
  // 4x4 per thread, so that enough blocks exist to fill the SMs.
  if (M * N >= (int64_t)512 * 512)
    launch<128, 128, 8, 8, 8>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    launch<64, 64, 16, 4, 4>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace dlcore
