#include "core/array.h"

#include <algorithm>
#include <cstring>

#include "core/device.h"
#include "core/dispatch.h"
#include "core/errors.h"
#include "core/shape.h"
#include "ops/elementwise.h"

namespace dlcore {

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int i = (int)shape.size() - 1; i >= 0; --i) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

int64_t checked_numel(const Shape& shape, const char* op) {
  DLCORE_CHECK(shape.size() <= (size_t)kMaxDims, ValueError, op, ": shape ", shape_str(shape), " has ",
               shape.size(), " dimensions; dlcore supports at most ", kMaxDims);
  int64_t n = 1;
  for (int64_t s : shape) {
    DLCORE_CHECK(s >= 0, ValueError, op, ": negative dimension in shape ", shape_str(shape));
    DLCORE_CHECK(s == 0 || n <= (int64_t(1) << 62) / s, ValueError, op, ": shape ", shape_str(shape),
                 " has too many elements");
    n *= s;
  }
  return n;
}

namespace {

Array with_shape(const Array& base, const Shape& shape, const Shape& strides, int64_t offset) {
  Array r;
  r.storage = base.storage;
  r.dtype = base.dtype;
  r.writable = base.writable;
  r.ndim = (int)shape.size();
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = shape[i];
    r.strides[i] = strides[i];
  }
  r.offset = offset;
  return r;
}

int dim_index(int64_t d, int ndim, const char* op, const Array& a) {
  int n = std::max(ndim, 1);
  DLCORE_CHECK(d >= -n && d < n, IndexError, op, ": dim ", d, " is out of range for a tensor of shape ",
               shape_str(a.shape, a.ndim), " (expected a dim in [", -n, ", ", n - 1, "])");
  return (int)(d < 0 ? d + n : d);
}

// Lowest and highest element offsets (relative to a.offset) that a's elements reach.
void extent(const Array& a, int64_t& lo, int64_t& hi) {
  lo = hi = 0;
  for (int i = 0; i < a.ndim; ++i) {
    if (a.shape[i] == 0) {
      lo = hi = 0;
      return;
    }
    int64_t span = a.strides[i] * (a.shape[i] - 1);
    (span < 0 ? lo : hi) += span;
  }
}

}  // namespace

// ---- creation -----------------------------------------------------------------------------------

namespace {
Array fresh(Device device, DType dtype, const Shape& shape, bool zero, const char* op) {
  int64_t n = checked_numel(shape, op);
  Array r;
  r.storage = new_storage(device, (size_t)(n * dtype_size(dtype)), zero);
  r.dtype = dtype;
  Shape st = contiguous_strides(shape);
  r.ndim = (int)shape.size();
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = shape[i];
    r.strides[i] = st[i];
  }
  return r;
}
}  // namespace

Array empty(Device device, DType dtype, const Shape& shape) { return fresh(device, dtype, shape, false, "empty"); }

Array zeros(Device device, DType dtype, const Shape& shape) { return fresh(device, dtype, shape, true, "zeros"); }

Array full(Device device, DType dtype, const Shape& shape, double value) {
  Array r = empty(device, dtype, shape);
  fill(r.view(), value);
  return r;
}

Array over_storage(std::shared_ptr<Storage> storage, DType dtype, const Shape& shape, const Shape& strides,
                   int64_t offset, bool writable) {
  checked_numel(shape, "array");
  Array r;
  r.storage = std::move(storage);
  r.dtype = dtype;
  r.writable = writable;
  r.ndim = (int)shape.size();
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = shape[i];
    r.strides[i] = strides[i];
  }
  r.offset = offset;
  int64_t lo, hi;
  extent(r, lo, hi);
  if (r.numel() > 0)
    DLCORE_CHECK(offset + lo >= 0 && (offset + hi + 1) * r.itemsize() <= (int64_t)r.storage->bytes, ValueError,
                 "array: shape ", shape_str(shape), " with strides ", shape_str(strides), " and offset ", offset,
                 " reaches outside its memory of ", r.storage->bytes, " bytes");
  return r;
}

// ---- views ------------------------------------------------------------------------------------

Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape s = requested;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      DLCORE_CHECK(infer < 0, ValueError, op, ": only one dimension can be -1, got ", shape_str(requested));
      infer = (int)i;
    } else {
      DLCORE_CHECK(s[i] >= 0, ValueError, op, ": invalid size ", s[i], " in shape ", shape_str(requested));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    DLCORE_CHECK(known != 0 && numel % known == 0, ValueError, op, ": cannot reshape a tensor of shape ",
                 shape_str(from), " (", numel, " elements) into ", shape_str(requested));
    s[infer] = numel / known;
  } else {
    DLCORE_CHECK(known == numel, ValueError, op, ": cannot reshape a tensor of shape ", shape_str(from), " (",
                 numel, " elements) into ", shape_str(requested), " (", known, " elements)");
  }
  checked_numel(s, op);
  return s;
}

std::optional<Shape> view_strides(const Array& a, const Shape& shape) {
  int n = (int)shape.size();
  if (a.numel() <= 1) return contiguous_strides(shape);
  Shape out(n);
  // Walk a's dims from the last, in runs that are contiguous among themselves ("chunks"); each
  // chunk must be covered exactly by a run of the new dims, whose strides follow from the
  // chunk's innermost stride.
  int vd = n - 1;
  int64_t base = a.strides[a.ndim - 1], chunk = 1, vnum = 1;
  for (int td = a.ndim - 1; td >= 0; --td) {
    chunk *= a.shape[td];
    bool chunk_ends = td == 0 || (a.shape[td - 1] != 1 && a.strides[td - 1] != chunk * base);
    if (!chunk_ends) continue;
    while (vd >= 0 && (vnum < chunk || shape[vd] == 1)) {
      out[vd] = vnum * base;
      vnum *= shape[vd];
      --vd;
    }
    if (vnum != chunk) return std::nullopt;
    if (td > 0) {
      base = a.strides[td - 1];
      chunk = vnum = 1;
    }
  }
  if (vd != -1) return std::nullopt;
  return out;
}

Array view(const Array& a, const Shape& shape) {
  Shape s = infer_shape(shape, a.numel(), "view", a.shape_vec());
  auto st = view_strides(a, s);
  DLCORE_CHECK(st.has_value(), ValueError, "view: a tensor of shape ", shape_str(a.shape, a.ndim),
               " and strides ", shape_str(a.strides, a.ndim), " cannot be viewed as ", shape_str(s),
               " without a copy (its memory is not laid out for it); use reshape(), which copies "
               "when it must, or call contiguous() first");
  return with_shape(a, s, *st, a.offset);
}

Array reshape(const Array& a, const Shape& shape) {
  Shape s = infer_shape(shape, a.numel(), "reshape", a.shape_vec());
  auto st = view_strides(a, s);
  if (st) return with_shape(a, s, *st, a.offset);
  Array c = contiguous(a);
  return with_shape(c, s, contiguous_strides(s), c.offset);
}

Array permute(const Array& a, const std::vector<int64_t>& dims) {
  DLCORE_CHECK((int)dims.size() == a.ndim, ValueError, "permute: ", dims.size(), " dims given for a tensor of shape ",
               shape_str(a.shape, a.ndim), " (", a.ndim, " dims)");
  Shape s(a.ndim), st(a.ndim);
  bool seen[kMaxDims] = {false};
  for (int i = 0; i < a.ndim; ++i) {
    int d = dim_index(dims[i], a.ndim, "permute", a);
    DLCORE_CHECK(!seen[d], ValueError, "permute: dim ", dims[i], " appears twice in ", shape_str(dims),
                 " (tensor of shape ", shape_str(a.shape, a.ndim), ")");
    seen[d] = true;
    s[i] = a.shape[d];
    st[i] = a.strides[d];
  }
  return with_shape(a, s, st, a.offset);
}

Array transpose(const Array& a, int64_t d0, int64_t d1) {
  if (a.ndim == 0) {
    dim_index(d0, 0, "transpose", a);
    dim_index(d1, 0, "transpose", a);
    return a;
  }
  int i = dim_index(d0, a.ndim, "transpose", a), j = dim_index(d1, a.ndim, "transpose", a);
  Shape s = a.shape_vec(), st = a.strides_vec();
  std::swap(s[i], s[j]);
  std::swap(st[i], st[j]);
  return with_shape(a, s, st, a.offset);
}

Array expand(const Array& a, const Shape& shape) {
  int n = (int)shape.size(), lead = n - a.ndim;
  DLCORE_CHECK(lead >= 0, ValueError, "expand: the target shape ", shape_str(shape), " has fewer dims than the tensor ",
               shape_str(a.shape, a.ndim));
  Shape s(n), st(n);
  for (int i = 0; i < n; ++i) {
    if (i < lead) {
      DLCORE_CHECK(shape[i] >= 0, ValueError, "expand: ", shape[i], " is not allowed for the new leading dims of ",
                   shape_str(shape), " (tensor shape ", shape_str(a.shape, a.ndim), ")");
      s[i] = shape[i];
      st[i] = 0;
      continue;
    }
    int64_t have = a.shape[i - lead], want = shape[i] == -1 ? have : shape[i];
    DLCORE_CHECK(want == have || have == 1, ValueError, "expand: cannot expand shape ", shape_str(a.shape, a.ndim),
                 " to ", shape_str(shape), " (dim ", i, ": ", have, " vs ", shape[i], ")");
    DLCORE_CHECK(want >= 0, ValueError, "expand: invalid size ", shape[i], " in ", shape_str(shape));
    s[i] = want;
    st[i] = (have == 1 && want != 1) ? 0 : a.strides[i - lead];
  }
  checked_numel(s, "expand");
  Array r = with_shape(a, s, st, a.offset);
  for (int i = 0; i < n; ++i)  // like NumPy's broadcast_to: several elements, one location: read-only
    if (st[i] == 0 && s[i] > 1) r.writable = false;
  return r;
}

Array slice(const Array& a, int dim, int64_t start, int64_t step, int64_t length) {
  // start, step, length are already normalised (0 <= start, start + (length-1)*step in range)
  Shape s = a.shape_vec(), st = a.strides_vec();
  int64_t off = a.offset + (length > 0 ? start * a.strides[dim] : 0);
  s[dim] = length;
  st[dim] = a.strides[dim] * step;
  return with_shape(a, s, st, off);
}

Array select(const Array& a, int64_t dim, int64_t index) {
  DLCORE_CHECK(a.ndim > 0, IndexError, "select: a 0-d tensor cannot be indexed");
  int d = dim_index(dim, a.ndim, "select", a);
  int64_t n = a.shape[d];
  DLCORE_CHECK(index >= -n && index < n, IndexError, "index ", index, " is out of bounds for dimension ", d,
               " with size ", n);
  if (index < 0) index += n;
  Shape s, st;
  for (int i = 0; i < a.ndim; ++i)
    if (i != d) {
      s.push_back(a.shape[i]);
      st.push_back(a.strides[i]);
    }
  return with_shape(a, s, st, a.offset + index * a.strides[d]);
}

Array unsqueeze(const Array& a, int64_t dim) {
  int n = a.ndim + 1;
  DLCORE_CHECK(dim >= -n && dim < n, IndexError, "unsqueeze: dim ", dim, " is out of range for a tensor of shape ",
               shape_str(a.shape, a.ndim), " (expected a dim in [", -n, ", ", n - 1, "])");
  DLCORE_CHECK(n <= kMaxDims, ValueError, "unsqueeze: dlcore supports at most ", kMaxDims, " dims");
  int d = (int)(dim < 0 ? dim + n : dim);
  Shape s = a.shape_vec(), st = a.strides_vec();
  int64_t inner = d < a.ndim ? a.strides[d] * a.shape[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, inner);
  return with_shape(a, s, st, a.offset);
}

Array squeeze(const Array& a, const std::vector<int64_t>& dims) {
  bool drop[kMaxDims] = {false};
  if (dims.empty()) {
    for (int i = 0; i < a.ndim; ++i) drop[i] = a.shape[i] == 1;
  } else {
    for (int64_t d : dims) {
      if (a.ndim == 0) {
        dim_index(d, 0, "squeeze", a);
        continue;
      }
      int i = dim_index(d, a.ndim, "squeeze", a);
      drop[i] = a.shape[i] == 1;  // like PyTorch: squeezing a dim that is not 1 leaves it
    }
  }
  Shape s, st;
  for (int i = 0; i < a.ndim; ++i)
    if (!drop[i]) {
      s.push_back(a.shape[i]);
      st.push_back(a.strides[i]);
    }
  return with_shape(a, s, st, a.offset);
}

Array narrow(const Array& a, int64_t dim, int64_t start, int64_t length) {
  DLCORE_CHECK(a.ndim > 0, IndexError, "narrow: a 0-d tensor cannot be narrowed");
  int d = dim_index(dim, a.ndim, "narrow", a);
  int64_t n = a.shape[d];
  if (start < 0) start += n;
  DLCORE_CHECK(start >= 0 && start <= n, IndexError, "narrow: start ", start, " is out of range for dim ", d,
               " of size ", n, " (tensor shape ", shape_str(a.shape, a.ndim), ")");
  DLCORE_CHECK(length >= 0 && start + length <= n, ValueError, "narrow: start (", start, ") + length (", length,
               ") exceeds dim ", d, " of size ", n, " (tensor shape ", shape_str(a.shape, a.ndim), ")");
  return slice(a, d, start, 1, length);
}

Array as_strided(const Array& a, const Shape& shape, const Shape& strides, std::optional<int64_t> offset) {
  DLCORE_CHECK(shape.size() == strides.size(), ValueError, "as_strided: shape ", shape_str(shape), " and strides ",
               shape_str(strides), " have different lengths");
  checked_numel(shape, "as_strided");
  Array r = with_shape(a, shape, strides, offset ? *offset : a.offset);
  int64_t lo, hi;
  extent(r, lo, hi);
  if (r.numel() > 0)
    DLCORE_CHECK(r.offset + lo >= 0 && (r.offset + hi + 1) * r.itemsize() <= (int64_t)r.storage->bytes, ValueError,
                 "as_strided: shape ", shape_str(shape), " with strides ", shape_str(strides), " and offset ",
                 r.offset, " reaches outside the tensor's storage of ", r.storage->bytes / r.itemsize(), " elements");
  return r;
}

// ---- copies -------------------------------------------------------------------------------------

Array contiguous(const Array& a) {
  if (a.is_contiguous()) return a;
  return clone(a);
}

Array clone(const Array& a) {
  Array r = empty(a.device(), a.dtype, a.shape_vec());
  copy_(r, a, "clone");
  return r;
}

Array astype(const Array& a, DType dtype) {
  Array r = empty(a.device(), dtype, a.shape_vec());
  copy_(r, a, "astype");
  return r;
}

Array to_device(const Array& a, Device device) {
  if (a.device() == device) return a;
  Array r = empty(device, a.dtype, a.shape_vec());
  copy_(r, a, "to");
  return r;
}

bool may_overlap(const Array& a, const Array& b) {
  if (!a.storage || !b.storage || a.storage->data != b.storage->data) return false;
  if (a.numel() == 0 || b.numel() == 0) return false;
  int64_t alo, ahi, blo, bhi;
  extent(a, alo, ahi);
  extent(b, blo, bhi);
  int64_t a0 = (a.offset + alo) * a.itemsize(), a1 = (a.offset + ahi + 1) * a.itemsize();
  int64_t b0 = (b.offset + blo) * b.itemsize(), b1 = (b.offset + bhi + 1) * b.itemsize();
  return a0 < b1 && b0 < a1;
}

void check_writable(const Array& a, const char* op, const char* arg) {
  DLCORE_CHECK(a.writable, ValueError, op, ": '", arg, "' is read-only (a view of an expanded / broadcast "
               "tensor, or memory shared with a read-only NumPy array); write into a copy (clone()) instead");
  for (int i = 0; i < a.ndim; ++i)
    DLCORE_CHECK(a.strides[i] != 0 || a.shape[i] <= 1, ValueError, op, ": '", arg, "' is read-only: several of its "
                 "elements are one memory location (an expanded / broadcast view of shape ", shape_str(a.shape, a.ndim),
                 "); write into a copy (clone()) instead");
  ++a.storage->version;
}

void copy_(const Array& dst, const Array& src, const char* op) {
  check_writable(dst, op, "self");
  Shape want = broadcast_shapes(src.shape_vec(), dst.shape_vec(), op);
  DLCORE_CHECK(want == dst.shape_vec(), ValueError, op, ": a value of shape ", shape_str(src.shape, src.ndim),
               " cannot be broadcast to the destination's shape ", shape_str(dst.shape, dst.ndim));
  if (dst.numel() == 0) return;
  if (src.device() == dst.device()) {
    if (may_overlap(src, dst)) {  // read everything first (t[1:] = t[:-1])
      Array tmp = clone(src);
      copy(tmp.view(), dst.view());
      return;
    }
    copy(src.view(), dst.view());
    return;
  }
  // Across devices: make the source dense in dst's dtype and shape on its own device, move
  // the bytes, then scatter into dst on its device when dst is not contiguous.
  auto& mem = device_memory();
  Array s = src;
  if (s.dtype != dst.dtype || s.shape_vec() != want || !s.is_contiguous()) {
    Array d = empty(s.device(), dst.dtype, want);
    copy(s.view(), d.view());
    s = d;
  }
  Array d = dst.is_contiguous() ? dst : empty(dst.device(), dst.dtype, want);
  size_t bytes = (size_t)(d.numel() * d.itemsize());
  if (dst.device() == Device::cuda)
    checked_entry(mem.copy_h2d, Device::cuda, "copy to device")(d.data(), s.data(), bytes);
  else
    checked_entry(mem.copy_d2h, Device::cuda, "copy to host")(d.data(), s.data(), bytes);
  if (d.storage != dst.storage) copy(d.view(), dst.view());
}

void fill_(const Array& dst, double value, const char* op) {
  check_writable(dst, op, "self");
  if (dst.numel()) fill(dst.view(), value);
}

}  // namespace dlcore
