#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace dlcore {
namespace {

thread_local bool t_in_worker = false;

int env_threads() {
  for (const char* name : {"DLCORE_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(name)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? (int)hc : 1;
}

// Waking a thread blocked on a condition variable costs tens of microseconds, as much as a
// whole small GEMM; so a waiter first spins this long on the atomic it waits for, then blocks.
constexpr auto kSpin = std::chrono::microseconds(200);
// After the first kPauseSpins checks the spinner yields its core between checks: on an idle
// machine the yield returns at once (nothing else is runnable there), but when other processes
// want the cores it lets them - or the very thread being waited for, if it was descheduled - run
// instead of burning the time slice. One busy process beside a 2-thread run took the MLP step
// from 0.87 to 1.80-1.83 ms with a pause-only spin, 1.28-1.35 ms with this (LSTM: 52-53 -> 42-46).
constexpr int kPauseSpins = 64;

template <class Ready> bool spin_until(Ready ready) {
  auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
    if (i >= kPauseSpins) {
      std::this_thread::yield();
      continue;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop_all(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    stop_all();
    nthreads_ = std::max(1, n);
    stop_ = false;
    // New workers must wait for the NEXT job: generation_ already counts the jobs run by the
    // previous workers, so a worker starting from 0 would run a stale (null) job at once.
    const uint64_t gen = generation_;
    for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this, i, gen] { loop(i, gen); });
  }

  // Runs task(tid) for tid in [0, ntasks); ntasks <= size(). Tasks are claimed from a shared
  // counter by the caller and the woken workers alike, so a worker that is slow to wake (asleep,
  // or descheduled by another process) leaves its task to whoever is free instead of making
  // everyone wait for it. Which thread runs a task never changes what the task computes.
  void run(int ntasks, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> run_lock(run_mu_);  // one parallel region at a time
    std::exception_ptr err;
    std::mutex err_mu;
    std::function<void(int)> guarded = [&](int tid) {
      try {
        task(tid);
      } catch (...) {
        std::lock_guard<std::mutex> g(err_mu);
        if (!err) err = std::current_exception();
      }
    };
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = &guarded;
      ntasks_ = ntasks;
      next_.store(0, std::memory_order_relaxed);
      done_.store(0, std::memory_order_relaxed);
      ++generation_;
    }
    cv_.notify_all();
    t_in_worker = true;
    work(guarded, ntasks);
    t_in_worker = false;
    if (!spin_until([&] { return done_.load(std::memory_order_acquire) == ntasks; })) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return done_.load(std::memory_order_acquire) == ntasks; });
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = nullptr;  // a worker waking from now on finds nothing to join
    }
    // A worker that joined this job may still be between claims; `guarded` lives on this
    // stack, so wait until every joined worker has seen that no task is left.
    while (active_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    if (err) std::rethrow_exception(err);
  }

 private:
  void work(const std::function<void(int)>& job, int ntasks) {
    for (int t; (t = next_.fetch_add(1, std::memory_order_relaxed)) < ntasks;) {
      job(t);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == ntasks) {
        std::lock_guard<std::mutex> g(mu_);  // pairs with the caller's done_cv_ wait
        done_cv_.notify_all();
      }
    }
  }

  void loop(int, uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      const std::function<void(int)>* job;
      int ntasks;
      spin_until([&] { return stop_.load(std::memory_order_acquire) ||
                              generation_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
        ntasks = ntasks_;
        if (!job) continue;
        active_.fetch_add(1, std::memory_order_acq_rel);
      }
      work(*job, ntasks);
      active_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  void stop_all() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int ntasks_ = 0;
  // Written under mu_ (next_, done_ also by claimers); atomic so that spinning waiters and
  // claimers may use them without the lock.
  std::atomic<int> next_{0}, done_{0}, active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

Pool& pool() {
  static Pool* p = new Pool(env_threads());  // leaked on purpose: no join at interpreter exit
  return *p;
}

}  // namespace

int get_num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n); }
bool in_parallel_region() { return t_in_worker; }

void parallel_run(int max_tasks, const std::function<void(int, int)>& fn) {
  int nt = std::min(max_tasks, get_num_threads());
  if (nt <= 1 || t_in_worker) {
    fn(0, 1);
    return;
  }
  pool().run(nt, [&](int tid) { fn(tid, nt); });
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t max_tasks = std::min<int64_t>(get_num_threads(), (n + grain - 1) / grain);
  if (max_tasks <= 1 || t_in_worker) {
    fn(begin, end);
    return;
  }
  parallel_run((int)max_tasks, [&](int tid, int nt) {
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = begin + tid * chunk, e = std::min(end, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace dlcore
