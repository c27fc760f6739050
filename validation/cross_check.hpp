#pragma once
// xbar against ngspice on the same circuit (README: SPICE decks, cross-checking). For each input vector
// the deck `xbar netlist` writes runs in libngspice, xbar solves the same vector, and
//
//   dI_j      = I_xbar,j - I_spice,j             column currents (A) into V_sense(j)
//   rel       = max_j |dI_j| / max_j |I_spice,j|  the figure `xbar check` exits on (per vector;
//                                                overall = max over vectors)
//   col_rel_j = |dI_j| / |I_spice,j|             for columns with |I_ideal,j| > 1e-3 max_j |I_ideal,j|
//                                                (information: how well small columns agree)
//   dV        = max_n |V_xbar(n) - V_spice(n)|    over every free circuit node (V)
//
// ngspice is matched node for node through Crossbar::spice_name; its auxiliary nodes (V_P of
// each transistor) have no xbar counterpart and are not compared.
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/array_solver.hpp"
#include "netlists/crossbar.hpp"
#include "solver/newton.hpp"

namespace xbar::validation {

/// One ngspice operating point in xbar's terms.
struct SpiceSolution {
  std::vector<double> column_current;  ///< A, i(VSENSE_j): into the sense source
  std::vector<double> voltages;        ///< V, per circuit node of the crossbar (free, then fixed)
  double elapsed_s = 0;                ///< deck load + op (s)
};

/// Runs `deck` (a deck of this crossbar, as netlists::spice_deck writes it) in the process-wide
/// NgspiceSession and reads every column current and node voltage by the crossbar's SPICE names.
/// Throws SpiceError carrying ngspice's own message.
SpiceSolution run_spice(const netlists::Crossbar& crossbar, const std::string& deck);

struct VectorComparison {
  double max_abs_diff = 0;         ///< A, max_j |dI_j|
  double max_rel_diff = 0;         ///< max_j |dI_j| / max_j |I_spice,j| (0/0 counts as 0)
  double max_col_rel_diff = 0;     ///< max col_rel_j over the counted columns (0 if none)
  int counted_columns = 0;         ///< columns above 1e-3 of the largest ideal current
  double max_node_diff = 0;        ///< V
  solver::NodeIndex worst_node = -1;  ///< node of max_node_diff
  double spice_time = 0;           ///< s
};

/// The figures of one vector from both solutions (xbar's full node voltages included).
VectorComparison compare_vector(const netlists::Crossbar& crossbar,
                                std::span<const double> xbar_columns,
                                std::span<const double> ideal_columns,
                                std::span<const double> xbar_voltages, const SpiceSolution& spice);

struct CrossCheck {
  engine::ArrayResults xbar;              ///< what `xbar solve` writes for these inputs
  Matrix current_spice;           ///< [count, cols] A
  std::vector<VectorComparison> vectors;  ///< one per input vector
  VectorComparison overall;  ///< maxima over vectors; worst_node from the vector with the largest dV
  double xbar_time = 0;      ///< s, xbar's solve of every vector
  double spice_time = 0;     ///< s, ngspice over every vector

  /// The verdict of `xbar check`: the largest per-vector rel within tolerance (NaN fails).
  bool passed(double tolerance) const { return overall.max_rel_diff <= tolerance; }
};

/// Solves every row of inputs ([count, rows]) with xbar (ArraySolver, the `xbar solve` path) and
/// with ngspice, and compares. title(k) is the deck title of vector k. progress(done, total) is
/// called after each ngspice run. Throws SpiceError (ngspice) or engine::SolveFailure (xbar).
CrossCheck cross_check(const netlists::Crossbar& crossbar, const Matrix& inputs,
                       const solver::NewtonOptions& newton,
                       const std::function<std::string(std::size_t)>& title,
                       const std::function<void(std::size_t, std::size_t)>& progress = {});

/// Rough ngspice wall time (s) for one input vector of this array with the decks xbar writes
/// (libngspice 39 from Debian, no KLU, on the 2-core reference machine); used by the size guard.
double estimated_spice_seconds(int rows, int cols, const devices::CellModel& cell);

}  // namespace xbar::validation
