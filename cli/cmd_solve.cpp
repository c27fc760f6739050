// xbar solve [CONFIG] -o OUT.h5: solve the array for every input vector.
#include <cmath>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "io/results.hpp"
#include "studies/metrics.hpp"

namespace xbar::cli {

namespace {

void print_summary(const io::RunConfig& c, const engine::ArrayResults& r, const std::string& out) {
  const studies::ColumnErrors errors = studies::column_errors(r.column_current, r.column_current_ideal);
  double largest = 0;
  for (double x : r.column_current_ideal.data) largest = std::max(largest, std::abs(x));
  // With a mapping, array.cols counts logical outputs: the array itself is wider.
  const std::string size = c.mapping == engine::MappingScheme::none
                               ? fmt::format("{} x {}", c.rows, c.cols)
                               : fmt::format("{} x {} physical ({} logical outputs)", c.rows, c.physical_cols(), c.cols);
  fmt::print("solved {} {} array, {} input vector(s): {} ({} Newton iterations, {} backend, {} "
             "linear iterations, {:.3g} s)\n",
             size, c.cell.kind_name(),
             r.column_current.rows, r.summary.methods, r.summary.newton_iterations, r.summary.backend,
             r.summary.linear_iterations, r.summary.solve_time);
  if (r.summary.unconverged_linear > 0)
    fmt::print("note: {} Krylov solve(s) stopped at their iteration limit (Newton went on; KCL decided)\n",
               r.summary.unconverged_linear);
  fmt::print("column-current error vs ideal: rms {:.4g} %  (largest ideal column current {:.4g} A)\n",
             std::isnan(errors.rms) ? 0.0 : 100 * errors.rms, largest);
  fmt::print("wrote {}\n", out);
}

}  // namespace

Command add_solve(CLI::App& app) {
  auto* cmd = app.add_subcommand("solve", "solve the array for every input vector, write HDF5");
  auto args = std::make_shared<ConfigArgs>();
  args->add_to(*cmd, "output HDF5 file (datasets: see docs/hdf5_schema.md)", true);
  return {cmd, [args] {
            const io::RunConfig config = args->load();
            io::AtomicOutput output = args->open_output(config);
            const io::Problem problem = io::build_problem(config);
            // The circuit and its solver (most of the memory) are freed before the output file is
            // built in memory: the two never add up in the peak.
            const engine::ArrayResults results = [&] {
              const netlists::Crossbar crossbar(problem.spec);
              engine::ArraySolver solver(crossbar, config.newton);
              Progress progress("solving", !args->quiet);
              return solver.solve(problem.inputs, [&](std::size_t d, std::size_t t) { progress(d, t); });
            }();
            {
              io::H5Writer h5(output);
              io::write_solve_results(h5, config, problem, results);
              h5.close();
            }
            output.commit();
            note_fallbacks(results.summary);
            if (!args->quiet)
              print_after_commit(args->output, [&] { print_summary(config, results, args->output); });
            return 0;
          }};
}

}  // namespace xbar::cli
