#include "solver/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace xbar::solver {

namespace {

// Workers wait for a generation number to change, run their part, and count down.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs task(0) on the caller and task(1..size-1) on the workers; returns false at once,
  /// running nothing, while the pool serves another thread's region.
  bool try_run(const std::function<void(int)>& task) {
    const std::unique_lock caller(run_mutex_, std::try_to_lock);  // one parallel region at a time
    if (!caller.owns_lock()) return false;
    {
      std::lock_guard lock(mutex_);
      task_ = &task;
      pending_ = size() - 1;
      ++generation_;
    }
    wake_.notify_all();
    task(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    return true;
  }

 private:
  void work(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      const std::function<void(int)>* task = task_;
      lock.unlock();
      (*task)(index);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_, run_mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  std::uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

int g_threads = 0;  // 0: not yet chosen
thread_local bool t_serial = false;

Pool& pool() {
  static Pool instance(parallel_threads());
  return instance;
}

}  // namespace

SerialRegion::SerialRegion() : previous_(t_serial) { t_serial = true; }
SerialRegion::~SerialRegion() { t_serial = previous_; }

int parallel_threads() {
  if (g_threads == 0) g_threads = std::max(1u, std::thread::hardware_concurrency());
  return g_threads;
}

void set_parallel_threads(int threads) { g_threads = std::max(1, threads); }

int parallel_for(std::int64_t n, std::int64_t grain,
                 const std::function<void(int, std::int64_t, std::int64_t)>& body) {
  const int parts = n < grain || t_serial ? 1 : std::min<int>(parallel_threads(), pool().size());
  if (parts <= 1) {
    body(0, 0, n);
    return 1;
  }
  // A part that throws does not end the process: its exception is kept, the other parts finish,
  // and the lowest part's exception is rethrown on the caller.
  std::vector<std::exception_ptr> failures(parts);
  const auto run_part = [&](int part) {
    try {
      body(part, n * part / parts, n * (part + 1) / parts);
    } catch (...) {
      failures[part] = std::current_exception();
    }
  };
  // A region that finds the pool busy with another thread's (two solves at once, e.g. from two
  // Python threads) runs its parts on its own thread, one after the other, instead of waiting:
  // the two regions then use both cores, and the parts, hence the results, are the same.
  if (!pool().try_run(run_part))
    for (int part = 0; part < parts; ++part) run_part(part);
  for (const std::exception_ptr& failure : failures)
    if (failure) std::rethrow_exception(failure);
  return parts;
}

void parallel_each(std::int64_t n, const std::function<void(std::int64_t)>& body) {
  std::atomic<std::int64_t> next = 0;
  parallel_for(n, 2, [&](int, std::int64_t, std::int64_t) {  // a single item: on the caller
    for (std::int64_t item = next++; item < n; item = next++) body(item);
  });
}

}  // namespace xbar::solver
