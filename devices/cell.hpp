#pragma once
// One crossbar cell as a device: the series connection row node -> [select FET] -> m -> storage
// element -> bit line, evaluated in isolation. Knows nothing of arrays; the array builder and
// the ideal reference (docs/conventions.md) use it.
//
// Storage element: a resistor (weight = conductance G, S) or a SONOS transistor (weight = V_T, V;
// drain = m, source = bit line, gate = v_wl). Every transistor carries G_leak drain-source.
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "devices/ekv.hpp"
#include "devices/resistor.hpp"
#include "devices/table_device.hpp"

namespace xbar::devices {

/// A cell equation without a numerical solution at the given bias (the device laws overflow
/// at absurd voltages). The caller decides whether that is a bad input or a failed solve.
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class CellKind { resistor_1r, select_resistor_1t1r, select_sonos_2t };
enum class SelectModel { ekv, ideal, table };

/// The config spellings: "1r", "1t1r", "2t-sonos"; "ekv", "ideal", "table". The one codec of
/// these names: config parsing, file attributes and messages all go through it.
std::string_view to_string(CellKind kind);
std::string_view to_string(SelectModel model);
/// nullopt for a name that is not one of the spellings above.
std::optional<CellKind> parse_cell_kind(std::string_view name);
std::optional<SelectModel> parse_select_model(std::string_view name);
/// Every spelling, in enumerator order (the config's allowed values).
std::vector<std::string> cell_kind_names();
std::vector<std::string> select_model_names();

struct CellModel {
  CellKind kind = CellKind::select_sonos_2t;
  SelectModel select_model = SelectModel::ekv;
  EkvParams select = select_defaults();
  std::shared_ptr<const TabulatedTransistor> select_table;  ///< the select law when select_model = table
  EkvParams sonos = sonos_defaults();  ///< vt is replaced by each cell's weight
  ResistorLaw resistor;
  double v_on = 1.1;   ///< select gate when the input bit is 1 (V)
  double v_off = 0.0;  ///< select gate when the input bit is 0 (V)
  double v_wl = 0.0;   ///< SONOS control gate (V)

  bool has_select() const { return kind != CellKind::resistor_1r; }
  /// The config spelling of the kind: "1r", "1t1r" or "2t-sonos".
  std::string_view kind_name() const { return to_string(kind); }
  bool is_sonos() const { return kind == CellKind::select_sonos_2t; }
};

/// Current a -> b of a two-terminal branch and its partials in both terminal voltages (a
/// bulk-referenced transistor depends on each terminal, not only on the difference).
struct BranchCurrent {
  double i;      ///< A
  double di_da;  ///< S
  double di_db;  ///< S
};

/// A SONOS storage transistor at V_T = vt as the branch m -> bit line, with its leak shunt.
BranchCurrent sonos_storage_current(const CellModel& cell, double vt, double v_m, double v_bl);
/// Storage element m -> bit line, with its leak shunt for SONOS. Inline: the per-cell loops over
/// a 1r array (cell currents, the ideal reference) call it once per cell.
inline BranchCurrent storage_current(const CellModel& cell, double weight, double v_m, double v_bl) {
  if (cell.is_sonos()) return sonos_storage_current(cell, weight, v_m, v_bl);
  const TwoTerminalCurrent r = resistor_current(cell.resistor, weight, v_m - v_bl);
  return {r.i, r.di_dv, -r.di_dv};
}
/// storage_current's current (A) of cells with weights `weight` at v_m and v_bl, into i (every
/// span of one size). SONOS cells go through the batched EKV law (ekv_current_batch: a few ulp
/// from storage_current), the others cell by cell.
void storage_currents(const CellModel& cell, std::span<const double> weight, std::span<const double> v_m,
                      std::span<const double> v_bl, std::span<double> i);
/// Select FET row -> m at gate voltage v_gate, with its leak shunt.
BranchCurrent select_current(const CellModel& cell, double v_gate, double v_row, double v_m);
/// A transistor with a fixed gate as a branch drain -> source, with its leak shunt.
BranchCurrent transistor_branch(const EkvParams& p, double v_g, double v_d, double v_s);
BranchCurrent transistor_branch(const TableDevice& law, double v_g, double v_d, double v_s);

struct IsolatedCell {
  double current;  ///< row -> bit line (A)
  double v_m;      ///< internal node (V); v_row for cells without a select FET
};

/// The cell alone between ideal sources: row node at v_row, bit line at v_bl, select gate at
/// v_on. Solved to machine precision (bracketed Newton on v_m). Throws ModelError.
IsolatedCell isolated_cell(const CellModel& cell, double weight, double v_row, double v_bl);

/// The same cell with its input bit 0 (an inactive row): select gate at v_off, so what flows is
/// the leakage of the off select FET in series with the storage element; an ideal select switch
/// is open (no current, m at the bit line). A cell without select FET (1r) has no gate: as
/// isolated_cell at the v_row given. Throws ModelError.
IsolatedCell isolated_cell_off(const CellModel& cell, double weight, double v_row, double v_bl);

/// |dI/dV_T| (S) of the isolated 2T SONOS cell (select FET in series, as isolated_cell): the
/// cell's transconductance, exact (implicit differentiation of KCL at m). Throws ModelError.
double sonos_cell_transconductance(const CellModel& cell, double vt, double v_row, double v_bl);

/// Program-verify (docs/conventions.md): the V_T at which the isolated 2T cell conducts
/// i_target at row v_read, bit line 0 V. Relative accuracy 1e-12 in current. Throws ModelError.
double sonos_vt_for_current(const CellModel& cell, double i_target, double v_read);

}  // namespace xbar::devices
