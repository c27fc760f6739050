#include "io/results.hpp"

#include <cmath>

#include <fmt/format.h>

namespace xbar::io {

namespace {

// A converged solve has finite numbers; anything else (inputs that overflow double precision)
// is no solution, and is never written.
void require_finite(const Matrix& m, const char* what) {
  for (double x : m.data)
    if (!std::isfinite(x))
      throw engine::SolveFailure(fmt::format("the {} are not finite ({}): the inputs overflow double precision",
                                             what, x));
}

}  // namespace

void write_solve_results(H5Writer& out, const RunConfig& config, const Problem& problem,
                         const engine::ArrayResults& r) {
  require_finite(r.column_current, "column currents");
  require_finite(r.cell_current, "cell currents");
  require_finite(r.v_col, "bit-line node voltages");
  require_finite(r.v_row, "row node voltages");
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
  out.long_attribute("config", config.text);
  out.attribute("xbar_version", std::string(k_xbar_version));
  out.attribute("solver_method", r.summary.methods);
  out.attribute("solver_backend", r.summary.backend);
  out.integer_attribute("newton_iterations", r.summary.newton_iterations);
  out.integer_attribute("linear_iterations", r.summary.linear_iterations);
  out.attribute("max_residual", r.summary.max_residual);
  out.attribute("solve_time", r.summary.solve_time);
}

}  // namespace xbar::io
