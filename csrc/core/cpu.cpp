#include "core/cpu.h"

#include <atomic>
#include <cstdlib>

#include "core/errors.h"

#if defined(DLCORE_X86)
#include <cpuid.h>
#endif

namespace dlcore {
namespace {

struct Features {
  bool avx2 = false, fma = false, avx512 = false;
};

#if defined(DLCORE_X86)
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}
#endif

Features detect() {
  Features f;
#if defined(DLCORE_X86)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & (1u << 27), fma = c & (1u << 12);
  if (!osxsave) return f;
  uint64_t xcr0 = xgetbv0();
  bool ymm_os = (xcr0 & 0x6) == 0x6;
  bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  bool avx2 = b & (1u << 5);
  bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
       avx512vl = b & (1u << 31);
  f.fma = fma && ymm_os;
  f.avx2 = avx2 && f.fma;
  f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
#endif
  return f;
}

const Features& features() {
  static Features f = detect();
  return f;
}

Isa initial_isa() {
  if (const char* v = std::getenv("DLCORE_ISA")) {
    if (*v) {
      Isa want = isa_from_name(v);
      // An unsupported forced ISA would crash with SIGILL: fall back to the best one instead
      // and let config() show what was chosen.
      if (cpu_supports(want)) return want;
    }
  }
  return best_isa();
}

std::atomic<int>& isa_slot() {
  static std::atomic<int> s{(int)initial_isa()};
  return s;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

Isa isa_from_name(const std::string& name) {
  if (name == "generic") return Isa::generic;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw ValueError(str("unknown ISA '", name, "': expected 'generic', 'avx2' or 'avx512'"));
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
    case Isa::avx2: return features().avx2;
    case Isa::avx512: return features().avx512;
  }
  return false;
}

Isa best_isa() {
  if (cpu_supports(Isa::avx512)) return Isa::avx512;
  if (cpu_supports(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

Isa current_isa() { return (Isa)isa_slot().load(std::memory_order_relaxed); }

void set_isa(Isa isa) {
  DLCORE_CHECK(cpu_supports(isa), ValueError, "set_isa: this CPU does not support '",
               isa_name(isa), "'");
  isa_slot().store((int)isa);
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (Isa i : {Isa::generic, Isa::avx2, Isa::avx512})
    if (cpu_supports(i)) out.push_back(isa_name(i));
  return out;
}

}  // namespace dlcore
