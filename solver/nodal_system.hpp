#pragma once
// Nodal equations of a Circuit and their Jacobian, with the sparsity pattern built and every
// element bound to its matrix positions once per geometry (SPICE's "element pointers").
//
//   f_i(v) = sum of branch currents leaving free node i  (+ gmin * v_i when stepping gmin)
//   J_ij   = df_i / dv_j
//
// A branch a -> b with current I(v_a, v_b[, v_g]) adds I to f_a and -I to f_b, dI/dv_x to row a
// and -dI/dv_x to row b of every free terminal column x. Fixed nodes only enter through I.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "solver/circuit.hpp"

namespace xbar::solver {

/// Compressed sparse column pattern of a square matrix (KLU's and CHOLMOD's layout).
struct CscPattern {
  std::int32_t n = 0;
  std::vector<std::int32_t> col_ptr;  ///< n + 1
  std::vector<std::int32_t> row_idx;  ///< nnz, sorted within each column
  std::size_t nnz() const { return row_idx.size(); }
};

class NodalSystem {
 public:
  explicit NodalSystem(const Circuit& circuit);

  const CscPattern& pattern() const { return pattern_; }
  const Circuit& circuit() const { return circuit_; }
  /// Position of J_ii in the value array, for every free node i.
  std::span<const std::int32_t> diagonal_slots() const { return diagonal_; }

  /// Residual (size n_free), Jacobian values (pattern order) and each free node's rounding
  /// scale (sum of |g v| over both ends of each linear branch plus |I| of each device branch;
  /// see node_currents) at full voltages v.
  void assemble(std::span<const double> v, double gmin, std::span<double> residual,
                std::span<double> jacobian, std::span<double> scale) const;

  struct Outputs {
    std::span<double> f, jac, scale;
  };

 private:
  /// Value-array positions of J[row][col] for row, col in {first, second, third terminal};
  /// -1 where the row or column is a fixed node.
  using Slots3 = std::array<std::int32_t, 9>;

  void assemble_transistors(std::size_t group, std::span<const double> v, const Outputs& out) const;
  std::int32_t slot(NodeIndex row, NodeIndex col) const;
  void assemble_tabulated(std::span<const double> v, std::span<double> residual, std::span<double> jacobian,
                          std::span<double> scale) const;
  Slots3 bind(NodeIndex a, NodeIndex b, NodeIndex c) const;

  const Circuit& circuit_;
  CscPattern pattern_;
  std::vector<std::int32_t> diagonal_;
  std::vector<Slots3> wire_slots_;
  std::vector<std::vector<Slots3>> resistor_slots_;
  std::vector<std::vector<Slots3>> transistor_slots_;
  std::vector<std::vector<Slots3>> tabulated_slots_;
};

}  // namespace xbar::solver
