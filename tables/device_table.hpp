#pragma once
// Per-level device data of an effective-weight table (docs/tables.md): the nominal
// current of each level, its sensitivities to the two cell terminals, and the cell current on a
// (v_bl, v_sup) grid. Everything here is the cell in isolation (devices::isolated_cell): row
// node -> [select FET, gate v_on] -> m -> storage element -> bit line.
#include <vector>

#include "devices/cell.hpp"
#include "devices/levels.hpp"

namespace xbar::tables {

/// Current of the isolated cell and its partials in the two terminal voltages.
struct CellSensitivity {
  double current;   ///< row -> bit line (A)
  double di_dv_row; ///< dI/dV_row (S), drain side
  double di_dv_bl;  ///< dI/dV_bl (S), source side
};

/// Exact derivative of the series cell. With a = dI_sel/dV_row, b = dI_sel/dv_m (select FET
/// row -> m), c = dI_sto/dv_m, d = dI_sto/dV_bl (storage m -> bit line), KCL at m,
/// I_sel(V_row, v_m) = I_sto(v_m, V_bl), gives dv_m/dV_row = a/(c-b), dv_m/dV_bl = d/(b-c), so
///   dI/dV_row = c a/(c-b),        dI/dV_bl = d b/(b-c).
/// Without a select FET (1r, ideal select) v_m = V_row: dI/dV_row = c, dI/dV_bl = d.
CellSensitivity cell_sensitivity(const devices::CellModel& cell, double weight, double v_row,
                                 double v_bl);

/// Physical weight of every level: V_T by program-verify at v_read (SONOS), else G_k.
std::vector<double> level_weights(const devices::CellModel& cell, const devices::LevelSpec& spec,
                                  double v_read);

/// /device/*: one entry per level at nominal bias (row v_read, bit line v_sense, select on), and
/// the current of the same cell with input 0 (select off; a 1r cell's row at 0 V).
struct DeviceTable {
  std::vector<double> weight;       ///< V_T (V) for SONOS, G (S) for resistor cells
  std::vector<double> current;      ///< I_k (A)
  std::vector<double> current_off;  ///< the leakage of an inactive cell at level k (A)
  std::vector<double> dlnI_dVs;  ///< d ln I / dV_bl (1/V), bit line = SONOS source
  std::vector<double> dlnI_dVd;  ///< d ln I / dV_row (1/V), row node = drain side
};

DeviceTable build_device_table(const devices::CellModel& cell, std::vector<double> weights,
                               double v_read, double v_sense);

/// /cell/current [levels, v_bl.size(), v_sup.size()]: isolated cell current (A) on a grid of
/// bit-line and row-node voltages.
struct CellGrid {
  std::vector<double> v_bl, v_sup;  ///< V, increasing
  std::vector<double> current;      ///< row-major [level][v_bl][v_sup]
};

/// n equally spaced points from lo to hi inclusive.
std::vector<double> linear_axis(double lo, double hi, int n);

CellGrid build_cell_grid(const devices::CellModel& cell, const std::vector<double>& weights,
                         std::vector<double> v_bl, std::vector<double> v_sup);

}  // namespace xbar::tables
