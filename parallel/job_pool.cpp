#include "parallel/job_pool.hpp"

#include <sched.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "io/interrupt.hpp"
#include "parallel/job_error.hpp"

namespace xbar::parallel {

namespace {

using namespace std::chrono_literals;

// Messages between the root and the other ranks. A rank asks for one job per free thread
// (request); the root answers each request with a job index or "no more"; the rank sends back
// each job's result or failure. When every job handed out has come back, the root tells each rank
// to stop (with the run's exit status), answers its remaining requests, and the rank says bye.
enum Tag : int { request = 1, job_index, no_more, result, failure, stop, bye };

// `threads` threads running jobs from a queue; outcomes are collected by the rank's main thread.
class LocalWorkers {
 public:
  struct Outcome {
    std::size_t index;
    Bytes result;
    std::exception_ptr error;
    double seconds = 0;
  };

  LocalWorkers(unsigned threads, const Job& job) : job_(job) {
    for (unsigned t = 0; t < threads; ++t) threads_.emplace_back([this] { work(); });
  }
  ~LocalWorkers() {
    {
      const std::lock_guard lock(mutex_);
      closed_ = true;
    }
    wake_workers_.notify_all();
  }  // the jthreads join

  void submit(std::size_t index) {
    {
      const std::lock_guard lock(mutex_);
      queue_.push_back(index);
      ++busy_;
    }
    wake_workers_.notify_one();
  }
  /// Jobs submitted and not yet collected.
  std::size_t busy() const {
    const std::lock_guard lock(mutex_);
    return busy_;
  }
  /// The outcomes finished so far; waits up to `wait` for one if there is none.
  std::vector<Outcome> collect(std::chrono::microseconds wait) {
    std::unique_lock lock(mutex_);
    if (outcomes_.empty() && busy_ > 0) wake_root_.wait_for(lock, wait, [&] { return !outcomes_.empty(); });
    std::vector<Outcome> out(std::make_move_iterator(outcomes_.begin()), std::make_move_iterator(outcomes_.end()));
    outcomes_.clear();
    busy_ -= out.size();
    return out;
  }

 private:
  void work() {
    for (;;) {
      std::size_t index;
      {
        std::unique_lock lock(mutex_);
        wake_workers_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        index = queue_.front();
        queue_.pop_front();
      }
      Outcome outcome{index, {}, nullptr};
      const auto start = std::chrono::steady_clock::now();
      try {
        outcome.result = job_(index);
      } catch (...) {
        outcome.error = std::current_exception();
      }
      outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      {
        const std::lock_guard lock(mutex_);
        outcomes_.push_back(std::move(outcome));
      }
      wake_root_.notify_one();
    }
  }

  const Job& job_;
  mutable std::mutex mutex_;
  std::condition_variable wake_workers_, wake_root_;
  std::deque<std::size_t> queue_;
  std::vector<Outcome> outcomes_;
  std::size_t busy_ = 0;
  bool closed_ = false;
  std::vector<std::jthread> threads_;  // last: joined first
};

Bytes index_bytes(std::size_t index) {
  ByteWriter out;
  out.put<std::uint64_t>(index);
  return out.take();
}

Bytes status_bytes(int status) {
  ByteWriter out;
  out.put<std::int32_t>(status);
  return out.take();
}

// Waits between polls when nothing happened: short while messages are flowing (tiny jobs), up to
// 2 ms once idle, so that a waiting rank costs its core next to nothing (MPI's own blocking calls
// would spin on it).
class Backoff {
 public:
  void reset() { wait_ = 20us; }
  void pause() {
    std::this_thread::sleep_for(wait_);
    wait_ = std::min<std::chrono::microseconds>(wait_ * 2, 2ms);
  }

 private:
  std::chrono::microseconds wait_ = 20us;
};

// The first failure by job index, from this rank (error) or another (encoded).
struct Failure {
  std::size_t index = 0;
  int rank = 0;
  std::exception_ptr error;
  Bytes encoded;
  int status = 0;

  void keep(Failure other) {
    if (status == 0 || other.index < index) *this = std::move(other);
  }
  [[noreturn]] void rethrow(const JobName& name, int ranks) const {
    const std::string where =
        ranks > 1 ? fmt::format("{} (rank {} of {}): ", name(index), rank, ranks) : name(index) + ": ";
    if (error) rethrow_error(error, where);
    rethrow_error(encoded, where);
  }
};

class Root {
 public:
  Root(Transport& transport, LocalWorkers& local, unsigned threads, const std::vector<std::size_t>& todo,
       const Deliver& deliver, const JobName& name, const std::string& hint, std::vector<RankLoad>& loads)
      : transport_(transport), local_(local), threads_(threads), todo_(todo), deliver_(deliver), name_(name),
        hint_(hint), loads_(loads) {
    loads_.assign(static_cast<std::size_t>(transport.size()), {});
  }
  ~Root() { io::set_interrupt_note(""); }

  Failure run() {
    Backoff backoff;
    while (!all_back()) {
      bool active = hand_out_locally();
      const auto wait = transport_.size() == 1 ? std::chrono::microseconds(100ms) : 0us;
      for (LocalWorkers::Outcome& o : local_.collect(wait)) {
        active = true;
        job_done(o.index, 0, o.seconds);
        if (o.error) fail({o.index, 0, o.error, {}, exit_status(o.error)});
        else take(o.index, o.result, 0);
      }
      for (Message m; transport_.poll(m);) {
        active = true;
        receive(m);
      }
      if (active) update_note();
      if (active) backoff.reset();
      else if (transport_.size() > 1) backoff.pause();
    }
    stop_ranks();
    return failure_;
  }

 private:
  bool handing_out() const { return failure_.status == 0 && next_ < todo_.size(); }
  bool all_back() const { return !handing_out() && local_.busy() == 0 && remote_busy_ == 0; }

  bool hand_out_locally() {
    bool any = false;
    while (handing_out() && local_.busy() < threads_) {
      running_.emplace(todo_[next_], 0);
      local_.submit(todo_[next_++]);
      any = true;
    }
    return any;
  }

  void job_done(std::size_t index, int rank, double seconds) {
    running_.erase(index);
    RankLoad& load = loads_[static_cast<std::size_t>(rank)];
    ++load.jobs;
    load.busy_seconds += seconds;
  }

  // "sweep point ... on rank 1, ...; <hint>" for the interrupt message.
  void update_note() const {
    std::string note;
    for (const auto& [index, rank] : running_) {
      if (note.size() > 1000) {
        note += ", ...";
        break;
      }
      note += fmt::format("{}{}{}", note.empty() ? "running " : ", ", name_(index),
                          transport_.size() > 1 ? fmt::format(" on rank {}", rank) : "");
    }
    if (!hint_.empty()) note += (note.empty() ? "" : "; ") + hint_;
    io::set_interrupt_note(note);
  }

  void take(std::size_t index, const Bytes& bytes, int rank) {
    try {
      deliver_(index, bytes);
    } catch (...) {  // the caller could not store it (a journal on a full disk): the run fails
      fail({index, rank, std::current_exception(), {}, exit_status(std::current_exception())});
    }
  }
  void fail(Failure f) { failure_.keep(std::move(f)); }

  void receive(const Message& m) {
    ByteReader in(m.bytes);
    switch (m.tag) {
      case request:
        if (handing_out()) {
          running_.emplace(todo_[next_], m.source);
          transport_.send(m.source, job_index, index_bytes(todo_[next_++]));
          ++remote_busy_;
        } else {
          transport_.send(m.source, no_more, {});
        }
        break;
      case result: {
        --remote_busy_;
        const auto index = in.get<std::uint64_t>();
        job_done(index, m.source, in.get<double>());
        take(index, in.get_string(), m.source);
        break;
      }
      case failure: {
        --remote_busy_;
        const auto index = in.get<std::uint64_t>();
        job_done(index, m.source, in.get<double>());
        const auto status = in.get<std::int32_t>();
        fail({index, m.source, nullptr, in.get_string(), status});
        break;
      }
      case bye: ++byes_; break;
      default: throw std::logic_error(fmt::format("job pool: unexpected message {} from rank {}", m.tag, m.source));
    }
  }

  // Every job is back: each rank stops, after its outstanding requests are answered.
  void stop_ranks() {
    const int ranks = transport_.size();
    for (int r = 1; r < ranks; ++r) transport_.send(r, stop, status_bytes(failure_.status));
    Backoff backoff;
    while (byes_ < ranks - 1) {
      Message m;
      if (!transport_.poll(m)) {
        backoff.pause();
        continue;
      }
      backoff.reset();
      receive(m);
    }
  }

  Transport& transport_;
  LocalWorkers& local_;
  unsigned threads_;
  const std::vector<std::size_t>& todo_;
  const Deliver& deliver_;
  const JobName& name_;
  const std::string& hint_;
  std::vector<RankLoad>& loads_;
  std::map<std::size_t, int> running_;  // job index -> rank
  std::size_t next_ = 0, remote_busy_ = 0;
  int byes_ = 0;
  Failure failure_;
};

// A rank other than the root: asks for a job whenever a thread is free, returns the outcomes,
// and ends when the root says stop. Returns the run's exit status.
int serve(Transport& transport, LocalWorkers& local, unsigned threads) {
  std::size_t asked = 0;  // requests not yet answered
  bool more = true, stopping = false;
  int status = 0;
  Backoff backoff;
  for (;;) {
    bool active = false;
    for (; more && !stopping && local.busy() + asked < threads; ++asked) {
      transport.send(0, request, {});
      active = true;
    }
    for (LocalWorkers::Outcome& o : local.collect(0us)) {
      active = true;
      ByteWriter out;
      out.put<std::uint64_t>(o.index);
      out.put<double>(o.seconds);
      if (o.error) {
        out.put<std::int32_t>(exit_status(o.error));
        out.put_string(encode_error(o.error));
        more = false;  // the run is over: no new job from this rank
      } else {
        out.put_string(o.result);
      }
      transport.send(0, o.error ? failure : result, out.take());
    }
    for (Message m; transport.poll(m);) {
      active = true;
      ByteReader in(m.bytes);
      if (m.tag == job_index) --asked, local.submit(in.get<std::uint64_t>());
      else if (m.tag == no_more) --asked, more = false;
      else if (m.tag == stop) stopping = true, status = in.get<std::int32_t>();
    }
    if (stopping && asked == 0 && local.busy() == 0) break;
    if (active) backoff.reset();
    else backoff.pause();
  }
  transport.send(0, bye, {});
  return status;
}

}  // namespace

unsigned available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

JobPool::JobPool(Transport& transport, unsigned threads) : transport_(transport), threads_(std::max(1u, threads)) {}

Bytes JobPool::from_root(const std::function<Bytes()>& make) {
  if (transport_.size() == 1) return make();
  if (!is_root()) {
    Bytes bytes;
    transport_.broadcast(bytes);
    ByteReader in(bytes);
    const auto status = in.get<std::int32_t>();
    if (status != 0) throw StoppedByRoot{status};
    return in.get_string();
  }
  ByteWriter out;
  std::exception_ptr error;
  try {
    const Bytes made = make();
    out.put<std::int32_t>(0);
    out.put_string(made);
  } catch (...) {
    error = std::current_exception();
    out.put<std::int32_t>(exit_status(error));
  }
  Bytes bytes = out.take();
  transport_.broadcast(bytes);
  if (error) std::rethrow_exception(error);
  ByteReader in(bytes);
  in.get<std::int32_t>();
  return in.get_string();
}

void JobPool::run(const std::vector<std::size_t>& todo, const Job& job, const Deliver& deliver, const JobName& name) {
  if (!is_root()) {
    int status;
    {
      LocalWorkers local(threads_, job);
      status = serve(transport_, local, threads_);
    }
    if (status != 0) throw StoppedByRoot{status};
    return;
  }
  Failure failure;
  {
    LocalWorkers local(threads_, job);
    failure = Root(transport_, local, threads_, todo, deliver, name, hint_, loads_).run();
  }
  if (failure.status != 0) failure.rethrow(name, transport_.size());
}

}  // namespace xbar::parallel
