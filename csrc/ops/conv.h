// Convolution family (PyTorch semantics: NCHW, cross-correlation).
//   x  is (N, C, H, W)                     the conv2d input
//   w  is (K, C/groups, kH, kW)            K = output channels
//   b  is (K,) or absent
//   y  is (N, K, OH, OW), OH = (H + pad_top + pad_bottom - dH*(kH-1) - 1) / sH + 1 (floor)
// Every kernel is written for conv2d; the others are views of it:
//   conv1d            = conv2d with H = 1, kH = 1 (the Python layer reshapes)
//   conv_transpose2d  forward        = conv2d backward-data  (weight (C_in, C_out/groups, kH, kW)
//                     backward-data  = conv2d forward          is exactly conv2d's layout with
//                     backward-weight= conv2d backward-weight  the roles of x and y swapped)
// Padding is (top, bottom, left, right) so that padding='same' with an even effective kernel
// (PyTorch puts the extra row/column at the bottom/right) is exact. The kernels only need the
// top/left padding and OH/OW: positions outside the image read as zero.
// Output sizes and every shape check are written ONCE here (conv2d_geometry).
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/errors.h"
#include "core/view.h"

namespace dlcore {

struct ConvGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;    // conv2d input
  int64_t K = 0, OH = 0, OW = 0;         // conv2d output channels and size
  int64_t kH = 1, kW = 1;                // kernel
  int64_t sH = 1, sW = 1;                // stride
  int64_t pT = 0, pB = 0, pL = 0, pR = 0;  // padding top, bottom, left, right
  int64_t dH = 1, dW = 1;                // dilation
  int64_t groups = 1;
  int64_t Cg() const { return C / groups; }
  int64_t Kg() const { return K / groups; }
  // 1x1, stride 1, no padding: the input image of a group already is the GEMM operand.
  bool pointwise() const {
    return kH == 1 && kW == 1 && sH == 1 && sW == 1 && pT == 0 && pB == 0 && pL == 0 && pR == 0;
  }
  bool depthwise() const { return groups == C && groups > 1; }
};

// floor((in + pad_total - dil*(k-1) - 1) / stride) + 1, or <= 0 when the kernel does not fit.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_total, int64_t dil) {
  int64_t span = in + pad_total - dil * (k - 1) - 1;
  if (span < 0) return 0;
  return span / stride + 1;
}

// Input size of conv_transpose2d's output (= conv2d's input): (in-1)*s - pad_total + d*(k-1) + op + 1.
inline int64_t conv_transpose_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_total,
                                       int64_t dil, int64_t output_padding) {
  return (in - 1) * stride - pad_total + dil * (k - 1) + output_padding + 1;
}

// Builds and checks the geometry of a conv2d with input (N, C, H, W) and weight (K, C/groups, kH, kW).
// pad = {top, bottom, left, right}. `op` names the user-facing op in messages.
inline ConvGeometry conv2d_geometry(const char* op, const int64_t* xs, int xnd, const int64_t* ws, int wnd,
                                    const int64_t stride[2], const int64_t pad[4], const int64_t dil[2],
                                    int64_t groups) {
  DLCORE_CHECK(xnd == 4, ValueError, op, ": input must be 4-D (N, C, H, W), got shape ", shape_str(xs, xnd));
  DLCORE_CHECK(wnd == 4, ValueError, op, ": weight must be 4-D (out_channels, in_channels/groups, kH, kW), got shape ",
               shape_str(ws, wnd));
  DLCORE_CHECK(groups >= 1, ValueError, op, ": groups must be positive, got ", groups);
  DLCORE_CHECK(stride[0] >= 1 && stride[1] >= 1, ValueError, op, ": stride must be positive, got (", stride[0], ", ",
               stride[1], ")");
  DLCORE_CHECK(dil[0] >= 1 && dil[1] >= 1, ValueError, op, ": dilation must be positive, got (", dil[0], ", ", dil[1], ")");
  DLCORE_CHECK(pad[0] >= 0 && pad[1] >= 0 && pad[2] >= 0 && pad[3] >= 0, ValueError, op,
               ": padding must be non-negative, got (top, bottom, left, right) = (", pad[0], ", ", pad[1], ", ", pad[2],
               ", ", pad[3], ")");
  ConvGeometry g;
  g.N = xs[0]; g.C = xs[1]; g.H = xs[2]; g.W = xs[3];
  g.K = ws[0]; g.kH = ws[2]; g.kW = ws[3];
  g.sH = stride[0]; g.sW = stride[1];
  g.pT = pad[0]; g.pB = pad[1]; g.pL = pad[2]; g.pR = pad[3];
  g.dH = dil[0]; g.dW = dil[1];
  g.groups = groups;
  DLCORE_CHECK(g.C % groups == 0, ValueError, op, ": input channels (", g.C, ", input shape ", shape_str(xs, xnd),
               ") are not divisible by groups=", groups);
  DLCORE_CHECK(g.K % groups == 0, ValueError, op, ": out_channels (", g.K, ", weight shape ", shape_str(ws, wnd),
               ") are not divisible by groups=", groups);
  DLCORE_CHECK(ws[1] * groups == g.C, ValueError, op, ": weight ", shape_str(ws, wnd), " expects ", ws[1] * groups,
               " input channels (in_channels/groups=", ws[1], ", groups=", groups, ") but the input ",
               shape_str(xs, xnd), " has ", g.C);
  DLCORE_CHECK(g.kH >= 1 && g.kW >= 1, ValueError, op, ": kernel size must be positive, weight shape ", shape_str(ws, wnd));
  int64_t ekH = g.dH * (g.kH - 1) + 1, ekW = g.dW * (g.kW - 1) + 1;
  DLCORE_CHECK(ekH <= g.H + g.pT + g.pB && ekW <= g.W + g.pL + g.pR, ValueError, op, ": kernel size (", g.kH, ", ", g.kW,
               ") with dilation (", g.dH, ", ", g.dW, ") spans (", ekH, ", ", ekW,
               ") which is larger than the padded input (", g.H + g.pT + g.pB, ", ", g.W + g.pL + g.pR,
               ") (input shape ", shape_str(xs, xnd), ", padding (top, bottom, left, right) = (", g.pT, ", ", g.pB, ", ",
               g.pL, ", ", g.pR, "))");
  g.OH = conv_out_size(g.H, g.kH, g.sH, g.pT + g.pB, g.dH);
  g.OW = conv_out_size(g.W, g.kW, g.sW, g.pL + g.pR, g.dW);
  return g;
}

inline void conv_check_shape(const char* op, const char* arg, const View& v, const Shape& want) {
  DLCORE_CHECK(v.shape_vec() == want, ValueError, op, ": argument '", arg, "' has shape ", v.shape_string(),
               ", expected ", shape_str(want));
}

struct ConvTable {
  // y = conv2d(x, w) + b. b may be null. All views contiguous, same dtype.
  void (*forward)(const ConvGeometry& g, const View& x, const View& w, const View* b, const View& y) = nullptr;
  // gx = d(sum(gy * y))/dx  (overwrites gx).
  void (*backward_data)(const ConvGeometry& g, const View& gy, const View& w, const View& gx) = nullptr;
  // gw = d(sum(gy * y))/dw  (overwrites gw), accumulated over images in a fixed order.
  void (*backward_weight)(const ConvGeometry& g, const View& x, const View& gy, const View& gw) = nullptr;
  // gb[k] = sum over n, oh, ow of gy[n, k, oh, ow] (overwrites gb). gy is (N, K, L).
  void (*backward_bias)(const View& gy, const View& gb) = nullptr;
  // y = conv2d(x, w) (no bias) and gw = backward_weight(x, gy) sharing one unfold of x (used by
  // conv_transpose2d's backward, where x is its grad_output). Optional: null -> the two above.
  void (*forward_and_weight)(const ConvGeometry& g, const View& x, const View& w, const View& gy, const View& y,
                             const View& gw) = nullptr;
};

// Checked front doors (shape/dtype/device checks here; outputs allocated by the caller with the
// shapes these functions return / expect).
ConvGeometry conv2d_check(const char* op, const View& x, const View& w, const int64_t stride[2], const int64_t pad[4],
                          const int64_t dil[2], int64_t groups);
void conv2d_forward(const ConvGeometry& g, const View& x, const View& w, const View* b, const View& y);
void conv2d_backward_data(const ConvGeometry& g, const View& gy, const View& w, const View& gx);
void conv2d_backward_weight(const ConvGeometry& g, const View& x, const View& gy, const View& gw);
void conv_backward_bias(const View& gy, const View& gb);
// y = conv2d(x, w) and gw = conv2d_backward_weight(x, gy) in one call (one unfold of x).
void conv2d_forward_and_weight(const ConvGeometry& g, const View& x, const View& w, const View& gy, const View& y,
                               const View& gw);

}  // namespace dlcore
