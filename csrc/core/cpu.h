// CPU feature detection and the run-time ISA choice for kernels in csrc/kernels/.
// DLCORE_ISA=generic|avx2|avx512 forces a path (it must be supported by the CPU), and
// dlcore._C.set_isa() does the same from Python (tests run every supported path).
#pragma once
#include <string>
#include <vector>

namespace dlcore {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);  // throws ValueError on unknown names
bool cpu_supports(Isa isa);                  // cpuid + OS (xgetbv) support
Isa best_isa();
Isa current_isa();       // the ISA kernels dispatch on now
void set_isa(Isa isa);   // throws ValueError when the CPU lacks it
std::vector<std::string> supported_isas();

}  // namespace dlcore
