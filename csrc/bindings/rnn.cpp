// Bindings: recurrent family (ops/rnn.h). One call runs one layer and one direction over a
// whole sequence; optional arguments are None.
#include "ops/rnn.h"

#include "bindings/common.h"

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
    const char* op = rnn_mode_name(mode);
    View xv = to_view(x, op, "input"), h0v = opt_view(h0, op, "h0"), c0v = opt_view(c0, op, "c0"),
         wi = to_view(w_ih, op, "weight_ih"), wh = to_view(w_hh, op, "weight_hh"),
         bi = opt_view(b_ih, op, "bias_ih"), bh = opt_view(b_hh, op, "bias_hh"),
         lv = opt_view(lengths, op, "lengths");
    RnnDims d = rnn_check(mode, xv, h0v, c0v, wi, wh, bi, bh, lv);
    py::object y = alloc(xv.device, xv.dtype, {d.T, d.N, d.H});
    const int64_t slots = save ? d.T + 1 : 2;
    py::object S = alloc(xv.device, xv.dtype, {slots, d.N, d.H});
    py::object C = opt_alloc(mode == RnnMode::lstm, xv.device, xv.dtype, {slots, d.N, d.H});
    py::object ws = opt_alloc(d.K > 0 && save, xv.device, xv.dtype, {d.T, d.N, d.K * d.H});
    View yv = to_view(y, op, "output", true), Sv = to_view(S, op, "states", true),
         Cv = opt_out(C, op, "cell states"), wsv = opt_out(ws, op, "workspace");
    {
      py::gil_scoped_release nogil;
      rnn_forward(mode, xv, h0v, c0v, wi, wh, bi, bh, lv, reverse, save, yv, Sv, Cv, wsv);
    }
    return py::make_tuple(y, S, C, ws);
  }, py::arg("mode"), py::arg("input"), py::arg("h0"), py::arg("c0"), py::arg("weight_ih"),
     py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"), py::arg("lengths"),
     py::arg("reverse"), py::arg("save") = true);

  // Returns (grad_input or None, grad_h0, grad_c0 or None, grad_weight_ih, grad_weight_hh,
  //          grad_bias_ih or None, grad_bias_hh or None).
  m.def("rnn_backward", [](RnnMode mode, py::handle x, py::handle w_ih, py::handle w_hh, bool has_bias,
                           py::handle lengths, bool reverse, py::handle S, py::handle C, py::handle ws,
                           py::handle dy, py::handle dhT, py::handle dcT, bool need_dx) {
    const char* op = rnn_mode_name(mode);
    View xv = to_view(x, op, "input"), wi = to_view(w_ih, op, "weight_ih"), wh = to_view(w_hh, op, "weight_hh"),
         lv = opt_view(lengths, op, "lengths"), Sv = to_view(S, op, "states"),
         Cv = opt_view(C, op, "cell states"), wsv = opt_view(ws, op, "workspace"),
         dyv = opt_view(dy, op, "grad_output"), dhv = opt_view(dhT, op, "grad_h_n"),
         dcv = opt_view(dcT, op, "grad_c_n");
    View none;
    RnnDims d = rnn_check(mode, xv, none, none, wi, wh, none, none, lv);
    const Device dev = xv.device;
    const DType dt = xv.dtype;
    const bool lstm = mode == RnnMode::lstm;
    py::object dx = opt_alloc(need_dx, dev, dt, {d.T, d.N, d.I});
    py::object dh0 = alloc(dev, dt, {d.N, d.H});
    py::object dc0 = opt_alloc(lstm, dev, dt, {d.N, d.H});
    py::object dwi = alloc(dev, dt, {d.G * d.H, d.I});
    py::object dwh = alloc(dev, dt, {d.G * d.H, d.H});
    py::object dbi = opt_alloc(has_bias, dev, dt, {d.G * d.H});
    py::object dbh = opt_alloc(has_bias, dev, dt, {d.G * d.H});
    View dxv = opt_out(dx, op, "grad_input"), dh0v = to_view(dh0, op, "grad_h0", true),
         dc0v = opt_out(dc0, op, "grad_c0"), dwiv = to_view(dwi, op, "grad_weight_ih", true),
         dwhv = to_view(dwh, op, "grad_weight_hh", true), dbiv = opt_out(dbi, op, "grad_bias_ih"),
         dbhv = opt_out(dbh, op, "grad_bias_hh");
    {
      py::gil_scoped_release nogil;
      rnn_backward(mode, xv, wi, wh, lv, reverse, Sv, Cv, wsv, dyv, dhv, dcv, dxv, dh0v, dc0v, dwiv,
                   dwhv, dbiv, dbhv);
    }
    return py::make_tuple(dx, dh0, dc0, dwi, dwh, dbi, dbh);
  }, py::arg("mode"), py::arg("input"), py::arg("weight_ih"), py::arg("weight_hh"), py::arg("has_bias"),
     py::arg("lengths"), py::arg("reverse"), py::arg("states"), py::arg("cell_states"),
     py::arg("workspace"), py::arg("grad_output"), py::arg("grad_h_n"), py::arg("grad_c_n"),
     py::arg("need_grad_input"));

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
