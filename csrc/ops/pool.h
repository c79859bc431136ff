// Pooling family (PyTorch semantics, NCHW).
//   x  is (N, C, H, W), y is (N, C, OH, OW), indices (max pooling) are int64 (N, C, OH, OW) holding
//   the flat position ih*W + iw of the chosen element inside its (H, W) plane, like PyTorch.
// Windowed pooling: OH = floor_or_ceil((H + 2*pH - dH*(kH-1) - 1) / sH) + 1, and with ceil_mode
// the last window must start inside the input or the left padding (else OH -= 1).
// Adaptive pooling: output row o covers rows [floor(o*H/OH), ceil((o+1)*H/OH)).
// 1-D pooling is 2-D pooling with H = 1 (the Python layer reshapes); global pooling is adaptive
// pooling to (1, 1). Output sizes and checks are written ONCE here (pool2d_geometry).
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/errors.h"
#include "core/view.h"

namespace dlcore {

struct PoolGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t kH = 1, kW = 1, sH = 1, sW = 1, pH = 0, pW = 0, dH = 1, dW = 1;
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};

inline int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

inline PoolGeometry pool2d_geometry(const char* op, const int64_t* xs, int xnd, const int64_t k[2], const int64_t s[2],
                                    const int64_t p[2], const int64_t d[2], bool ceil_mode) {
  DLCORE_CHECK(xnd == 4, ValueError, op, ": input must be 4-D (N, C, H, W), got shape ", shape_str(xs, xnd));
  DLCORE_CHECK(k[0] >= 1 && k[1] >= 1, ValueError, op, ": kernel_size must be positive, got (", k[0], ", ", k[1], ")");
  DLCORE_CHECK(s[0] >= 1 && s[1] >= 1, ValueError, op, ": stride must be positive, got (", s[0], ", ", s[1], ")");
  DLCORE_CHECK(d[0] >= 1 && d[1] >= 1, ValueError, op, ": dilation must be positive, got (", d[0], ", ", d[1], ")");
  DLCORE_CHECK(p[0] >= 0 && p[1] >= 0 && 2 * p[0] <= k[0] && 2 * p[1] <= k[1], ValueError, op,
               ": padding must be non-negative and at most half the kernel size, got padding (", p[0], ", ", p[1],
               ") for kernel_size (", k[0], ", ", k[1], ")");
  PoolGeometry g;
  g.N = xs[0]; g.C = xs[1]; g.H = xs[2]; g.W = xs[3];
  g.kH = k[0]; g.kW = k[1]; g.sH = s[0]; g.sW = s[1]; g.pH = p[0]; g.pW = p[1]; g.dH = d[0]; g.dW = d[1];
  g.OH = pool_out_size(g.H, g.kH, g.sH, g.pH, g.dH, ceil_mode);
  g.OW = pool_out_size(g.W, g.kW, g.sW, g.pW, g.dW, ceil_mode);
  DLCORE_CHECK(g.OH >= 1 && g.OW >= 1, ValueError, op, ": kernel_size (", g.kH, ", ", g.kW, ") with dilation (", g.dH,
               ", ", g.dW, ") and padding (", g.pH, ", ", g.pW, ") is larger than the input ", shape_str(xs, xnd),
               ": output size would be (", g.OH, ", ", g.OW, ")");
  return g;
}

inline PoolGeometry adaptive_pool2d_geometry(const char* op, const int64_t* xs, int xnd, const int64_t out[2]) {
  DLCORE_CHECK(xnd == 4, ValueError, op, ": input must be 4-D (N, C, H, W), got shape ", shape_str(xs, xnd));
  DLCORE_CHECK(out[0] >= 1 && out[1] >= 1, ValueError, op, ": output_size must be positive, got (", out[0], ", ", out[1], ")");
  DLCORE_CHECK(xs[2] >= 1 && xs[3] >= 1, ValueError, op, ": input spatial size must be positive, got shape ",
               shape_str(xs, xnd));
  PoolGeometry g;
  g.N = xs[0]; g.C = xs[1]; g.H = xs[2]; g.W = xs[3];
  g.OH = out[0]; g.OW = out[1];
  return g;
}

DLCORE_HD int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
DLCORE_HD int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// avg_pool2d window along one axis for output position o: [a, b) clipped to the input, and the
// window size counted with padding (PyTorch: the window may not extend past in + p).
DLCORE_HD void avg_window(int64_t o, int64_t s, int64_t p, int64_t k, int64_t in, int64_t& a, int64_t& b,
                          int64_t& padded) {
  a = o * s - p;
  b = a + k < in + p ? a + k : in + p;
  padded = b - a;
  a = a < 0 ? 0 : a;
  b = b > in ? in : b;
}
DLCORE_HD int64_t avg_divisor(const PoolGeometry& g, int64_t ph, int64_t pw, int64_t h0, int64_t h1, int64_t w0,
                              int64_t w1) {
  if (g.divisor_override) return g.divisor_override;
  return g.count_include_pad ? ph * pw : (h1 - h0) * (w1 - w0);
}

struct PoolTable {
  void (*max_forward)(const PoolGeometry& g, const View& x, const View& y, const View& idx) = nullptr;
  // gx (overwritten) = scatter of gy to the saved argmax positions; serves windowed and adaptive max.
  void (*max_backward)(const PoolGeometry& g, const View& gy, const View& idx, const View& gx) = nullptr;
  void (*avg_forward)(const PoolGeometry& g, const View& x, const View& y) = nullptr;
  void (*avg_backward)(const PoolGeometry& g, const View& gy, const View& gx) = nullptr;
  void (*adaptive_avg_forward)(const PoolGeometry& g, const View& x, const View& y) = nullptr;
  void (*adaptive_avg_backward)(const PoolGeometry& g, const View& gy, const View& gx) = nullptr;
  void (*adaptive_max_forward)(const PoolGeometry& g, const View& x, const View& y, const View& idx) = nullptr;
};

// Checked front doors.
void max_pool2d_forward(const PoolGeometry& g, const View& x, const View& y, const View& idx);
void max_pool2d_backward(const PoolGeometry& g, const View& gy, const View& idx, const View& gx);
void avg_pool2d_forward(const PoolGeometry& g, const View& x, const View& y);
void avg_pool2d_backward(const PoolGeometry& g, const View& gy, const View& gx);
void adaptive_avg_pool2d_forward(const PoolGeometry& g, const View& x, const View& y);
void adaptive_avg_pool2d_backward(const PoolGeometry& g, const View& gy, const View& gx);
void adaptive_max_pool2d_forward(const PoolGeometry& g, const View& x, const View& y, const View& idx);

}  // namespace dlcore
