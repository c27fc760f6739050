#pragma once
// Solves a crossbar for a batch of input vectors: one Newton solver per geometry (pattern and
// symbolic factorisation built once), each vector warm-started from an earlier solution in an
// order fixed by the batch alone (ArraySolver::solve), so the answer does not depend on timing.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/matrix.hpp"
#include "netlists/crossbar.hpp"
#include "solver/grid_newton.hpp"
#include "solver/newton.hpp"
#include "solver/switch_memory.hpp"

namespace xbar::engine {

/// Newton and every fallback failed: carries method, iterations, worst node and residual.
struct SolveFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SolverSummary {
  std::string methods;        ///< distinct methods used, e.g. "newton" or "newton,gmin-stepping"
  long newton_iterations = 0; ///< over all vectors
  long linear_iterations = 0; ///< Krylov iterations over all vectors (0 with a direct backend)
  long unconverged_linear = 0; ///< Krylov solves that stopped short of their tolerance, all vectors
  std::string backend;        ///< solver: "grid", "klu" or "lines"
  double max_residual = 0;    ///< A, over all vectors
  double solve_time = 0;      ///< s, wall clock of all solves
};

struct ArrayResults {
  Matrix column_current;        ///< [count, cols] A
  Matrix column_current_ideal;  ///< [count, cols] A
  Matrix cell_current;          ///< [rows, cols] A, input vector 0
  Matrix cell_current_ideal;    ///< [rows, cols] A, input vector 0: isolated current, 0 if inactive
  Matrix cell_current_programmed;  ///< [rows, cols] A: isolated current of each cell as programmed
  Matrix v_col, v_row;          ///< [rows, cols] V, input vector 0
  std::vector<double> voltages; ///< every circuit node, input vector 0
  SolverSummary summary;
};

/// Whether ArraySolver::solve computes input vector 0's per-cell results (ArrayResults' cell
/// matrices, v_col, v_row and voltages) or leaves them empty; the column currents, ideal ones
/// included, are whole either way.
enum class CellResults { vector0, none };

/// Called after each vector is solved with its index and every circuit node's voltage, in
/// vector order, on the thread that called ArraySolver::solve.
using VectorObserver = std::function<void(std::size_t vector, std::span<const double> voltages)>;

/// Arrays up to this many unknowns solve their input vectors on two threads (one solver each).
inline constexpr int k_parallel_vectors_max_unknowns = 4 << 20;

/// Solved one by one (ArraySolver::solve), the vectors of a batch go in chains of this many
/// consecutive vectors, each vector warm-started from the one before: the first k_cold_chains
/// chains from the initial guess, every later one from vector 0's solution. The answer depends
/// on these constants, not on which thread solved which chain or when. Short enough that two
/// threads share a batch evenly; as few Newton iterations as longer chains on random inputs.
inline constexpr std::size_t k_chain_vectors = 4;
/// One cold chain per thread of solve(): both start at once, neither waits for vector 0.
inline constexpr std::size_t k_cold_chains = 2;

/// The grid's batches (rows fixed) go in parts of this many vectors, each continuing the one
/// before: memory in proportion to a part, whatever the batch.
inline constexpr std::size_t k_batch_vectors = 256;
/// With an observer, a part of the grid's batch also keeps every vector's voltages until the
/// observer has seen them: parts then hold at most this many bytes of voltages (one vector at
/// least, k_batch_vectors at most). The answer is the same with any part size.
inline constexpr std::size_t k_observed_part_bytes = std::size_t(32) << 20;

/// Where the grid does not fit (netlists::grid_layout), "auto" picks KLU below this many
/// unknowns and the line backend above it.
inline constexpr int k_auto_klu_max_unknowns = 256;

/// The solver for solver.method: automatic is the grid wherever the array has its shape (never
/// returns automatic). Throws invalid_argument for grid where the grid does not fit.
solver::Method choose_method(const netlists::Crossbar& crossbar, solver::Method requested);

/// The methods that solved the vectors, each once, in order of first use, joined by commas
/// (e.g. "newton,gmin-stepping"): SolverSummary::methods. Compares whole methods (enums), so
/// the result does not depend on the order of the vectors beyond the order of first use.
std::string distinct_methods(std::span<const solver::SolveStats> stats);

class ArraySolver {
 public:
  ArraySolver(const netlists::Crossbar& crossbar, solver::NewtonOptions options);

  /// Solves every row of inputs ([count, rows]). progress(done, total) is called as vectors are
  /// done, and observe(vector, voltages) once per vector, in order, on the calling thread (e.g.
  /// per-vector cell currents): the grid's batch path (solve_as_batch) calls it after each part of
  /// the batch (k_observed_part_bytes), every other path after each vector, which it then solves in
  /// order on the calling thread. Should the batch path fail to converge on a part, every vector
  /// is solved again one by one, and the observer sees only the vectors it has not seen yet (the
  /// earlier parts' keep the batch's voltages, which agree with the result to rounding). Where the
  /// grid's batch path does not apply, the vectors go in chains of k_chain_vectors consecutive
  /// vectors, each vector in a chain warm-started from the one before (warm_start, with a memory of
  /// the chain's own); the first k_cold_chains chains start from the initial guess, every later one
  /// from vector 0's solution. Two threads take whole chains. The answer is thus the same bits from
  /// run to run, and on one thread or two when the two each take vectors (vector_threads); a vector
  /// solved alone with its kernels split over the cores (fewer than four, an observer, a huge
  /// array) can differ from one thread in the last bits. `cells`: whether vector 0's per-cell
  /// results are computed (CellResults); the answer is the same either way.
  ArrayResults solve(const Matrix& inputs,
                     const std::function<void(std::size_t, std::size_t)>& progress = {},
                     const VectorObserver& observe = {}, CellResults cells = CellResults::vector0);

  /// Solves one input vector in place, in the caller's `voltages` (no copy of the nodes). On
  /// entry it is the starting point when it holds free_nodes() values or every node's (as a
  /// previous solve left it); any other size (e.g. empty) starts from the initial guess. On
  /// return it holds every circuit node's voltage, free nodes first. On SolveFailure it holds
  /// every node too: the fixed ones at their driven values, the free ones where the last solver
  /// of the fallback list stopped (not a solution).
  void solve_vector(std::span<const double> input, std::vector<double>& voltages,
                    solver::SolveStats& stats);

  /// What one chain of warm-started solves remembers of the cells' internal nodes, per cell and
  /// select state (off, on): solver::SwitchMemory.
  using SelectMemory = solver::SwitchMemory;

  /// Turns the solution for `previous` (in guess) into a starting point for `input`. The
  /// internal nodes of the cells whose select changed move to where they were the last time the
  /// cell was solved in its new state, shifted by how far its bit-line node has moved since (an
  /// off cell's m follows its bit line; an on cell's m barely moves with it, but the shift is
  /// second order there); where the cell was never solved in that state, to where the isolated
  /// cell has m, relative to the row when switched on and to the bit line when switched off.
  /// Every other node keeps its voltage. `memory` records the states left behind.
  void warm_start(std::span<const double> previous, std::span<const double> input, std::span<double> guess,
                  SelectMemory& memory) const;

  /// Threads solve() puts on `count` input vectors without an observer: 2 when there are
  /// vectors enough, more than one core and the array is small enough, else 1.
  int vector_threads(std::size_t count) const { return vectors_in_parallel(count) ? 2 : 1; }

  /// The solver in use (grid, klu or lines; never automatic).
  solver::Method method() const { return method_; }

  /// The report of the last vector this object's own thread solved (solve_vector, or the
  /// vectors solve() kept on the calling thread): which solver of the fallback list answered
  /// (SolveStats::method), and in SolveStats::detail why each earlier one was passed over.
  const solver::SolveStats& info() const { return worker_.last; }

 private:
  /// One entry of the fallback list: a Newton implementation and, for the general one, its
  /// linear backend (klu or lines).
  struct Candidate {
    solver::Newton newton;
    solver::Method linear;
  };
  /// The solvers of one thread, one per candidate, each built on first need; and the report of
  /// the last vector it solved.
  struct Worker {
    std::vector<std::unique_ptr<solver::CircuitSolver>> solvers;
    solver::SolveStats last;
  };
  Worker make_worker() const;
  solver::CircuitSolver& candidate(Worker& worker, std::size_t index) const;
  void solve_into(Worker& worker, std::span<const double> input, solver::SolveStats& stats,
                  std::vector<double>& voltages) const;
  /// Consecutive vectors [first, end) solved in order, each from the one before; the first from
  /// the initial guess (cold) or from vector 0's solution.
  struct Chain {
    std::size_t first, end;
    bool cold;
  };
  class ChainQueue;
  /// Where solve's vectors go, and what it keeps of them.
  struct Destination {
    ArrayResults& out;
    std::vector<solver::SolveStats>& stats;
    const VectorObserver& done;
    CellResults cells;
  };
  void solve_stored(Worker& worker, const Matrix& inputs, std::size_t v, std::vector<double>& voltages,
                    const Destination& to);
  void solve_chains(Worker& worker, const Matrix& inputs, ChainQueue& queue, const Destination& to);
  void store_cells(std::span<const double> input, std::span<const double> voltages, ArrayResults& out) const;
  bool vectors_in_parallel(std::size_t count) const;
  std::optional<ArrayResults> solve_as_batch(const Matrix& inputs,
                                             const std::function<void(std::size_t, std::size_t)>& progress,
                                             std::vector<solver::SolveStats>& stats, CellResults cells,
                                             const VectorObserver& observe, std::size_t& observed);
  SolverSummary summarize(std::span<const solver::SolveStats> stats,
                          std::chrono::steady_clock::time_point start) const;

  const netlists::Crossbar& crossbar_;
  solver::NewtonOptions options_;
  solver::Method method_;
  /// Tried in order on each vector until one converges: the grid (when chosen), then the general
  /// Newton with its gmin and source stepping. Every candidate but the last leaves the guess as
  /// it was when it fails (GridNewton does), so each starts from the same point.
  std::vector<Candidate> candidates_;
  Worker worker_;
  std::unique_ptr<Worker> second_;  ///< for the second thread over input vectors
};

}  // namespace xbar::engine
