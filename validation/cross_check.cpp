#include "validation/cross_check.hpp"

#include <algorithm>
#include <cmath>

#include "netlists/ideal_reference.hpp"
#include "netlists/spice_deck.hpp"
#include "validation/ngspice_session.hpp"

namespace xbar::validation {

namespace {

double max_abs(std::span<const double> values) {
  double largest = 0;
  for (double x : values) largest = std::max(largest, std::abs(x));
  return largest;
}

// a / b for non-negative a, b, where 0 / 0 means "no difference" and x / 0 "infinitely apart".
double ratio(double a, double b) {
  if (b > 0) return a / b;
  return a > 0 ? INFINITY : 0.0;
}

// Column figures: max |dI|, max |dI| / max |I_spice|, and |dI_j| / |I_spice,j| over the columns
// the ideal reference counts (netlists/ideal_reference.hpp), the vector on its own.
void compare_columns(std::span<const double> xbar, std::span<const double> ideal,
                     std::span<const double> spice, VectorComparison& out) {
  const double largest_ideal = max_abs(ideal);
  for (std::size_t j = 0; j < spice.size(); ++j) {
    const double diff = std::abs(xbar[j] - spice[j]);
    out.max_abs_diff = std::max(out.max_abs_diff, diff);
    if (netlists::counts_against_ideal(ideal[j], largest_ideal)) {
      out.max_col_rel_diff = std::max(out.max_col_rel_diff, ratio(diff, std::abs(spice[j])));
      ++out.counted_columns;
    }
  }
  out.max_rel_diff = ratio(out.max_abs_diff, max_abs(spice));
}

void compare_nodes(solver::NodeIndex n_free, std::span<const double> xbar,
                   std::span<const double> spice, VectorComparison& out) {
  for (solver::NodeIndex n = 0; n < n_free; ++n) {
    const double diff = std::abs(xbar[n] - spice[n]);
    if (diff > out.max_node_diff || out.worst_node < 0) out.max_node_diff = diff, out.worst_node = n;
  }
}

void accumulate(VectorComparison& overall, const VectorComparison& v) {
  overall.max_abs_diff = std::max(overall.max_abs_diff, v.max_abs_diff);
  overall.max_rel_diff = std::max(overall.max_rel_diff, v.max_rel_diff);
  overall.max_col_rel_diff = std::max(overall.max_col_rel_diff, v.max_col_rel_diff);
  overall.counted_columns += v.counted_columns;
  if (v.max_node_diff > overall.max_node_diff || overall.worst_node < 0)
    overall.max_node_diff = v.max_node_diff, overall.worst_node = v.worst_node;
  overall.spice_time += v.spice_time;
}

}  // namespace

SpiceSolution run_spice(const netlists::Crossbar& crossbar, const std::string& deck) {
  const SpiceOperatingPoint op = NgspiceSession::instance().run_operating_point(deck);
  SpiceSolution out;
  out.elapsed_s = op.elapsed_s;
  const solver::NodeIndex nodes = crossbar.circuit().n_nodes();
  out.voltages.resize(nodes);
  for (solver::NodeIndex n = 0; n < nodes; ++n) out.voltages[n] = op.voltage(crossbar.spice_name(n));
  out.column_current.resize(crossbar.spec().cols);
  for (int j = 0; j < crossbar.spec().cols; ++j)
    out.column_current[j] = op.source_current(netlists::sense_source_name(j));
  return out;
}

VectorComparison compare_vector(const netlists::Crossbar& crossbar,
                                std::span<const double> xbar_columns,
                                std::span<const double> ideal_columns,
                                std::span<const double> xbar_voltages, const SpiceSolution& spice) {
  VectorComparison out;
  compare_columns(xbar_columns, ideal_columns, spice.column_current, out);
  compare_nodes(crossbar.circuit().n_free, xbar_voltages, spice.voltages, out);
  out.spice_time = spice.elapsed_s;
  return out;
}

CrossCheck cross_check(const netlists::Crossbar& crossbar, const Matrix& inputs,
                       const solver::NewtonOptions& newton,
                       const std::function<std::string(std::size_t)>& title,
                       const std::function<void(std::size_t, std::size_t)>& progress) {
  engine::ArraySolver solver(crossbar, newton);
  CrossCheck out;
  // xbar first: it takes milliseconds, and a failure there should not wait for ngspice.
  out.xbar = solver.solve(inputs);
  out.xbar_time = out.xbar.summary.solve_time;
  out.current_spice = Matrix(inputs.rows, crossbar.spec().cols);
  for (std::size_t v = 0; v < inputs.rows; ++v) {
    const SpiceSolution spice = run_spice(crossbar, netlists::spice_deck(crossbar, inputs.row(v), title(v)));
    std::copy(spice.column_current.begin(), spice.column_current.end(), out.current_spice.row(v).begin());
    // The batch solve keeps vector 0's node voltages only: solve this one again for all of them.
    std::vector<double> voltages;
    solver::SolveStats stats;
    solver.solve_vector(inputs.row(v), voltages, stats);
    out.vectors.push_back(compare_vector(crossbar, out.xbar.column_current.row(v),
                                         out.xbar.column_current_ideal.row(v), voltages, spice));
    accumulate(out.overall, out.vectors.back());
    if (progress) progress(v + 1, inputs.rows);
  }
  out.spice_time = out.overall.spice_time;
  return out;
}

// Fitted to `xbar check` runs of one vector with all four line resistances non-zero, 16x16 to
// 96x96 cells, CPU time on the 2-core reference machine: ngspice's sparse reordering is about
// quadratic in the cell count N, and each EKV B-source adds parse and load time (64x64: 1r 3 s,
// 1t1r 5 s, 2t-sonos 8 s; 96x96: 29, 32, 36 s).
double estimated_spice_seconds(int rows, int cols, const devices::CellModel& cell) {
  const double cells = static_cast<double>(rows) * cols;
  const int transistors_per_cell = (cell.has_select() ? 1 : 0) + (cell.is_sonos() ? 1 : 0);
  return 4e-7 * cells * cells + 1.3e-4 * transistors_per_cell * cells;
}

}  // namespace xbar::validation
