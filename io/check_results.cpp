#include "io/check_results.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace xbar::io {

namespace {

std::string rough_duration(double seconds) {
  if (seconds < 90) return fmt::format("{:.0f} s", std::max(seconds, 1.0));
  if (seconds < 90 * 60) return fmt::format("{:.0f} min", seconds / 60);
  return fmt::format("{:.1f} h", seconds / 3600);
}

// Input vectors `check` runs: the first check.vectors of them (0: all).
std::size_t checked_vectors(const RunConfig& c, std::size_t available) {
  return c.check.vectors > 0 ? std::min<std::size_t>(c.check.vectors, available) : available;
}

}  // namespace

void guard_check_size(const RunConfig& c) {
  const long cells = static_cast<long>(c.rows) * c.cols;
  if (cells <= c.check.max_cells) return;
  const double per_vector = validation::estimated_spice_seconds(c.rows, c.cols, c.cell);
  const std::size_t vectors = checked_vectors(c, c.inputs.count);
  const std::string total = c.inputs.source == "random"
                                ? fmt::format(" ({} for {})", rough_duration(per_vector * vectors), vectors)
                                : "";
  throw InputError(fmt::format(
      "check: {} x {} = {} cells is above check.max_cells = {}; ngspice would take about {} per input "
      "vector{}; to run it anyway: --set check.max_cells={}",
      c.rows, c.cols, cells, c.check.max_cells, rough_duration(per_vector), total, cells));
}

Problem build_checked_problem(const RunConfig& c) {
  Problem problem = build_problem(c);
  const std::size_t vectors = checked_vectors(c, problem.inputs.rows);
  problem.inputs.data.resize(vectors * problem.inputs.cols);
  problem.inputs.rows = vectors;
  return problem;
}

void write_check_results(H5Writer& out, const RunConfig& config, const Problem& problem,
                         const validation::CrossCheck& check, double tolerance) {
  write_solve_results(out, config, problem, check.xbar);
  out.write("/columns/current_spice", check.current_spice);
  out.attribute("check_max_rel_diff", check.overall.max_rel_diff);
  out.attribute("check_max_abs_diff", check.overall.max_abs_diff);
  out.attribute("check_max_col_rel_diff", check.overall.max_col_rel_diff);
  out.attribute("check_max_node_diff", check.overall.max_node_diff);
  out.attribute("check_tolerance", tolerance);
  out.attribute("check_passed", check.passed(tolerance) ? 1.0 : 0.0);
  out.attribute("spice_time", check.spice_time);
  out.attribute("xbar_time", check.xbar_time);
}

}  // namespace xbar::io
