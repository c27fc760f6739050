#pragma once
// The test fixtures of arrays and their laws, in one place: random arrays from a seed (uniform
// levels mapped to physical weights: V_T by program-verify for SONOS, G for resistor cells),
// random inputs (bits at the given activity for select cells, uniform reals in [0, 1] for 1r),
// and the checks every solved array must pass: KCL at every node, and each column's current the
// sum of its cells' currents.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <set>
#include <span>
#include <vector>

#include "devices/levels.hpp"
#include "engine/array_solver.hpp"

namespace xbar::test {

/// The V_T of each level (V) as program-verify gives it for the default SONOS cell read at 0.1 V
/// (computed once: a program-verify per array would cost the random-array test seconds).
inline const std::vector<double>& default_level_vts() {
  static const std::vector<double> vts = devices::sonos_level_vts(devices::CellModel{}, devices::LevelSpec{}, 0.1);
  return vts;
}

/// Fills spec.weights, row-major: a level uniform in [0, 127] per cell and its physical weight,
/// level_vts[level] for SONOS cells, G evenly spaced in [1e-6, 1e-4] S for resistor cells. The
/// one random-array builder: every array fixture draws its weights here.
template <class Rng>
void draw_weights(netlists::ArraySpec& spec, Rng& rng, const std::vector<double>& level_vts = default_level_vts()) {
  std::uniform_int_distribution<int> level(0, 127);
  const devices::LevelSpec conductance{128, 1e-4, 100};
  spec.weights.clear();
  for (int k = 0; k < spec.rows * spec.cols; ++k)
    spec.weights.push_back(spec.cell.is_sonos() ? level_vts[level(rng)] : conductance.value(level(rng)));
}

/// A rows x cols array of the given kind and lines, default cell law and bias, no weights yet.
inline netlists::ArraySpec array_of(devices::CellKind kind, int rows, int cols, netlists::LineResistance lines) {
  netlists::ArraySpec spec;
  spec.rows = rows;
  spec.cols = cols;
  spec.cell.kind = kind;
  spec.lines = lines;
  return spec;
}

/// A rows x cols array of the given kind (default cell law and bias) with random levels.
inline netlists::ArraySpec random_array(devices::CellKind kind, int rows, int cols,
                                        netlists::LineResistance lines, unsigned seed) {
  netlists::ArraySpec spec = array_of(kind, rows, cols, lines);
  std::mt19937 rng(seed);
  draw_weights(spec, rng);
  return spec;
}

/// KCL tolerance of node n (A): 1e-12 of its rounding scale plus 1e-18 A (docs/conventions.md).
inline double kcl_tolerance(const solver::NodeCurrents& kcl, solver::NodeIndex n) {
  return 1e-12 * kcl.scale[n] + 1e-18;
}

/// max over the free nodes of |f_n| / kcl_tolerance at the voltages v (NaN if a residual is
/// NaN): KCL holds at every node when it is <= 1. node_currents is independent of every solver.
inline double worst_kcl_ratio(const solver::Circuit& circuit, std::span<const double> v) {
  const solver::NodeCurrents kcl = solver::node_currents(circuit, v);
  double worst = 0;
  for (solver::NodeIndex n = 0; n < circuit.n_free; ++n) {
    const double ratio = std::abs(kcl.current_out[n]) / kcl_tolerance(kcl, n);
    if (!(ratio <= worst)) worst = ratio;
  }
  return worst;
}

/// The column current (into V_sense) and the sum of column j's cell currents differ by the KCL
/// residuals of the column's nodes: the sum of their tolerances, twice (the solver assembled its
/// residual in another order than node_currents).
inline double column_tolerance(const netlists::Crossbar& xb, const solver::NodeCurrents& kcl, int j) {
  using netlists::NodeKind;
  std::set<solver::NodeIndex> nodes = {xb.node(NodeKind::sense, 0, j), xb.node(NodeKind::sense_source, 0, j)};
  for (int i = 0; i < xb.spec().rows; ++i) nodes.insert(xb.node(NodeKind::column, i, j));
  double tolerance = 0;
  for (solver::NodeIndex n : nodes) tolerance += 2 * kcl_tolerance(kcl, n);
  return tolerance;
}

/// Conservation: every column's current is the sum of its cells' currents at the voltages v
/// (kcl: node_currents at v), to column_tolerance.
inline void require_conservation(const netlists::Crossbar& xb, std::span<const double> v,
                                 const solver::NodeCurrents& kcl) {
  const std::vector<double> cells = xb.cell_currents(v), columns = xb.column_currents(v);
  for (int j = 0; j < xb.spec().cols; ++j) {
    double sum = 0;
    for (int i = 0; i < xb.spec().rows; ++i) sum += cells[static_cast<std::size_t>(i) * xb.spec().cols + j];
    INFO("column " << j << ": I = " << columns[j] << " A, sum of cells " << sum << " A");
    REQUIRE(std::abs(columns[j] - sum) <= column_tolerance(xb, kcl, j));
  }
}

inline Matrix random_inputs(const netlists::ArraySpec& spec, int count, double activity,
                                    unsigned seed) {
  Matrix in(count, spec.rows);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (double& x : in.data) x = spec.cell.has_select() ? (u(rng) < activity ? 1.0 : 0.0) : u(rng);
  return in;
}

}  // namespace xbar::test
