// Rows fixed: the bit lines decouple, and every block of k_block_columns bit lines is its own
// Newton problem, solved to convergence while its data stays in cache (one twisted Thomas solve
// per step: twisted_chains.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "devices/cell.hpp"
#include "solver/grid_state.hpp"
#include "solver/isa_clones.hpp"
#include "solver/line_sweeps.hpp"
#include "solver/twisted_chains.hpp"

namespace xbar::solver {

// The column blocks in parallel, each to its own convergence. Iterations: the most any block
// took; the residual report: the worst node of any block.
GridNewton::State::RunResult GridNewton::State::run_columns() {
  std::vector<RunResult> results(blocks.size());
  parallel_each(static_cast<std::int64_t>(blocks.size()), [&](std::int64_t b) { results[b] = run_block(blocks[b]); });
  return combine(results);
}

GridNewton::State::RunResult GridNewton::State::combine(std::span<const RunResult> parts) {
  RunResult all_blocks{{true, 0}, {}};
  double worst_ratio = -1;
  SolveStats& report = all_blocks.residuals;
  for (const RunResult& r : parts) {
    all_blocks.run.converged = all_blocks.run.converged && r.run.converged;
    all_blocks.run.iterations = std::max(all_blocks.run.iterations, r.run.iterations);
    if (r.residuals.worst_node < 0) continue;
    const double max_residual = report.max_residual;
    record_residual(report, worst_ratio, r.residuals.worst_node, r.residuals.worst_residual,
                    r.residuals.worst_tolerance);
    report.max_residual = std::isnan(r.residuals.max_residual) || r.residuals.max_residual > max_residual
                              ? r.residuals.max_residual
                              : max_residual;
  }
  return all_blocks;
}

// This thread's scratch for column blocks (one block's CellWork at a time).
CellWork& block_scratch() {
  thread_local CellWork w;
  return w;
}

// One block in this thread's scratch (CellWork): the state keeps only its voltages.
GridNewton::State::RunResult GridNewton::State::run_block(const Block& b) {
  CellWork& w = block_scratch();
  size_work(w, b.base, end(b) - b.base);
  return solve_block_vector(w, b, nullptr);
}

// Newton on block b with its arrays in w. With `dirty`, the first evaluation covers the flagged
// rows alone: w must then hold the evaluation of every other row at the current voltages. The
// report holds the block's residuals at the last point evaluated.
GridNewton::State::RunResult GridNewton::State::solve_block_vector(CellWork& w, const Block& b,
                                                                   const std::vector<char>* dirty) {
  JacobianReuse reuse(fixed_jacobian());  // this block's loop only: w and the factors are shared
  RunResult result;
  // After an exact evaluation of the whole block and a full step near the answer, the next
  // evaluation is the devices' series about it (assemble_series): the certifying evaluation of a
  // vector costs no device law but where the series cannot certify. Its step then reuses the
  // factors, unless rows were evaluated anew.
  bool whole_exact = false, series_next = false, series = false, refactor = true;
  double last_step = 0;
  // The blocks solve directly: only whether KCL holds matters, not by how much it fails.
  auto evaluate = [&] {
    const bool build = reuse.build();
    bool holds = false;
    if (series_next) {
      bool exact_rows = false;
      holds = assemble_series(w, b, exact_rows);
      refactor = exact_rows, whole_exact = false, series = true;
    } else {
      holds = dirty ? assemble_rows(w, b, *dirty, build) : assemble_block(w, b, build);
      refactor = true, whole_exact = !dirty && chebyshev(), series = false;
    }
    dirty = nullptr;
    return holds ? 0.0 : std::numeric_limits<double>::infinity();
  };
  // Where the loop will take the step (KCL fails: no convergence test), the step may move the
  // voltages itself as it forms (`applied`): apply then only damps.
  bool applied = false;
  auto step = [&](double ratio, double& largest) {
    const bool factor = reuse.factor() && refactor;
    applied = false;
    const bool ok = step_block(w, b, largest, factor, ratio > 1 ? &applied : nullptr);
    last_step = largest;
    return ok;
  };
  auto apply = [&](double alpha) {
    if (!applied) apply_update(w, b.base, end(b), alpha);
    else if (alpha != 1.0) apply_update(w, b.base, end(b), alpha - 1.0);  // v0 + d + (alpha - 1) d
    series_next = whole_exact && alpha == 1.0 && last_step <= k_chebyshev_reach;
  };
  // Every node passes the update test where the largest |dv| is within vntol (a certifying
  // step's usually is, by orders of magnitude): no pass over the nodes.
  auto small = [&] { return last_step <= options.vntol || update_small(w, b.base, end(b)); };
  result.run = newton_loop(options, linear_circuit, evaluate, step, small, apply);
  result.series = result.run.converged && series;
  double worst_ratio = -1;
  measure(w, b.base, end(b), result.residuals, worst_ratio);
  return result;
}

// Returns whether KCL holds at every unknown of the block (counted as the loads and stamps go).
// Without jacobian: f, scale and b alone, as assemble.
bool GridNewton::State::assemble_block(CellWork& w, const Block& b, bool jacobian) {
  const bool holds = assemble_range(w, b, b.base, end(b), jacobian) == 0;
  if (jacobian) w.wires = wires_of(b);  // every row's written, or in place already
  return holds;
}

// Cells [k0, k1) of block b (whole block rows): loads and stamps; returns how many of their
// unknowns fail KCL.
double GridNewton::State::assemble_range(CellWork& w, const Block& b, std::size_t k0, std::size_t k1,
                                         bool jacobian) {
  double outside = 0;
  const bool wires = !wires_in_place(w, b);
  for (std::size_t c0 = k0; c0 < k1; c0 += k_block_cells) {
    const std::size_t c1 = std::min(k1, c0 + k_block_cells);
    outside += load_cells(w, c0, c1, jacobian);
    if (g.cols_free()) outside += stamp_col_wires(w, c0, c1, b, jacobian, wires);
  }
  return outside;
}

// The flagged rows of b, each run of consecutive ones in one go. Every other unknown passed KCL
// at the evaluation w holds (the converged end of the vector before).
bool GridNewton::State::assemble_rows(CellWork& w, const Block& b, const std::vector<char>& dirty, bool jacobian) {
  double outside = 0;
  const std::size_t width = b.width();
  for (std::size_t i = 0; i < dirty.size();) {
    if (!dirty[i]) {
      ++i;
      continue;
    }
    std::size_t stop = i;
    while (stop < dirty.size() && dirty[stop]) ++stop;
    outside += assemble_range(w, b, b.base + i * width, b.base + stop * width, jacobian);
    i = stop;
  }
  return outside == 0;
}

namespace {

// Chebyshev's correction (GridNewton::State::chebyshev_step) over the n cells of a column block,
// each pass compiled for the widest instruction set the CPU has.
struct Curvature {
  const double *cu, *cf, *cr, *lt, *inv, *jmc;
  double eta_n;
};

// q_m and the right-hand side of J z = -q from the Newton step d.
XBAR_ISA_CLONES void chebyshev_rhs(
    std::size_t n, const Curvature& c, const double* __restrict dc, const double* __restrict dm,
    double* __restrict q_m, double* __restrict rhs) {
  const double *__restrict cu = c.cu, *__restrict cf = c.cf, *__restrict cr = c.cr, *__restrict lt = c.lt;
  const double* __restrict inv = c.inv;
  for (std::size_t k = 0; k < n; ++k) {
    const double dvp = c.eta_n * (dm[k] - dc[k]), f = dvp - dc[k], r = dvp - dm[k];
    const double h_l = cf[k] * f * f - cr[k] * r * r, h_u = cu[k] * dm[k] * dm[k];
    const double qm = 0.5 * (h_l - h_u);
    q_m[k] = qm;
    rhs[k] = 0.5 * h_l - lt[k] * qm * inv[k];
  }
}

// d += sign z (z_C solved, z_m back-substituted); returns max |z|, and in d_big and d_sum the
// largest |d| and the sum of d after it (the sum keeps a NaN that the maximum drops). With v_c,
// v_m (the block's voltages), the voltages move with d: by the whole new d (whole), or by the
// change alone.
template <bool Apply>
[[gnu::always_inline]] inline double add_correction(std::size_t n, const Curvature& c, const double* __restrict q_m,
                                                    const double* __restrict z, double sign, double* __restrict dc,
                                                    double* __restrict dm, double* __restrict v_c,
                                                    double* __restrict v_m, bool whole, double& d_big, double& d_sum) {
  const double *__restrict inv = c.inv, *__restrict jmc = c.jmc;
  const double keep = whole ? 1.0 : 0.0;  // v += keep d_before + sign z
  double largest = 0, big = 0, sum = 0;
#pragma omp simd reduction(max : largest, big) reduction(+ : sum)
  for (std::size_t k = 0; k < n; ++k) {
    const double zm = inv[k] * (-q_m[k] - jmc[k] * z[k]);
    largest = std::max(largest, std::max(std::abs(z[k]), std::abs(zm)));
    if constexpr (Apply) {
      v_m[k] += keep * dm[k] + sign * zm;
      v_c[k] += keep * dc[k] + sign * z[k];
    }
    dm[k] += sign * zm;
    dc[k] += sign * z[k];
    big = std::max(big, std::max(std::abs(dc[k]), std::abs(dm[k])));
    sum += dc[k] + dm[k];
  }
  d_big = big, d_sum = sum;
  return largest;
}

XBAR_ISA_CLONES double chebyshev_add(std::size_t n, const Curvature& c, const double* q_m, const double* z,
                                     double sign, double* dc, double* dm, double* v_c, double* v_m, bool whole,
                                     double& d_big, double& d_sum) {
  return v_c ? add_correction<true>(n, c, q_m, z, sign, dc, dm, v_c, v_m, whole, d_big, d_sum)
             : add_correction<false>(n, c, q_m, z, sign, dc, dm, v_c, v_m, whole, d_big, d_sum);
}

}  // namespace

// With d the Newton step, the second-order change of the cells' currents along it,
//   H_u = curv_u dm^2,  H_l = curv_lf (dV_P - dc)^2 - curv_lr (dV_P - dm)^2,  dV_P = eta/n (dm - dc),
// gives q_m = (H_l - H_u)/2 and q_C = -H_l/2, eliminated as f is (eliminate): the right-hand side
// -q_C + J_Cm q_m / J_mm (J_Cm = -l_t), and z_m = (-q_m - J_mC z_C) / J_mm.
XBAR_ISA_CLONES
bool GridNewton::State::chebyshev_step(CellWork& work, const Block& b, FactorRows<const double> factors,
                                       double newton_step, bool apply, double& d_big, double& d_sum) {
  constexpr int W = k_block_columns;
  if (!(newton_step > k_chebyshev_step && newton_step <= k_chebyshev_reach)) return false;
  const std::size_t cells = end(b) - b.base;
  thread_local std::vector<double> q_m, z;
  q_m.resize(cells), z.resize(cells);
  const Curvature c{work.curv_u.data(), work.curv_lf.data(), work.curv_lr.data(), work.l_top.data(),
                    work.inv_mm.data(), work.j_mc.data(),
                    lower_transistor ? lower_transistor->law.eta / lower_transistor->law.n : 0.0};
  chebyshev_rhs(cells, c, work.d_c.data(), work.d_m.data(), q_m.data(), z.data());
  const auto rows = static_cast<std::int32_t>(g.rows);
  twisted::solve<W>(factors, rows, z.data(), z.data(), [](std::int32_t) {});
  // With apply, the voltages take the corrected step as it is formed (and lose the correction again
  // if it is refused).
  double* v_c_b = apply ? v_c.data() + b.base : nullptr;
  double* v_m_b = apply ? v_m.data() + b.base : nullptr;
  const double correction = chebyshev_add(cells, c, q_m.data(), z.data(), 1.0, work.d_c.data(), work.d_m.data(),
                                          v_c_b, v_m_b, true, d_big, d_sum);
  if (correction > 0.5 * newton_step)  // too far: Newton's step
    chebyshev_add(cells, c, q_m.data(), z.data(), -1.0, work.d_c.data(), work.d_m.data(), v_c_b, v_m_b, false,
                  d_big, d_sum);
  return true;
}

// The block's bit lines (w interleaved chains along i, neighbours one block row of w cells apart)
// by the twisted Thomas kernel of twisted_chains.hpp (a narrower last block: line_sweeps.hpp's),
// the factors in this thread's scratch; each cell's m back-substituted as soon as its dc is final;
// then, for select cells (State::chebyshev), Chebyshev's correction (chebyshev_step); largest = max
// |dv|. A zero or non-finite pivot (which makes dc non-finite): false. factor = false: the factors
// are this block's from its last step (JacobianReuse), only the sweeps run.
XBAR_ISA_CLONES
bool GridNewton::State::step_block(CellWork& work, const Block& b, double& largest, bool factor, bool* applied) {
  const std::size_t w = b.width(), cells = end(b) - b.base, n = work.n;  // work: this block's cells
  double* __restrict dc = work.d_c.data();
  // The cell rows (empty without an upper device).
  auto at = [&](auto& a) { return a.empty() ? nullptr : a.data(); };
  double* __restrict dm = at(work.d_m);
  const double* __restrict inv = at(work.inv_mm);
  const double* __restrict fm = at(work.res_m.f);
  const double* __restrict jmc = at(work.j_mc);
  // Per bit line of the block: the largest |dv| and the sum of dv so far, reduced at the end (a
  // reduction per block row would cost more than the row's own work).
  double lane_big[k_block_columns] = {}, lane_sum[k_block_columns] = {};
  auto add = [&](std::size_t c, std::size_t k, double d_mk) {  // cell k of lane c, its dv into them
    lane_big[c] = std::max(lane_big[c], std::max(std::abs(dc[k]), std::abs(d_mk)));
    lane_sum[c] += dc[k] + d_mk;
  };
  auto finish = [&](auto has_m, std::size_t row_begin) {
#pragma omp simd
    for (std::size_t c = 0; c < w; ++c) {
      const std::size_t k = row_begin + c;
      double d_mk = 0;
      if constexpr (decltype(has_m)::value) d_mk = dm[k] = inv[k] * (-fm[k] - jmc[k] * dc[k]);
      add(c, k, d_mk);
    }
  };
  auto done = [&](std::int32_t begin, std::int32_t stop, sweeps::Partial&) {  // whole block rows
    for (std::size_t row = begin; row < std::size_t(stop); row += w) {
      if (upper) finish(std::true_type{}, row);
      else finish(std::false_type{}, row);
    }
  };
  auto reduce = [&] {
    double big = 0, sum = 0;
    for (std::size_t c = 0; c < w; ++c) big = std::max(big, lane_big[c]), sum += lane_sum[c];
    return std::pair{big, sum};
  };
  if (g.cols_free()) {  // col_offset() = 0: the rows have no unknowns
    thread_local ChainFactors<double> factors;
    if (factors.inv_pivot.size() < cells)
      for (auto* a : {&factors.lower_scaled, &factors.inv_pivot, &factors.upper_scaled}) a->resize(cells);
    const Tridiagonal chains{work.flat.data(), work.flat.data() + n, work.flat.data() + 2 * n};
    const auto rows = static_cast<std::int32_t>(g.rows);
    sweeps::Partial unused;
    // A full block twisted, with its lanes in registers; a narrower last block by plain Thomas.
    constexpr int W = k_block_columns;
    if (w == W) {
      if (factor) twisted::factor<W>(chains, rows, factors.rows());
      twisted::solve<W>(std::as_const(factors).rows(), rows, work.rhs.data(), dc,
                        [&](std::int32_t row) { done(row * W, row * W + W, unused); });
      double d_big = 0, d_sum = 0;  // the step's after the correction (taken or refused)
      if (!work.curv_u.empty() &&
          chebyshev_step(work, b, std::as_const(factors).rows(), reduce().first, applied != nullptr, d_big, d_sum)) {
        std::fill(lane_big, lane_big + w, 0.0), std::fill(lane_sum, lane_sum + w, 0.0);
        lane_big[0] = d_big, lane_sum[0] = d_sum;
        if (applied) *applied = true;
      }
    } else {
      const sweeps::ChainGroup group{0, std::int32_t(w), 1, rows, std::int32_t(w)};
      bool symmetric = true;
      if (!factor) sweeps::forward_group(std::as_const(factors).rows(), group, work.rhs.data(), dc);
      else if (sweeps::factor_group(chains, group, factors.rows(), symmetric, work.rhs.data(), dc) >= 0)
        return false;
      sweeps::backward_group(std::as_const(factors).rows(), group, dc, done, unused);
    }
  } else {
    sweeps::Partial unused;
    done(0, std::int32_t(cells), unused);
  }
  const auto [big, sum] = reduce();
  largest = big;
  return std::isfinite(largest) && std::isfinite(sum);  // the sum keeps a NaN that max drops
}

}  // namespace xbar::solver
