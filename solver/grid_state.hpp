#pragma once
// The grid Newton's private state (grid_newton.hpp has the equations), shared by its parts:
//   grid_setup.cpp        layout: cell order, layout checks, line storage, gather / scatter
//   grid_loads.cpp        cell loads: device evaluation, cell elimination, line-wire stamps
//   grid_columns.cpp      column blocks: each block of bit lines its own Newton problem (its
//                         Thomas solve: twisted_chains.hpp, from both ends of the bit lines)
//   grid_batch.cpp        batches on column blocks: each block through every vector in turn
//   grid_newton.cpp       convergence: residual ratios, the step, the update test, the report
//
// State lives in packed per-cell arrays: the terminal voltages V_R, V_m, V_C and the device
// parameters of every cell; an iteration's residuals, eliminated rows and line values are in a
// CellWork (the whole grid's, or one column block's in its thread's scratch). Device evaluation,
// cell elimination and the line stamps are loops over contiguous arrays. The cells are stored
// row-major (k = i * cols + j) when the rows have unknowns; when they do not, the bit lines
// decouple and the cells are stored by blocks of k_block_columns bit lines, each block row-major
// on its own, so that every block is one contiguous Newton problem that stays in cache.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "solver/grid_newton.hpp"
#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"
#include "solver/switch_memory.hpp"

namespace xbar::solver {

constexpr std::int64_t k_grain_cells = 1 << 14;  // cells below which a loop stays on one thread
constexpr std::size_t k_block_cells = 1024;      // cells evaluated and stamped in one pass
constexpr std::size_t k_block_columns = 8;      // bit lines per independent Newton problem

// Raw device loads of one chunk of cells (index k - k0): the upper and lower devices' current
// (top -> bottom terminal) and partials, before the leak shunt and the enable. Small enough to
// stay in L1 between evaluation and elimination.
struct ChunkLoads {
  std::vector<double> u_i, u_t, u_b, l_i, l_t, l_b;
  std::vector<double> u_ff, u_rr, l_ff, l_rr;  // second derivatives (chebyshev): EkvBatch's d2i_*
  void reserve(std::size_t n) {
    for (auto* a : {&u_i, &u_t, &u_b, &l_i, &l_t, &l_b, &u_ff, &u_rr, &l_ff, &l_rr})
      if (a->size() < n) a->resize(n);
  }
};

// Node residuals of one unknown family (per cell), their rounding scales and the unreduced
// Jacobian diagonal (for the update test).
struct FamilyResidual {
  std::vector<double> f, scale, diag;
  void resize(std::size_t n) {
    for (auto* a : {&f, &scale, &diag}) a->assign(n, 0.0);
  }
};

// The per-cell arrays of one Newton iteration for cells [base, base + cells): residuals, the
// eliminated cell rows, the update, the line matrix's values [diag | lower | upper | cross] and its
// right-hand side; cell k at local position k - base (a family's arrays are empty where it has no
// unknowns). When the rows have unknowns this is the whole grid (base 0), and the values and
// right-hand side are the state's LineMatrix and KrylovWork; when they do not, it is one column
// block's, in the scratch of the thread that solves the block, so that a grid's state holds only
// the voltages and device parameters (memory: the second vector worker builds one per batch) and
// a block's working set is its own.
struct CellWork {
  std::size_t base = 0;
  FamilyResidual res_r, res_c, res_m;
  // Eliminated cell rows: dm = inv_mm (-f_m - J_mR dR - J_mC dC).
  std::vector<double> inv_mm, j_mr, j_mc;
  std::vector<double> d_r, d_c, d_m;  // Newton update
  // Chebyshev's correction (column blocks of select cells, GridNewton::State::chebyshev): per
  // cell, the upper device's second derivative along its source (m) alone, the lower one's two
  // terms' (EkvBatch::d2i_*; 0 for a linear resistor), and the lower one's dI/dV_top, all at the
  // last evaluation.
  std::vector<double> curv_u, curv_lf, curv_lr, l_top;
  // With them, for a series evaluation (GridNewton::State::assemble_series): the upper device's
  // bound on its third derivative along m, its F'' terms weighted by the cubes of their arguments'
  // change per dm.
  std::vector<double> cube_u;
  std::size_t n = 0;                   // line unknowns: flat holds 3 n (+ n couplings) values
  std::span<double> flat, rhs;         // the state's (rows free) or own_flat / own_rhs
  std::vector<double> own_flat, own_rhs;
  /// A column block's line matrix has the bit-line wires alone off its diagonal (own_flat's lower
  /// and upper thirds): the same at every evaluation, and for every block of one width on one
  /// grid. The block shape and wire they were last written for, so that evaluations of a block of
  /// that shape leave them (GridNewton::State::wires_in_place).
  struct Wires {
    std::size_t width = 0, rows = 0;  // own_flat holds 3 width rows values
    double g_col = 0;
    bool operator==(const Wires&) const = default;
  } wires;
};

// What one Newton loop may keep of its last iteration. A linear circuit whose cells have no
// internal node (linear resistors, or switches whose enables are fixed for the solve) has a
// Jacobian that does not depend on v: after the loop's first assemble only f, scale and the
// right-hand side change (the line matrix and the unreduced diagonals stay), and the factors of
// its first step serve every later one. One per Newton loop, never shared: a column block's
// matrix and factors are in its thread's scratch, which the next block on that thread overwrites.
class JacobianReuse {
 public:
  explicit JacobianReuse(bool fixed) : fixed_(fixed) {}
  /// Whether this assemble must build the matrix (the first of the loop, or every one when the
  /// Jacobian moves with v).
  bool build() { return !std::exchange(built_, fixed_); }
  /// Whether this step must factor the matrix (as build, for the factors).
  bool factor() { return !std::exchange(factored_, fixed_); }

 private:
  bool fixed_, built_ = false, factored_ = false;
};

/// This thread's scratch for column blocks (one block's arrays at a time).
CellWork& block_scratch();

// fn(k0, k1) over [0, n) in parallel parts (serial below k_grain_cells or inside a SerialRegion);
// returns the number of parts (part p covers the p-th range, in order).
template <class Fn>
int for_cells(std::size_t n, Fn&& fn) {
  return parallel_for(static_cast<std::int64_t>(n), k_grain_cells,
                      [&](int part, std::int64_t k0, std::int64_t k1) { fn(part, k0, k1); });
}

struct GridNewton::State {
  State(const Circuit& c, GridLayout l, NewtonOptions o);

  /// Bit lines [j0, j1) of every row, as one contiguous row-major piece of the state.
  struct Block {
    std::size_t j0, j1;  ///< columns [j0, j1)
    /// State position of cell (0, j0); cell (i, j) is at base + i (j1 - j0) + j - j0.
    std::size_t base;
    std::size_t width() const { return j1 - j0; }
  };

  // Set-up.
  enum class Source { free, fixed, mixed };
  Source source_of(const std::vector<NodeIndex>& nodes) const;
  void check_layout() const;
  void build_matrix();

  // One Newton iteration's pieces (w: the arrays of the cells worked on, CellWork).
  void gather(std::span<const double> fixed, std::span<const double> v_free);
  void scatter(std::span<const double> fixed, std::span<double> v_free) const;
  /// scatter's cells [k0, k1) alone (no junction): ranges of cells touch distinct free nodes.
  void scatter_cells(std::span<double> v_free, std::size_t k0, std::size_t k1) const;
  /// scatter's last part: the line junctions between a fixed node and a free one, from v_free.
  void scatter_junctions(std::span<const double> fixed, std::span<double> v_free) const;
  void size_work(CellWork& w, std::size_t base, std::size_t count);
  // jacobian = false (cells without an internal node only): f, scale and the right-hand side
  // alone; the matrix, the unreduced diagonals and the eliminated rows stay those of the last
  // assemble (a linear circuit's do not depend on v: JacobianReuse).
  double assemble(bool jacobian = true);
  double load_cells(CellWork& w, std::size_t k0, std::size_t k1, bool jacobian = true);
  void evaluate_devices(std::size_t k0, std::size_t k1, ChunkLoads& loads) const;
  double eliminate_cells(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads, bool jacobian);
  template <bool Upper, bool Rows, bool Cols, bool Switched, bool Jacobian>
  double eliminate(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads);
  void stamp_row_wires(CellWork& w, std::size_t k0, std::size_t k1, bool jacobian = true);
  double stamp_col_wires(CellWork& w, std::size_t k0, std::size_t k1, const Block& b, bool jacobian = true,
                         bool wires = true);
  template <bool Jacobian, bool Wires>
  double stamp_col_wires_as(CellWork& w, std::size_t k0, std::size_t k1, const Block& b);
  /// CellWork::wires for column block b.
  CellWork::Wires wires_of(const Block& b) const { return {b.width(), std::size_t(g.rows), g.g_col}; }
  void order_cells();
  double tolerance(double scale) const { return options.kcl_tolerance(scale); }
  /// Whether the Jacobian is the same at every v (JacobianReuse).
  bool fixed_jacobian() const { return linear_circuit && !upper; }
  double range_ratio(const CellWork& w, std::size_t k0, std::size_t k1) const;
  /// Whether the column blocks' steps add Chebyshev's second-order correction (a select and a
  /// transistor or a linear resistor per cell, unswitched, rows fixed).
  bool chebyshev() const {
    return upper && (lower_transistor || (lower_resistor && lower_resistor->law.is_linear())) && enable.empty() &&
           g.cols_free() && !g.rows_free();
  }
  /// The correction's per-cell terms of cells [k0, k1) from their chunk loads, and the anchor of
  /// a series evaluation.
  void keep_curvature(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads) const;
  /// A column block's evaluation at v = v0 + d from its exact evaluation at v0 (w holds it; d =
  /// w's step, applied whole) by each device's Taylor series to second order,
  /// whose remainder is bounded (|F'''| <= F'', and F'' grows at most by e^|dv| along the step)
  /// and counted against each node's KCL tolerance. Rows where a node's certificate fails, or
  /// where a device's argument moved by more than k_series_reach U_T, are evaluated exactly.
  /// Returns whether KCL holds at every unknown of the block; `exact_rows`: whether any row was
  /// evaluated exactly. Column blocks of select cells (chebyshev()) only.
  bool assemble_series(CellWork& w, const Block& b, bool& exact_rows);
  /// The series' reach (|dV| / U_T of each device argument) and so its bound's factor e^0.01.
  static constexpr double k_series_reach = 0.01;
  /// Chebyshev's correction of a column block's Newton step d (d_c, d_m), whose largest
  /// component is newton_step: z with J z = -H(d, d)/2 on the factors of d's solve, added to d
  /// where the step is large enough to need it and small enough for the series (k_chebyshev_*)
  /// and |z| <= newton_step / 2.
  /// Returns whether the correction was tried (newton_step in (k_chebyshev_step,
  /// k_chebyshev_reach]); then d is final (corrected, or Newton's where z was too large), d_big
  /// and d_sum are its largest |d| and its sum, and with apply the block's voltages moved by it.
  bool chebyshev_step(CellWork& work, const Block& b, FactorRows<const double> factors, double newton_step,
                      bool apply, double& d_big, double& d_sum);
  /// Below this Newton step (V) the correction, ~|d|^2 / (2 U_T), is below 1e-16 V.
  static constexpr double k_chebyshev_step = 1e-9;
  /// Above this Newton step (V, ~2 U_T) the device laws' exponentials leave the second-order
  /// series behind: far from the answer (a cold start) the steps are Newton's alone.
  static constexpr double k_chebyshev_reach = 0.05;
  bool step(double ratio, double& largest, bool factor = true);
  bool update_small(const CellWork& w, std::size_t k0, std::size_t k1) const;
  void apply_update(const CellWork& w, std::size_t k0, std::size_t k1, double alpha);
  /// Adds the residuals of cells [k0, k1) at the last point evaluated to the report.
  void measure(const CellWork& w, std::size_t k0, std::size_t k1, SolveStats& stats, double& worst_ratio) const;
  struct RunResult {
    NewtonRun run;
    SolveStats residuals;  ///< max_residual and the worst node at the returned point
    bool series = false;   ///< certified by a series evaluation (assemble_series)
  };
  RunResult run();
  /// The blocks' results as one: converged if all are, the most iterations, the worst node.
  static RunResult combine(std::span<const RunResult> parts);
  /// A run's report (method grid newton).
  SolveStats report(const RunResult& r) const;

  // Rows fixed: the bit lines decouple, and every block of columns is a Newton problem of its
  // own, solved to convergence while its data stays in cache.
  Block whole() const { return {0, std::size_t(g.cols), 0}; }
  std::size_t end(const Block& b) const { return b.base + b.width() * g.rows; }
  RunResult run_columns();
  RunResult run_block(const Block& b);
  bool assemble_block(CellWork& w, const Block& b, bool jacobian = true);
  double assemble_range(CellWork& w, const Block& b, std::size_t k0, std::size_t k1, bool jacobian);
  /// Whether w's line matrix holds block b's wires already (CellWork::wires).
  bool wires_in_place(const CellWork& w, const Block& b) const { return w.wires == wires_of(b); }
  /// applied: where given, the step may move the block's voltages (v += d) as it forms, and
  /// then sets *applied.
  bool step_block(CellWork& w, const Block& b, double& largest, bool factor = true, bool* applied = nullptr);

  // Batches (rows fixed; grid_batch.cpp): every block through every vector of the batch.
  bool batches() const;
  GridNewton::BatchResult run_batch(const GridNewton::Batch& batch, std::span<double> v_free);
  /// Block b's fixed inputs for the vector with fixed voltages `fixed`; marks in `dirty` (one flag
  /// per row) the rows whose inputs changed. `changed`: where known (row_inputs), those rows, in
  /// order; the others are not read.
  void refresh_block(const Block& b, std::span<const double> fixed, std::vector<char>& dirty,
                     const std::vector<std::uint32_t>* changed);
  /// Moves the internal nodes of the rows of b whose state changed from `before` to `now` (one
  /// per row), as GridNewton::solve_batch describes. `switched`: where known, those rows.
  void warm_start_block(const Block& b, const GridNewton::Batch& batch, const std::uint8_t* before,
                        const std::uint8_t* now, const std::vector<std::uint32_t>* switched);
  // What a batch leaves for the next one that continues it (GridNewton::Batch::continues): the
  // last vector's solution stays in v_c / v_m, and with it these.
  SwitchMemory batch_memory;  ///< per cell in state order, keyed by the row's state
  std::vector<std::uint8_t> batch_last_state;  ///< per row, the last vector's (empty: none)
  bool batch_continuable = false;
  /// assemble_block over the rows flagged in `dirty` alone (the others keep w's values).
  bool assemble_rows(CellWork& w, const Block& b, const std::vector<char>& dirty, bool jacobian);
  RunResult solve_block_vector(CellWork& w, const Block& b, const std::vector<char>* dirty);

  std::size_t cells() const { return static_cast<std::size_t>(g.rows) * g.cols; }
  std::size_t col_offset() const { return g.rows_free() ? cells() : 0; }

  const Circuit& circuit;
  GridLayout g;
  NewtonOptions options;
  const TransistorGroup* upper = nullptr;
  const TransistorGroup* lower_transistor = nullptr;
  const ResistorGroup* lower_resistor = nullptr;
  bool linear_circuit = false;

  // Per cell, in state order: circuit nodes and device parameters.
  std::vector<Block> blocks;  // column blocks (rows fixed only)
  std::vector<NodeIndex> node_r, node_m, node_c, node_gate_u, node_gate_l, node_enable;
  Source source_r{}, source_m{}, source_c{}, source_gate_u{}, source_gate_l{}, source_enable{};
  /// Per family fed by fixed nodes: whether each block row takes one node throughout (a row's
  /// source, its gate input), so that refresh_block reads and compares it once a row.
  bool row_shared_r = false, row_shared_gate_u = false, row_shared_gate_l = false, row_shared_enable = false;
  bool row_shared(const std::vector<NodeIndex>& nodes) const;
  /// The per-cell families a fixed node may feed, in one order for row_inputs and refresh_block:
  /// the row voltage, the upper and lower gates and the enables, each with its cells' nodes, its
  /// values in state order, its source and whether each block row takes one node.
  struct InputFamily {
    const std::vector<NodeIndex>* nodes;
    std::vector<double>* values;
    Source source;
    bool shared;
  };
  std::array<InputFamily, 4> input_families() {
    return {{{&node_r, &v_r, source_r, row_shared_r},
             {&node_gate_u, &gate_u, source_gate_u, row_shared_gate_u},
             {&node_gate_l, &gate_l, source_gate_l, row_shared_gate_l},
             {&node_enable, &enable, source_enable, row_shared_enable}}};
  }
  /// The fixed nodes that feed each row, family after family ([family][row], the families fed by
  /// fixed nodes), where every family takes one node per row in every block; else empty. With
  /// them a batch finds the rows whose inputs change once per vector, for every block.
  std::vector<NodeIndex> row_inputs;
  void find_row_inputs();
  std::vector<double> vt_u, vt_l;
  /// Lower resistors' conductances in state order: the circuit's own array when the order is
  /// the circuit's (rows free), else g_l_reordered.
  std::span<const double> g_l;
  std::vector<double> g_l_reordered;
  // Per cell (packed): voltages, fixed gate voltages and enables of this solve (enable: empty
  // unless the lower devices are switched).
  std::vector<double> v_r, v_m, v_c, gate_u, gate_l, enable;
  std::vector<double> v_src, v_sink;  // per row / per column
  CellWork all;  // rows free: the whole grid's iteration arrays (column blocks: their threads')

  LineMatrix matrix;
  std::vector<double> flat;
  KrylovWork work;
  bool symmetric = false;
  long linear_iterations = 0;
  long unconverged_linear = 0;  ///< Krylov solves that stopped short of their tolerance
};

}  // namespace xbar::solver
