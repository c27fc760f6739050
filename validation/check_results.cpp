#include "validation/check_results.hpp"

namespace xbar::validation {

void write_check_results(io::H5Writer& out, const io::RunConfig& config, const io::Problem& problem,
                         const CrossCheck& check, double tolerance) {
  io::write_solve_results(out, config, problem, check.xbar);
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

}  // namespace xbar::validation
