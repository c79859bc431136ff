// CPU kernels of the normalization family (shapes and contract in norm.h) and its checked
// front doors. Sums are accumulated in double in an order fixed by the shape alone (8
// independent accumulators along contiguous runs; 16 in the layer-norm rows of norm_loops.h),
// so each statistic depends only on the data, never on the thread count. Batch norm has two
// layouts of the same math: one task per channel when its runs are long (S > kSmallS),
// channel blocks swept row by row otherwise.
#include "ops/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/norm_isa.h"
#include "ops/norm_math.h"

namespace dlcore {

const NormKernels& norm_kernels() {
#if defined(DLCORE_X86)
  return pick_isa_set(norm_generic_set, &norm_avx2_set, &norm_avx512_set);
#else
  return norm_generic_set;
#endif
}

namespace {

// ---- fixed-order double sums over a contiguous run ------------------------------------------

struct Acc8 {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double total() const { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); }
};

template <class T> inline void acc_sum(Acc8& s, const T* x, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) s.a[u] += (double)x[j + u];
  for (; j < n; ++j) s.a[j & 7] += (double)x[j];
}

template <class T> inline void acc_sqdev(Acc8& s, const T* x, int64_t n, double mean) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) {
      double d = (double)x[j + u] - mean;
      s.a[u] += d * d;
    }
  for (; j < n; ++j) {
    double d = (double)x[j] - mean;
    s.a[j & 7] += d * d;
  }
}

// s += sum dy, t += sum dy * (x - mean)
template <class T>
inline void acc_dy_dyx(Acc8& s, Acc8& t, const T* dy, const T* x, int64_t n, double mean) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) {
      double g = (double)dy[j + u];
      s.a[u] += g;
      t.a[u] += g * ((double)x[j + u] - mean);
    }
  for (; j < n; ++j) {
    double g = (double)dy[j];
    s.a[j & 7] += g;
    t.a[j & 7] += g * ((double)x[j] - mean);
  }
}

template <class T> inline void affine_run(T* y, const T* x, int64_t n, T scale, T shift) {
  for (int64_t j = 0; j < n; ++j) y[j] = x[j] * scale + shift;
}

template <class T> inline void dx_run(T* dx, const T* dy, const T* x, int64_t n, T k, T a, T b) {
  for (int64_t j = 0; j < n; ++j) dx[j] = norm_dx<T>(dy[j], x[j], k, a, b);
}

template <class T> inline double param(const View* v, int64_t i, double dflt) {
  return v ? (double)v->ptr<T>()[i] : dflt;
}

template <class F> void by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(double{});
}

// Grain in "channels / rows" such that each task holds at least ~32K elements.
int64_t grain_for(int64_t per_item) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(per_item, 1)); }

// ---- batch norm ------------------------------------------------------------------------------

// Batch norm when S is small (e.g. BatchNorm1d on (N, C)): a channel's values are scattered
// with stride C * S, so instead each task takes a block of channels and sweeps the rows
// n = 0..N-1, reading the block's contiguous (c1 - c0) * S values per row (two sweeps in
// the forward: shifted sums, then the output; two in the backward). Each channel is
// still summed in one fixed order (n, then s): deterministic for any thread count.
constexpr int64_t kSmallS = 16;

// Unit: S == 1 known at compile time (the (N, C) case): the row sweeps come from the per-ISA
// set (norm_loops.h bn1d_*), vectorised over the channels.
template <class T, bool Unit>
void bn_forward_cols(const View& x, const View* gamma, const View* beta, const View* rmean,
                     const View* rvar, bool batch_stats, double factor, double eps, const View& y,
                     const View& smean, const View& sinv, bool relu, bool unbiased) {
  const int64_t N = x.shape[0], C = x.shape[1], S = Unit ? 1 : x.shape[2];
  const int64_t M = N * S;
  const T* xp = x.ptr<T>();
  T* yp = y.ptr<T>();
  parallel_for(0, C, 64, [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> mean(w), ssd(w, 0.0);
    std::vector<T> scale(w), shift(w);
    if (batch_stats) {
      // One sweep over the rows (the block does not fit in cache): sums of x - k and of
      // (x - k)^2 in double, shifted by k = the channel's first value, so that
      // var = (sum d^2 - (sum d)^2 / M) / M stays accurate (|mean - k| is a few std).
      std::vector<double> sum(w, 0.0), sq(w, 0.0), k0(w);
      for (int64_t j = 0; j < w; ++j) k0[j] = (double)xp[(c0 + j) * S];
      if (Unit) norm_kernels().get<T>().bn1d_stats(xp, N, C, c0, w, k0.data(), sum.data(), sq.data());
      else for (int64_t n = 0; n < N; ++n) {
        const T* row = xp + (n * C + c0) * S;
        for (int64_t j = 0; j < w; ++j)
          for (int64_t k = 0; k < S; ++k) {
            const double d = (double)row[j * S + k] - k0[j];
            sum[j] += d;
            sq[j] += d * d;
          }
      }
      for (int64_t j = 0; j < w; ++j) {
        const double dm = sum[j] / (double)M;
        mean[j] = k0[j] + dm;
        ssd[j] = std::max(0.0, sq[j] - sum[j] * dm);
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = c0 + j;
      double invstd;
      if (batch_stats) {
        invstd = norm_invstd(ssd[j] / (double)M, eps);
        if (rmean) {
          T* r = rmean->ptr<T>() + c;
          *r = (T)running_update((double)*r, mean[j], factor);
        }
        if (rvar) {
          T* r = rvar->ptr<T>() + c;
          *r = (T)running_update((double)*r, ssd[j] / (double)(unbiased ? M - 1 : M), factor);
        }
      } else {
        mean[j] = (double)rmean->ptr<T>()[c];
        invstd = norm_invstd((double)rvar->ptr<T>()[c], eps);
      }
      smean.ptr<T>()[c] = (T)mean[j];
      sinv.ptr<T>()[c] = (T)invstd;
      NormAffine af = norm_affine(mean[j], invstd, param<T>(gamma, c, 1.0), param<T>(beta, c, 0.0));
      scale[j] = (T)af.scale;
      shift[j] = (T)af.shift;
    }
    if (Unit) {
      norm_kernels().get<T>().bn1d_affine(xp, yp, N, C, c0, w, scale.data(), shift.data());
    } else {
      for (int64_t n = 0; n < N; ++n) {
        const int64_t off = (n * C + c0) * S;
        for (int64_t j = 0; j < w; ++j)
          for (int64_t k = 0; k < S; ++k) yp[off + j * S + k] = xp[off + j * S + k] * scale[j] + shift[j];
      }
    }
    if (relu)  // the fused ReLU as a second sweep over the block (this layout is not the CNN's)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = (n * C + c0) * S; i < (n * C + c1) * S; ++i) yp[i] = norm_relu<T>(yp[i]);
  });
}

// Backward of bn_forward_cols (same math as bn_backward, channel blocks swept by rows).
template <class T, bool Unit>
void bn_backward_cols(const View& dy, const View& x, const View* gamma, const View& smean,
                      const View& sinv, bool batch_stats, const View& dx, const View& dgamma,
                      const View& dbeta) {
  const int64_t N = x.shape[0], C = x.shape[1], S = Unit ? 1 : x.shape[2];
  const int64_t M = N * S;
  const T* xp = x.ptr<T>();
  const T* gp = dy.ptr<T>();
  T* dxp = dx.ptr<T>();
  parallel_for(0, C, 64, [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> sdy(w, 0.0), sdyx(w, 0.0), mean(w);
    for (int64_t j = 0; j < w; ++j) mean[j] = (double)smean.ptr<T>()[c0 + j];
    if (Unit) norm_kernels().get<T>().bn1d_bwd_sums(gp, xp, N, C, c0, w, mean.data(), sdy.data(), sdyx.data());
    else for (int64_t n = 0; n < N; ++n) {
      const int64_t off = (n * C + c0) * S;
      for (int64_t j = 0; j < w; ++j)
        for (int64_t k = 0; k < S; ++k) {
          double g = (double)gp[off + j * S + k];
          sdy[j] += g;
          sdyx[j] += g * ((double)xp[off + j * S + k] - mean[j]);
        }
    }
    std::vector<T> kk(w), aa(w, (T)0), bb(w, (T)0);
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = c0 + j;
      const double invstd = (double)sinv.ptr<T>()[c], g = param<T>(gamma, c, 1.0);
      dbeta.ptr<T>()[c] = (T)sdy[j];
      dgamma.ptr<T>()[c] = (T)(sdyx[j] * invstd);
      kk[j] = (T)(g * invstd);
      if (batch_stats) {
        NormAffine d = norm_dx_terms(mean[j], invstd, g * sdy[j], g * sdyx[j], (double)M);
        aa[j] = (T)d.scale;
        bb[j] = (T)d.shift;
      }
    }
    if (Unit) {
      norm_kernels().get<T>().bn1d_dx(gp, xp, dxp, N, C, c0, w, kk.data(), aa.data(), bb.data());
      return;
    }
    for (int64_t n = 0; n < N; ++n) {
      const int64_t off = (n * C + c0) * S;
      for (int64_t j = 0; j < w; ++j)
        for (int64_t k = 0; k < S; ++k) {
          const int64_t i = off + j * S + k;
          dxp[i] = norm_dx<T>(gp[i], xp[i], kk[j], aa[j], bb[j]);
        }
    }
  });
}

template <class T>
void bn_forward(const View& x, const View* gamma, const View* beta, const View* rmean,
                const View* rvar, bool batch_stats, double factor, double eps, const View& y,
                const View& smean, const View& sinv, bool relu, bool unbiased) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const int64_t M = N * S;
  const T* xp = x.ptr<T>();
  T* yp = y.ptr<T>();
  const auto& ks = norm_kernels().get<T>();
  parallel_for(0, C, grain_for(M), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mean, invstd;
      if (batch_stats) {  // mean and biased variance over (N, S), two passes (per-ISA sums)
        double sum, ssd, unused;
        ks.bn_stats(xp + c * S, N, C * S, S, 0.0, &sum, &unused);
        mean = sum / (double)M;
        ks.bn_stats(xp + c * S, N, C * S, S, mean, &unused, &ssd);
        invstd = norm_invstd(ssd / (double)M, eps);
        if (rmean) {
          T* r = rmean->ptr<T>() + c;
          *r = (T)running_update((double)*r, mean, factor);
        }
        if (rvar) {  // unbiased variance into running_var (PyTorch), biased when !unbiased (Keras)
          T* r = rvar->ptr<T>() + c;
          *r = (T)running_update((double)*r, ssd / (double)(unbiased ? M - 1 : M), factor);
        }
      } else {
        mean = (double)rmean->ptr<T>()[c];
        invstd = norm_invstd((double)rvar->ptr<T>()[c], eps);
      }
      smean.ptr<T>()[c] = (T)mean;
      sinv.ptr<T>()[c] = (T)invstd;
      NormAffine af = norm_affine(mean, invstd, param<T>(gamma, c, 1.0), param<T>(beta, c, 0.0));
      for (int64_t n = 0; n < N; ++n) {
        int64_t off = (n * C + c) * S;
        ks.bn_affine_run(xp + off, yp + off, S, (T)af.scale, (T)af.shift, relu);
      }
    }
  });
}

// Differentiates y = x * scale + shift of bn_forward, with scale/shift functions of the
// batch mean and variance when batch_stats (constants of the running stats otherwise).
template <class T>
void bn_backward(const View& dy, const View& x, const View* gamma, const View& smean,
                 const View& sinv, bool batch_stats, const View* yrelu, const View& dx, const View& dgamma,
                 const View& dbeta) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const int64_t M = N * S;
  const T* xp = x.ptr<T>();
  const T* gp = dy.ptr<T>();
  T* dxp = dx.ptr<T>();
  const T* yp = yrelu ? yrelu->ptr<T>() : nullptr;  // the fused ReLU's output: dy masked by it
  const auto& ks = norm_kernels().get<T>();
  parallel_for(0, C, grain_for(M), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mean = (double)smean.ptr<T>()[c], invstd = (double)sinv.ptr<T>()[c];
      double sdy, sdyx;
      ks.bn_bwd_sums(gp + c * S, xp + c * S, yp ? yp + c * S : nullptr, N, C * S, S, mean, &sdy, &sdyx);
      dbeta.ptr<T>()[c] = (T)sdy;
      dgamma.ptr<T>()[c] = (T)(sdyx * invstd);
      double g = param<T>(gamma, c, 1.0);
      T k = (T)(g * invstd), a = 0, b = 0;
      if (batch_stats) {
        NormAffine d = norm_dx_terms(mean, invstd, g * sdy, g * sdyx, (double)M);
        a = (T)d.scale;
        b = (T)d.shift;
      }
      for (int64_t n = 0; n < N; ++n) {
        int64_t off = (n * C + c) * S;
        ks.bn_dx_run(gp + off, xp + off, yp ? yp + off : nullptr, dxp + off, S, k, a, b);
      }
    }
  });
}

// ---- layer norm -------------------------------------------------------------------------------

// The row loops of both directions are compiled per ISA (ops/norm_loops.h); here: threading.
template <class T>
void ln_forward(const View& x, const View* gamma, const View* beta, double eps, const View& y,
                const View& smean, const View& srstd) {
  const int64_t M = x.shape[0], K = x.shape[1];
  const T* g = gamma ? gamma->ptr<T>() : nullptr;
  const T* b = beta ? beta->ptr<T>() : nullptr;
  const auto fn = norm_kernels().get<T>().ln_fwd_rows;
  parallel_for(0, M, grain_for(K), [&](int64_t r0, int64_t r1) {
    fn(x.ptr<T>(), g, b, eps, K, r0, r1, y.ptr<T>(), smean.ptr<T>(), srstd.ptr<T>());
  });
}

// dx differentiates y = (x - mean) * rstd * gamma + beta of ln_forward through mean and rstd
// of the row (parallel over rows). dgamma = sum_rows dy * xhat and dbeta = sum_rows dy are
// accumulated while each row is still in cache, into one partial per block of RB rows; RB
// and the block boundaries depend only on M, and the partials are then summed per column in
// block order, so the result is the same for any thread count.
template <class T>
void ln_backward(const View& dy, const View& x, const View* gamma, const View& smean,
                 const View& srstd, const View& dx, const View& dgamma, const View& dbeta) {
  const int64_t M = x.shape[0], K = x.shape[1];
  const T* g = gamma ? gamma->ptr<T>() : nullptr;
  // double: <= 256 partial blocks; float: float partials of 16 rows each (float sums stay short;
  // the partials take M * K / 2 bytes, an eighth of x)
  const int64_t RB = sizeof(T) == 4 ? 16 : std::max<int64_t>(16, (M + 255) / 256);
  const int64_t nblk = (M + RB - 1) / RB;
  // block partials, summed in double below; a buffer reused across calls (fresh pages each call
  // cost more than the zero fill: 2 MiB at 4096 x 1024)
  static thread_local std::vector<T> pbuf;
  if (pbuf.size() < (size_t)(2 * nblk * K)) pbuf.resize((size_t)(2 * nblk * K));
  std::fill(pbuf.begin(), pbuf.begin() + 2 * nblk * K, T(0));
  T* pg = pbuf.data();
  T* pb = pg + nblk * K;
  const auto fn = norm_kernels().get<T>().ln_bwd_rows;
  parallel_for(0, nblk, std::max<int64_t>(1, 32768 / std::max<int64_t>(RB * K, 1)), [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk)
      fn(dy.ptr<T>(), x.ptr<T>(), g, smean.ptr<T>(), srstd.ptr<T>(), K, blk * RB,
         std::min(M, (blk + 1) * RB), dx.ptr<T>(), pb + blk * K, pg + blk * K);
  });
  T* dg = dgamma.ptr<T>();
  T* db = dbeta.ptr<T>();
  parallel_for(0, K, 256, [&](int64_t k0, int64_t k1) {
    std::vector<double> sg(k1 - k0, 0.0), sb(k1 - k0, 0.0);
    for (int64_t blk = 0; blk < nblk; ++blk) {  // blocks in order for every column
      const T* a = pg + blk * K + k0;
      const T* b = pb + blk * K + k0;
      for (int64_t k = 0; k < k1 - k0; ++k) {
        sg[k] += a[k];
        sb[k] += b[k];
      }
    }
    for (int64_t k = k0; k < k1; ++k) {
      dg[k] = (T)sg[k - k0];
      db[k] = (T)sb[k - k0];
    }
  });
}

// ---- group norm -------------------------------------------------------------------------------

template <class T>
void gn_forward(const View& x, int64_t G, const View* gamma, const View* beta, double eps,
                const View& y, const View& smean, const View& srstd) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const int64_t cpg = C / G, L = cpg * S;
  const T* xp = x.ptr<T>();
  T* yp = y.ptr<T>();
  parallel_for(0, N * G, grain_for(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // row r = (n, group), L contiguous values
      const T* xr = xp + r * L;
      T* yr = yp + r * L;
      Acc8 s;
      acc_sum(s, xr, L);
      double mean = s.total() / (double)L;
      Acc8 q;
      acc_sqdev(q, xr, L, mean);
      double rstd = norm_invstd(q.total() / (double)L, eps);
      smean.ptr<T>()[r] = (T)mean;
      srstd.ptr<T>()[r] = (T)rstd;
      const int64_t c_base = (r % G) * cpg;
      for (int64_t j = 0; j < cpg; ++j) {
        int64_t c = c_base + j;
        NormAffine af = norm_affine(mean, rstd, param<T>(gamma, c, 1.0), param<T>(beta, c, 0.0));
        affine_run<T>(yr + j * S, xr + j * S, S, (T)af.scale, (T)af.shift);
      }
    }
  });
}

// dx differentiates y = (x - mean) * rstd * gamma[c] + beta[c] of gn_forward through the
// row statistics (parallel over rows); dgamma / dbeta per channel (parallel over channels).
template <class T>
void gn_backward(const View& dy, const View& x, int64_t G, const View* gamma, const View& smean,
                 const View& srstd, const View& dx, const View& dgamma, const View& dbeta) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const int64_t cpg = C / G, L = cpg * S;
  const T* xp = x.ptr<T>();
  const T* gp = dy.ptr<T>();
  const T* mp = smean.ptr<T>();
  const T* rp = srstd.ptr<T>();
  T* dxp = dx.ptr<T>();
  parallel_for(0, N * G, grain_for(L), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = xp + r * L;
      const T* gr = gp + r * L;
      T* dr = dxp + r * L;
      const double mean = (double)mp[r], rstd = (double)rp[r];
      const int64_t c_base = (r % G) * cpg;
      double sum_g = 0, sum_gx = 0;
      for (int64_t j = 0; j < cpg; ++j) {  // per channel, then weighted by gamma[c]
        Acc8 s, t;
        acc_dy_dyx(s, t, gr + j * S, xr + j * S, S, mean);
        double gc = param<T>(gamma, c_base + j, 1.0);
        sum_g += gc * s.total();
        sum_gx += gc * t.total();
      }
      NormAffine d = norm_dx_terms(mean, rstd, sum_g, sum_gx, (double)L);
      for (int64_t j = 0; j < cpg; ++j) {
        double gc = param<T>(gamma, c_base + j, 1.0);
        dx_run<T>(dr + j * S, gr + j * S, xr + j * S, S, (T)(gc * rstd), (T)d.scale, (T)d.shift);
      }
    }
  });
  parallel_for(0, C, grain_for(N * S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t grp = c / cpg;
      double sg = 0, sb = 0;
      for (int64_t n = 0; n < N; ++n) {
        int64_t off = (n * C + c) * S;
        double mean = (double)mp[n * G + grp], rstd = (double)rp[n * G + grp];
        Acc8 s, t;
        acc_dy_dyx(s, t, gp + off, xp + off, S, mean);
        sb += s.total();
        sg += t.total() * rstd;
      }
      dgamma.ptr<T>()[c] = (T)sg;
      dbeta.ptr<T>()[c] = (T)sb;
    }
  });
}

// ---- table -----------------------------------------------------------------------------------

void cpu_bn_forward(const View& x, const View* gamma, const View* beta, const View* rmean,
                    const View* rvar, bool batch_stats, double factor, double eps, const View& y,
                    const View& smean, const View& sinv, bool relu, bool unbiased) {
  by_dtype(x.dtype, [&](auto t) {
    if (x.shape[2] == 1)
      bn_forward_cols<decltype(t), true>(x, gamma, beta, rmean, rvar, batch_stats, factor, eps, y, smean, sinv, relu, unbiased);
    else if (x.shape[2] <= kSmallS)
      bn_forward_cols<decltype(t), false>(x, gamma, beta, rmean, rvar, batch_stats, factor, eps, y, smean, sinv, relu, unbiased);
    else
      bn_forward<decltype(t)>(x, gamma, beta, rmean, rvar, batch_stats, factor, eps, y, smean, sinv, relu, unbiased);
  });
}
void cpu_bn_backward(const View& dy, const View& x, const View* gamma, const View& smean,
                     const View& sinv, bool batch_stats, const View* yrelu, const View& dx, const View& dgamma,
                     const View& dbeta) {
  by_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    if (x.shape[2] > kSmallS)
      return bn_backward<T>(dy, x, gamma, smean, sinv, batch_stats, yrelu, dx, dgamma, dbeta);
    // Column layout: the fused ReLU's mask applied to a copy of dy first (not the CNN's layout).
    std::vector<T> masked;
    View g = dy;
    if (yrelu) {
      const int64_t n = dy.numel();
      masked.resize((size_t)n);
      const T* gp = dy.ptr<T>();
      const T* yp = yrelu->ptr<T>();
      parallel_for(0, n, 32768, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) masked[(size_t)i] = norm_relu_grad<T>(gp[i], yp[i]);
      });
      g.data = masked.data();
    }
    if (x.shape[2] == 1) bn_backward_cols<T, true>(g, x, gamma, smean, sinv, batch_stats, dx, dgamma, dbeta);
    else bn_backward_cols<T, false>(g, x, gamma, smean, sinv, batch_stats, dx, dgamma, dbeta);
  });
}
void cpu_ln_forward(const View& x, const View* gamma, const View* beta, double eps, const View& y,
                    const View& smean, const View& srstd) {
  by_dtype(x.dtype, [&](auto t) { ln_forward<decltype(t)>(x, gamma, beta, eps, y, smean, srstd); });
}
void cpu_ln_backward(const View& dy, const View& x, const View* gamma, const View& smean,
                     const View& srstd, const View& dx, const View& dgamma, const View& dbeta) {
  by_dtype(x.dtype, [&](auto t) {
    ln_backward<decltype(t)>(dy, x, gamma, smean, srstd, dx, dgamma, dbeta);
  });
}
void cpu_gn_forward(const View& x, int64_t G, const View* gamma, const View* beta, double eps,
                    const View& y, const View& smean, const View& srstd) {
  by_dtype(x.dtype, [&](auto t) { gn_forward<decltype(t)>(x, G, gamma, beta, eps, y, smean, srstd); });
}
void cpu_gn_backward(const View& dy, const View& x, int64_t G, const View* gamma,
                     const View& smean, const View& srstd, const View& dx, const View& dgamma,
                     const View& dbeta) {
  by_dtype(x.dtype, [&](auto t) {
    gn_backward<decltype(t)>(dy, x, G, gamma, smean, srstd, dx, dgamma, dbeta);
  });
}

void fill_cpu_norm() {
  auto& t = dispatch_table<NormTable>(Device::cpu);
  t.batch_norm_forward = cpu_bn_forward;
  t.batch_norm_backward = cpu_bn_backward;
  t.layer_norm_forward = cpu_ln_forward;
  t.layer_norm_backward = cpu_ln_backward;
  t.group_norm_forward = cpu_gn_forward;
  t.group_norm_backward = cpu_gn_backward;
}
DLCORE_REGISTER(fill_cpu_norm);

// ---- checks ------------------------------------------------------------------------------------

// `v` reshaped (no copy) to the given shape; v must be contiguous (checked by the caller).
View reshaped(const View& v, std::initializer_list<int64_t> shape) {
  View r = v;
  r.ndim = (int)shape.size();
  int i = 0;
  for (int64_t s : shape) r.shape[i++] = s;
  int64_t st = 1;
  for (int k = r.ndim - 1; k >= 0; --k) {
    r.strides[k] = st;
    st *= r.shape[k];
  }
  return r;
}

void check_tensor(const char* op, const char* arg, const View& v, const View& x) {
  DLCORE_CHECK(v.device == x.device, ValueError, op, ": '", arg, "' is on ", device_name(v.device),
               " but 'input' is on ", device_name(x.device));
  DLCORE_CHECK(v.dtype == x.dtype, TypeError, op, ": '", arg, "' has dtype ", dtype_name(v.dtype),
               " but 'input' has dtype ", dtype_name(x.dtype));
  DLCORE_CHECK(v.is_contiguous(), ValueError, op, ": '", arg, "' (shape ", v.shape_string(),
               ") must be contiguous");
}

void check_same_shape(const char* op, const char* arg, const View& v, const View& x) {
  check_tensor(op, arg, v, x);
  DLCORE_CHECK(v.shape_vec() == x.shape_vec(), ValueError, op, ": '", arg, "' has shape ",
               v.shape_string(), " but 'input' has shape ", x.shape_string());
}

void check_vec(const char* op, const char* arg, const View* v, const View& x, int64_t n,
               const char* what) {
  if (!v) return;
  check_tensor(op, arg, *v, x);
  DLCORE_CHECK(v->numel() == n, ValueError, op, ": '", arg, "' has shape ", v->shape_string(),
               " (", v->numel(), " elements) but ", what, " is ", n, " for input of shape ",
               x.shape_string());
}

void check_input(const char* op, const View& x, int min_ndim, const char* layout) {
  DLCORE_CHECK(is_float(x.dtype), TypeError, op, ": 'input' must be float32 or float64, got ",
               dtype_name(x.dtype));
  DLCORE_CHECK(x.ndim >= min_ndim, ValueError, op, ": 'input' must be ", layout,
               " with at least ", min_ndim, " dims, got shape ", x.shape_string());
  DLCORE_CHECK(x.is_contiguous(), ValueError, op, ": 'input' (shape ", x.shape_string(),
               ") must be contiguous");
}

int64_t tail(const View& x, int from) {
  int64_t s = 1;
  for (int i = from; i < x.ndim; ++i) s *= x.shape[i];
  return s;
}

}  // namespace

void batch_norm_forward(const View& x, const View* gamma, const View* beta,
                        const View* running_mean, const View* running_var, bool use_batch_stats,
                        double factor, double eps, const View& y, const View& save_mean,
                        const View& save_invstd, bool relu, bool unbiased) {
  const char* op = "batch_norm";
  check_input(op, x, 2, "(N, C, *)");
  const int64_t N = x.shape[0], C = x.shape[1], S = tail(x, 2);
  check_vec(op, "weight", gamma, x, C, "the number of channels (dim 1)");
  check_vec(op, "bias", beta, x, C, "the number of channels (dim 1)");
  check_vec(op, "running_mean", running_mean, x, C, "the number of channels (dim 1)");
  check_vec(op, "running_var", running_var, x, C, "the number of channels (dim 1)");
  check_vec(op, "save_mean", &save_mean, x, C, "the number of channels (dim 1)");
  check_vec(op, "save_invstd", &save_invstd, x, C, "the number of channels (dim 1)");
  check_same_shape(op, "out", y, x);
  DLCORE_CHECK(eps >= 0, ValueError, op, ": eps must be >= 0, got ", eps);
  DLCORE_CHECK(use_batch_stats || (running_mean && running_var), ValueError, op,
               ": running_mean and running_var are required when not training");
  DLCORE_CHECK(!use_batch_stats || N * S > 1, ValueError, op,
               ": expected more than 1 value per channel when training, got input of shape ",
               x.shape_string());
  if (x.numel() == 0) return;
  View x3 = reshaped(x, {N, C, S}), y3 = reshaped(y, {N, C, S});
  DLCORE_DISPATCH(NormTable, x.device, batch_norm_forward)(x3, gamma, beta, running_mean,
                                                           running_var, use_batch_stats, factor,
                                                           eps, y3, save_mean, save_invstd, relu,
                                                           unbiased);
}

void batch_norm_backward(const View& dy, const View& x, const View* gamma, const View& save_mean,
                         const View& save_invstd, bool use_batch_stats, const View& dx,
                         const View& dgamma, const View& dbeta, const View* relu_out) {
  const char* op = "batch_norm_backward";
  check_input(op, x, 2, "(N, C, *)");
  const int64_t N = x.shape[0], C = x.shape[1], S = tail(x, 2);
  check_same_shape(op, "grad_output", dy, x);
  check_same_shape(op, "grad_input", dx, x);
  check_vec(op, "weight", gamma, x, C, "the number of channels (dim 1)");
  check_vec(op, "save_mean", &save_mean, x, C, "the number of channels (dim 1)");
  check_vec(op, "save_invstd", &save_invstd, x, C, "the number of channels (dim 1)");
  check_vec(op, "grad_weight", &dgamma, x, C, "the number of channels (dim 1)");
  check_vec(op, "grad_bias", &dbeta, x, C, "the number of channels (dim 1)");
  if (relu_out) check_same_shape(op, "output", *relu_out, x);
  View x3 = reshaped(x, {N, C, S}), dy3 = reshaped(dy, {N, C, S}), dx3 = reshaped(dx, {N, C, S});
  View y3 = relu_out ? reshaped(*relu_out, {N, C, S}) : View();
  if (x.numel() == 0) {  // empty batch: zero parameter gradients, nothing else to do
    fill(dgamma, 0.0);
    fill(dbeta, 0.0);
    return;
  }
  DLCORE_DISPATCH(NormTable, x.device, batch_norm_backward)(dy3, x3, gamma, save_mean, save_invstd,
                                                            use_batch_stats, relu_out ? &y3 : nullptr, dx3,
                                                            dgamma, dbeta);
}

namespace {
void check_ln(const char* op, const View& x, int norm_ndim, int64_t& M, int64_t& K) {
  DLCORE_CHECK(norm_ndim >= 1, ValueError, op, ": normalized_shape must have at least one dim");
  check_input(op, x, norm_ndim, "(*, normalized_shape)");
  K = tail(x, x.ndim - norm_ndim);
  M = 1;
  for (int i = 0; i < x.ndim - norm_ndim; ++i) M *= x.shape[i];
}
}  // namespace

void layer_norm_forward(const View& x, int norm_ndim, const View* gamma, const View* beta,
                        double eps, const View& y, const View& save_mean, const View& save_rstd) {
  const char* op = "layer_norm";
  int64_t M, K;
  check_ln(op, x, norm_ndim, M, K);
  check_vec(op, "weight", gamma, x, K, "prod(normalized_shape)");
  check_vec(op, "bias", beta, x, K, "prod(normalized_shape)");
  check_vec(op, "save_mean", &save_mean, x, M, "the number of rows");
  check_vec(op, "save_rstd", &save_rstd, x, M, "the number of rows");
  check_same_shape(op, "out", y, x);
  DLCORE_CHECK(eps >= 0, ValueError, op, ": eps must be >= 0, got ", eps);
  if (x.numel() == 0) return;
  DLCORE_DISPATCH(NormTable, x.device, layer_norm_forward)(reshaped(x, {M, K}), gamma, beta, eps,
                                                           reshaped(y, {M, K}), save_mean, save_rstd);
}

void layer_norm_backward(const View& dy, const View& x, int norm_ndim, const View* gamma,
                         const View& save_mean, const View& save_rstd, const View& dx,
                         const View& dgamma, const View& dbeta) {
  const char* op = "layer_norm_backward";
  int64_t M, K;
  check_ln(op, x, norm_ndim, M, K);
  check_same_shape(op, "grad_output", dy, x);
  check_same_shape(op, "grad_input", dx, x);
  check_vec(op, "weight", gamma, x, K, "prod(normalized_shape)");
  check_vec(op, "save_mean", &save_mean, x, M, "the number of rows");
  check_vec(op, "save_rstd", &save_rstd, x, M, "the number of rows");
  check_vec(op, "grad_weight", &dgamma, x, K, "prod(normalized_shape)");
  check_vec(op, "grad_bias", &dbeta, x, K, "prod(normalized_shape)");
  if (x.numel() == 0) {  // empty batch: zero parameter gradients, nothing else to do
    fill(dgamma, 0.0);
    fill(dbeta, 0.0);
    return;
  }
  DLCORE_DISPATCH(NormTable, x.device, layer_norm_backward)(
      reshaped(dy, {M, K}), reshaped(x, {M, K}), gamma, save_mean, save_rstd,
      reshaped(dx, {M, K}), dgamma, dbeta);
}

namespace {
void check_gn(const char* op, const View& x, int64_t G) {
  check_input(op, x, 2, "(N, C, *)");
  DLCORE_CHECK(G >= 1, ValueError, op, ": num_groups must be >= 1, got ", G);
  DLCORE_CHECK(x.shape[1] % G == 0, ValueError, op, ": the number of channels ", x.shape[1],
               " (dim 1 of input shape ", x.shape_string(), ") is not divisible by num_groups ", G);
}
}  // namespace

void group_norm_forward(const View& x, int64_t groups, const View* gamma, const View* beta,
                        double eps, const View& y, const View& save_mean, const View& save_rstd) {
  const char* op = "group_norm";
  check_gn(op, x, groups);
  const int64_t N = x.shape[0], C = x.shape[1], S = tail(x, 2);
  check_vec(op, "weight", gamma, x, C, "the number of channels (dim 1)");
  check_vec(op, "bias", beta, x, C, "the number of channels (dim 1)");
  check_vec(op, "save_mean", &save_mean, x, N * groups, "N * num_groups");
  check_vec(op, "save_rstd", &save_rstd, x, N * groups, "N * num_groups");
  check_same_shape(op, "out", y, x);
  DLCORE_CHECK(eps >= 0, ValueError, op, ": eps must be >= 0, got ", eps);
  if (x.numel() == 0) return;
  DLCORE_DISPATCH(NormTable, x.device, group_norm_forward)(reshaped(x, {N, C, S}), groups, gamma,
                                                           beta, eps, reshaped(y, {N, C, S}),
                                                           save_mean, save_rstd);
}

void group_norm_backward(const View& dy, const View& x, int64_t groups, const View* gamma,
                         const View& save_mean, const View& save_rstd, const View& dx,
                         const View& dgamma, const View& dbeta) {
  const char* op = "group_norm_backward";
  check_gn(op, x, groups);
  const int64_t N = x.shape[0], C = x.shape[1], S = tail(x, 2);
  check_same_shape(op, "grad_output", dy, x);
  check_same_shape(op, "grad_input", dx, x);
  check_vec(op, "weight", gamma, x, C, "the number of channels (dim 1)");
  check_vec(op, "save_mean", &save_mean, x, N * groups, "N * num_groups");
  check_vec(op, "save_rstd", &save_rstd, x, N * groups, "N * num_groups");
  check_vec(op, "grad_weight", &dgamma, x, C, "the number of channels (dim 1)");
  check_vec(op, "grad_bias", &dbeta, x, C, "the number of channels (dim 1)");
  if (x.numel() == 0) {  // empty batch: zero parameter gradients, nothing else to do
    fill(dgamma, 0.0);
    fill(dbeta, 0.0);
    return;
  }
  DLCORE_DISPATCH(NormTable, x.device, group_norm_backward)(
      reshaped(dy, {N, C, S}), reshaped(x, {N, C, S}), groups, gamma, save_mean, save_rstd,
      reshaped(dx, {N, C, S}), dgamma, dbeta);
}

}  // namespace dlcore
