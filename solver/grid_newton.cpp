// Structured Newton on crossbar-shaped circuits: see grid_newton.hpp for the equations, and
// grid_state.hpp for how the state is stored (packed per-cell arrays, whole grid or column
// blocks) and which file does what.
#include "solver/grid_newton.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "solver/grid_state.hpp"
#include "solver/isa_clones.hpp"

namespace xbar::solver {

// One vectorised loop per family: the largest ratio, and NaNs counted on the side (max drops
// them), so that a NaN still propagates.
double GridNewton::State::range_ratio(const CellWork& w, std::size_t k0, std::size_t k1) const {
  const NewtonOptions::KclTolerance kcl = options.kcl_tolerance();
  double worst = 0, nan = 0;
  for (const FamilyResidual* r : {&w.res_r, &w.res_c, &w.res_m}) {
    if (r->f.empty()) continue;
    const double *__restrict f = r->f.data(), *__restrict scale = r->scale.data();
#pragma omp simd reduction(max : worst) reduction(+ : nan)
    for (std::size_t k = k0 - w.base; k < k1 - w.base; ++k) {
      const double ratio = std::abs(f[k]) / kcl(scale[k]);  // options.residual_ratio
      worst = std::max(worst, ratio);
      nan += ratio == ratio ? 0.0 : 1.0;
    }
  }
  return nan > 0 ? std::numeric_limits<double>::quiet_NaN() : worst;
}

// f, scale, the reduced matrix (unless not jacobian) and right-hand side at the current
// voltages, in parallel over whole rows; returns max |f| / tolerance over every unknown.
double GridNewton::State::assemble(bool jacobian) {
  double worst[64] = {};
  const std::int64_t grain = std::max<std::int64_t>(1, k_grain_cells / g.cols);
  const int parts = parallel_for(g.rows, grain, [&](int part, std::int64_t i0, std::int64_t i1) {
    // In cache-sized blocks: each block's device loads are read back while still in cache.
    for (std::size_t k0 = i0 * g.cols, end = i1 * g.cols; k0 < end; k0 += k_block_cells) {
      const std::size_t k1 = std::min(end, k0 + k_block_cells);
      load_cells(all, k0, k1, jacobian);
      if (g.rows_free()) stamp_row_wires(all, k0, k1, jacobian);
      if (g.cols_free()) stamp_col_wires(all, k0, k1, whole(), jacobian);
      const double ratio = range_ratio(all, k0, k1);
      if (!(ratio <= worst[part])) worst[part] = ratio;  // NaN propagates
    }
  });
  double ratio = 0;
  for (int p = 0; p < parts; ++p)
    if (!(worst[p] <= ratio)) ratio = worst[p];
  return ratio;
}

// Solves the reduced system and back-substitutes the cell nodes; largest = max |dv|. Returns
// false when the factorisation breaks down. factor = false: the matrix is the one factored by
// the last step (JacobianReuse).
bool GridNewton::State::step(double ratio, double& largest, bool factor) {
  const FamilyResidual &res_r = all.res_r, &res_c = all.res_c, &res_m = all.res_m;
  const std::vector<double> &inv_mm = all.inv_mm, &j_mr = all.j_mr, &j_mc = all.j_mc;
  std::vector<double> &d_r = all.d_r, &d_c = all.d_c, &d_m = all.d_m;
  if (matrix.n > 0) {
    if (factor && matrix.factor_tridiagonal() >= 0) return false;
    const double fraction = options.linear_fraction(ratio, linear_circuit);
    const std::size_t c_off = col_offset();
    for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) {
      for (std::size_t k = k0; k < std::min(k1, res_r.f.size()); ++k)
        work.tolerance[k] = fraction * tolerance(res_r.scale[k]);
      for (std::size_t k = k0; k < std::min(k1, res_c.f.size()); ++k)
        work.tolerance[c_off + k] = fraction * tolerance(res_c.scale[k]);
    });
    linear_iterations += solve_reduced(matrix, symmetric, options.max_linear_iterations, work);
    unconverged_linear += !work.converged;
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
XBAR_ISA_CLONES
bool GridNewton::State::update_small(const CellWork& w, std::size_t k0, std::size_t k1) const {
  auto small = [&](const std::vector<double>& v, const std::vector<double>& d, const FamilyResidual& r) {
    if (r.f.empty()) return true;
    const std::size_t t0 = k0 - w.base;
    const double *__restrict dv = d.data() + t0, *__restrict at = v.data() + k0;
    const double *__restrict diag = r.diag.data() + t0, *__restrict scale = r.scale.data() + t0;
    double large = 0;  // a count of doubles, so that the loop vectorises
#pragma omp simd reduction(+ : large)
    for (std::size_t t = 0; t < k1 - k0; ++t)
      large += options.update_small(dv[t], at[t], diag[t], scale[t]) ? 0.0 : 1.0;
    return large == 0;
  };
  return small(v_r, w.d_r, w.res_r) && small(v_c, w.d_c, w.res_c) && small(v_m, w.d_m, w.res_m);
}

XBAR_ISA_CLONES
void GridNewton::State::apply_update(const CellWork& w, std::size_t k0, std::size_t k1, double alpha) {
  auto update = [&](std::vector<double>& v, const std::vector<double>& d, const FamilyResidual& r) {
    if (r.f.empty()) return;
    for (std::size_t k = k0; k < k1; ++k) v[k] += alpha * d[k - w.base];
  };
  update(v_r, w.d_r, w.res_r);
  update(v_c, w.d_c, w.res_c);
  update(v_m, w.d_m, w.res_m);
}

GridNewton::State::RunResult GridNewton::State::run() {
  if (!g.rows_free()) return run_columns();
  auto small = [&] {
    bool part_small[64];
    const int parts = for_cells(cells(), [&](int part, std::size_t k0, std::size_t k1) {
      part_small[part] = update_small(all, k0, k1);
    });
    return std::all_of(part_small, part_small + parts, [](bool b) { return b; });
  };
  JacobianReuse reuse(fixed_jacobian());  // once a solve: the enables are the solve's
  RunResult result;
  result.run = newton_loop(
      options, linear_circuit, [&] { return assemble(reuse.build()); },
      [&](double ratio, double& largest) { return step(ratio, largest, reuse.factor()); }, small,
      [&](double alpha) {
        for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) { apply_update(all, k0, k1, alpha); });
      });
  double worst_ratio = -1;
  measure(all, 0, cells(), result.residuals, worst_ratio);  // at the last point evaluated
  return result;
}

// Largest residual and the worst node relative to its tolerance, from the last evaluation of
// cells [k0, k1) (by family: row, bit-line, internal nodes): as record_residual node by node,
// in a vectorised pass for the largest |f| and the largest ratio of each piece of
// k_measure_piece nodes, then a search for the first node with the worst ratio in the first
// piece that has it (node by node throughout where there is a NaN).
XBAR_ISA_CLONES
void GridNewton::State::measure(const CellWork& w, std::size_t k0, std::size_t k1, SolveStats& stats,
                                double& worst_ratio) const {
  constexpr std::size_t k_measure_piece = 256;
  const NewtonOptions::KclTolerance kcl = options.kcl_tolerance();
  auto scan = [&](const FamilyResidual& r, const std::vector<NodeIndex>& nodes) {
    if (r.f.empty()) return;
    const double *__restrict f = r.f.data() + (k0 - w.base), *__restrict scale = r.scale.data() + (k0 - w.base);
    auto ratio = [&](std::size_t t) { return std::abs(f[t]) / kcl(scale[t]); };
    const std::size_t n = k1 - k0;
    double largest = 0, worst = 0, nan = 0;
    std::size_t worst_piece = 0;
    for (std::size_t p0 = 0; p0 < n; p0 += k_measure_piece) {
      const std::size_t p1 = std::min(n, p0 + k_measure_piece);
      double piece = 0;
#pragma omp simd reduction(max : largest, piece) reduction(+ : nan)
      for (std::size_t t = p0; t < p1; ++t) {
        const double q = ratio(t);
        largest = std::max(largest, std::abs(f[t]));
        piece = std::max(piece, q);
        nan += q == q ? 0.0 : 1.0;
      }
      if (piece > worst) worst = piece, worst_piece = p0;
    }
    if (nan > 0) {
      for (std::size_t t = 0; t < n; ++t) record_residual(stats, worst_ratio, nodes[k0 + t], f[t], kcl(scale[t]));
      return;
    }
    if (largest > stats.max_residual) stats.max_residual = largest;
    if (!(worst > worst_ratio)) return;
    const std::size_t stop = std::min(n, worst_piece + k_measure_piece);
    std::size_t t = worst_piece;
    while (t < stop && ratio(t) != worst) ++t;
    if (t == stop) t = worst_piece;  // not found (a ratio rounded otherwise): still a node of that piece
    record_residual(stats, worst_ratio, nodes[k0 + t], f[t], kcl(scale[t]));
  };
  scan(w.res_r, node_r);
  scan(w.res_c, node_c);
  scan(w.res_m, node_m);
}

GridNewton::GridNewton(const Circuit& circuit, GridLayout layout, NewtonOptions options)
    : state_(std::make_unique<State>(circuit, std::move(layout), std::move(options))) {}
GridNewton::~GridNewton() = default;
GridNewton::GridNewton(GridNewton&&) noexcept = default;

const NewtonOptions& GridNewton::options() const { return state_->options; }

SolveStats GridNewton::solve(std::span<const double> fixed, std::span<double> v_free) {
  State& s = *state_;
  SolveStats stats;
  stats.method = {Newton::grid, Stage::newton};
  if (s.circuit.n_free == 0) {
    stats.converged = true;
    stats.method.stage = Stage::none;
    return info_ = stats;
  }
  s.linear_iterations = 0;
  s.unconverged_linear = 0;
  s.batch_continuable = false;  // the state is this solve's now
  s.gather(fixed, v_free);
  const State::RunResult r = s.run();
  stats = s.report(r);
  if (r.run.converged) s.scatter(fixed, v_free);
  return info_ = stats;
}

SolveStats GridNewton::State::report(const RunResult& r) const {
  SolveStats stats;
  stats.method = {Newton::grid, Stage::newton};
  stats.converged = r.run.converged;
  stats.iterations = r.run.iterations;
  stats.linear_iterations = linear_iterations;
  stats.unconverged_linear = unconverged_linear;
  stats.max_residual = r.residuals.max_residual;
  stats.worst_node = r.residuals.worst_node;
  stats.worst_residual = r.residuals.worst_residual;
  stats.worst_tolerance = r.residuals.worst_tolerance;
  if (!r.run.converged)
    stats.detail = fmt::format("grid newton: no convergence in {} iteration{}; ", r.run.iterations,
                               r.run.iterations == 1 ? "" : "s");
  return stats;
}

bool GridNewton::solves_batches() const { return state_->batches(); }

GridNewton::BatchResult GridNewton::solve_batch(const Batch& batch, std::span<double> v_free) {
  if (!state_->batches()) throw std::logic_error("grid newton: batches need fixed rows and free bit lines");
  state_->linear_iterations = 0;
  state_->unconverged_linear = 0;
  BatchResult result = state_->run_batch(batch, v_free);
  if (result.converged && !result.stats.empty()) info_ = result.stats.back();
  return result;
}

}  // namespace xbar::solver
