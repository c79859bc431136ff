// View: the one description of tensor memory that every kernel entry point receives.
// A View is a raw pointer plus dtype, device, shape and strides (in ELEMENTS, not bytes).
// It owns nothing: the Python side (NumPy array or CudaArray) keeps the memory alive.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <sstream>

#if defined(__CUDACC__)
#define DLCORE_HD __host__ __device__ __forceinline__
#else
#define DLCORE_HD inline
#endif

// DLCORE_AHD = DLCORE_HD plus always_inline on the host, for per-element math that is also
// compiled into the ISA-specific objects csrc/kernels/<family>_<isa>.cpp: forced inlining means
// no out-of-line copy built for one ISA can be picked by the linker for another (so such math
// calls builtins such as __builtin_sqrt rather than std:: library overloads).
#if defined(__CUDACC__)
#define DLCORE_AHD __host__ __device__ __forceinline__
#else
#define DLCORE_AHD inline __attribute__((always_inline))
#endif

namespace dlcore {

enum class DType : int8_t { f32 = 0, f64 = 1, i64 = 2, b8 = 3 };
enum class Device : int8_t { cpu = 0, cuda = 1 };
constexpr int kMaxDims = 8;

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
    case DType::b8: return "bool";
  }
  return "?";
}
inline int64_t dtype_size(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::b8: return 1;
  }
  return 0;
}
inline bool is_float(DType d) { return d == DType::f32 || d == DType::f64; }

using Shape = std::vector<int64_t>;

inline std::string shape_str(const int64_t* s, int n) {
  std::ostringstream o;
  o << "(";
  for (int i = 0; i < n; ++i) o << (i ? ", " : "") << s[i];
  if (n == 1) o << ",";
  o << ")";
  return o.str();
}
inline std::string shape_str(const Shape& s) { return shape_str(s.data(), (int)s.size()); }

struct View {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  int ndim = 0;
  int64_t shape[kMaxDims] = {0};
  int64_t strides[kMaxDims] = {0};

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  bool is_contiguous() const {
    if (numel() == 0) return true;  // no element to place (NumPy gives such arrays 0 strides)
    int64_t expect = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }
  Shape shape_vec() const { return Shape(shape, shape + ndim); }
  std::string shape_string() const { return shape_str(shape, ndim); }
  template <class T> T* ptr() const { return static_cast<T*>(data); }
};

}  // namespace dlcore
