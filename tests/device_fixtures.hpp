#pragma once
// Shared by the tabulated-device tests: tabulating an analytic law, random bias points, arrays
// whose select FET is a table.
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "devices/cell.hpp"
#include "devices/levels.hpp"
#include "devices/table_device.hpp"
#include "engine/array_solver.hpp"
#include "netlists/crossbar.hpp"
#include "random_arrays.hpp"

namespace xbar::test {

using Law = std::function<devices::TransistorCurrent(double v_g, double v_d, double v_s)>;

/// The array's default bias box: gate nodes v_off = 0 and v_on = 1.1 V, read range [0, 0.1] V.
inline devices::TableGridSpec default_spec() {
  devices::TableGridSpec spec;
  spec.gate_nodes = {0.0, 1.1};
  return spec;
}

/// The law's current and dI/dV_D at every node (what characterize measures).
inline devices::TableSamples tabulate(const devices::TableGrid& grid, const Law& law) {
  devices::TableSamples s{grid, std::vector<double>(grid.size()), {}, std::vector<double>(grid.size()), {}, 1e-6};
  for (std::size_t ig = 0; ig < grid.v_g.size(); ++ig)
    for (std::size_t is = 0; is < grid.v_s.size(); ++is)
      for (std::size_t id = 0; id < grid.v_ds.size(); ++id) {
        const std::size_t k = grid.index(ig, is, id);
        const double v_s = grid.v_s[is];
        const devices::TransistorCurrent c = law(grid.v_g[ig], v_s + grid.v_ds[id], v_s);
        s.i_ds[k] = c.i_ds;
        s.di_dvd[k] = c.di_dvd;
      }
  return s;
}

inline Law ekv_law(const devices::EkvParams& p) {
  return [p](double v_g, double v_d, double v_s) { return devices::ekv_current(p, v_g, v_d, v_s); };
}

struct Bias {
  double v_g, v_d, v_s;
};

/// Uniform in the spec's box (V_D and V_S in [v_lo, v_hi]); every fourth point at a gate node.
inline std::vector<Bias> random_biases(const devices::TableGridSpec& spec, int count, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> gate(spec.vg_lo, spec.vg_hi), terminal(spec.v_lo, spec.v_hi);
  std::vector<Bias> out;
  for (int k = 0; k < count; ++k) {
    const double v_g = k % 4 == 0 ? spec.gate_nodes[(k / 4) % spec.gate_nodes.size()] : gate(rng);
    const double v_d = terminal(rng);
    out.push_back({v_g, v_d, terminal(rng)});
  }
  return out;
}

/// A rows x cols array of the given kind with random levels and 2/2/5/5 ohm lines, its select
/// FET the given table (or EKV when table is null).
inline netlists::ArraySpec array_with_select(devices::CellKind kind,
                                             std::shared_ptr<const devices::TabulatedTransistor> table, int rows,
                                             int cols, unsigned seed) {
  netlists::ArraySpec spec = array_of(kind, rows, cols, {2.0, 2.0, 5.0, 5.0});
  if (table) {
    spec.cell.select_model = devices::SelectModel::table;
    spec.cell.select_table = std::move(table);
  }
  std::mt19937 rng(seed);
  // Levels programmed through this array's own select law.
  draw_weights(spec, rng, spec.cell.is_sonos() ? devices::sonos_level_vts(spec.cell, devices::LevelSpec{}, spec.v_read)
                                               : std::vector<double>{});
  return spec;
}

/// Input bits, about half of them 1.
inline Matrix random_bits(int count, int rows, unsigned seed) {
  Matrix in(count, rows);
  std::mt19937 rng(seed);
  for (double& x : in.data) x = static_cast<double>(rng() % 2);
  return in;
}

}  // namespace xbar::test
