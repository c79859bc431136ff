// Bindings: CudaArray, the device-memory array behind CUDA tensors, and host <-> device moves.
// Always compiled; in a CPU-only build the DeviceMemoryTable is empty, device_count() is 0 and
// creating a CudaArray raises "built without CUDA".
#include <memory>

#include "bindings/common.h"
#include "core/device.h"
#include "ops/elementwise.h"

namespace dlcore {
namespace {

struct CudaArray {
  std::shared_ptr<void> storage;
  void* data = nullptr;
  DType dtype = DType::f32;
  Shape shape, strides;  // strides in elements

  int64_t numel() const {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  View view() const {
    View v;
    v.data = data;
    v.dtype = dtype;
    v.device = Device::cuda;
    v.ndim = (int)shape.size();
    for (int i = 0; i < v.ndim; ++i) {
      v.shape[i] = shape[i];
      v.strides[i] = strides[i];
    }
    return v;
  }
};

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int i = (int)shape.size() - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

std::shared_ptr<CudaArray> new_cuda_array(DType dtype, const Shape& shape) {
  auto& mem = device_memory();
  DLCORE_CHECK(mem.alloc != nullptr, ValueError, "CUDA: dlcore was built without CUDA support");
  DLCORE_CHECK(mem.device_count() > 0, ValueError, "CUDA: no CUDA device is available");
  DLCORE_CHECK(shape.size() <= (size_t)kMaxDims, ValueError, "CUDA: at most ", kMaxDims, " dims");
  auto a = std::make_shared<CudaArray>();
  a->dtype = dtype;
  a->shape = shape;
  a->strides = contiguous_strides(shape);
  size_t bytes = (size_t)(a->numel() * dtype_size(dtype));
  void* p = mem.alloc(bytes);
  auto freer = mem.free;
  a->storage = std::shared_ptr<void>(p, [freer](void* q) { freer(q); });
  a->data = p;
  return a;
}

bool is_contiguous(const CudaArray& a) { return a.view().is_contiguous(); }

}  // namespace
}  // namespace dlcore

DLCORE_BINDINGS(device) {
  using namespace dlcore;
  py::class_<CudaArray, std::shared_ptr<CudaArray>>(m, "CudaArray")
      .def_property_readonly("shape", [](const CudaArray& a) { return py::tuple(py::cast(a.shape)); })
      .def_property_readonly("ndim", [](const CudaArray& a) { return (int)a.shape.size(); })
      .def_property_readonly("size", &CudaArray::numel)
      .def_property_readonly("dtype", [](const CudaArray& a) { return numpy_dtype(a.dtype); })
      .def("reshape", [](const CudaArray& a, std::vector<int64_t> shape) {
        int64_t known = 1, neg = -1;
        for (size_t i = 0; i < shape.size(); ++i) {
          if (shape[i] == -1) neg = (int64_t)i; else known *= shape[i];
        }
        if (neg >= 0 && known) shape[neg] = a.numel() / known;
        int64_t n = 1;
        for (auto s : shape) n *= s;
        DLCORE_CHECK(n == a.numel(), ValueError, "reshape (CUDA): cannot reshape ", shape_str(a.shape),
                     " into ", shape_str(shape));
        DLCORE_CHECK(is_contiguous(a), ValueError, "reshape (CUDA): the array is not contiguous; call contiguous() first");
        auto r = std::make_shared<CudaArray>(a);
        r->shape = shape;
        r->strides = contiguous_strides(shape);
        return r;
      })
      .def("transpose", [](const CudaArray& a, std::vector<int64_t> axes) {
        DLCORE_CHECK(axes.size() == a.shape.size(), ValueError, "transpose (CUDA): axes don't match the shape");
        auto r = std::make_shared<CudaArray>(a);
        for (size_t i = 0; i < axes.size(); ++i) {
          r->shape[i] = a.shape[axes[i]];
          r->strides[i] = a.strides[axes[i]];
        }
        return r;
      });

  cuda_hooks().is_device_array = [](py::handle h) { return py::isinstance<CudaArray>(h); };
  cuda_hooks().view_of = [](py::handle h) { return h.cast<CudaArray&>().view(); };
  cuda_hooks().alloc = [](DType d, const Shape& s) { return py::cast(new_cuda_array(d, s)); };

  m.def("cuda_device_count", [] {
    auto& mem = device_memory();
    return mem.device_count ? mem.device_count() : 0;
  });
  m.def("cuda_from_host", [](py::handle host) {
    View hv = to_view(host, "to('cuda')", "tensor");
    py::array c = py::array::ensure(host, py::array::c_style);
    auto a = new_cuda_array(hv.dtype, hv.shape_vec());
    size_t bytes = (size_t)(a->numel() * dtype_size(a->dtype));
    { py::gil_scoped_release nogil; device_memory().copy_h2d(a->data, c.data(), bytes); }
    return a;
  });
  m.def("cuda_to_host", [](std::shared_ptr<CudaArray> a) {
    std::shared_ptr<CudaArray> src = a;
    if (!is_contiguous(*a)) {  // gather into a contiguous device buffer first
      src = new_cuda_array(a->dtype, a->shape);
      View sv = a->view(), dv = src->view();
      copy(sv, dv);
    }
    py::array out(numpy_dtype(a->dtype), std::vector<py::ssize_t>(a->shape.begin(), a->shape.end()));
    size_t bytes = (size_t)(a->numel() * dtype_size(a->dtype));
    { py::gil_scoped_release nogil; device_memory().copy_d2h(out.mutable_data(), src->data, bytes); }
    return out;
  });
}
