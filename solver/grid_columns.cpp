// Rows fixed: the bit lines decouple, and every block of k_block_columns bit lines is its own
// Newton problem, solved to convergence while its data stays in cache (one Thomas sweep per step).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "devices/cell.hpp"
#include "solver/grid_state.hpp"
#include "solver/line_sweeps.hpp"

namespace xbar::solver {

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

// Returns whether KCL holds at every unknown of the block (counted as the loads and stamps go).
bool GridNewton::State::assemble_block(const Block& b) {
  double outside = 0;
  for (std::size_t k0 = b.base; k0 < end(b); k0 += k_block_cells) {
    const std::size_t k1 = std::min(end(b), k0 + k_block_cells);
    outside += load_cells(k0, k1);
    if (g.cols_free()) outside += stamp_col_wires(k0, k1, b);
  }
  return outside == 0;
}

// The block's bit lines by the Thomas kernel (line_sweeps.hpp: one interleaved group of w chains
// along i, neighbours one block row of w cells apart; the forward sweep rides on the
// factorisation, the factors live in this thread's scratch), each cell's m back-substituted as
// soon as its dc is final; largest = max |dv|. A zero or non-finite pivot: false.
bool GridNewton::State::step_block(const Block& b, double& largest) {
  const std::size_t w = b.width(), first = b.base, last = end(b), n = matrix.n;
  double* __restrict dc = d_c.data() + first;
  // The cell rows (empty without an upper device).
  auto at = [&](auto& a) { return a.empty() ? nullptr : a.data() + first; };
  double* __restrict dm = at(d_m);
  const double* __restrict inv = at(inv_mm);
  const double* __restrict fm = at(res_m.f);
  const double* __restrict jmc = at(j_mc);
  double big = 0, sum = 0;  // locals, not `largest`: a reference would be stored every time
  auto finish = [&](auto has_m, std::size_t begin, std::size_t stop) {
#pragma omp simd reduction(max : big) reduction(+ : sum)
    for (std::size_t k = begin; k < stop; ++k) {
      double d_mk = 0;
      if constexpr (decltype(has_m)::value) d_mk = dm[k] = inv[k] * (-fm[k] - jmc[k] * dc[k]);
      big = std::max(big, std::max(std::abs(dc[k]), std::abs(d_mk)));
      sum += dc[k] + d_mk;
    }
  };
  auto done = [&](std::int32_t begin, std::int32_t stop, sweeps::Partial&) {
    if (upper) finish(std::true_type{}, begin, stop);
    else finish(std::false_type{}, begin, stop);
  };
  if (g.cols_free()) {  // col_offset() = 0: the rows have no unknowns
    thread_local ChainFactors<double> factors;
    if (factors.inv_pivot.size() < last - first)
      for (auto* a : {&factors.lower_scaled, &factors.inv_pivot, &factors.upper_scaled}) a->resize(last - first);
    const Tridiagonal chains{flat.data() + first, flat.data() + n + first, flat.data() + 2 * n + first};
    const sweeps::ChainGroup group{0, std::int32_t(w), 1, g.rows, std::int32_t(w)};
    bool symmetric = true;
    if (sweeps::factor_group(chains, group, factors.rows(), symmetric, work.b.data() + first, dc) >= 0) return false;
    sweeps::Partial unused;
    sweeps::backward_group(std::as_const(factors).rows(), group, dc, done, unused);
  } else {
    sweeps::Partial unused;
    done(0, std::int32_t(last - first), unused);
  }
  largest = big;
  return std::isfinite(largest) && std::isfinite(sum);  // the sum keeps a NaN that max drops
}

}  // namespace xbar::solver
