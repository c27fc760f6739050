#include "tables/device_table.hpp"

namespace xbar::tables {

CellSensitivity cell_sensitivity(const devices::CellModel& cell, double weight, double v_row,
                                 double v_bl) {
  const devices::IsolatedCell iso = devices::isolated_cell(cell, weight, v_row, v_bl);
  const devices::BranchCurrent sto = devices::storage_current(cell, weight, iso.v_m, v_bl);
  const bool real_select = cell.has_select() && cell.select_model == devices::SelectModel::ekv;
  if (!real_select) return {iso.current, sto.di_da, sto.di_db};
  const devices::BranchCurrent sel = devices::select_current(cell, cell.v_on, v_row, iso.v_m);
  const double a = sel.di_da, b = sel.di_db, c = sto.di_da, d = sto.di_db;
  return {iso.current, c * a / (c - b), d * b / (b - c)};
}

std::vector<double> level_weights(const devices::CellModel& cell, const devices::LevelSpec& spec,
                                  double v_read) {
  if (cell.is_sonos()) return devices::sonos_level_vts(cell, spec, v_read);
  std::vector<double> g(spec.levels);
  for (int k = 0; k < spec.levels; ++k) g[k] = spec.value(k);
  return g;
}

DeviceTable build_device_table(const devices::CellModel& cell, std::vector<double> weights,
                               double v_read, double v_sense) {
  DeviceTable t;
  for (double w : weights) {
    const CellSensitivity s = cell_sensitivity(cell, w, v_read, v_sense);
    t.current.push_back(s.current);
    // Input 0: the select gate off at the read bias; a 1r cell's row driven at 0 V.
    const double v_row_off = cell.has_select() ? v_read : 0.0;
    t.current_off.push_back(devices::isolated_cell_off(cell, w, v_row_off, v_sense).current);
    t.dlnI_dVs.push_back(s.di_dv_bl / s.current);
    t.dlnI_dVd.push_back(s.di_dv_row / s.current);
  }
  t.weight = std::move(weights);
  return t;
}

std::vector<double> linear_axis(double lo, double hi, int n) {
  std::vector<double> axis(n);
  for (int k = 0; k < n; ++k) axis[k] = k + 1 == n ? hi : lo + k * (hi - lo) / (n - 1);
  return axis;
}

CellGrid build_cell_grid(const devices::CellModel& cell, const std::vector<double>& weights,
                         std::vector<double> v_bl, std::vector<double> v_sup) {
  CellGrid g{std::move(v_bl), std::move(v_sup), {}};
  g.current.reserve(weights.size() * g.v_bl.size() * g.v_sup.size());
  for (double w : weights)
    for (double bl : g.v_bl)
      for (double sup : g.v_sup) g.current.push_back(devices::isolated_cell(cell, w, sup, bl).current);
  return g;
}

}  // namespace xbar::tables
