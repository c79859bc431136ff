// Errors: kernels and shape checks throw these; the bindings turn them into the matching
// Python exception (ValueError / TypeError / IndexError / RuntimeError; _C.OutOfMemoryError). Messages name the
// op, the argument and the shapes so that a user can act on them.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dlcore {

struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct IndexError : std::runtime_error { using std::runtime_error::runtime_error; };
// Device memory exhausted (even after the caching allocator gave its cached blocks back):
// _C.OutOfMemoryError, a RuntimeError like PyTorch's torch.OutOfMemoryError.
struct OutOfMemoryError : std::runtime_error { using std::runtime_error::runtime_error; };

namespace detail {
inline void cat(std::ostringstream&) {}
template <class T, class... R> void cat(std::ostringstream& o, const T& t, const R&... r) {
  o << t;
  cat(o, r...);
}
}  // namespace detail

template <class... A> std::string str(const A&... a) {
  std::ostringstream o;
  detail::cat(o, a...);
  return o.str();
}

}  // namespace dlcore

// DLCORE_CHECK(cond, ValueError, "op: argument 'x' has shape ", s, ...)
#define DLCORE_CHECK(cond, Exc, ...) \
  do {                               \
    if (!(cond)) throw ::dlcore::Exc(::dlcore::str(__VA_ARGS__)); \
  } while (0)
