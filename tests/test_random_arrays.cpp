// Randomized arrays: a few hundred random but structurally valid crossbars, every cell
// kind, sizes 1..40, line resistances from exactly 0 (merged nodes) to 1 kOhm, random bias,
// v_sense and inputs. Every one must solve (no crash, no SolveFailure), and its answer must obey
// the laws that hold whatever the parameters:
//   - KCL at every free node to rounding: |f_i| <= 1e-12 scale_i + 1e-18 A (docs/conventions.md);
//   - a column's current is the sum of its cells' currents, to the KCL tolerance of its nodes;
//   - every branch is passive (its current flows from the higher terminal voltage to the lower),
//     so no node leaves the range spanned by the row and sense sources (maximum principle);
//   - the answer does not depend on the start: a warm-started vector equals a cold solve;
//   - with no line resistance at all, every cell sits at nominal bias, so each column carries
//     exactly the sum of its cells' isolated currents (select off for inactive rows).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "engine/array_solver.hpp"
#include "random_arrays.hpp"

using namespace xbar;
using netlists::ArraySpec;
using netlists::Crossbar;

namespace {

constexpr int k_arrays = 300;

struct RandomArray {
  ArraySpec spec;
  Matrix inputs;            ///< [2, rows]
  std::string description;  ///< printed with a failure, to reproduce it
};

// One in four exactly 0 (the nodes merge), otherwise log-uniform in [1 mOhm, 1 kOhm].
double random_resistance(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  return u(rng) < 0.25 ? 0.0 : std::pow(10.0, -3 + 6 * u(rng));
}

RandomArray random_array(std::mt19937_64& rng, bool line_resistance) {
  static const devices::CellKind kinds[] = {devices::CellKind::resistor_1r,
                                            devices::CellKind::select_resistor_1t1r,
                                            devices::CellKind::select_sonos_2t};
  std::uniform_int_distribution<int> size(1, 40), kind(0, 2);
  std::uniform_real_distribution<double> u(0, 1);
  const int rows = size(rng), cols = size(rng);
  const devices::CellKind cell_kind = kinds[kind(rng)];
  netlists::LineResistance lines;
  if (line_resistance)  // a braced list: drawn left to right
    lines = {random_resistance(rng), random_resistance(rng), random_resistance(rng), random_resistance(rng)};
  RandomArray a{test::array_of(cell_kind, rows, cols, lines), {}, {}};
  ArraySpec& s = a.spec;
  const double v_read = 0.05 + 0.25 * u(rng), v_sense = -0.1 + 0.2 * u(rng);
  test::draw_weights(s, rng);  // SONOS levels as programmed for the default read voltage
  s.v_read = v_read;
  s.v_sense = v_sense;
  const double activity = u(rng);
  a.inputs = Matrix(2, s.rows);
  for (double& x : a.inputs.data)
    x = s.cell.has_select() ? (u(rng) < activity ? 1.0 : 0.0) : -0.5 + 1.5 * u(rng);  // 1r: negative too
  a.description = fmt::format("{} x {} kind {}, r_row {:.3g} r_col {:.3g} r_driver {:.3g} r_sense {:.3g} ohm, "
                              "v_read {:.3g} V, v_sense {:.3g} V, activity {:.2f}",
                              s.rows, s.cols, static_cast<int>(s.cell.kind), s.lines.r_row, s.lines.r_col,
                              s.lines.r_driver, s.lines.r_sense, s.v_read, s.v_sense, activity);
  return a;
}

// Passive branches: every node between the lowest and the highest source (gates and the word
// line carry no current). 1 uV: weakly tied nodes (an off select, 1e-15 S) move that much
// within the residual tolerance.
void check_source_range(const Crossbar& xb, std::span<const double> input, std::span<const double> v) {
  double lo = xb.spec().v_sense, hi = lo;
  for (int i = 0; i < xb.spec().rows; ++i) {
    lo = std::min(lo, xb.row_voltage(input, i));
    hi = std::max(hi, xb.row_voltage(input, i));
  }
  const auto free_nodes = v.first(static_cast<std::size_t>(xb.circuit().n_free));
  const auto [lowest, highest] = std::minmax_element(free_nodes.begin(), free_nodes.end());
  if (free_nodes.empty()) return;
  INFO("sources span [" << lo << ", " << hi << "] V; " << xb.describe(lowest - free_nodes.begin()) << " at "
       << *lowest << " V, " << xb.describe(highest - free_nodes.begin()) << " at " << *highest << " V");
  REQUIRE(*lowest >= lo - 1e-6);
  REQUIRE(*highest <= hi + 1e-6);
}

// No line resistance: column j = sum over rows of the isolated cell with its select at v_on or
// v_off (for 1r the row voltage carries the input).
void check_ideal_limit(const Crossbar& xb, std::span<const double> input, std::span<const double> columns,
                       const solver::NodeCurrents& kcl) {
  const ArraySpec& s = xb.spec();
  devices::CellModel off = s.cell;
  off.v_on = s.cell.v_off;
  for (int j = 0; j < s.cols; ++j) {
    double expected = 0, magnitude = 0;
    for (int i = 0; i < s.rows; ++i) {
      const double weight = s.weights[static_cast<std::size_t>(i) * s.cols + j];
      const devices::CellModel& cell = xb.row_active(input, i) ? s.cell : off;
      const double current = devices::isolated_cell(cell, weight, xb.row_voltage(input, i), s.v_sense).current;
      expected += current;
      magnitude += std::abs(current);
    }
    INFO("column " << j << ": I = " << columns[j] << " A, isolated cells sum to " << expected << " A");
    REQUIRE(std::abs(columns[j] - expected) <= 1e-9 * magnitude + test::column_tolerance(xb, kcl, j));
  }
}

bool no_line_resistance(const netlists::LineResistance& r) {
  return r.r_row == 0 && r.r_col == 0 && r.r_driver == 0 && r.r_sense == 0;
}

}  // namespace

TEST_CASE("random arrays of every kind solve and obey KCL, conservation and the source range", "[random]") {
  std::mt19937_64 rng(20240607);
  for (int a = 0; a < k_arrays; ++a) {
    const RandomArray array = random_array(rng, a % 10 != 0);  // every tenth: the ideal limit
    INFO("array " << a << ": " << array.description);
    const Crossbar xb(array.spec);
    engine::ArraySolver solver(xb, {});
    engine::ArrayResults batch;
    REQUIRE_NOTHROW(batch = solver.solve(array.inputs));
    const solver::NodeCurrents kcl = solver::node_currents(xb.circuit(), batch.voltages);
    REQUIRE(test::worst_kcl_ratio(xb.circuit(), batch.voltages) <= 1.0);
    test::require_conservation(xb, batch.voltages, kcl);
    check_source_range(xb, array.inputs.row(0), batch.voltages);
    if (no_line_resistance(array.spec.lines)) {
      check_ideal_limit(xb, array.inputs.row(0), batch.column_current.row(0), kcl);
    }
    // Vector 1 was warm-started from vector 0 (1r); solved from the cold guess it must agree.
    std::vector<double> cold;
    solver::SolveStats stats;
    solver.solve_vector(array.inputs.row(1), cold, stats);
    const solver::NodeCurrents cold_kcl = solver::node_currents(xb.circuit(), cold);
    const std::vector<double> cold_columns = xb.column_currents(cold);
    for (int j = 0; j < array.spec.cols; ++j)
      REQUIRE(std::abs(batch.column_current(1, j) - cold_columns[j]) <= 2 * test::column_tolerance(xb, cold_kcl, j));
  }
}
