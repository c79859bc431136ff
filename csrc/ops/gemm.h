// GEMM family: C = alpha * op(A) * op(B) + beta * C, op = identity or transpose.
// A is (M, K) after op, B is (K, N) after op, C is (M, N); lda/ldb/ldc are row strides of the
// stored (row-major) matrices. beta == 0 never reads C (it may hold NaN).
// Every matmul in dlcore goes through gemm(): Tensor @, Linear, conv (im2col), RNN projections.
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

struct GemmTable {
  void (*sgemm)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                const float*, int64_t, float, float*, int64_t) = nullptr;
  void (*dgemm)(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                const double*, int64_t, double, double*, int64_t) = nullptr;
};

// Tensor-level matmul with NumPy semantics for >= 2-D operands: batch dims broadcast,
// out is (batch..., M, N). Strided 2-D slices go to gemm() without copies when one of their
// two strides is 1 (a transposed view is just trans=true); others are packed by gemm().
void matmul(const View& a, const View& b, const View& out);
Shape matmul_out_shape(const View& a, const View& b);

}  // namespace dlcore
