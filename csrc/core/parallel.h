// One thread pool for the whole library. Sized by dlcore.set_num_threads(), else
// DLCORE_NUM_THREADS, else OMP_NUM_THREADS, else the number of cores.
// parallel_for splits [begin, end) into contiguous chunks; kernels split over OUTPUT
// elements only, never over a reduction axis, so results do not depend on the thread count.
// A parallel_for issued from inside a worker runs serially (no oversubscription).
#pragma once
#include <cstdint>
#include <functional>

namespace dlcore {

int get_num_threads();
void set_num_threads(int n);
bool in_parallel_region();

// fn(chunk_begin, chunk_end). grain: minimum elements per chunk (work below 2*grain runs inline).
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Runs fn(tid, nthreads) once on each of min(nthreads, max_tasks) threads.
void parallel_run(int max_tasks, const std::function<void(int, int)>& fn);

}  // namespace dlcore
