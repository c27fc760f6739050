#pragma once
// The crossbar as a circuit (docs/conventions.md). Rows i = 0..M-1 carry drivers at the left,
// columns j = 0..N-1 end in sense amplifiers at the bottom:
//
//   V_row(i) -r_driver- a(i) -r_row- r(i,0) -r_row- r(i,1) ... r(i,N-1)       (open far end)
//   c(0,j) -r_col- c(1,j) ... c(M-1,j) -r_col- s(j) -r_sense- V_sense(j)
//   cell (i,j): r(i,j) -> [select FET, gate = input bit -> m(i,j)] -> storage -> c(i,j)
//
// A resistance of 0 merges its two nodes (never a 0-ohm element). Sources are grounded, so they
// become fixed nodes of the solver's circuit: V_row(i), V_sense(j), the select gate of each row
// and the SONOS word line. The column current I_j is the current into V_sense(j).
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/cell.hpp"
#include "solver/circuit.hpp"

namespace xbar::netlists {

using solver::NodeIndex;

struct LineResistance {
  double r_row = 0, r_col = 0, r_driver = 0, r_sense = 0;  ///< ohm, >= 0
};

struct ArraySpec {
  int rows = 1, cols = 1;
  devices::CellModel cell;
  LineResistance lines;
  double v_read = 0.1;   ///< V: row drive of select cells, full-scale input of 1r cells
  double v_sense = 0.0;  ///< V: virtual ground of the sense amplifiers
  std::vector<double> weights;  ///< per cell, row-major: V_T (V) for SONOS, G (S) for resistors
  /// The weights before programming error, for the ideal reference (empty: `weights`).
  std::vector<double> nominal_weights;
  std::span<const double> ideal_weights() const { return nominal_weights.empty() ? weights : nominal_weights; }
};

enum class NodeKind { driver, row, internal, column, sense, row_source, sense_source, gate, word_line };
std::string_view to_string(NodeKind kind);

/// Where a circuit node sits in the array (the first logical node merged into it).
struct NodeLabel {
  NodeKind kind;
  int row = -1, col = -1;  ///< -1 where not applicable
};

class Crossbar {
 public:
  explicit Crossbar(ArraySpec spec);

  const ArraySpec& spec() const { return spec_; }
  /// The whole nodal circuit: cells and line wires. The wires are added on the first call (the
  /// grid Newton models the lines itself and never asks for them); thread-safe.
  const solver::Circuit& circuit() const;
  /// The circuit's nodes and the cells' devices, without the line wires (cheap: no call builds
  /// anything). Everything but the wires is as circuit() has it.
  const solver::Circuit& cell_circuit() const { return circuit_; }
  /// Number of unknown (free) node voltages of the circuit.
  NodeIndex free_nodes() const { return circuit_.n_free; }

  /// Whether the cells of this row take part for the given input (select bit 1; always for 1r).
  bool row_active(std::span<const double> input, int row) const;
  /// Whether cells have a select transistor (and so an internal node m): not for 1r, nor for
  /// an ideal select, which is an enable on the storage element.
  bool has_real_select() const;
  /// V_row(i): input * v_read for 1r cells, v_read for select cells.
  double row_voltage(std::span<const double> input, int row) const;
  /// Voltages of the fixed nodes (sources) for one input vector of length rows.
  std::vector<double> fixed_voltages(std::span<const double> input) const;
  /// Starting point for Newton: every node at its source's voltage, m at its isolated value.
  std::vector<double> initial_guess(std::span<const double> input) const;
  /// The same written into out (free_nodes() values).
  void initial_guess(std::span<const double> input, std::span<double> out) const;

  /// Internal node m(i,j) of the cell alone at nominal bias, select on (or off), in V: the
  /// starting point initial_guess and warm starts use.
  double isolated_v_m(int row, int col, bool select_on = true) const;
  /// isolated_v_m of every cell (row-major), select on or off (cells with a select).
  std::span<const double> isolated_v_m_cells(bool select_on) const {
    return select_on ? isolated_v_m_ : isolated_v_m_off_;
  }

  NodeIndex node(NodeKind kind, int row, int col) const;
  const NodeLabel& label(NodeIndex node) const { return labels_[node]; }
  std::string describe(NodeIndex node) const;  ///< "column node c(3, 7)" for messages
  /// Node name in SPICE decks; the names are built on first use (solves never need them).
  const std::string& spice_name(NodeIndex node) const;

  /// Column currents (A) into V_sense(j), from full node voltages.
  std::vector<double> column_currents(std::span<const double> voltages) const;
  /// Storage-element currents (A) into c(i,j), row-major.
  std::vector<double> cell_currents(std::span<const double> voltages) const;
  /// The voltage (V) of the row (kind row) or column (kind column) node of every cell, row-major.
  std::vector<double> line_voltages(NodeKind kind, std::span<const double> voltages) const;
  /// Ideal cell currents (A), row-major: each active cell's isolated current at nominal bias,
  /// 0 for the cells of inactive rows (docs/conventions.md).
  std::vector<double> ideal_cell_currents(std::span<const double> input) const;
  /// The three above into the caller's rows x cols values (no allocation).
  void cell_currents(std::span<const double> voltages, std::span<double> out) const;
  void line_voltages(NodeKind kind, std::span<const double> voltages, std::span<double> out) const;
  void ideal_cell_currents(std::span<const double> input, std::span<double> out) const;
  /// The isolated current of an active cell (A), as ideal_cell_currents has it.
  double ideal_cell_current(std::span<const double> input, int row, int col) const;
  /// Isolated current (A) of every cell as programmed (its solved weight, not the nominal one),
  /// row-major, at nominal bias: row node at v_read, bit line at v_sense, select on.
  std::vector<double> programmed_cell_currents() const;
  /// Ideal column currents (docs/conventions.md): sum of the active cells' isolated currents.
  std::vector<double> ideal_column_currents(std::span<const double> input) const;

  /// Element groups as built (for the SPICE deck writer): storage, select (may be absent; a
  /// tabulated select is circuit().tabulated[0] instead).
  int storage_group() const { return storage_group_; }
  int select_group() const { return select_group_; }

 private:
  class Builder;
  /// Grain of parallel_for over rows: whole rows, enough cells per task to be worth a thread.
  std::int64_t rows_per_task() const;
  ArraySpec spec_;
  mutable solver::Circuit circuit_;  ///< the wires only from the first circuit() call
  mutable std::once_flag wires_built_;
  std::vector<NodeLabel> labels_;
  mutable std::vector<std::string> names_;
  mutable std::once_flag names_built_;
  std::vector<NodeIndex> logical_to_node_;
  std::vector<NodeIndex> sense_sources_;  ///< V_sense(j), per column
  solver::Circuit sense_branches_;        ///< the elements touching them (column currents)
  std::vector<double> isolated_current_;  ///< per cell at V_row = v_read, nominal weight (select cells only)
  std::vector<double> programmed_current_;  ///< per cell at V_row = v_read, solved weight (select cells only)
  std::vector<double> isolated_v_m_, isolated_v_m_off_;
  int storage_group_ = -1, select_group_ = -1;
};

}  // namespace xbar::netlists
