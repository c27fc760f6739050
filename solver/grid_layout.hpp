#pragma once
// The crossbar's shape as the grid Newton sees it (grid_newton.hpp): line conductances, the
// sources and sinks of the lines, and which circuit nodes and device groups each cell uses.
// Solver code knows nothing of crossbars: whoever builds the circuit (netlists/) fills it in.
#include <vector>

#include "solver/circuit.hpp"

namespace xbar::solver {

/// Where the grid's pieces sit in a Circuit (built by whoever built the circuit, e.g. netlists/).
/// Cell k = i * cols + j is element k of each device group named here.
struct GridLayout {
  int rows = 0, cols = 0;
  /// Line conductances (S). g_row = 0: the row nodes are fixed (merged with their source);
  /// g_col = 0: the bit-line nodes are fixed.
  double g_row = 0, g_row_first = 0, g_col = 0, g_col_last = 0;
  std::vector<NodeIndex> row_source;  ///< per row: fixed node V_src(i)
  std::vector<NodeIndex> col_sink;    ///< per column: fixed node V_sink(j)
  /// Per cell: circuit nodes R(i,j), m(i,j) (empty vector: cells of one device), C(i,j).
  std::vector<NodeIndex> row_node, internal_node, col_node;
  int upper_transistors = -1;  ///< Circuit::transistors index of the R -> m devices, or -1
  int lower_transistors = -1;  ///< Circuit::transistors index of the lower devices, or -1
  int lower_resistors = -1;    ///< Circuit::resistors index of the lower devices, or -1

  /// A free node the grid folds into a series conductance: x joins the fixed node `fixed` by
  /// r_fixed and the node `other` by r_other and nothing else, so
  ///   V_x = V_fixed + (V_other - V_fixed) r_fixed / (r_fixed + r_other)        (exact).
  struct Junction {
    NodeIndex node, fixed, other;
    double r_fixed, r_other;  ///< ohm
  };
  std::vector<Junction> junctions;

  bool rows_free() const { return g_row > 0; }
  bool cols_free() const { return g_col > 0; }
  bool has_internal() const { return !internal_node.empty(); }
};

}  // namespace xbar::solver
