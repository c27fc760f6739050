#include "studies/sweep_runner.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "io/hdf5_file.hpp"
#include "io/problem.hpp"

namespace xbar::studies {

namespace {

// HDF5 (weights or inputs read from files) is not thread-safe: problems are built one at a time.
std::mutex g_hdf5_mutex;

io::Problem build_problem_locked(const io::RunConfig& config) {
  const std::lock_guard lock(g_hdf5_mutex);
  return io::build_problem(config);
}

std::size_t input_vectors(const io::RunConfig& config) {
  if (config.inputs.source != "file") return static_cast<std::size_t>(config.inputs.count);
  const std::lock_guard lock(g_hdf5_mutex);
  return io::read_matrix(config.inputs.file, config.inputs.dataset).rows;
}

[[noreturn]] void rethrow_with_point(const std::exception_ptr& error, const std::string& point) {
  const std::string where = "sweep point " + point + ": ";
  try {
    std::rethrow_exception(error);
  } catch (const io::InputError& e) {
    throw io::InputError(where + e.what());
  } catch (const engine::SolveFailure& e) {
    throw engine::SolveFailure(where + e.what());
  }
}

// Input vectors over all points (for the progress total); a file of inputs is read for its count.
std::size_t total_vectors(const SweepSpec& spec) {
  std::size_t total = 0;
  for (std::size_t p = 0; p < spec.points.size(); ++p) try {
      total += input_vectors(spec.points[p]);
    } catch (...) {
      rethrow_with_point(std::current_exception(), spec.describe(p));
    }
  return total;
}

struct Failure {
  std::exception_ptr error;  ///< null if every job succeeded
  std::size_t index = 0;
};

// Runs job(k) for k = 0..count-1 on up to `threads` threads, the caller's included, each taking
// the next k. Once a job throws no new one starts; the failure of the lowest k is returned.
Failure parallel_for(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& job) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  Failure failure;
  const auto worker = [&] {
    for (std::size_t k = next++; k < count && !stop; k = next++) {
      try {
        job(k);
      } catch (...) {
        const std::lock_guard lock(mutex);
        if (!failure.error || k < failure.index) failure = {std::current_exception(), k};
        stop = true;
      }
    }
  };
  std::vector<std::jthread> pool;
  const std::size_t extra = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(count, 1)) - 1;
  for (std::size_t t = 0; t < extra; ++t) pool.emplace_back(worker);
  worker();
  pool.clear();  // joins
  return failure;
}

}  // namespace

PointMetrics run_point(const io::RunConfig& config, const std::function<void()>& on_vector) {
  const io::Problem problem = build_problem_locked(config);
  const netlists::Crossbar crossbar(problem.spec);
  engine::ArraySolver solver(crossbar, config.newton);
  RowErrors rows(problem.spec.rows, problem.spec.cols);
  const engine::ArrayResults results = solver.solve(
      problem.inputs, [&](std::size_t, std::size_t) { if (on_vector) on_vector(); },
      [&](std::size_t v, std::span<const double> voltages) {
        rows.add(crossbar.cell_currents(voltages), crossbar.ideal_cell_currents(problem.inputs.row(v)));
      });
  return point_metrics(problem.mapping, results, rows);
}

std::vector<PointMetrics> run_sweep(const SweepSpec& spec, unsigned threads, const SweepProgress& progress) {
  const std::size_t total = total_vectors(spec);
  std::vector<PointMetrics> results(spec.points.size());
  std::mutex mutex;  // one progress call at a time
  std::size_t done = 0;
  const auto on_vector = [&] {
    const std::lock_guard lock(mutex);
    if (progress) progress(++done, total);
  };
  const Failure failure = parallel_for(spec.points.size(), threads, [&](std::size_t p) {
    results[p] = run_point(spec.points[p], on_vector);
  });
  if (failure.error) rethrow_with_point(failure.error, spec.describe(failure.index));
  return results;
}

}  // namespace xbar::studies
