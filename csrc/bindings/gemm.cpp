// Bindings: GEMM family (ops/gemm.h).
#include "ops/gemm.h"

#include <algorithm>
#include <vector>

#include "bindings/common.h"

namespace {
using namespace dlcore;

// dlcore._C.gemm(a, b, c, alpha=1, beta=0, trans_a=False, trans_b=False): in place,
// c = alpha * op(a) @ op(b) + beta * c for 2-D arrays of any strides (c: unit column stride,
// or unit row stride, which runs the transposed product).
void gemm_py(py::handle a, py::handle b, py::handle c, double alpha, double beta, bool ta, bool tb) {
  View av = to_view(a, "gemm", "a"), bv = to_view(b, "gemm", "b"), cv = to_view(c, "gemm", "c", true);
  DLCORE_CHECK(av.ndim == 2 && bv.ndim == 2 && cv.ndim == 2, ValueError,
               "gemm: a, b and c must be 2-D, got shapes ", av.shape_string(), ", ",
               bv.shape_string(), " and ", cv.shape_string());
  DLCORE_CHECK(av.dtype == bv.dtype && av.dtype == cv.dtype, TypeError, "gemm: dtypes differ (a ",
               dtype_name(av.dtype), ", b ", dtype_name(bv.dtype), ", c ", dtype_name(cv.dtype), ")");
  DLCORE_CHECK(is_float(av.dtype), TypeError, "gemm: needs float32 or float64, got ", dtype_name(av.dtype));
  DLCORE_CHECK(av.device == Device::cpu && bv.device == Device::cpu && cv.device == Device::cpu, ValueError,
               "gemm: CPU arrays only");
  const int ai = ta ? 1 : 0, bi = tb ? 1 : 0;
  const int64_t M = av.shape[ai], K = av.shape[1 - ai], N = bv.shape[1 - bi];
  DLCORE_CHECK(bv.shape[bi] == K, ValueError, "gemm: op(a) has shape (", M, ", ", K, ") but op(b) has shape (",
               bv.shape[bi], ", ", N, "): inner dimensions differ (a ", av.shape_string(), ", b ",
               bv.shape_string(), ", trans_a=", ta, ", trans_b=", tb, ")");
  DLCORE_CHECK(cv.shape[0] == M && cv.shape[1] == N, ValueError, "gemm: c has shape ", cv.shape_string(),
               " but op(a) @ op(b) has shape (", M, ", ", N, ")");
  int64_t rsa = av.strides[ai], csa = av.strides[1 - ai];
  int64_t rsb = bv.strides[bi], csb = bv.strides[1 - bi];
  int64_t rsc = cv.strides[0], csc = cv.strides[1];
  bool swap = false;
  if (!(csc == 1 || N == 1)) {
    DLCORE_CHECK(rsc == 1 || M == 1, ValueError, "gemm: c must have a unit stride in one dimension (shape ",
                 cv.shape_string(), ", element strides (", rsc, ", ", csc, "))");
    swap = true;  // C^T (N, M) = op(B)^T op(A)^T with row stride csc
  }
  auto run = [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release nogil;
    if (!swap)
      gemm_strided<T>(M, N, K, (T)alpha, av.ptr<T>(), rsa, csa, bv.ptr<T>(), rsb, csb, (T)beta,
                      cv.ptr<T>(), rsc, nullptr, Epilogue::none);
    else
      gemm_strided<T>(N, M, K, (T)alpha, bv.ptr<T>(), csb, rsb, av.ptr<T>(), csa, rsa, (T)beta,
                      cv.ptr<T>(), csc, nullptr, Epilogue::none);
  };
  if (av.dtype == DType::f32) run(float{});
  else run(double{});
}

// dlcore._C.gemm_packed_b(a_list, b, c_list, alpha, beta, trans_a, trans_b, pack_m): packs op(b)
// once (for GEMMs of pack_m rows; -1: the rows of the first a) and runs, in place,
// c_i = alpha * op(a_i) @ op(b) + beta * c_i for each pair with the packed copy. Stored arrays
// as BLAS sees them: a_i (M, K) or (K, M) with trans_a, b (K, N) or (N, K) with trans_b, c_i
// (M, N), each with a unit column stride. Returns whether b was packed (gemm packs it).
bool gemm_packed_b_py(py::list as, py::handle b, py::list cs, double alpha, double beta, bool ta, bool tb,
                      int64_t pack_m) {
  const char* op = "gemm_packed_b";
  DLCORE_CHECK(as.size() == cs.size() && as.size() > 0, ValueError, op, ": a and c must be lists of the same (non-zero) length");
  View bv = to_view(b, op, "b");
  DLCORE_CHECK(bv.ndim == 2 && (bv.strides[1] == 1 || bv.shape[1] <= 1 || bv.numel() == 0), ValueError, op,
               ": b must be 2-D with a unit column stride, got shape ", bv.shape_string());
  DLCORE_CHECK(is_float(bv.dtype) && bv.device == Device::cpu, TypeError, op, ": b must be a float32 or float64 CPU array");
  const int64_t K = bv.shape[tb ? 1 : 0], N = bv.shape[tb ? 0 : 1];
  const int64_t ldb = std::max<int64_t>(bv.shape[0] > 1 ? bv.strides[0] : bv.shape[1], 1);
  std::vector<View> av, cv;
  for (size_t i = 0; i < as.size(); ++i) {
    av.push_back(to_view(as[i], op, "a"));
    cv.push_back(to_view(cs[i], op, "c", true));
    const View &x = av.back(), &y = cv.back();
    DLCORE_CHECK(x.ndim == 2 && y.ndim == 2 && x.dtype == bv.dtype && y.dtype == bv.dtype, TypeError, op,
                 ": a and c must be 2-D with b's dtype");
    const int64_t M = x.shape[ta ? 1 : 0];
    DLCORE_CHECK(x.shape[ta ? 0 : 1] == K && y.shape[0] == M && y.shape[1] == N, ValueError, op, ": a ",
                 x.shape_string(), ", b ", bv.shape_string(), " and c ", y.shape_string(), " do not match");
    DLCORE_CHECK((x.strides[1] == 1 || x.shape[1] <= 1 || x.numel() == 0) &&
                     (y.strides[1] == 1 || y.shape[1] <= 1 || y.numel() == 0), ValueError, op,
                 ": a and c need a unit column stride");
  }
  auto ld = [](const View& v) { return std::max<int64_t>(v.shape[0] > 1 ? v.strides[0] : v.shape[1], 1); };
  bool packed = false;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release nogil;
    const int64_t pm = pack_m >= 0 ? pack_m : av[0].shape[ta ? 1 : 0];
    PackedB<T> pb = pack_b<T>(tb, K, N, bv.ptr<T>(), ldb, pm);
    packed = pb.packed();
    for (size_t i = 0; i < av.size(); ++i)
      gemm_packed_b<T>(ta, av[i].shape[ta ? 1 : 0], (T)alpha, av[i].ptr<T>(), ld(av[i]), pb, (T)beta,
                       cv[i].ptr<T>(), ld(cv[i]));
  };
  if (bv.dtype == DType::f32) run(float{});
  else run(double{});
  return packed;
}

}  // namespace

DLCORE_BINDINGS(gemm) {
  using namespace dlcore;
  m.def("matmul", [](py::handle a, py::handle b, py::object out) {
    View av = to_view(a, "matmul", "a"), bv = to_view(b, "matmul", "b");
    Shape s = matmul_out_shape(av, bv);
    out = out_or_alloc(out, av.device, av.dtype, s);
    View ov = to_view(out, "matmul", "out", true);
    { py::gil_scoped_release nogil; matmul(av, bv, ov); }
    return out;
  }, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
  "a @ b with NumPy batch broadcasting for >= 2-D arrays (any strides); out optional.");

  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, py::arg("trans_a") = false, py::arg("trans_b") = false,
        "In place: c = alpha * op(a) @ op(b) + beta * c (op = transpose when trans_*). "
        "beta == 0 never reads c.");

  m.def("gemm_packed_b", &gemm_packed_b_py, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("pack_m") = -1,
        "Test hook of the pre-packed B GEMM: packs op(b) once, then c_i = alpha op(a_i) op(b) + beta c_i "
        "for each (a_i, c_i); bitwise equal to gemm. Returns whether b was packed.");

  m.def("linear", [](py::handle x, py::handle w, py::object bias, const std::string& activation,
                     py::object out) {
    View xv = to_view(x, "linear", "x"), wv = to_view(w, "linear", "weight");
    View bv;
    const View* bp = nullptr;
    if (!bias.is_none()) {
      bv = to_view(bias, "linear", "bias");
      bp = &bv;
    }
    Epilogue act = epilogue_from_name(activation.c_str());
    Shape s = linear_out_shape(xv, wv, bp);
    out = out_or_alloc(out, xv.device, xv.dtype, s);
    View ov = to_view(out, "linear", "out", true);
    { py::gil_scoped_release nogil; linear(xv, wv, bp, act, ov); }
    return out;
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("activation") = "none",
  py::arg("out") = py::none(),
  "torch.nn.functional.linear: act(x @ weight.T + bias) in one GEMM (weight is never copied); "
  "activation is 'none' or 'relu'.");

  m.def("fma_peak_gflops", [](int threads) {
    py::gil_scoped_release nogil;
    return fma_peak_gflops(threads);
  }, py::arg("threads") = 1,
  "FMA peak (12 independent FMA chains per core) in GFLOP/s summed over `threads` threads, each timed by its own CPU clock (robust to other processes).");

  m.def("gemm_blocking", [](py::handle dtype, int64_t mc, int64_t kc, int64_t nc) {
    DType dt = dtype_arg(dtype);
    DLCORE_CHECK(is_float(dt), TypeError, "gemm_blocking: dtype must be float32 or float64");
    if (mc > 0 || kc > 0 || nc > 0) gemm_set_blocking(dt, mc, kc, nc);
    int64_t b[5];
    gemm_blocking(dt, b);
    py::dict d;
    d["mr"] = b[0], d["nr"] = b[1], d["mc"] = b[2], d["kc"] = b[3], d["nc"] = b[4];
    return d;
  }, py::arg("dtype") = "float32", py::arg("mc") = 0, py::arg("kc") = 0, py::arg("nc") = 0,
  "Blocking of the current ISA's GEMM kernels for dtype; mc/kc/nc > 0 override (tuning only).");
}
