// Structured Newton on crossbar-shaped circuits: see grid_newton.hpp for the equations.
//
// State lives in packed per-cell arrays: the terminal voltages V_R, V_m, V_C, the device loads,
// the residuals and the eliminated rows of every cell. Device evaluation, cell elimination and
// the line stamps are loops over contiguous arrays. The cells are stored row-major (k = i * cols
// + j) when the rows have unknowns; when they do not, the bit lines decouple and the cells are
// stored by blocks of k_block_columns bit lines, each block row-major on its own, so that every
// block is one contiguous Newton problem that stays in cache.
#include "solver/grid_newton.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

#include "devices/cell.hpp"
#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver {

namespace {

constexpr std::int64_t k_grain_cells = 1 << 14;  // cells below which a loop stays on one thread
constexpr std::size_t k_block_cells = 1024;      // cells evaluated and stamped in one pass
constexpr std::size_t k_block_columns = 8;      // bit lines per independent Newton problem

// Raw device loads of one chunk of cells (index k - k0): the upper and lower devices' current
// (top -> bottom terminal) and partials, before the leak shunt and the enable. Small enough to
// stay in L1 between evaluation and elimination.
struct ChunkLoads {
  std::vector<double> u_i, u_t, u_b, l_i, l_t, l_b, gate_partial;
  void reserve(std::size_t n) {
    for (auto* a : {&u_i, &u_t, &u_b, &l_i, &l_t, &l_b, &gate_partial})
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

// fn(k0, k1) over [0, n) in parallel parts (serial below k_grain_cells or inside a SerialRegion);
// returns the number of parts (part p covers the p-th range, in order).
template <class Fn>
int for_cells(std::size_t n, Fn&& fn) {
  return parallel_for(static_cast<std::int64_t>(n), k_grain_cells,
                      [&](int part, std::int64_t k0, std::int64_t k1) { fn(part, k0, k1); });
}

}  // namespace

struct GridNewton::State {
  State(const Circuit& c, GridLayout l, NewtonOptions o);

  /// Bit lines [j0, j1) of every row, as one contiguous row-major piece of the state.
  struct Block {
    std::size_t j0, j1;  ///< columns [j0, j1)
    std::size_t base;    ///< state position of cell (0, j0); cell (i, j) is at base + i (j1 - j0) + j - j0
    std::size_t width() const { return j1 - j0; }
  };

  // Set-up.
  void check_layout() const;
  void build_matrix();

  // One Newton iteration's pieces.
  void gather(std::span<const double> fixed, std::span<const double> v_free);
  void scatter(std::span<const double> fixed, std::span<double> v_free) const;
  double assemble();
  void load_cells(std::size_t k0, std::size_t k1);
  void evaluate_devices(std::size_t k0, std::size_t k1, ChunkLoads& loads) const;
  void eliminate_cells(std::size_t k0, std::size_t k1, const ChunkLoads& loads);
  template <bool Upper, bool Rows, bool Cols>
  void eliminate(std::size_t k0, std::size_t k1, const ChunkLoads& loads);
  void stamp_row_wires(std::size_t k0, std::size_t k1);
  void stamp_col_wires(std::size_t k0, std::size_t k1, const Block& b);
  void order_cells();
  double tolerance(double scale) const { return options.kcl_tolerance(scale); }
  double range_ratio(std::size_t k0, std::size_t k1) const;
  std::size_t count_outside(std::size_t k0, std::size_t k1) const;
  bool step(double ratio, double& largest);
  bool update_small(std::size_t k0, std::size_t k1) const;
  void apply_update(std::size_t k0, std::size_t k1, double alpha);
  void measure(SolveStats& stats) const;
  using RunResult = NewtonRun;
  RunResult run();

  // Rows fixed: the bit lines decouple, and every block of columns is a Newton problem of its
  // own, solved to convergence while its data stays in cache.
  Block whole() const { return {0, std::size_t(g.cols), 0}; }
  std::size_t end(const Block& b) const { return b.base + b.width() * g.rows; }
  RunResult run_columns();
  RunResult run_block(const Block& b);
  bool assemble_block(const Block& b);
  bool step_block(const Block& b, double& largest);

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
  std::vector<double> vt_u, vt_l, g_l;
  // Per cell (packed): voltages, fixed gate voltages and enables of this solve.
  std::vector<double> v_r, v_m, v_c, gate_u, gate_l, enable;
  std::vector<double> v_src, v_sink;  // per row / per column
  FamilyResidual res_r, res_c, res_m;
  // Eliminated cell rows: dm = inv_mm (-f_m - J_mR dR - J_mC dC).
  std::vector<double> inv_mm, j_mr, j_mc;
  std::vector<double> d_r, d_c, d_m;  // Newton update
  std::vector<double> thomas_scaled;  // column blocks' Thomas factors: upper / pivot

  LineMatrix matrix;
  std::vector<double> flat;
  KrylovWork work;
  bool symmetric = false;
  long linear_iterations = 0;
};

GridNewton::State::State(const Circuit& c, GridLayout l, NewtonOptions o)
    : circuit(c), g(std::move(l)), options(std::move(o)) {
  if (g.upper_transistors >= 0) upper = &circuit.transistors.at(g.upper_transistors);
  if (g.lower_transistors >= 0) lower_transistor = &circuit.transistors.at(g.lower_transistors);
  if (g.lower_resistors >= 0) lower_resistor = &circuit.resistors.at(g.lower_resistors);
  check_layout();
  linear_circuit = circuit.is_linear();
  symmetric = !upper && lower_resistor;  // one two-terminal device per cell: S_RC = S_CR
  const std::size_t n = cells();
  // Memory in proportion to what the cells have (the 4096 x 4096 1r bench case holds 16.8 M).
  for (auto* a : {&v_r, &v_c, &enable, &d_r, &d_c}) a->assign(n, 0.0);
  if (upper)
    for (auto* a : {&v_m, &gate_u, &inv_mm, &j_mc, &d_m}) a->assign(n, 0.0);
  if (upper && g.rows_free()) j_mr.assign(n, 0.0);
  if (lower_transistor) gate_l.assign(n, 0.0);
  if (!g.rows_free() && g.cols_free()) thomas_scaled.assign(n, 0.0);
  v_src.assign(g.rows, 0.0);
  v_sink.assign(g.cols, 0.0);
  res_r.resize(g.rows_free() ? n : 0);
  res_c.resize(g.cols_free() ? n : 0);
  res_m.resize(g.has_internal() ? n : 0);
  order_cells();
  build_matrix();
}

// State order of the cells (see the top of this file) and the per-cell inputs in that order.
void GridNewton::State::order_cells() {
  std::vector<std::size_t> cell_of;  // state position -> row-major cell
  cell_of.reserve(cells());
  if (g.rows_free()) {
    for (std::size_t k = 0; k < cells(); ++k) cell_of.push_back(k);
  } else {
    for (std::size_t j0 = 0; j0 < std::size_t(g.cols); j0 += k_block_columns) {
      const Block b{j0, std::min<std::size_t>(g.cols, j0 + k_block_columns), cell_of.size()};
      blocks.push_back(b);
      for (std::size_t i = 0; i < std::size_t(g.rows); ++i)
        for (std::size_t j = b.j0; j < b.j1; ++j) cell_of.push_back(i * g.cols + j);
    }
  }
  auto take = [&](auto& out, const auto& in) {
    out.clear();
    if (in.empty()) return;
    for (std::size_t c : cell_of) out.push_back(in[c]);
  };
  take(node_r, g.row_node);
  take(node_m, g.internal_node);
  take(node_c, g.col_node);
  const Enables& en = lower_transistor ? static_cast<const Enables&>(*lower_transistor) : *lower_resistor;
  take(node_enable, en.enable);
  if (upper) take(node_gate_u, upper->g), take(vt_u, upper->vt);
  if (lower_transistor) take(node_gate_l, lower_transistor->g), take(vt_l, lower_transistor->vt);
  if (lower_resistor) take(g_l, lower_resistor->g);
}

void GridNewton::State::check_layout() const {
  const std::size_t n = cells();
  auto fail = [](const char* what) { throw std::logic_error(std::string("grid layout: ") + what); };
  if (g.rows < 1 || g.cols < 1) fail("empty grid");
  if (g.row_node.size() != n || g.col_node.size() != n || g.row_source.size() != std::size_t(g.rows) ||
      g.col_sink.size() != std::size_t(g.cols))
    fail("node lists do not match rows x cols");
  if (!!lower_transistor == !!lower_resistor) fail("exactly one lower device group is required");
  if (!!upper != g.has_internal()) fail("an upper device needs internal nodes, and only then");
  if (g.has_internal() && g.internal_node.size() != n) fail("internal node list does not match");
  if (upper && !upper->enable.empty()) fail("switched upper devices are not supported");
  auto same = [&](std::span<const NodeIndex> a, std::span<const NodeIndex> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  };
  const auto& top = g.has_internal() ? g.internal_node : g.row_node;
  if (upper && !(same(upper->d, g.row_node) && same(upper->s, g.internal_node)))
    fail("upper devices do not join R(i,j) to m(i,j)");
  if (lower_transistor && !(same(lower_transistor->d, top) && same(lower_transistor->s, g.col_node)))
    fail("lower transistors do not join the cell's top node to C(i,j)");
  if (lower_resistor && !(same(lower_resistor->a, top) && same(lower_resistor->b, g.col_node)))
    fail("lower resistors do not join the cell's top node to C(i,j)");
  for (NodeIndex x : g.row_source)
    if (circuit.is_free(x)) fail("a row source is not a fixed node");
  for (NodeIndex x : g.col_sink)
    if (circuit.is_free(x)) fail("a bit-line sink is not a fixed node");
}

// Line storage (line_kernels.hpp): family of rows (if free) at p = k, stride 1; family of bit
// lines (if free) at p = col_offset() + k, stride cols (interleaved); one cross coupling per cell
// between R(i,j) and C(i,j) when both are free. Values: [diag | lower | upper | cross].
void GridNewton::State::build_matrix() {
  const auto n_cells = static_cast<std::int32_t>(cells());
  matrix.family_begin = {0};
  std::vector<std::int32_t> chain_begin;
  if (g.rows_free()) {
    matrix.family_begin.push_back(n_cells);
    matrix.family_stride.push_back(1);
    matrix.family_chain_length.push_back(g.cols);
    for (std::int32_t i = 0; i < g.rows; ++i) chain_begin.push_back(i * g.cols);
  }
  if (g.cols_free()) {
    const auto begin = static_cast<std::int32_t>(col_offset());
    matrix.family_begin.push_back(begin + n_cells);
    matrix.family_stride.push_back(g.cols);
    matrix.family_chain_length.push_back(g.rows);
    if (g.cols == 1) chain_begin.push_back(begin);  // stride 1: one chain stored in a run
  }
  matrix.n = matrix.family_begin.back();
  const std::size_t n = matrix.n;
  matrix.cross_ptr.assign(n + 1, 0);
  matrix.cross_col.clear();
  matrix.paired = g.rows_free() && g.cols_free() ? n_cells : 0;  // R(i,j) <-> C(i,j): line_paired.cpp
  if (g.rows_free() && g.cols_free()) {
    for (std::size_t p = 0; p <= n; ++p) matrix.cross_ptr[p] = static_cast<std::int32_t>(p);
    matrix.cross_col.resize(n);
    for (std::int32_t k = 0; k < n_cells; ++k) {
      matrix.cross_col[k] = n_cells + k;
      matrix.cross_col[n_cells + k] = k;
    }
  }
  flat.assign(3 * n + matrix.cross_col.size(), 0.0);
  matrix.diag = {flat.data(), n};
  matrix.lower = {flat.data() + n, n};
  matrix.upper = {flat.data() + 2 * n, n};
  matrix.cross_val = {flat.data() + 3 * n, matrix.cross_col.size()};
  matrix.split_families(chain_begin, parallel_threads());
  matrix.allocate_factors();  // every array a solve uses, here, once per geometry
  work.prepare(matrix, symmetric);
}

// Packed voltages from the circuit's (free, fixed) vectors.
void GridNewton::State::gather(std::span<const double> fixed, std::span<const double> v_free) {
  const NodeIndex n_free = circuit.n_free;
  auto at = [&](NodeIndex x) { return x < n_free ? v_free[x] : fixed[x - n_free]; };
  for (int i = 0; i < g.rows; ++i) v_src[i] = at(g.row_source[i]);
  for (int j = 0; j < g.cols; ++j) v_sink[j] = at(g.col_sink[j]);
  for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k) {
      v_r[k] = at(node_r[k]);
      v_c[k] = at(node_c[k]);
      if (upper) {
        v_m[k] = at(node_m[k]);
        gate_u[k] = at(node_gate_u[k]);
      }
      if (lower_transistor) gate_l[k] = at(node_gate_l[k]);
      enable[k] = node_enable.empty() ? 1.0 : at(node_enable[k]);
    }
  });
}

void GridNewton::State::scatter(std::span<const double> fixed, std::span<double> v_free) const {
  const NodeIndex n_free = circuit.n_free;
  auto put = [&](NodeIndex x, double value) {
    if (x < n_free) v_free[x] = value;
  };
  for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) {  // distinct free nodes per cell
    for (std::size_t k = k0; k < k1; ++k) {
      put(node_r[k], v_r[k]);
      put(node_c[k], v_c[k]);
      if (upper) put(node_m[k], v_m[k]);
    }
  });
  auto at = [&](NodeIndex x) { return x < n_free ? v_free[x] : fixed[x - n_free]; };
  for (const GridLayout::Junction& x : g.junctions) {
    const double v_fixed = at(x.fixed);
    put(x.node, v_fixed + (at(x.other) - v_fixed) * (x.r_fixed / (x.r_fixed + x.r_other)));
  }
}

// Evaluation and elimination of cells [k0, k1) (at most k_block_cells), through this thread's
// chunk buffers.
void GridNewton::State::load_cells(std::size_t k0, std::size_t k1) {
  thread_local ChunkLoads loads;
  loads.reserve(k1 - k0);
  evaluate_devices(k0, k1, loads);
  eliminate_cells(k0, k1, loads);
}

// Raw device loads of cells [k0, k1): batched EKV, or the resistor law.
void GridNewton::State::evaluate_devices(std::size_t k0, std::size_t k1, ChunkLoads& loads) const {
  const std::size_t m = k1 - k0;
  auto part = [&](const std::vector<double>& a) { return std::span(a).subspan(k0, m); };
  auto out = [&](std::vector<double>& a) { return std::span(a).first(m); };
  const std::vector<double>& top = upper ? v_m : v_r;
  if (upper)
    devices::ekv_current_batch(upper->law, {part(vt_u), part(gate_u), part(v_r), part(v_m), out(loads.u_i),
                                            out(loads.gate_partial), out(loads.u_t), out(loads.u_b)});
  if (lower_transistor) {
    devices::ekv_current_batch(lower_transistor->law, {part(vt_l), part(gate_l), part(top), part(v_c),
                                                       out(loads.l_i), out(loads.gate_partial), out(loads.l_t),
                                                       out(loads.l_b)});
  } else {
    const devices::ResistorLaw law = lower_resistor->law;
    for (std::size_t k = k0; k < k1; ++k) {
      const devices::TwoTerminalCurrent r = devices::resistor_current(law, g_l[k], top[k] - v_c[k]);
      loads.l_i[k - k0] = r.i;
      loads.l_t[k - k0] = r.di_dv;
      loads.l_b[k - k0] = -r.di_dv;
    }
  }
}

// Cell parts of f, scale, the diagonals, the couplings S_RC / S_CR and the eliminated rows
// (grid_newton.hpp). The right-hand side b = -f + J_xm f_m / J_mm is left in work.b.
void GridNewton::State::eliminate_cells(std::size_t k0, std::size_t k1, const ChunkLoads& loads) {
  const bool rows = g.rows_free(), cols = g.cols_free();
  auto run = [&](auto has_upper, auto has_rows, auto has_cols) {
    eliminate<decltype(has_upper)::value, decltype(has_rows)::value, decltype(has_cols)::value>(k0, k1, loads);
  };
  using T = std::true_type;
  using F = std::false_type;
  if (upper) {
    if (rows && cols) run(T{}, T{}, T{});
    else if (rows) run(T{}, T{}, F{});
    else if (cols) run(T{}, F{}, T{});
    else run(T{}, F{}, F{});
  } else {
    if (rows && cols) run(F{}, T{}, T{});
    else if (rows) run(F{}, T{}, F{});
    else if (cols) run(F{}, F{}, T{});
  }
}

// One loop without branches per case, over restrict pointers, so that it vectorises. Transistors
// get their G_leak shunt here (I += G_leak (v_t - v_b)), switched lower devices their enable.
template <bool Upper, bool Rows, bool Cols>
void GridNewton::State::eliminate(std::size_t k0, std::size_t k1, const ChunkLoads& loads) {
  const std::size_t c_off = col_offset(), n = matrix.n;
  double* __restrict diag = flat.data();
  double* __restrict rhs = work.b.data();
  double* __restrict cross = flat.data() + 3 * n;
  const double leak_u = devices::k_transistor_leak, leak_l = lower_transistor ? leak_u : 0.0;
  const double* __restrict raw_u_i = loads.u_i.data();
  const double* __restrict raw_u_t = loads.u_t.data();
  const double* __restrict raw_u_b = loads.u_b.data();
  const double* __restrict raw_l_i = loads.l_i.data();
  const double* __restrict raw_l_t = loads.l_t.data();
  const double* __restrict raw_l_b = loads.l_b.data();
  const double* __restrict en = enable.data();
  const double* __restrict vr = v_r.data();
  const double* __restrict vm = v_m.data();
  const double* __restrict vc = v_c.data();
  double* __restrict m_f = res_m.f.data();
  double* __restrict m_scale = res_m.scale.data();
  double* __restrict m_diag = res_m.diag.data();
  double* __restrict m_inv = inv_mm.data();
  double* __restrict m_r = j_mr.data();
  double* __restrict m_c = j_mc.data();
  double* __restrict r_f = res_r.f.data();
  double* __restrict r_scale = res_r.scale.data();
  double* __restrict r_diag = res_r.diag.data();
  double* __restrict c_f = res_c.f.data();
  double* __restrict c_scale = res_c.scale.data();
  double* __restrict c_diag = res_c.diag.data();
#pragma omp simd
  for (std::size_t k = k0; k < k1; ++k) {
    const std::size_t c = k - k0;  // chunk index
    const double v_top = Upper ? vm[k] : vr[k];
    const double l_i = en[k] * (raw_l_i[c] + leak_l * (v_top - vc[k]));
    const double l_t = en[k] * (raw_l_t[c] + leak_l), l_b = en[k] * (raw_l_b[c] - leak_l);
    double u_i = 0, u_t = 0, u_b = 0;
    if constexpr (Upper) {
      u_i = raw_u_i[c] + leak_u * (vr[k] - vm[k]);
      u_t = raw_u_t[c] + leak_u;
      u_b = raw_u_b[c] - leak_u;
    }
    // Unreduced cell block: J_RR = u_t (or l_t), J_CC = -l_b; J_Rm = u_b, J_Cm = -l_t,
    // J_mR = -u_t, J_mC = l_b, J_mm = l_t - u_b.
    double i_r, jrr, jrc, jcr, jcc = -l_b, b_r, b_c;
    if constexpr (Upper) {
      const double f_m = l_i - u_i, jmm = l_t - u_b, gm = 1.0 / jmm;
      const double jrm = u_b, jcm = -l_t, jmr = -u_t, jmc = l_b;
      m_f[k] = f_m;
      m_scale[k] = std::abs(u_i) + std::abs(l_i);
      m_diag[k] = jmm;
      m_inv[k] = gm;
      if constexpr (Rows) m_r[k] = jmr;
      m_c[k] = jmc;
      i_r = u_i;
      jrr = u_t - jrm * jmr * gm;
      jrc = -jrm * jmc * gm;
      jcr = -jcm * jmr * gm;
      jcc -= jcm * jmc * gm;
      b_r = -i_r + jrm * f_m * gm;
      b_c = l_i + jcm * f_m * gm;
    } else {
      i_r = l_i;
      jrr = l_t;
      jrc = l_b;
      jcr = -l_t;
      b_r = -i_r;
      b_c = l_i;
    }
    if constexpr (Rows) {
      r_f[k] = i_r;
      r_scale[k] = std::abs(i_r);
      r_diag[k] = Upper ? u_t : l_t;
      diag[k] = jrr;
      rhs[k] = b_r;
      if constexpr (Cols) cross[k] = jrc;
    }
    if constexpr (Cols) {
      c_f[k] = -l_i;
      c_scale[k] = std::abs(l_i);
      c_diag[k] = -l_b;
      diag[c_off + k] = jcc;
      rhs[c_off + k] = b_c;
      if constexpr (Rows) cross[c_off + k] = jcr;
    }
  }
}

// Row-line wires of cells [k0, k1) (whole rows): V_src -g_first- R(i,0) -g_row- R(i,1) ...
void GridNewton::State::stamp_row_wires(std::size_t k0, std::size_t k1) {
  const std::size_t n = matrix.n, cols = g.cols;
  for (std::size_t k = k0; k < k1; ++k) {
    const std::size_t j = k % cols;
    const double g_left = j == 0 ? g.g_row_first : g.g_row;
    const double v_left = j == 0 ? v_src[k / cols] : v_r[k - 1];
    const double g_right = j + 1 < cols ? g.g_row : 0.0;
    const double v_right = j + 1 < cols ? v_r[k + 1] : 0.0;
    const double current = g_left * (v_r[k] - v_left) + g_right * (v_r[k] - v_right);
    res_r.f[k] += current;
    work.b[k] -= current;
    res_r.scale[k] += g_left * (std::abs(v_r[k]) + std::abs(v_left)) + g_right * (std::abs(v_r[k]) + std::abs(v_right));
    res_r.diag[k] += g_left + g_right;
    flat[k] += g_left + g_right;
    flat[n + k] = j == 0 ? 0.0 : -g_left;
    flat[2 * n + k] = -g_right;
  }
}

// Bit-line wires of cells [k0, k1) of block b: C(i-1,j) -g_col- C(i,j) -g_col- C(i+1,j), the
// last one -g_col_last- V_sink(j). The first and last block rows apart, every cell has both
// neighbours on its line: one loop without branches.
void GridNewton::State::stamp_col_wires(std::size_t k0, std::size_t k1, const Block& b) {
  const std::size_t n = matrix.n, w = b.width(), c_off = col_offset(), last_row = end(b) - w;
  double* __restrict f = res_c.f.data();
  double* __restrict scale = res_c.scale.data();
  double* __restrict jdiag = res_c.diag.data();
  double* __restrict rhs = work.b.data() + c_off;
  double* __restrict diag = flat.data() + c_off;
  double* __restrict lower = flat.data() + n + c_off;
  double* __restrict upper_ = flat.data() + 2 * n + c_off;
  const double* __restrict v = v_c.data();
  auto stamp = [&](std::size_t k, double g_up, double v_up, double g_down, double v_down, bool last) {
    const double current = g_up * (v[k] - v_up) + g_down * (v[k] - v_down);
    f[k] += current;
    rhs[k] -= current;
    scale[k] += g_up * (std::abs(v[k]) + std::abs(v_up)) + g_down * (std::abs(v[k]) + std::abs(v_down));
    jdiag[k] += g_up + g_down;
    diag[k] += g_up + g_down;
    lower[k] = -g_up;
    upper_[k] = last ? 0.0 : -g_down;
  };
  auto edge = [&](std::size_t k) {
    const bool first = k < b.base + w, last = k >= last_row;
    stamp(k, first ? 0.0 : g.g_col, first ? 0.0 : v[k - w], last ? g.g_col_last : g.g_col,
          last ? v_sink[b.j0 + (k - b.base) % w] : v[k + w], last);
  };
  const std::size_t mid0 = std::clamp(b.base + w, k0, k1), mid1 = std::clamp(last_row, mid0, k1);
  for (std::size_t k = k0; k < mid0; ++k) edge(k);
  const double g_col = g.g_col;
#pragma omp simd
  for (std::size_t k = mid0; k < mid1; ++k) stamp(k, g_col, v[k - w], g_col, v[k + w], false);
  for (std::size_t k = mid1; k < k1; ++k) edge(k);
}

// Unknowns of cells [k0, k1) whose |f| exceeds the tolerance (NaN counts), without a branch.
std::size_t GridNewton::State::count_outside(std::size_t k0, std::size_t k1) const {
  std::size_t outside = 0;
  for (const FamilyResidual* r : {&res_r, &res_c, &res_m}) {
    if (r->f.empty()) continue;
    const double* __restrict f = r->f.data();
    const double* __restrict scale = r->scale.data();
#pragma omp simd reduction(+ : outside)
    for (std::size_t k = k0; k < k1; ++k) outside += !(std::abs(f[k]) <= tolerance(scale[k]));
  }
  return outside;
}

double GridNewton::State::range_ratio(std::size_t k0, std::size_t k1) const {
  double worst = 0;
  for (const FamilyResidual* r : {&res_r, &res_c, &res_m}) {
    if (r->f.empty()) continue;
    for (std::size_t k = k0; k < k1; ++k) {
      const double ratio = options.residual_ratio(r->f[k], r->scale[k]);
      if (!(ratio <= worst)) worst = ratio;  // NaN propagates
    }
  }
  return worst;
}

// f, scale, the reduced matrix and right-hand side at the current voltages, in parallel over
// whole rows; returns max |f| / tolerance over every unknown.
double GridNewton::State::assemble() {
  double worst[64] = {};
  const std::int64_t grain = std::max<std::int64_t>(1, k_grain_cells / g.cols);
  const int parts = parallel_for(g.rows, grain, [&](int part, std::int64_t i0, std::int64_t i1) {
    // In cache-sized blocks: each block's device loads are read back while still in cache.
    for (std::size_t k0 = i0 * g.cols, end = i1 * g.cols; k0 < end; k0 += k_block_cells) {
      const std::size_t k1 = std::min(end, k0 + k_block_cells);
      load_cells(k0, k1);
      if (g.rows_free()) stamp_row_wires(k0, k1);
      if (g.cols_free()) stamp_col_wires(k0, k1, whole());
      const double ratio = range_ratio(k0, k1);
      if (!(ratio <= worst[part])) worst[part] = ratio;  // NaN propagates
    }
  });
  double ratio = 0;
  for (int p = 0; p < parts; ++p)
    if (!(worst[p] <= ratio)) ratio = worst[p];
  return ratio;
}

// Solves the reduced system and back-substitutes the cell nodes; largest = max |dv|. Returns
// false when the factorisation breaks down.
bool GridNewton::State::step(double ratio, double& largest) {
  if (matrix.n > 0) {
    if (matrix.factor_tridiagonal() >= 0) return false;
    const double fraction = options.linear_fraction(ratio, linear_circuit);
    const std::size_t c_off = col_offset();
    for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) {
      for (std::size_t k = k0; k < std::min(k1, res_r.f.size()); ++k)
        work.tolerance[k] = fraction * tolerance(res_r.scale[k]);
      for (std::size_t k = k0; k < std::min(k1, res_c.f.size()); ++k)
        work.tolerance[c_off + k] = fraction * tolerance(res_c.scale[k]);
    });
    linear_iterations += solve_reduced(matrix, symmetric, 2000, work);
  }
  const std::size_t c_off = col_offset();
  double part_largest[64] = {}, part_sum[64] = {};
  const int parts = for_cells(cells(), [&](int part, std::size_t k0, std::size_t k1) {
    double big = 0, sum = 0;
    for (std::size_t k = k0; k < k1; ++k) {
      d_r[k] = g.rows_free() ? work.x[k] : 0.0;
      d_c[k] = g.cols_free() ? work.x[c_off + k] : 0.0;
      if (upper) d_m[k] = inv_mm[k] * (-res_m.f[k] - j_mr[k] * d_r[k] - j_mc[k] * d_c[k]);
      const double d_mk = upper ? d_m[k] : 0.0;
      big = std::max({big, std::abs(d_r[k]), std::abs(d_c[k]), std::abs(d_mk)});
      sum += d_r[k] + d_c[k] + d_mk;
    }
    part_largest[part] = big, part_sum[part] = sum;
  });
  largest = 0;
  double sum = 0;
  for (int p = 0; p < parts; ++p) largest = std::max(largest, part_largest[p]), sum += part_sum[p];
  return std::isfinite(largest) && std::isfinite(sum);  // the sum keeps a NaN that max drops
}

// Whether the update dv of cells [k0, k1) is small at every unknown (NewtonSolver's test): in
// volts, or too small to move the node's own current by its KCL tolerance.
bool GridNewton::State::update_small(std::size_t k0, std::size_t k1) const {
  auto small = [&](const std::vector<double>& v, const std::vector<double>& d, const FamilyResidual& r) {
    if (r.f.empty()) return true;
    for (std::size_t k = k0; k < k1; ++k)
      if (!options.update_small(d[k], v[k], r.diag[k], r.scale[k])) return false;
    return true;
  };
  return small(v_r, d_r, res_r) && small(v_c, d_c, res_c) && small(v_m, d_m, res_m);
}

void GridNewton::State::apply_update(std::size_t k0, std::size_t k1, double alpha) {
  auto update = [&](std::vector<double>& v, const std::vector<double>& d, const FamilyResidual& r) {
    if (r.f.empty()) return;
    for (std::size_t k = k0; k < k1; ++k) v[k] += alpha * d[k];
  };
  update(v_r, d_r, res_r);
  update(v_c, d_c, res_c);
  update(v_m, d_m, res_m);
}

GridNewton::State::RunResult GridNewton::State::run() {
  if (!g.rows_free()) return run_columns();
  auto small = [&] {
    bool part_small[64];
    const int parts = for_cells(cells(), [&](int part, std::size_t k0, std::size_t k1) {
      part_small[part] = update_small(k0, k1);
    });
    return std::all_of(part_small, part_small + parts, [](bool b) { return b; });
  };
  return newton_loop(
      options, linear_circuit, [&] { return assemble(); }, [&](double ratio, double& largest) { return step(ratio, largest); }, small,
      [&](double alpha) {
        for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) { apply_update(k0, k1, alpha); });
      });
}

// The column blocks in parallel, each to its own convergence. Iterations: the most any block took.
GridNewton::State::RunResult GridNewton::State::run_columns() {
  std::vector<RunResult> results(blocks.size());
  parallel_for(static_cast<std::int64_t>(blocks.size()), 1, [&](int, std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) results[b] = run_block(blocks[b]);
  });
  RunResult all{true, 0};
  for (const RunResult& r : results) {
    all.converged = all.converged && r.converged;
    all.iterations = std::max(all.iterations, r.iterations);
  }
  return all;
}

GridNewton::State::RunResult GridNewton::State::run_block(const Block& b) {
  // The blocks solve directly: only whether KCL holds matters, not by how much it fails.
  return newton_loop(options, linear_circuit,
                     [&] { return assemble_block(b) ? 0.0 : std::numeric_limits<double>::infinity(); },
                [&](double, double& largest) { return step_block(b, largest); },
                [&] { return update_small(b.base, end(b)); }, [&](double alpha) { apply_update(b.base, end(b), alpha); });
}

// Returns whether KCL holds at every unknown of the block.
bool GridNewton::State::assemble_block(const Block& b) {
  std::size_t outside = 0;
  for (std::size_t k0 = b.base; k0 < end(b); k0 += k_block_cells) {
    const std::size_t k1 = std::min(end(b), k0 + k_block_cells);
    load_cells(k0, k1);
    if (g.cols_free()) stamp_col_wires(k0, k1, b);
    outside += count_outside(k0, k1);
  }
  return outside == 0;
}

// The block's bit lines by the Thomas algorithm (T = L U; chains along i, neighbours one block
// row of w cells apart, every row a vectorisable loop), then each cell's m by back-substitution;
// largest = max |dv|. A zero or non-finite pivot shows as a non-finite update: false.
bool GridNewton::State::step_block(const Block& b, double& largest) {
  const std::size_t w = b.width(), first = b.base, last = end(b), n = matrix.n;
  double* __restrict dc = d_c.data();
  if (g.cols_free()) {  // col_offset() = 0: the rows have no unknowns
    const double* __restrict diag = flat.data();
    const double* __restrict lower = flat.data() + n;
    const double* __restrict upper_ = flat.data() + 2 * n;
    double* __restrict rhs = work.b.data();        // forward-substituted in place
    double* __restrict scaled = thomas_scaled.data();  // upper / pivot
    for (std::size_t k = first; k < first + w; ++k) {
      const double inv = 1.0 / diag[k];
      scaled[k] = upper_[k] * inv;
      rhs[k] *= inv;
    }
    // Within a block row the w chains are independent (k - w is the previous row): ivdep lets
    // the compiler vectorise across them, which it cannot prove by itself.
    for (std::size_t row = first + w; row < last; row += w)
#pragma GCC ivdep
      for (std::size_t k = row; k < row + w; ++k) {
        const double inv = 1.0 / (diag[k] - lower[k] * scaled[k - w]);
        scaled[k] = upper_[k] * inv;
        rhs[k] = (rhs[k] - lower[k] * rhs[k - w]) * inv;
      }
    for (std::size_t k = last - w; k < last; ++k) dc[k] = rhs[k];
    for (std::size_t row = last - w; row-- > first;) {
      row -= w - 1;
#pragma GCC ivdep
      for (std::size_t k = row; k < row + w; ++k) dc[k] = rhs[k] - scaled[k] * dc[k + w];
    }
  }
  if (upper) {
    double* __restrict dm = d_m.data();
    const double* __restrict inv = inv_mm.data();
    const double* __restrict fm = res_m.f.data();
    const double* __restrict jmc = j_mc.data();
    for (std::size_t k = first; k < last; ++k) dm[k] = inv[k] * (-fm[k] - jmc[k] * dc[k]);
  }
  double big = 0, sum = 0;  // locals, not `largest`: a reference would be stored every time
  auto scan = [&](auto has_m) {
    const double* __restrict dm = d_m.data();
#pragma omp simd reduction(max : big) reduction(+ : sum)
    for (std::size_t k = first; k < last; ++k) {
      const double d_mk = has_m ? dm[k] : 0.0;
      big = std::max(big, std::max(std::abs(dc[k]), std::abs(d_mk)));
      sum += dc[k] + d_mk;
    }
  };
  if (upper) scan(std::true_type{});
  else scan(std::false_type{});
  largest = big;
  return std::isfinite(largest) && std::isfinite(sum);  // the sum keeps a NaN that max drops
}

// Largest residual and the worst node relative to its tolerance, from the last assemble().
void GridNewton::State::measure(SolveStats& stats) const {
  double worst_ratio = -1;
  auto scan = [&](const FamilyResidual& r, const std::vector<NodeIndex>& nodes) {
    for (std::size_t k = 0; k < r.f.size(); ++k) record_residual(stats, worst_ratio, nodes[k], r.f[k], tolerance(r.scale[k]));
  };
  scan(res_r, node_r);
  scan(res_c, node_c);
  scan(res_m, node_m);
}

GridNewton::GridNewton(const Circuit& circuit, GridLayout layout, NewtonOptions options)
    : state_(std::make_unique<State>(circuit, std::move(layout), std::move(options))) {}
GridNewton::~GridNewton() = default;
GridNewton::GridNewton(GridNewton&&) noexcept = default;

const NewtonOptions& GridNewton::options() const { return state_->options; }

SolveStats GridNewton::solve(std::span<const double> fixed, std::span<double> v_free) {
  State& s = *state_;
  SolveStats stats;
  stats.method = "newton";
  if (s.circuit.n_free == 0) {
    stats.converged = true;
    stats.method = "none (no free node)";
    return stats;
  }
  s.linear_iterations = 0;
  s.gather(fixed, v_free);
  const State::RunResult r = s.run();
  stats.converged = r.converged;
  stats.iterations = r.iterations;
  stats.linear_iterations = s.linear_iterations;
  s.measure(stats);  // at the last point evaluated
  if (r.converged) s.scatter(fixed, v_free);
  else stats.detail = fmt::format("grid newton: no convergence in {} iterations; ", r.iterations);
  return stats;
}

}  // namespace xbar::solver
