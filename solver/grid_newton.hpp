#pragma once
// Structured Newton for circuits with the shape of a crossbar (measured on the 2-core machine): the
// Jacobian is assembled straight into line storage, with no general sparse matrix at all.
//
//   row line i:   V_src(i) -g_row_first- R(i,0) -g_row- R(i,1) ... -g_row- R(i,N-1)   (open end)
//   bit line j:   C(0,j) -g_col- C(1,j) ... -g_col- C(M-1,j) -g_col_last- V_sink(j)
//   cell (i,j):   R(i,j) -[upper device]-> m(i,j) -[lower device]-> C(i,j)
//                 or R(i,j) -[lower device]-> C(i,j) when cells have one device
//
// A family of line nodes is fixed (no unknowns) when its line has no resistance: then R(i,j) is
// V_src(i), or C(i,j) is V_sink(j). Unknowns are the free R, C and the m of every cell.
//
// Equations (f = current leaving a node, as in nodal_system.hpp). With I_u(R, m) the upper and
// I_l(t, C) the lower device current (t = m, or R without an upper device):
//   f_m = I_l - I_u,   f_R = I_u + wires,   f_C = -I_l + wires.
// The Newton step J dv = -f eliminates each cell's m by its own row (J_mm is a scalar):
//   dm = (-f_m - J_mR dR - J_mC dC) / J_mm,
// which leaves on the line unknowns the tridiagonal chains of every family plus one coupling per
// cell between R(i,j) and C(i,j):
//   S_RR = J_RR - J_Rm J_mR / J_mm,  S_RC = -J_Rm J_mC / J_mm,  b_R = -f_R + J_Rm f_m / J_mm,
//   S_CC = J_CC - J_Cm J_mC / J_mm,  S_CR = -J_Cm J_mR / J_mm,  b_C = -f_C + J_Cm f_m / J_mm.
// That system is line_kernels' LineMatrix: row chains stored one after another (stride 1), bit
// lines interleaved (stride N), both in row-major cell order. One free family: the chains are
// independent and the solve is direct (Thomas); two: Krylov (CG on the Schur complement of the
// row chains when S is symmetric, i.e. one two-terminal device per cell; else BiCGSTAB with the
// block Gauss-Seidel preconditioner; line_paired.cpp).
//
// The Newton loop, damping, tolerances, update test and inexact-Newton forcing are the general
// solver's (newton.hpp: newton_loop, NewtonOptions); convergence is certified at the point
// returned: KCL holds there and the Newton step from it is small (the step is computed, not
// taken). The grid has no gmin or source stepping: a caller falls back to
// NewtonSolver, which has both.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "solver/circuit.hpp"
#include "solver/grid_layout.hpp"
#include "solver/newton.hpp"

namespace xbar::solver {

class GridNewton final : public CircuitSolver {
 public:
  /// Throws std::logic_error if the layout does not describe the circuit.
  GridNewton(const Circuit& circuit, GridLayout layout, NewtonOptions options);
  ~GridNewton();
  GridNewton(GridNewton&&) noexcept;

  /// As NewtonSolver::solve, without the stepping fallbacks: v_free holds the initial guess on
  /// entry and the solution on exit; method grid newton. If Newton does not converge, v_free is left
  /// as it was (a fallback starts from the same point) and stats describe the last iterate.
  SolveStats solve(std::span<const double> fixed_voltages, std::span<double> v_free) override;
  Newton kind() const override { return Newton::grid; }

  const NewtonOptions& options() const;

  /// A batch of vectors that differ only in their fixed voltages (solve_batch).
  struct Batch {
    /// Per vector: the circuit's fixed voltages (as solve's fixed_voltages).
    std::span<const std::vector<double>> fixed;
    /// Per vector and row (rows x count, vector-major): the state (0 or 1) of the row's upper
    /// devices' gates, which keys the warm start of the internal nodes; empty: no such memory.
    std::span<const std::uint8_t> row_state;
    /// Per cell (row-major, i * cols + j), where its internal node starts the first time the cell
    /// is solved in state 1 (start_on), and in state 0: start_off with its bit-line node at
    /// start_off_reference, moved with that node (m = V_C + start_off - start_off_reference).
    std::span<const double> start_on, start_off;
    double start_off_reference = 0;
    /// The vectors continue the last batch solved, which converged: the first one starts from
    /// that batch's last solution and warm-start memory, exactly as if the two were one batch.
    bool continues = false;
    /// Called as each block of bit lines is finished, from the thread that solved it, with the
    /// blocks finished so far and in all (the calls may overlap: it must be thread-safe).
    std::function<void(std::size_t done, std::size_t total)> block_done;
    /// Where every vector's solution goes (count x the circuit's nodes, vector-major): vector v's
    /// every node voltage at v * n_nodes, free nodes first, then its fixed ones (as
    /// full_voltages), each block's part as soon as the block has solved the vector; empty: none
    /// is kept but vector 0's (solve_batch's v_free).
    std::span<double> solutions;
  };
  struct BatchResult {
    bool converged = false;             ///< every vector; else the rest of the result is void
    std::vector<SolveStats> stats;      ///< per vector: the most iterations and the worst node of any block
    std::vector<double> sink_current;   ///< [count x cols] A, from each bit line into its sink
    /// How many (vector, block) solves were certified by the devices' series rather than their
    /// law (select cells: GridNewton::State::assemble_series in grid_state.hpp).
    std::size_t series_certified = 0;
  };

  /// Whether solve_batch applies: the rows have no unknowns (their bit lines decouple into
  /// blocks) and every per-cell node list lies wholly among the free or the fixed nodes.
  bool solves_batches() const;

  /// Solves the vectors of `batch` block by block: each block of bit lines goes through every
  /// vector in order, warm-started from its own solution of the one before, while its arrays stay
  /// in its thread's cache. Where a row's state changes, its cells' internal nodes start where they
  /// were the last time in the new state, moved with their bit-line node since (first time:
  /// batch.start_*). A vector's first evaluation re-evaluates only the rows whose fixed voltages
  /// changed: every other cell is at exactly the point of the last evaluation of the vector before.
  /// The result does not depend on the thread count or timing. v_free: vector 0's starting point
  /// on entry (unless batch.continues), its solution on exit when every vector converged (not
  /// written when empty; undefined when one did not). Vectors that do not converge are reported
  /// (converged false), not thrown: the caller falls back to solving one by one. A long batch
  /// may come in parts, each continuing the one before: memory in proportion to a part, the same
  /// answer.
  BatchResult solve_batch(const Batch& batch, std::span<double> v_free);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace xbar::solver
