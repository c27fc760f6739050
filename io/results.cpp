#include "io/results.hpp"

namespace xbar::io {

void write_solve_results(H5Writer& out, const RunConfig& config, const Problem& problem,
                         const engine::ArrayResults& r) {
  out.write("/columns/current", r.column_current);
  out.write("/columns/current_ideal", r.column_current_ideal);
  out.write("/cells/current", r.cell_current);
  out.write("/cells/current_ideal", r.cell_current_ideal);
  out.write("/cells/current_programmed", r.cell_current_programmed);
  out.write("/nodes/v_col", r.v_col);
  out.write("/nodes/v_row", r.v_row);
  Matrix physical(problem.spec.rows, problem.spec.cols);
  physical.data = problem.spec.weights;
  out.write(problem.spec.cell.is_sonos() ? "/weights/vt" : "/weights/conductance", physical);
  if (problem.levels) out.write("/weights/level", *problem.levels);
  if (problem.real_weights) {
    out.write("/weights/real", *problem.real_weights);
    out.write("/outputs/current", engine::signed_outputs(problem.mapping, r.column_current));
    out.write("/outputs/ideal", engine::signed_outputs(problem.mapping, r.column_current_ideal));
    out.attribute("mapping", engine::to_string(problem.mapping));
  }
  out.write("/inputs", problem.inputs);
  out.attribute("config", config.text);
  out.attribute("xbar_version", std::string(k_xbar_version));
  out.attribute("solver_method", r.summary.methods);
  out.attribute("solver_backend", r.summary.backend);
  out.attribute("newton_iterations", static_cast<double>(r.summary.newton_iterations));
  out.attribute("linear_iterations", static_cast<double>(r.summary.linear_iterations));
  out.attribute("max_residual", r.summary.max_residual);
  out.attribute("solve_time", r.summary.solve_time);
}

}  // namespace xbar::io
