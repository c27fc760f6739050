#include "studies/sweep_runner.hpp"

#include <mutex>

#include <fmt/format.h>

#include "io/problem.hpp"
#include "io/results.hpp"

namespace xbar::studies {

namespace {

// HDF5 (weights or inputs read from files) is not thread-safe: problems are built one at a time.
std::mutex g_hdf5_mutex;

io::Problem build_problem_locked(const io::RunConfig& config) {
  const std::lock_guard lock(g_hdf5_mutex);
  return io::build_problem(config);
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

parallel::Bytes to_bytes(const PointMetrics& metrics) {
  parallel::ByteWriter out;
  for (const ScalarMetric& m : scalar_metrics()) out.put(metrics.*m.value);
  out.put_span<double>(metrics.row_err_mean);
  return out.take();
}

PointMetrics point_from_bytes(const parallel::Bytes& bytes) {
  parallel::ByteReader in(bytes);
  PointMetrics metrics;
  for (const ScalarMetric& m : scalar_metrics()) metrics.*m.value = in.get<double>();
  metrics.row_err_mean = in.get_vector<double>();
  if (!in.at_end()) throw std::runtime_error("sweep point result: trailing bytes");
  return metrics;
}

std::string journal_identity(const SweepSpec& spec) {
  return fmt::format("xbar sweep, version {}, config fnv1a {:016x}, {} points", io::k_xbar_version,
                     parallel::fnv1a(spec.config_text), spec.points.size());
}

std::vector<PointMetrics> run_sweep(const SweepSpec& spec, parallel::JobPool& pool, parallel::Journal* journal,
                                    const SweepProgress& progress) {
  std::vector<PointMetrics> results;
  std::vector<std::size_t> todo;
  std::size_t done = 0;
  if (pool.is_root()) {
    results.resize(spec.points.size());
    for (std::size_t p = 0; p < spec.points.size(); ++p) {
      if (journal && journal->finished().contains(p)) {
        results[p] = point_from_bytes(journal->finished().at(p));
        ++done;
      } else {
        todo.push_back(p);
      }
    }
    if (progress) progress(done, spec.points.size());
  }
  pool.run(
      todo, [&](std::size_t p) { return to_bytes(run_point(spec.points[p])); },
      [&](std::size_t p, const parallel::Bytes& bytes) {
        if (journal) journal->record(p, bytes);
        results[p] = point_from_bytes(bytes);
        if (progress) progress(++done, spec.points.size());
      },
      [&](std::size_t p) { return "sweep point " + spec.describe(p); });
  return results;
}

std::vector<PointMetrics> run_sweep(const SweepSpec& spec, unsigned threads, const SweepProgress& progress) {
  const std::unique_ptr<parallel::Transport> one = parallel::single_process();
  parallel::JobPool pool(*one, threads);
  return run_sweep(spec, pool, nullptr, progress);
}

}  // namespace xbar::studies
