// xbar check [CONFIG] [-o OUT.h5]: solve with xbar and with ngspice, compare, exit 1 if the
// relative column-current difference is over tolerance (README).
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "validation/check_results.hpp"
#include "validation/cross_check.hpp"

namespace xbar::cli {

namespace {

std::string counted(const validation::VectorComparison& v) {
  return v.counted_columns ? fmt::format("{:.3g} ({})", v.max_col_rel_diff, v.counted_columns) : "-";
}

void print_row(const std::string& label, const validation::VectorComparison& v) {
  fmt::print("{:>7}  {:>12.3e}  {:>14.3e}  {:>16}  {:>12.3e}  {:>10.3f}\n", label, v.max_abs_diff,
             v.max_rel_diff, counted(v), v.max_node_diff, v.spice_time);
}

void print_table(const io::RunConfig& c, const netlists::Crossbar& xb,
                 const validation::CrossCheck& check, double tolerance) {
  fmt::print("xbar check: {} x {} {} array, {} input vector(s), xbar vs ngspice\n", c.rows, c.cols,
             c.cell.kind_name(), check.vectors.size());
  fmt::print("{:>7}  {:>12}  {:>14}  {:>16}  {:>12}  {:>10}\n", "vector", "max|dI| (A)",
             "max|dI|/max|I|", "col rel (cols)", "max|dV| (V)", "ngspice s");
  for (std::size_t v = 0; v < check.vectors.size(); ++v) print_row(std::to_string(v), check.vectors[v]);
  print_row("all", check.overall);
  const auto& overall = check.overall;
  if (overall.worst_node >= 0) fmt::print("largest node-voltage difference at {}\n", xb.describe(overall.worst_node));
  fmt::print("run time: xbar {:.4f} s ({}, {} Newton iterations), ngspice {:.3f} s\n", check.xbar_time,
             check.xbar.summary.methods, check.xbar.summary.newton_iterations, check.spice_time);
  fmt::print("{}: max_j |I_xbar - I_spice| / max_j |I_spice| = {:.3e} {} tolerance {:.3g}\n",
             check.passed(tolerance) ? "PASS" : "FAIL", overall.max_rel_diff,
             check.passed(tolerance) ? "<=" : ">", tolerance);
}

validation::CrossCheck run_check(const io::RunConfig& c, const io::Problem& problem,
                                 const netlists::Crossbar& crossbar, bool quiet) {
  Progress progress("ngspice", !quiet);  // ends its line before the table is printed
  return validation::cross_check(
      crossbar, problem.inputs, c.newton,
      [&](std::size_t v) { return fmt::format("xbar check of {}, input vector {}", c.path, v); },
      [&](std::size_t done, std::size_t total) { progress(done, total); });
}

}  // namespace

Command add_check(CLI::App& app) {
  auto* cmd = app.add_subcommand("check", "solve with xbar and with ngspice, compare; exit 1 if over tolerance");
  auto args = std::make_shared<ConfigArgs>();
  auto tolerance = std::make_shared<double>(0.0);
  args->add_to(*cmd, "output HDF5 file (solve datasets + /columns/current_spice, check_* attributes)", false);
  CLI::Option* tolerance_flag =
      cmd->add_option("--tolerance", *tolerance, "relative tolerance (overrides check.tolerance, default 1e-6)")
          ->check(number_in(0, std::numeric_limits<double>::max(), Low::open));
  return {cmd, [args, tolerance, tolerance_flag] {
            const io::RunConfig config = args->load();
            const double tol = tolerance_flag->count() ? *tolerance : config.check.tolerance;
            validation::guard_check_size(config);
            std::optional<io::AtomicOutput> output;
            if (!args->output.empty())
              output.emplace(args->output, args->inputs(config));
            const io::Problem problem = validation::build_checked_problem(config);
            const netlists::Crossbar crossbar(problem.spec);
            const validation::CrossCheck check = run_check(config, problem, crossbar, args->quiet);
            if (output) {
              io::H5Writer h5(*output);
              validation::write_check_results(h5, config, problem, check, tol);
              h5.close();
              output->commit();
            }
            if (!args->quiet) print_table(config, crossbar, check, tol);
            return check.passed(tol) ? 0 : 1;
          }};
}

}  // namespace xbar::cli
