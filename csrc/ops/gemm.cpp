// GEMM front door and the CPU reference kernel. (The BLIS-style kernels replace the reference
// implementation behind the same gemm() signature.)
#include "ops/gemm.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "core/shape.h"

namespace dlcore {
namespace {

template <class T>
void reference_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  parallel_for(0, M, std::max<int64_t>(1, 4096 / std::max<int64_t>(N * K / 64, 1)),
               [&](int64_t m0, int64_t m1) {
    std::vector<T> acc(N);
    for (int64_t i = m0; i < m1; ++i) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t k = 0; k < K; ++k) {
        T a = ta ? A[k * lda + i] : A[i * lda + k];
        if (!tb) {
          const T* brow = B + k * ldb;
          for (int64_t j = 0; j < N; ++j) acc[j] += a * brow[j];
        } else {
          for (int64_t j = 0; j < N; ++j) acc[j] += a * B[j * ldb + k];
        }
      }
      T* c = C + i * ldc;
      for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j] + (beta == T(0) ? T(0) : beta * c[j]);
    }
  });
}

void fill_cpu_gemm() {
  auto& t = dispatch_table<GemmTable>(Device::cpu);
  t.sgemm = reference_gemm<float>;
  t.dgemm = reference_gemm<double>;
}
DLCORE_REGISTER(fill_cpu_gemm);

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

}  // namespace

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

void matmul(const View& a, const View& b, const View& out) {
  Shape want = matmul_out_shape(a, b);
  DLCORE_CHECK(a.dtype == b.dtype && a.dtype == out.dtype, TypeError, "matmul: dtypes differ (",
               dtype_name(a.dtype), ", ", dtype_name(b.dtype), ")");
  DLCORE_CHECK(is_float(a.dtype), TypeError, "matmul: needs float32 or float64, got ", dtype_name(a.dtype));
  DLCORE_CHECK(a.device == b.device && a.device == out.device, ValueError, "matmul: operands on different devices");
  DLCORE_CHECK(out.shape_vec() == want && out.is_contiguous(), ValueError,
               "matmul: output must be contiguous with shape ", shape_str(want));
  DLCORE_CHECK(a.device == Device::cpu, ValueError, "matmul: CUDA tensors go through the CUDA GEMM table");
  int64_t M = a.shape[a.ndim - 2], K = a.shape[a.ndim - 1], N = b.shape[b.ndim - 1];
  Shape batch(want.begin(), want.end() - 2);
  int64_t nb = 1;
  for (auto d : batch) nb *= d;
  if (nb == 0 || M == 0 || N == 0) return;
  // batch strides of a and b aligned to the broadcast batch shape
  View ab = a, bbv = b;
  ab.ndim = a.ndim - 2;
  bbv.ndim = b.ndim - 2;
  int64_t sa[kMaxDims] = {0}, sb[kMaxDims] = {0};
  broadcast_strides(ab, batch, sa);
  broadcast_strides(bbv, batch, sb);
  int64_t ars = a.strides[a.ndim - 2], acs = a.strides[a.ndim - 1];
  int64_t brs = b.strides[b.ndim - 2], bcs = b.strides[b.ndim - 1];
  bool ta, tb;
  int64_t lda, ldb;
  bool a_ok = as_gemm_operand(M, K, ars, acs, ta, lda);
  bool b_ok = as_gemm_operand(K, N, brs, bcs, tb, ldb);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    // Operands whose 2-D slices have no unit stride are copied once into contiguous scratch.
    std::vector<T> abuf, bbuf;
    auto pack = [&](const View& v, int64_t r, int64_t c, int64_t rs, int64_t cs, int64_t* bst,
                    std::vector<T>& buf) {
      buf.resize((size_t)(nb * r * c));
      for (int64_t bi = 0; bi < nb; ++bi) {
        int64_t off = 0, rem = bi;
        for (int d = (int)batch.size() - 1; d >= 0; --d) { off += (rem % batch[d]) * bst[d]; rem /= batch[d]; }
        const T* src = v.ptr<T>() + off;
        for (int64_t i = 0; i < r; ++i)
          for (int64_t j = 0; j < c; ++j) buf[(size_t)(bi * r * c + i * c + j)] = src[i * rs + j * cs];
      }
    };
    if (!a_ok) pack(a, M, K, ars, acs, sa, abuf), ta = false, lda = K;
    if (!b_ok) pack(b, K, N, brs, bcs, sb, bbuf), tb = false, ldb = N;
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t oa = 0, ob = 0, rem = bi;
      for (int d = (int)batch.size() - 1; d >= 0; --d) {
        int64_t idx = rem % batch[d];
        rem /= batch[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      const T* ap = a_ok ? a.ptr<T>() + oa : abuf.data() + bi * M * K;
      const T* bp = b_ok ? b.ptr<T>() + ob : bbuf.data() + bi * K * N;
      gemm<T>(ta, tb, M, N, K, T(1), ap, lda, bp, ldb, T(0), out.ptr<T>() + bi * M * N, N);
    }
  };
  if (a.dtype == DType::f32) run(float{});
  else run(double{});
}

}  // namespace dlcore
