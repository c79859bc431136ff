// The dropout family's CPU loops, compiled once per ISA by csrc/kernels/dropout_<isa>.cpp (each
// defines DLCORE_DROPOUT_NS and gets its -m flags from CMakeLists.txt by file name) and exported
// through DLCORE_DROPOUT_SET (ops/dropout_isa.h). With AVX2 / AVX-512 the mask's Philox blocks
// are computed 8 / 16 at a time, one per lane (intrinsics: the compiler does not vectorise the
// rounds' widening multiplies); the values are philox4x32_10's (core/rng.h) bit for bit,
// whatever the ISA. The mask application is a plain loop the compiler vectorises.
#pragma once
#include <algorithm>
#include <cstdint>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "ops/dropout_isa.h"
#include "ops/dropout_math.h"

#ifndef DLCORE_DROPOUT_NS
#error "define DLCORE_DROPOUT_NS before including ops/dropout_loops.h"
#endif

namespace dlcore {
namespace DLCORE_DROPOUT_NS {

#if defined(__AVX512F__) || defined(__AVX2__)
// W Philox blocks at once, one per 32-bit lane (W = 16 with AVX-512, 8 with AVX2): the round's
// 32x32 -> 64-bit products as even / odd lane multiplies, high halves blended back per lane.
#if defined(__AVX512F__)
using VecU = __m512i;
constexpr int W = 16, G = 4;  // lanes, groups in flight (the rounds are a dependency chain)
inline VecU v_set1(uint32_t x) { return _mm512_set1_epi32((int)x); }
inline VecU v_xor(VecU a, VecU b) { return _mm512_xor_si512(a, b); }
// hi, lo: the high and low words of the lanes' 64-bit products a * m, m a constant in every lane
// (the odd lanes' words moved by shuffles; 64-bit shifts measured the same).
inline void v_mul(VecU a, VecU m, VecU& hi, VecU& lo) {
  const VecU even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_shuffle_epi32(a, _MM_PERM_DDBB), m);
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_shuffle_epi32(even, _MM_PERM_DDBB), odd);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_shuffle_epi32(odd, _MM_PERM_CCAA));
}
// 1 in the lanes where dropout_keep_bits(c, t) (both sides below 2^31: a signed compare with
// t - 1), else 0
inline VecU v_keep(VecU c, VecU tm1) {
  return _mm512_maskz_mov_epi32(_mm512_cmpgt_epi32_mask(_mm512_srli_epi32(c, 8), tm1), _mm512_set1_epi32(1));
}
inline VecU v_or_shift(VecU a, VecU b, int bits) { return _mm512_or_si512(a, _mm512_slli_epi32(b, bits)); }
inline VecU v_iota(uint64_t lo) {  // low 32 bits of lo + lane
  return _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)lo),
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
inline void v_store(void* p, VecU v) { _mm512_storeu_si512(p, v); }
#else
using VecU = __m256i;
constexpr int W = 8, G = 2;
inline VecU v_set1(uint32_t x) { return _mm256_set1_epi32((int)x); }
inline VecU v_xor(VecU a, VecU b) { return _mm256_xor_si256(a, b); }
inline void v_mul(VecU a, VecU m, VecU& hi, VecU& lo) {
  const VecU even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m);
  hi = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xF5), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_shuffle_epi32(odd, 0xA0), 0xAA);
}
inline VecU v_keep(VecU c, VecU tm1) {
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_srli_epi32(c, 8), tm1), _mm256_set1_epi32(1));
}
inline VecU v_or_shift(VecU a, VecU b, int bits) { return _mm256_or_si256(a, _mm256_slli_epi32(b, bits)); }
inline VecU v_iota(uint64_t lo) {
  return _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)lo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline void v_store(void* p, VecU v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
#endif

// Blocks [b, b + G W), G groups of W interleaved: the counter's low word must not wrap inside
// them (the caller checks).
inline void draw_groups(uint64_t seed, uint64_t counter, int64_t b, uint32_t t, bool* mk) {
  const uint64_t c = counter + (uint64_t)b;
  VecU c0[G], c1[G], c2[G], c3[G];
  for (int g = 0; g < G; ++g) {
    c0[g] = v_iota(c + (uint64_t)(g * W));
    c1[g] = v_set1((uint32_t)(c >> 32));
    c2[g] = c3[g] = v_set1(0);
  }
  const VecU m0 = v_set1(0xD2511F53u), m1 = v_set1(0xCD9E8D57u);
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; ++r) {  // philox4x32_10's round
    const VecU kk0 = v_set1(k0), kk1 = v_set1(k1);
    for (int g = 0; g < G; ++g) {
      VecU hi0, lo0, hi1, lo1;
      v_mul(c0[g], m0, hi0, lo0);
      v_mul(c2[g], m1, hi1, lo1);
      c0[g] = v_xor(v_xor(hi1, c1[g]), kk0);
      c2[g] = v_xor(v_xor(hi0, c3[g]), kk1);
      c1[g] = lo1;
      c3[g] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  // lane i of group g holds mask elements 4 (g W + i) .. + 3: one byte each, in memory order
  const VecU tm1 = v_set1(t - 1);
  for (int g = 0; g < G; ++g) {
    VecU bytes = v_keep(c0[g], tm1);
    bytes = v_or_shift(bytes, v_keep(c1[g], tm1), 8);
    bytes = v_or_shift(bytes, v_keep(c2[g], tm1), 16);
    bytes = v_or_shift(bytes, v_keep(c3[g], tm1), 24);
    v_store(mk + 4 * (b + g * W), bytes);
  }
}
#endif

inline void draw_blocks(uint64_t seed, uint64_t counter, double p, int64_t b0, int64_t b1, int64_t nm,
                        bool* mk) {
  const uint32_t t = dropout_keep_threshold(p);
  int64_t b = b0;
#if defined(__AVX512F__) || defined(__AVX2__)
  constexpr int64_t n = int64_t(G) * W;
  for (; b + n <= b1 && 4 * (b + n) <= nm; b += n) {
    const uint64_t c = counter + (uint64_t)b;
    if ((uint32_t)c > (uint32_t)(c + n - 1)) break;  // the low word wraps: the scalar loop takes the rest
    draw_groups(seed, counter, b, t, mk);
  }
#endif
  for (; b < b1; ++b) {  // the rest, and a last block the mask only partly covers
    const Philox4 r = philox4x32_10(seed, counter + (uint64_t)b);
    const int64_t m0 = 4 * b, cnt = std::min<int64_t>(4, nm - m0);
    for (int64_t l = 0; l < cnt; ++l) mk[m0 + l] = dropout_keep_bits(r.v[l], t);
  }
}

// Restrict pointers and scalar arguments: the loops vectorise (the mask read as bytes: GCC does
// not vectorise loads of bool).
template <class T>
void apply_range(const T* __restrict in, const bool* __restrict mask, int64_t m0, int64_t m1, int64_t inner, T k,
                 T c_keep, T c_drop, T* __restrict out) {
  const uint8_t* __restrict mk = reinterpret_cast<const uint8_t*>(mask);
  if (inner == 1) {
    if (c_keep == 0 && c_drop == 0) {
      for (int64_t i = m0; i < m1; ++i) out[i] = in[i] * ((T)mk[i] * k);
    } else {
      const T dc = c_keep - c_drop;
      for (int64_t i = m0; i < m1; ++i) out[i] = in[i] * ((T)mk[i] * k) + ((T)mk[i] * dc + c_drop);
    }
    return;
  }
  for (int64_t m = m0; m < m1; ++m) {
    const T s = mk[m] ? k : (T)0, c = mk[m] ? c_keep : c_drop;
    const T* ip = in + m * inner;
    T* op = out + m * inner;
    for (int64_t j = 0; j < inner; ++j) op[j] = ip[j] * s + c;
  }
}

}  // namespace DLCORE_DROPOUT_NS
}  // namespace dlcore
