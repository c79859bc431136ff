// Array: dlcore's n-d array for every device, the storage behind every Tensor.
// memory (a shared Storage) + dtype + shape + strides (in elements) + offset (in elements from
// the storage's start). Views share the Storage and are computed here without copying; the
// shape rules of the view ops (reshape's -1 and viewability, permute, expand's broadcast,
// slicing, squeeze/unsqueeze, narrow, as_strided's bounds) are written once in array.cpp, and
// their errors name the op, the argument and the shapes.
// Kernels never see an Array: they take the View an Array gives (core/view.h).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/storage.h"
#include "core/view.h"

namespace dlcore {

struct Array {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::f32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {0};
  int64_t strides[kMaxDims] = {0};
  int64_t offset = 0;     // elements from storage->data to element [0, ..., 0]
  bool writable = true;   // false for memory shared from a read-only NumPy array

  Device device() const { return storage ? storage->device : Device::cpu; }
  int64_t itemsize() const { return dtype_size(dtype); }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  void* data() const { return static_cast<char*>(storage->data) + offset * itemsize(); }
  Shape shape_vec() const { return Shape(shape, shape + ndim); }
  Shape strides_vec() const { return Shape(strides, strides + ndim); }
  View view() const {
    View v;
    v.data = data();
    v.dtype = dtype;
    v.device = device();
    v.ndim = ndim;
    for (int i = 0; i < ndim; ++i) {
      v.shape[i] = shape[i];
      v.strides[i] = strides[i];
    }
    return v;
  }
  bool is_contiguous() const { return view().is_contiguous(); }
};

Shape contiguous_strides(const Shape& shape);
// Checks a shape given by a user (dims >= 0, at most kMaxDims) and returns its element count.
int64_t checked_numel(const Shape& shape, const char* op);

// ---- creation ----
Array empty(Device device, DType dtype, const Shape& shape);
Array zeros(Device device, DType dtype, const Shape& shape);
Array full(Device device, DType dtype, const Shape& shape, double value);
// A contiguous Array over existing Storage (e.g. foreign memory), checked against its bytes.
Array over_storage(std::shared_ptr<Storage> storage, DType dtype, const Shape& shape,
                   const Shape& strides, int64_t offset, bool writable);

// ---- views (share the storage) ----
// The shape that `requested` (with at most one -1) names for `numel` elements.
Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from);
// Strides for viewing `a` with `shape` (same numel) without a copy, or nullopt when its memory
// layout does not allow it.
std::optional<Shape> view_strides(const Array& a, const Shape& shape);
Array view(const Array& a, const Shape& shape);      // raises when a copy would be needed
Array reshape(const Array& a, const Shape& shape);   // a view when possible, else a copy
Array permute(const Array& a, const std::vector<int64_t>& dims);
Array transpose(const Array& a, int64_t d0, int64_t d1);
Array expand(const Array& a, const Shape& shape);    // -1 keeps a dim; new dims lead
Array slice(const Array& a, int dim, int64_t start, int64_t step, int64_t length);
Array select(const Array& a, int64_t dim, int64_t index);
Array unsqueeze(const Array& a, int64_t dim);
Array squeeze(const Array& a, const std::vector<int64_t>& dims);  // empty: every size-1 dim
Array narrow(const Array& a, int64_t dim, int64_t start, int64_t length);
Array as_strided(const Array& a, const Shape& shape, const Shape& strides, std::optional<int64_t> offset);

// ---- copies ----
Array contiguous(const Array& a);              // a itself when already contiguous
Array clone(const Array& a);                   // always a new contiguous copy
Array astype(const Array& a, DType dtype);     // a new contiguous copy in dtype
Array to_device(const Array& a, Device device);  // a itself when already there
// dst[...] = src, src broadcast to dst's shape, converted to dst's dtype, any two devices.
// When the two overlap in memory, src is read completely before dst is written.
void copy_(const Array& dst, const Array& src, const char* op = "copy_");
void fill_(const Array& dst, double value, const char* op = "fill_");
// Whether the two may touch the same bytes (same storage and overlapping address ranges).
bool may_overlap(const Array& a, const Array& b);
// The gate of every write into an existing Array: raises unless a may be written (not read-only,
// no element shared by several positions), then bumps its storage's version.
void check_writable(const Array& a, const char* op, const char* arg);

}  // namespace dlcore
