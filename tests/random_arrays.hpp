#pragma once
// Random test arrays from a seed: uniform levels mapped to physical weights (V_T by
// program-verify for SONOS, G for resistor cells), and random inputs (bits at the given activity
// for select cells, uniform reals in [0, 1] for 1r).
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "devices/levels.hpp"
#include "engine/array_solver.hpp"

namespace xbar::test {

inline netlists::ArraySpec random_array(devices::CellKind kind, int rows, int cols,
                                        netlists::LineResistance lines, unsigned seed) {
  netlists::ArraySpec spec;
  spec.rows = rows;
  spec.cols = cols;
  spec.cell.kind = kind;
  spec.lines = lines;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(0, 127);
  static const std::vector<double> vts =
      devices::sonos_level_vts(devices::CellModel{}, devices::LevelSpec{}, 0.1);
  const devices::LevelSpec conductance{128, 1e-4, 100};
  for (int k = 0; k < rows * cols; ++k)
    spec.weights.push_back(spec.cell.is_sonos() ? vts[level(rng)] : conductance.value(level(rng)));
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

inline Matrix random_inputs(const netlists::ArraySpec& spec, int count, double activity,
                                    unsigned seed) {
  Matrix in(count, spec.rows);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (double& x : in.data) x = spec.cell.has_select() ? (u(rng) < activity ? 1.0 : 0.0) : u(rng);
  return in;
}

}  // namespace xbar::test
