#pragma once
// One job pool for `xbar sweep` (a job is a sweep point) and `xbar table` (a job is a random
// sample array): jobs are independent and deterministic (a job's result depends only on its
// index and the run's config), so the results do not depend on where or in which order they ran.
//
// Each rank runs jobs on its own threads. The root (rank 0) hands out job indices one at a time,
// in order, to whichever thread asks next: its own threads directly, another rank's over MPI
// when that rank has a thread free (dynamic load balancing: jobs differ in cost by orders of
// magnitude, so a static split would leave ranks idle). Results come back to the root as bytes;
// the root delivers them one at a time, in completion order, to the caller, which stores them
// (and journals them).
//
// A job that throws stops the run: no new job starts, the running ones finish and are delivered
// (a journal keeps them), then the root rethrows the failure of the lowest index, same type,
// naming the job (and the rank, when there are several), and the other ranks throw
// StoppedByRoot with the exit status the root ends with.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "parallel/bytes.hpp"
#include "parallel/transport.hpp"

namespace xbar::parallel {

/// CPUs this process may run on (its affinity mask: what mpirun's binding, taskset or a
/// scheduler's cgroup gives it), at least 1.
unsigned available_cores();

using Job = std::function<Bytes(std::size_t index)>;
using Deliver = std::function<void(std::size_t index, const Bytes& result)>;
using JobName = std::function<std::string(std::size_t index)>;

/// What one rank did in a run (on the root, after run()).
struct RankLoad {
  std::size_t jobs = 0;
  double busy_seconds = 0;  ///< wall clock of its jobs, summed over its threads
};

class JobPool {
 public:
  /// threads: jobs run at once on this rank.
  JobPool(Transport& transport, unsigned threads);

  bool is_root() const { return transport_.rank() == 0; }
  int ranks() const { return transport_.size(); }

  /// The root runs make(); every rank gets its bytes. If make() throws on the root, the root
  /// rethrows it and the other ranks throw StoppedByRoot: the way to do the root's own checks
  /// (output path, journal) before the ranks commit to a run.
  Bytes from_root(const std::function<Bytes()>& make);

  /// Runs job(k) for every k in `todo` (read on the root only) somewhere in the job; on the root
  /// deliver(k, result) for each, one call at a time; name(k) labels a failing job ("sweep point
  /// array.rows = 32") on the root. Returns on every rank when every job has been delivered.
  void run(const std::vector<std::size_t>& todo, const Job& job, const Deliver& deliver, const JobName& name);

  /// While run() goes on, an interrupt (Ctrl-C, or the launcher's SIGTERM when a rank died) names
  /// the jobs running and where, then this hint ("finished points are kept in ...").
  void set_interrupt_hint(std::string hint) { hint_ = std::move(hint); }
  /// Jobs and busy time by rank, of the last run() (root only).
  const std::vector<RankLoad>& loads() const { return loads_; }

 private:
  Transport& transport_;
  unsigned threads_;
  std::string hint_;
  std::vector<RankLoad> loads_;
};

}  // namespace xbar::parallel
