// Rows fixed: the bit lines decouple, and every block of k_block_columns bit lines is its own
// Newton problem, solved to convergence while its data stays in cache (one Thomas sweep per step).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

#include "devices/cell.hpp"
#include "solver/grid_state.hpp"

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

}  // namespace xbar::solver
