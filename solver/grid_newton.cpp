// Structured Newton on crossbar-shaped circuits: see grid_newton.hpp for the equations.
//
// State lives in packed per-cell arrays (row-major, k = i * cols + j): the terminal voltages
// V_R, V_m, V_C, the device loads, the residuals and the eliminated rows of every cell. Device
// evaluation, cell elimination and the line stamps are loops over contiguous arrays.
#include "solver/grid_newton.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "devices/cell.hpp"
#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver {

namespace {

constexpr std::int64_t k_grain_cells = 1 << 14;  // cells below which a loop stays on one thread
constexpr std::size_t k_block_cells = 1024;      // cells evaluated and stamped in one pass

// Loads of one device between its top terminal t and bottom terminal b: I (t -> b) and partials.
struct DeviceLoads {
  std::vector<double> i, di_dt, di_db;
  void resize(std::size_t n) {
    for (auto* a : {&i, &di_dt, &di_db}) a->assign(n, 0.0);
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

}  // namespace

struct GridNewton::State {
  State(const Circuit& c, GridLayout l, NewtonOptions o);

  // Set-up.
  void check_layout() const;
  void build_matrix();

  // One Newton iteration's pieces.
  void gather(std::span<const double> fixed, std::span<const double> v_free);
  void scatter(std::span<const double> fixed, std::span<double> v_free) const;
  double assemble();
  void evaluate_devices(std::size_t k0, std::size_t k1);
  void eliminate_cells(std::size_t k0, std::size_t k1);
  void stamp_row_wires(std::size_t k0, std::size_t k1);
  void stamp_col_wires(std::size_t k0, std::size_t k1);
  double ratio_of(double f, double scale) const {
    return std::abs(f) / (options.abstol + options.residual_reltol * scale);
  }
  double range_ratio(std::size_t k0, std::size_t k1) const;
  bool step(double ratio, double& largest);
  bool update_small() const;
  void apply_update(double alpha);
  void measure(SolveStats& stats) const;
  struct RunResult {
    bool converged;
    int iterations;
  };
  RunResult run();

  std::size_t cells() const { return static_cast<std::size_t>(g.rows) * g.cols; }
  std::size_t col_offset() const { return g.rows_free() ? cells() : 0; }

  const Circuit& circuit;
  GridLayout g;
  NewtonOptions options;
  const TransistorGroup* upper = nullptr;
  const TransistorGroup* lower_transistor = nullptr;
  const ResistorGroup* lower_resistor = nullptr;
  bool linear_circuit = false;

  // Per cell (packed): voltages, fixed gate voltages and enables of this solve.
  std::vector<double> v_r, v_m, v_c, gate_u, gate_l, enable, scratch;
  std::vector<double> v_src, v_sink;  // per row / per column
  DeviceLoads up, low;
  FamilyResidual res_r, res_c, res_m;
  // Eliminated cell rows: dm = inv_mm (-f_m - J_mR dR - J_mC dC); J_Rm, J_Cm for the rhs.
  std::vector<double> inv_mm, j_mr, j_mc, j_rm, j_cm;
  std::vector<double> d_r, d_c, d_m;  // Newton update

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
  for (auto* a : {&v_r, &v_m, &v_c, &gate_u, &gate_l, &enable, &scratch, &inv_mm, &j_mr, &j_mc, &j_rm, &j_cm,
                  &d_r, &d_c, &d_m})
    a->assign(n, 0.0);
  v_src.assign(g.rows, 0.0);
  v_sink.assign(g.cols, 0.0);
  up.resize(upper ? n : 0);
  low.resize(n);
  res_r.resize(g.rows_free() ? n : 0);
  res_c.resize(g.cols_free() ? n : 0);
  res_m.resize(g.has_internal() ? n : 0);
  build_matrix();
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
  work.resize(matrix.n);
}

// Packed voltages from the circuit's (free, fixed) vectors.
void GridNewton::State::gather(std::span<const double> fixed, std::span<const double> v_free) {
  const NodeIndex n_free = circuit.n_free;
  auto at = [&](NodeIndex x) { return x < n_free ? v_free[x] : fixed[x - n_free]; };
  for (int i = 0; i < g.rows; ++i) v_src[i] = at(g.row_source[i]);
  for (int j = 0; j < g.cols; ++j) v_sink[j] = at(g.col_sink[j]);
  const TransistorGroup* lower_t = lower_transistor;
  const Enables& en = lower_t ? static_cast<const Enables&>(*lower_t) : *lower_resistor;
  for (std::size_t k = 0; k < cells(); ++k) {
    v_r[k] = at(g.row_node[k]);
    v_c[k] = at(g.col_node[k]);
    if (upper) {
      v_m[k] = at(g.internal_node[k]);
      gate_u[k] = at(upper->g[k]);
    }
    if (lower_t) gate_l[k] = at(lower_t->g[k]);
    enable[k] = en.enable.empty() ? 1.0 : at(en.enable[k]);
  }
}

void GridNewton::State::scatter(std::span<const double> fixed, std::span<double> v_free) const {
  const NodeIndex n_free = circuit.n_free;
  auto put = [&](NodeIndex x, double value) {
    if (x < n_free) v_free[x] = value;
  };
  for (std::size_t k = 0; k < cells(); ++k) {
    put(g.row_node[k], v_r[k]);
    put(g.col_node[k], v_c[k]);
    if (upper) put(g.internal_node[k], v_m[k]);
  }
  auto at = [&](NodeIndex x) { return x < n_free ? v_free[x] : fixed[x - n_free]; };
  for (const GridLayout::Junction& x : g.junctions) {
    const double v_fixed = at(x.fixed);
    put(x.node, v_fixed + (at(x.other) - v_fixed) * (x.r_fixed / (x.r_fixed + x.r_other)));
  }
}

// Device loads of cells [k0, k1): batched EKV (with the G_leak shunt) or the resistor law, each
// times its cell's enable.
void GridNewton::State::evaluate_devices(std::size_t k0, std::size_t k1) {
  const std::size_t m = k1 - k0;
  auto part = [&](auto& a) { return std::span(a).subspan(k0, m); };
  const double leak = devices::k_transistor_leak;
  const std::vector<double>& top = upper ? v_m : v_r;
  if (upper) {
    devices::ekv_current_batch(upper->law, {std::span(upper->vt).subspan(k0, m), part(gate_u), part(v_r),
                                            part(v_m), part(up.i), part(scratch), part(up.di_dt),
                                            part(up.di_db)});
    for (std::size_t k = k0; k < k1; ++k) {
      up.i[k] += leak * (v_r[k] - v_m[k]);
      up.di_dt[k] += leak;
      up.di_db[k] -= leak;
    }
  }
  if (lower_transistor) {
    devices::ekv_current_batch(lower_transistor->law,
                               {std::span(lower_transistor->vt).subspan(k0, m), part(gate_l),
                                std::span(top).subspan(k0, m), part(v_c), part(low.i), part(scratch),
                                part(low.di_dt), part(low.di_db)});
    for (std::size_t k = k0; k < k1; ++k) {
      low.i[k] = enable[k] * (low.i[k] + leak * (top[k] - v_c[k]));
      low.di_dt[k] = enable[k] * (low.di_dt[k] + leak);
      low.di_db[k] = enable[k] * (low.di_db[k] - leak);
    }
  } else {
    const devices::ResistorLaw law = lower_resistor->law;
    for (std::size_t k = k0; k < k1; ++k) {
      const devices::TwoTerminalCurrent r = devices::resistor_current(law, lower_resistor->g[k], top[k] - v_c[k]);
      low.i[k] = enable[k] * r.i;
      low.di_dt[k] = enable[k] * r.di_dv;
      low.di_db[k] = -enable[k] * r.di_dv;
    }
  }
}

// Cell parts of f, scale, the diagonals, the couplings S_RC / S_CR and the eliminated rows
// (grid_newton.hpp). The right-hand side b = -f + J_xm f_m / J_mm is left in work.b.
void GridNewton::State::eliminate_cells(std::size_t k0, std::size_t k1) {
  const std::size_t n_cells = cells(), c_off = col_offset();
  const bool rows = g.rows_free(), cols = g.cols_free(), both = rows && cols;
  std::span<double> cross = {flat.data() + 3 * static_cast<std::size_t>(matrix.n), matrix.cross_col.size()};
  for (std::size_t k = k0; k < k1; ++k) {
    // Unreduced cell block: J_RR += u_t (or l_t), J_CC += -l_b; couplings J_Rm, J_Cm, J_mR, J_mC.
    double i_r, i_c = -low.i[k], jrr, jcc = -low.di_db[k], jrc, jcr, f_m = 0, gm = 0, jrm = 0, jcm = 0;
    if (upper) {
      i_r = up.i[k];
      jrr = up.di_dt[k];
      f_m = low.i[k] - up.i[k];
      const double jmm = low.di_dt[k] - up.di_db[k];
      gm = 1.0 / jmm;
      jrm = up.di_db[k];
      jcm = -low.di_dt[k];
      j_mr[k] = -up.di_dt[k];
      j_mc[k] = low.di_db[k];
      inv_mm[k] = gm;
      j_rm[k] = jrm;
      j_cm[k] = jcm;
      res_m.f[k] = f_m;
      res_m.scale[k] = std::abs(up.i[k]) + std::abs(low.i[k]);
      res_m.diag[k] = jmm;
      jrc = -jrm * j_mc[k] * gm;
      jcr = -jcm * j_mr[k] * gm;
      jrr -= jrm * j_mr[k] * gm;
      jcc -= jcm * j_mc[k] * gm;
    } else {
      i_r = low.i[k];
      jrr = low.di_dt[k];
      jrc = low.di_db[k];
      jcr = -low.di_dt[k];
    }
    if (rows) {
      res_r.f[k] = i_r;
      res_r.scale[k] = std::abs(i_r);
      res_r.diag[k] = upper ? up.di_dt[k] : low.di_dt[k];
      flat[k] = jrr;
      work.b[k] = -i_r + jrm * f_m * gm;
      if (both) cross[k] = jrc;
    }
    if (cols) {
      res_c.f[k] = i_c;
      res_c.scale[k] = std::abs(i_c);
      res_c.diag[k] = -low.di_db[k];
      flat[c_off + k] = jcc;
      work.b[c_off + k] = -i_c + jcm * f_m * gm;
      if (both) cross[n_cells + k] = jcr;
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

// Bit-line wires of cells [k0, k1) (whole rows): C(i-1,j) -g_col- C(i,j) -g_col- C(i+1,j), the
// last one -g_col_last- V_sink(j).
void GridNewton::State::stamp_col_wires(std::size_t k0, std::size_t k1) {
  const std::size_t n = matrix.n, cols = g.cols, c_off = col_offset(), n_cells = cells();
  for (std::size_t k = k0; k < k1; ++k) {
    const bool first = k < cols, last = k + cols >= n_cells;
    const double g_up = first ? 0.0 : g.g_col, v_up = first ? 0.0 : v_c[k - cols];
    const double g_down = last ? g.g_col_last : g.g_col, v_down = last ? v_sink[k % cols] : v_c[k + cols];
    const double current = g_up * (v_c[k] - v_up) + g_down * (v_c[k] - v_down);
    const std::size_t p = c_off + k;
    res_c.f[k] += current;
    work.b[p] -= current;
    res_c.scale[k] += g_up * (std::abs(v_c[k]) + std::abs(v_up)) + g_down * (std::abs(v_c[k]) + std::abs(v_down));
    res_c.diag[k] += g_up + g_down;
    flat[p] += g_up + g_down;
    flat[n + p] = -g_up;
    flat[2 * n + p] = last ? 0.0 : -g_down;
  }
}

double GridNewton::State::range_ratio(std::size_t k0, std::size_t k1) const {
  double worst = 0;
  for (const FamilyResidual* r : {&res_r, &res_c, &res_m}) {
    if (r->f.empty()) continue;
    for (std::size_t k = k0; k < k1; ++k) {
      const double ratio = ratio_of(r->f[k], r->scale[k]);
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
      evaluate_devices(k0, k1);
      eliminate_cells(k0, k1);
      if (g.rows_free()) stamp_row_wires(k0, k1);
      if (g.cols_free()) stamp_col_wires(k0, k1);
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
    const double forcing = linear_circuit ? 0.0 : options.linear_forcing * ratio;
    const double fraction = forcing >= 1 ? forcing : options.linear_safety;
    const std::size_t c_off = col_offset();
    for (std::size_t k = 0; k < res_r.f.size(); ++k)
      work.tolerance[k] = fraction * (options.abstol + options.residual_reltol * res_r.scale[k]);
    for (std::size_t k = 0; k < res_c.f.size(); ++k)
      work.tolerance[c_off + k] = fraction * (options.abstol + options.residual_reltol * res_c.scale[k]);
    linear_iterations += solve_reduced(matrix, symmetric, 2000, work);
  }
  const std::size_t c_off = col_offset();
  largest = 0;
  for (std::size_t k = 0; k < cells(); ++k) {
    d_r[k] = g.rows_free() ? work.x[k] : 0.0;
    d_c[k] = g.cols_free() ? work.x[c_off + k] : 0.0;
    if (upper) d_m[k] = inv_mm[k] * (-res_m.f[k] - j_mr[k] * d_r[k] - j_mc[k] * d_c[k]);
    largest = std::max({largest, std::abs(d_r[k]), std::abs(d_c[k]), std::abs(d_m[k])});
  }
  return std::isfinite(largest);
}

// Whether the update dv is small at every unknown (NewtonSolver's test): in volts, or too small
// to move the node's own current by its KCL tolerance.
bool GridNewton::State::update_small() const {
  auto small = [&](const std::vector<double>& v, const std::vector<double>& d, const FamilyResidual& r) {
    for (std::size_t k = 0; k < r.f.size(); ++k)
      if (!(std::abs(d[k]) <= options.vntol + options.reltol * std::abs(v[k]) ||
            std::abs(r.diag[k] * d[k]) <= options.abstol + options.residual_reltol * r.scale[k]))
        return false;
    return true;
  };
  return small(v_r, d_r, res_r) && small(v_c, d_c, res_c) && small(v_m, d_m, res_m);
}

void GridNewton::State::apply_update(double alpha) {
  auto update = [&](std::vector<double>& v, const std::vector<double>& d, const FamilyResidual& r) {
    for (std::size_t k = 0; k < r.f.size(); ++k) v[k] += alpha * d[k];
  };
  update(v_r, d_r, res_r);
  update(v_c, d_c, res_c);
  update(v_m, d_m, res_m);
}

// Converged at v when KCL holds there (ratio <= 1) and the Newton step from v is small: the
// step is computed but not taken, so the point returned is the one whose residual was checked,
// and the evaluation that would only confirm it is saved. A linear circuit is solved after one
// undamped step (f affine), confirmed by the residual alone.
GridNewton::State::RunResult GridNewton::State::run() {
  bool full_step = false;
  for (int it = 0; it <= options.max_iterations; ++it) {
    const double ratio = assemble();
    if (ratio <= 1 && linear_circuit && full_step) return {true, it};
    if (it == options.max_iterations) break;
    double largest = 0;
    if (!step(ratio, largest)) return {false, it + 1};
    const double alpha = largest > options.max_step ? options.max_step / largest : 1.0;
    full_step = alpha == 1.0;
    if (ratio <= 1 && full_step && update_small()) return {true, it + 1};
    apply_update(alpha);
  }
  return {false, options.max_iterations};
}

// Largest residual and the worst node relative to its tolerance, from the last assemble().
void GridNewton::State::measure(SolveStats& stats) const {
  double worst_ratio = -1;
  auto scan = [&](const FamilyResidual& r, const std::vector<NodeIndex>& nodes) {
    for (std::size_t k = 0; k < r.f.size(); ++k) {
      const double f = std::abs(r.f[k]);
      if (std::isnan(f) || f > stats.max_residual) stats.max_residual = f;
      const double ratio = ratio_of(f, r.scale[k]);
      if (!(ratio <= worst_ratio)) {
        worst_ratio = ratio;
        stats.worst_node = nodes[k];
        stats.worst_residual = f;
        stats.worst_tolerance = options.abstol + options.residual_reltol * r.scale[k];
      }
    }
  };
  scan(res_r, g.row_node);
  scan(res_c, g.col_node);
  scan(res_m, g.internal_node);
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
  if (!r.converged) {
    s.assemble();  // report the residual at the point returned
    stats.detail = "grid newton: no convergence; ";
  }
  s.measure(stats);
  stats.linear_iterations = s.linear_iterations;
  s.scatter(fixed, v_free);
  return stats;
}

}  // namespace xbar::solver
