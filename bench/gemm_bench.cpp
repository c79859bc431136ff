// C++ GEMM benchmarks (Google Benchmark). Build: cmake -DDLCORE_BENCH=ON ... && ./dlcore_bench
// Reports GFLOP/s for squares and DL shapes (float32/float64, 1 and 2 threads) and an FMA
// peak probe (12 independent accumulator chains of AVX2 FMAs, and AVX-512 where the CPU has
// it) giving this machine's peak GFLOP/s per core. Not a test: numbers, no pass/fail.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/parallel.h"
#include "kernels/gemm_kernels.h"
#include "ops/gemm.h"

namespace {
using namespace dlcore;

#if defined(DLCORE_X86)
template <double (*Probe)(int64_t)>
void BM_FmaPeak(benchmark::State& state) {
  const int64_t iters = 2000000;
  double flops = 0;
  for (auto _ : state) flops += Probe(iters);
  state.counters["GFLOP/s/core"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}
void BM_FmaPeakAvx2(benchmark::State& s) {
  if (!cpu_supports(Isa::avx2)) return s.SkipWithError("no AVX2/FMA on this CPU");
  BM_FmaPeak<fma_probe_avx2>(s);
}
void BM_FmaPeakAvx512(benchmark::State& s) {
  if (!cpu_supports(Isa::avx512)) return s.SkipWithError("no AVX-512 on this CPU");
  BM_FmaPeak<fma_probe_avx512>(s);
}
BENCHMARK(BM_FmaPeakAvx2);
BENCHMARK(BM_FmaPeakAvx512);
#endif

// args: M, K, N, threads
template <class T>
void BM_Gemm(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  set_num_threads((int)state.range(3));
  std::vector<T> A(M * K), B(K * N), C(M * N);
  std::mt19937 g(0);
  std::normal_distribution<T> d;
  for (auto& x : A) x = d(g);
  for (auto& x : B) x = d(g);
  for (auto _ : state) {
    gemm<T>(false, false, M, N, K, T(1), A.data(), K, B.data(), N, T(0), C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(isa_name(current_isa()));
}

void Squares(benchmark::internal::Benchmark* b) {
  for (int t : {1, 2})
    for (int n : {256, 512, 1024, 2048}) b->Args({n, n, n, t});
}
void DlShapes(benchmark::internal::Benchmark* b) {
  const int64_t shapes[][3] = {{128, 784, 256}, {128, 256, 128}, {64, 4608, 512},
                               {32, 512, 2048}, {3136, 576, 64}, {1, 1024, 1024}};
  for (int t : {1, 2})
    for (auto& s : shapes) b->Args({s[0], s[1], s[2], t});
}
BENCHMARK(BM_Gemm<float>)->Apply(Squares)->ArgNames({"M", "K", "N", "thr"})->UseRealTime();
BENCHMARK(BM_Gemm<float>)->Apply(DlShapes)->ArgNames({"M", "K", "N", "thr"})->UseRealTime();
BENCHMARK(BM_Gemm<double>)->Apply(Squares)->ArgNames({"M", "K", "N", "thr"})->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
