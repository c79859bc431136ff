// Bindings: recurrent family (ops/rnn.h). One call runs one layer and one direction over a
// whole sequence; optional arguments are None.
#include "ops/rnn.h"

#include "bindings/common.h"
#include "core/parallel.h"
#include "ops/elementwise.h"

namespace {
using namespace dlcore;

View opt_view(py::handle obj, const char* op, const char* arg) {
  if (obj.is_none()) return View{};
  return to_view(obj, op, arg);
}
py::object opt_alloc(bool want, Device dev, DType dt, const Shape& s) {
  return want ? alloc(dev, dt, s) : py::none();
}
View opt_out(py::handle obj, const char* op, const char* arg) {
  if (obj.is_none()) return View{};
  return to_view(obj, op, arg, true);
}

// One layer-direction call prepared under the GIL (views, checks, outputs), run without it.
struct FwdCall {
  View x, h0, c0, wi, wh, bi, bh, len, y, S, C, ws;
  py::object yo, So, Co, wso;
  bool reverse = false;
};
FwdCall prep_forward(RnnMode mode, py::handle x, py::handle h0, py::handle c0, py::handle w_ih,
                     py::handle w_hh, py::handle b_ih, py::handle b_hh, py::handle lengths,
                     bool reverse, bool save) {
  const char* op = rnn_mode_name(mode);
  FwdCall c;
  c.x = to_view(x, op, "input");
  c.h0 = opt_view(h0, op, "h0");
  c.c0 = opt_view(c0, op, "c0");
  c.wi = to_view(w_ih, op, "weight_ih");
  c.wh = to_view(w_hh, op, "weight_hh");
  c.bi = opt_view(b_ih, op, "bias_ih");
  c.bh = opt_view(b_hh, op, "bias_hh");
  c.len = opt_view(lengths, op, "lengths");
  c.reverse = reverse;
  RnnDims d = rnn_check(mode, c.x, c.h0, c.c0, c.wi, c.wh, c.bi, c.bh, c.len);
  const int64_t slots = save ? d.T + 1 : 2;
  c.yo = alloc(c.x.device, c.x.dtype, {d.T, d.N, d.H});
  c.So = alloc(c.x.device, c.x.dtype, {slots, d.N, d.H});
  c.Co = opt_alloc(mode == RnnMode::lstm, c.x.device, c.x.dtype, {slots, d.N, d.H});
  c.wso = opt_alloc(d.K > 0 && save, c.x.device, c.x.dtype, {d.T, d.N, d.K * d.H});
  c.y = to_view(c.yo, op, "output", true);
  c.S = to_view(c.So, op, "states", true);
  c.C = opt_out(c.Co, op, "cell states");
  c.ws = opt_out(c.wso, op, "workspace");
  return c;
}
void run_forward(RnnMode mode, const FwdCall& c, bool save) {
  rnn_forward(mode, c.x, c.h0, c.c0, c.wi, c.wh, c.bi, c.bh, c.len, c.reverse, save, c.y, c.S, c.C, c.ws);
}

struct BwdCall {
  View x, wi, wh, len, S, C, ws, dy, dh, dc, dx, dh0, dc0, dwi, dwh, dbi, dbh;
  py::object dxo, dh0o, dc0o, dwio, dwho, dbio, dbho;
  bool reverse = false;
};
BwdCall prep_backward(RnnMode mode, py::handle x, py::handle w_ih, py::handle w_hh, bool has_bias,
                      py::handle lengths, bool reverse, py::handle S, py::handle C, py::handle ws,
                      py::handle dy, py::handle dhT, py::handle dcT, bool need_dx) {
  const char* op = rnn_mode_name(mode);
  BwdCall c;
  c.x = to_view(x, op, "input");
  c.wi = to_view(w_ih, op, "weight_ih");
  c.wh = to_view(w_hh, op, "weight_hh");
  c.len = opt_view(lengths, op, "lengths");
  c.S = to_view(S, op, "states");
  c.C = opt_view(C, op, "cell states");
  c.ws = opt_view(ws, op, "workspace");
  c.dy = opt_view(dy, op, "grad_output");
  c.dh = opt_view(dhT, op, "grad_h_n");
  c.dc = opt_view(dcT, op, "grad_c_n");
  c.reverse = reverse;
  View none;
  RnnDims d = rnn_check(mode, c.x, none, none, c.wi, c.wh, none, none, c.len);
  const Device dev = c.x.device;
  const DType dt = c.x.dtype;
  const bool lstm = mode == RnnMode::lstm;
  c.dxo = opt_alloc(need_dx, dev, dt, {d.T, d.N, d.I});
  c.dh0o = alloc(dev, dt, {d.N, d.H});
  c.dc0o = opt_alloc(lstm, dev, dt, {d.N, d.H});
  c.dwio = alloc(dev, dt, {d.G * d.H, d.I});
  c.dwho = alloc(dev, dt, {d.G * d.H, d.H});
  c.dbio = opt_alloc(has_bias, dev, dt, {d.G * d.H});
  c.dbho = opt_alloc(has_bias, dev, dt, {d.G * d.H});
  c.dx = opt_out(c.dxo, op, "grad_input");
  c.dh0 = to_view(c.dh0o, op, "grad_h0", true);
  c.dc0 = opt_out(c.dc0o, op, "grad_c0");
  c.dwi = to_view(c.dwio, op, "grad_weight_ih", true);
  c.dwh = to_view(c.dwho, op, "grad_weight_hh", true);
  c.dbi = opt_out(c.dbio, op, "grad_bias_ih");
  c.dbh = opt_out(c.dbho, op, "grad_bias_hh");
  return c;
}
void run_backward(RnnMode mode, const BwdCall& c) {
  rnn_backward(mode, c.x, c.wi, c.wh, c.len, c.reverse, c.S, c.C, c.ws, c.dy, c.dh, c.dc, c.dx, c.dh0,
               c.dc0, c.dwi, c.dwh, c.dbi, c.dbh);
}
py::tuple bwd_result(const BwdCall& c) {
  return py::make_tuple(c.dxo, c.dh0o, c.dc0o, c.dwio, c.dwho, c.dbio, c.dbho);
}

// Runs job(0) and job(1) (the two directions of a bidirectional layer over x (T, N, I) with
// W_hh (G*H, H)) at once on two threads of the pool, each direction then single-threaded
// inside (no per-step synchronisation), when the pool has at most two threads or a step is
// too small to keep more threads busy; else one after the other, each using every thread.
// Values do not depend on which.
// CUDA layers run one direction after the other: each queues its kernels on the one stream.
template <class F> void both_directions(const View& x, const View& w_hh, F&& job) {
  const double step_flops = 2.0 * x.shape[1] * w_hh.shape[0] * w_hh.shape[1];
  if (x.device == Device::cpu && (get_num_threads() <= 2 || step_flops < double(1 << 24))) {
    parallel_run(2, [&](int tid, int nt) {
      for (int dir = tid; dir < 2; dir += nt) job(dir);
    });
  } else {
    job(0);
    job(1);
  }
}
}  // namespace

DLCORE_BINDINGS(rnn) {
  using namespace dlcore;
  py::enum_<RnnMode>(m, "RnnMode")
      .value("rnn_tanh", RnnMode::rnn_tanh)
      .value("rnn_relu", RnnMode::rnn_relu)
      .value("lstm", RnnMode::lstm)
      .value("gru", RnnMode::gru);

  // Returns (output (T,N,H), states (T+1,N,H), cell_states (T+1,N,H) or None, workspace or None).
  // save=False (inference): states and cell_states are (2,N,H), final state in slot T % 2, and
  // the workspace is None.
  m.def("rnn_forward", [](RnnMode mode, py::handle x, py::handle h0, py::handle c0, py::handle w_ih,
                          py::handle w_hh, py::handle b_ih, py::handle b_hh, py::handle lengths,
                          bool reverse, bool save) {
    FwdCall c = prep_forward(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, save);
    {
      py::gil_scoped_release nogil;
      run_forward(mode, c, save);
    }
    return py::make_tuple(c.yo, c.So, c.Co, c.wso);
  }, py::arg("mode"), py::arg("input"), py::arg("h0"), py::arg("c0"), py::arg("weight_ih"),
     py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"), py::arg("lengths"),
     py::arg("reverse"), py::arg("save") = true);

  // Both directions of a bidirectional layer over the same input at once (one per thread):
  // h0 / c0 / weights / biases are (forward, reverse) pairs (items may be None as in
  // rnn_forward). Returns the two rnn_forward results, forward direction first.
  m.def("rnn_forward_bidir", [](RnnMode mode, py::handle x, py::tuple h0, py::tuple c0, py::tuple w_ih,
                                py::tuple w_hh, py::tuple b_ih, py::tuple b_hh, py::handle lengths,
                                bool save) {
    FwdCall c[2];
    for (int d = 0; d < 2; ++d)
      c[d] = prep_forward(mode, x, h0[d], c0[d], w_ih[d], w_hh[d], b_ih[d], b_hh[d], lengths, d == 1, save);
    {
      py::gil_scoped_release nogil;
      both_directions(c[0].x, c[0].wh, [&](int d) { run_forward(mode, c[d], save); });
    }
    return py::make_tuple(py::make_tuple(c[0].yo, c[0].So, c[0].Co, c[0].wso),
                          py::make_tuple(c[1].yo, c[1].So, c[1].Co, c[1].wso));
  }, py::arg("mode"), py::arg("input"), py::arg("h0"), py::arg("c0"), py::arg("weight_ih"),
     py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"), py::arg("lengths"),
     py::arg("save") = true);

  // Returns (grad_input or None, grad_h0, grad_c0 or None, grad_weight_ih, grad_weight_hh,
  //          grad_bias_ih or None, grad_bias_hh or None).
  m.def("rnn_backward", [](RnnMode mode, py::handle x, py::handle w_ih, py::handle w_hh, bool has_bias,
                           py::handle lengths, bool reverse, py::handle S, py::handle C, py::handle ws,
                           py::handle dy, py::handle dhT, py::handle dcT, bool need_dx) {
    BwdCall c = prep_backward(mode, x, w_ih, w_hh, has_bias, lengths, reverse, S, C, ws, dy, dhT, dcT, need_dx);
    {
      py::gil_scoped_release nogil;
      run_backward(mode, c);
    }
    return bwd_result(c);
  }, py::arg("mode"), py::arg("input"), py::arg("weight_ih"), py::arg("weight_hh"), py::arg("has_bias"),
     py::arg("lengths"), py::arg("reverse"), py::arg("states"), py::arg("cell_states"),
     py::arg("workspace"), py::arg("grad_output"), py::arg("grad_h_n"), py::arg("grad_c_n"),
     py::arg("need_grad_input"));

  // Backward of rnn_forward_bidir: every per-direction argument is a (forward, reverse) pair.
  // Returns (grad_input (the sum over both directions) or None, then the six other rnn_backward
  // results of the forward direction, then those of the reverse direction).
  m.def("rnn_backward_bidir", [](RnnMode mode, py::handle x, py::tuple w_ih, py::tuple w_hh, bool has_bias,
                                 py::handle lengths, py::tuple S, py::tuple C, py::tuple ws, py::tuple dy,
                                 py::tuple dhT, py::tuple dcT, bool need_dx) {
    BwdCall c[2];
    for (int d = 0; d < 2; ++d)
      c[d] = prep_backward(mode, x, w_ih[d], w_hh[d], has_bias, lengths, d == 1, S[d], C[d], ws[d], dy[d],
                           dhT[d], dcT[d], need_dx);
    {
      py::gil_scoped_release nogil;
      both_directions(c[0].x, c[0].wh, [&](int d) { run_backward(mode, c[d]); });
      if (need_dx) {  // grad_input = forward direction's + reverse direction's (elementwise)
        const int64_t n = c[0].dx.numel();
        if (c[0].dx.device != Device::cpu) {
          binary(BinaryOp::add, c[0].dx, c[1].dx, c[0].dx);
        } else if (c[0].dx.dtype == DType::f32) {
          float* a = c[0].dx.ptr<float>();
          const float* b = c[1].dx.ptr<float>();
          parallel_for(0, n, 1 << 16, [&](int64_t i0, int64_t i1) { for (int64_t i = i0; i < i1; ++i) a[i] += b[i]; });
        } else {
          double* a = c[0].dx.ptr<double>();
          const double* b = c[1].dx.ptr<double>();
          parallel_for(0, n, 1 << 16, [&](int64_t i0, int64_t i1) { for (int64_t i = i0; i < i1; ++i) a[i] += b[i]; });
        }
      }
    }
    return py::make_tuple(c[0].dxo, c[0].dh0o, c[0].dc0o, c[0].dwio, c[0].dwho, c[0].dbio, c[0].dbho,
                          c[1].dh0o, c[1].dc0o, c[1].dwio, c[1].dwho, c[1].dbio, c[1].dbho);
  }, py::arg("mode"), py::arg("input"), py::arg("weight_ih"), py::arg("weight_hh"), py::arg("has_bias"),
     py::arg("lengths"), py::arg("states"), py::arg("cell_states"), py::arg("workspace"),
     py::arg("grad_output"), py::arg("grad_h_n"), py::arg("grad_c_n"), py::arg("need_grad_input"));

  // One fused cell step on the device of xg (CPU or CUDA): returns (h_next, c_next or None,
  // ws or None, y).
  m.def("rnn_cell_forward", [](RnnMode mode, py::handle xg, py::handle hg, py::handle b_ih, py::handle b_hh,
                               py::handle h_prev, py::handle c_prev, py::handle lengths, int64_t t) {
    const char* op = "rnn_cell_forward";
    View xv = to_view(xg, op, "xg"), hv = to_view(hg, op, "hg"), bi = opt_view(b_ih, op, "b_ih"),
         bh = opt_view(b_hh, op, "b_hh"), hp = to_view(h_prev, op, "h_prev"), cp = opt_view(c_prev, op, "c_prev"),
         lv = opt_view(lengths, op, "lengths");
    DLCORE_CHECK(hp.ndim == 2, ValueError, op, ": h_prev must be 2-D, got ", hp.shape_string());
    const int64_t N = hp.shape[0], H = hp.shape[1], K = rnn_saved(mode);
    const bool lstm = mode == RnnMode::lstm;
    py::object hn = alloc(xv.device, xv.dtype, {N, H}), cn = opt_alloc(lstm, xv.device, xv.dtype, {N, H}),
               ws = opt_alloc(K > 0, xv.device, xv.dtype, {N, K * H}), y = alloc(xv.device, xv.dtype, {N, H});
    View hnv = to_view(hn, op, "h_next", true), cnv = opt_out(cn, op, "c_next"), wsv = opt_out(ws, op, "ws"),
         yv = to_view(y, op, "y", true);
    {
      py::gil_scoped_release nogil;
      rnn_cell_forward(mode, xv, hv, bi, bh, hp, cp, lv, t, hnv, cnv, wsv, yv);
    }
    return py::make_tuple(hn, cn, ws, y);
  }, py::arg("mode"), py::arg("xg"), py::arg("hg"), py::arg("b_ih"), py::arg("b_hh"), py::arg("h_prev"),
     py::arg("c_prev"), py::arg("lengths"), py::arg("t"));

  // Its backward: returns (dxg, dhg or None, dh_prev (part not through W_hh), dc_prev or None).
  m.def("rnn_cell_backward", [](RnnMode mode, py::handle ws, py::handle h_prev, py::handle c_prev,
                                py::handle h_next, py::handle c_next, py::handle dy, py::handle dh,
                                py::handle dc, py::handle lengths, int64_t t) {
    const char* op = "rnn_cell_backward";
    View wsv = opt_view(ws, op, "ws"), hp = to_view(h_prev, op, "h_prev"), cp = opt_view(c_prev, op, "c_prev"),
         hn = to_view(h_next, op, "h_next"), cn = opt_view(c_next, op, "c_next"), dyv = opt_view(dy, op, "dy"),
         dhv = opt_view(dh, op, "dh"), dcv = opt_view(dc, op, "dc"), lv = opt_view(lengths, op, "lengths");
    DLCORE_CHECK(hp.ndim == 2, ValueError, op, ": h_prev must be 2-D, got ", hp.shape_string());
    const int64_t N = hp.shape[0], H = hp.shape[1], G = rnn_gates(mode);
    const bool lstm = mode == RnnMode::lstm, gru = mode == RnnMode::gru;
    py::object dxg = alloc(hp.device, hp.dtype, {N, G * H}), dhg = opt_alloc(gru, hp.device, hp.dtype, {N, G * H}),
               dhp = alloc(hp.device, hp.dtype, {N, H}), dcp = opt_alloc(lstm, hp.device, hp.dtype, {N, H});
    View dxv = to_view(dxg, op, "dxg", true), dhgv = opt_out(dhg, op, "dhg"), dhpv = to_view(dhp, op, "dh_prev", true),
         dcpv = opt_out(dcp, op, "dc_prev");
    {
      py::gil_scoped_release nogil;
      rnn_cell_backward(mode, wsv, hp, cp, hn, cn, dyv, dhv, dcv, lv, t, dxv, dhgv, dhpv, dcpv);
    }
    return py::make_tuple(dxg, dhg, dhp, dcp);
  }, py::arg("mode"), py::arg("ws"), py::arg("h_prev"), py::arg("c_prev"), py::arg("h_next"), py::arg("c_next"),
     py::arg("dy"), py::arg("dh"), py::arg("dc"), py::arg("lengths"), py::arg("t"));
}
