#include "io/check_results.hpp"

namespace xbar::io {

void write_check_results(H5Writer& out, const RunConfig& config, const Problem& problem,
                         const validation::CrossCheck& check, double tolerance) {
  write_solve_results(out, config, problem, check.xbar);
  out.write("/columns/current_spice", check.current_spice);
  out.attribute("check_max_rel_diff", check.overall.max_rel_diff);
  out.attribute("check_max_abs_diff", check.overall.max_abs_diff);
  out.attribute("check_max_col_rel_diff", check.overall.max_col_rel_diff);
  out.attribute("check_max_node_diff", check.overall.max_node_diff);
  out.attribute("check_tolerance", tolerance);
  out.integer_attribute("check_passed", check.passed(tolerance) ? 1 : 0);
  out.attribute("spice_time", check.spice_time);
  out.attribute("xbar_time", check.xbar_time);
}

}  // namespace xbar::io
