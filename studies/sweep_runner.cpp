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
  const std::size_t points = spec.points.size();
  std::size_t total = 0;
  for (std::size_t p = 0; p < points; ++p) try {
      total += input_vectors(spec.points[p]);
    } catch (...) {
      rethrow_with_point(std::current_exception(), spec.describe(p));
    }
  std::vector<PointMetrics> results(points);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // guards done, error, failed and the progress callback
  std::size_t done = 0, failed = 0;
  std::exception_ptr error;
  const auto on_vector = [&] {
    const std::lock_guard lock(mutex);
    if (progress) progress(++done, total);
  };
  const auto worker = [&] {
    for (std::size_t p = next++; p < points && !stop; p = next++) {
      try {
        results[p] = run_point(spec.points[p], on_vector);
      } catch (...) {
        const std::lock_guard lock(mutex);
        if (!error || p < failed) error = std::current_exception(), failed = p;
        stop = true;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    const std::size_t extra = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(points, 1)) - 1;
    for (std::size_t t = 0; t < extra; ++t) pool.emplace_back(worker);
    worker();
  }
  if (error) rethrow_with_point(error, spec.describe(failed));
  return results;
}

}  // namespace xbar::studies
