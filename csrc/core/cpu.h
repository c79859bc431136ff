// CPU feature detection and the run-time ISA choice for kernels in csrc/kernels/.
// DLCORE_ISA=generic|avx2|avx512 forces a path (it must be supported by the CPU), and
// dlcore._C.set_isa() does the same from Python (tests run every supported path).
#pragma once
#include <string>
#include <type_traits>
#include <vector>

namespace dlcore {

// Bytes in one native vector register of the ISA this translation unit is compiled for: each
// csrc/kernels/<family>_<isa>.cpp has its own flags, so each gets its own value.
#if defined(__AVX512F__)
constexpr int kNativeVecBytes = 64;
#elif defined(__AVX__)
constexpr int kNativeVecBytes = 32;
#else
constexpr int kNativeVecBytes = 16;
#endif

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);  // throws ValueError on unknown names
bool cpu_supports(Isa isa);                  // cpuid + OS (xgetbv) support
Isa best_isa();
Isa current_isa();       // the ISA kernels dispatch on now
void set_isa(Isa isa);   // throws ValueError when the CPU lacks it
std::vector<std::string> supported_isas();

// One op family's table of hot loops for one ISA: a float and a double set, each a struct of
// function pointers; csrc/kernels/<family>_<isa>.cpp defines one constant table per ISA.
template <template <class> class Set> struct IsaKernelSets {
  Set<float> f32;
  Set<double> f64;
  template <class T> const Set<T>& get() const {
    if constexpr (std::is_same<T, double>::value) return f64;
    else return f32;
  }
};

// The table of the ISA kernels dispatch on now (current_isa()); generic when it has none.
template <class S> const S& pick_isa_set(const S& generic, const S* avx2, const S* avx512) {
  const Isa isa = current_isa();
  if (isa == Isa::avx512 && avx512) return *avx512;
  if (isa == Isa::avx2 && avx2) return *avx2;
  return generic;
}

}  // namespace dlcore
