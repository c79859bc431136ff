// Normalization family. Shapes:
//   batch norm:  x, y, dy, dx are (N, C, S) contiguous (S = product of the trailing dims,
//                1 for an (N, C) input); gamma, beta, running_mean, running_var,
//                save_mean, save_invstd, dgamma, dbeta are (C,).
//   layer norm:  x, y, dy, dx are (M, K) contiguous (K = product of normalized_shape, M the
//                product of the leading dims); gamma, beta, dgamma, dbeta are (K,);
//                save_mean, save_rstd are (M,).
//   group norm:  x, y, dy, dx are (N, C, S) contiguous, C divisible by G; gamma, beta,
//                dgamma, dbeta are (C,); save_mean, save_rstd are (N, G).
// gamma / beta may be absent (nullptr: no affine, i.e. gamma = 1, beta = 0). All float
// operands share one dtype (float32 or float64). Statistics are accumulated in double.
// Work is split over channels (batch norm), rows (layer / group norm forward and dx) or
// parameter columns (dgamma / dbeta), never over a reduction axis: results are bitwise
// identical for any thread count.
#pragma once
#include "core/dispatch.h"
#include "core/view.h"

namespace dlcore {

struct NormTable {
  // Training (use_batch_stats): per-channel mean and biased variance of x over (N, S) ->
  // save_mean, save_invstd = 1/sqrt(var + eps); when running_mean/var are given they are
  // updated in place: r = (1 - f) * r + f * stat, with the UNBIASED variance for running_var
  // (PyTorch's rule) when unbiased, else the biased one (Keras's moving_variance).
  // Eval: save_mean = running_mean, save_invstd = 1/sqrt(running_var + eps).
  // Then y = (x - mean) * invstd * gamma + beta, and y = max(y, 0) when relu (BatchNorm + ReLU
  // in one pass: norm_math.h norm_relu).
  void (*batch_norm_forward)(const View& x, const View* gamma, const View* beta,
                             const View* running_mean, const View* running_var,
                             bool use_batch_stats, double factor, double eps, const View& y,
                             const View& save_mean, const View& save_invstd, bool relu,
                             bool unbiased) = nullptr;
  // dgamma = sum dy * xhat, dbeta = sum dy (per channel); dx: the full batch-statistics
  // derivative when use_batch_stats, else dy * gamma * invstd (constants from running stats).
  // relu_out (null: no fused ReLU) is the forward's output y of the fused BatchNorm + ReLU: dy is
  // first masked by it (norm_math.h norm_relu_grad), inside the same passes.
  void (*batch_norm_backward)(const View& dy, const View& x, const View* gamma,
                              const View& save_mean, const View& save_invstd,
                              bool use_batch_stats, const View* relu_out, const View& dx,
                              const View& dgamma, const View& dbeta) = nullptr;
  void (*layer_norm_forward)(const View& x, const View* gamma, const View* beta, double eps,
                             const View& y, const View& save_mean, const View& save_rstd) = nullptr;
  void (*layer_norm_backward)(const View& dy, const View& x, const View* gamma,
                              const View& save_mean, const View& save_rstd, const View& dx,
                              const View& dgamma, const View& dbeta) = nullptr;
  void (*group_norm_forward)(const View& x, int64_t groups, const View* gamma, const View* beta,
                             double eps, const View& y, const View& save_mean,
                             const View& save_rstd) = nullptr;
  void (*group_norm_backward)(const View& dy, const View& x, int64_t groups, const View* gamma,
                              const View& save_mean, const View& save_rstd, const View& dx,
                              const View& dgamma, const View& dbeta) = nullptr;
};

// Checked front doors (every shape/dtype/contiguity check of the family lives here, once).
// `x` may have any rank >= 2 for batch / group norm: it is read as (N, C, prod(rest)).
void batch_norm_forward(const View& x, const View* gamma, const View* beta,
                        const View* running_mean, const View* running_var, bool use_batch_stats,
                        double factor, double eps, const View& y, const View& save_mean,
                        const View& save_invstd, bool relu = false, bool unbiased = true);
void batch_norm_backward(const View& dy, const View& x, const View* gamma, const View& save_mean,
                         const View& save_invstd, bool use_batch_stats, const View& dx,
                         const View& dgamma, const View& dbeta, const View* relu_out = nullptr);
// `x` has any rank >= norm_ndim; its trailing norm_ndim dims are normalised.
void layer_norm_forward(const View& x, int norm_ndim, const View* gamma, const View* beta,
                        double eps, const View& y, const View& save_mean, const View& save_rstd);
void layer_norm_backward(const View& dy, const View& x, int norm_ndim, const View* gamma,
                         const View& save_mean, const View& save_rstd, const View& dx,
                         const View& dgamma, const View& dbeta);
void group_norm_forward(const View& x, int64_t groups, const View* gamma, const View* beta,
                        double eps, const View& y, const View& save_mean, const View& save_rstd);
void group_norm_backward(const View& dy, const View& x, int64_t groups, const View* gamma,
                         const View& save_mean, const View& save_rstd, const View& dx,
                         const View& dgamma, const View& dbeta);

}  // namespace dlcore
