// The column blocks' predictor: a cheap start for the full Newton of a block (grid_columns.cpp)
// when most of its rows carry almost nothing.
//
// Batches of input vectors (bit planes of one layer) switch rows on and off. A cell whose select
// is off carries ~1e-13 A against ~1e-6 A for an active one, and while its gates and voltages
// stay as they were it is "frozen": after each converged solve, the block rows whose cells are
// all weak (|load| <= k_weak_fraction of the block's largest) are marked, and gather() thaws every
// cell whose voltages, gates or enables change. The predictor treats each frozen cell as the
// constant current it carried at the last solution, I_f = -cell_f, and evaluates only the other
// ("active") rows, on the bit line condensed onto them. With rows fixed every bit line is a
// chain to its sink; the frozen nodes between two active rows a < a' hold no unknown of their
// own, and a constant current I_f entering row i (a < i < a') acts on the active nodes exactly
// as the two shares
//   (a' - i) / (a' - a) I_f  at a,      (i - a) / (a' - a) I_f  at a',
// across a wire of conductance g_col / (a' - a); rows above the first active row inject at it,
// rows below the last one share with the sink by R_sink(i) / R_tail, R_sink(i) being the wire
// resistance from row i to the sink. Newton on that condensed chain (the active cells exact, m
// eliminated as in grid_newton.hpp) costs the active rows only. Then one sweep up from the sink,
//   V(i) = V(i+1) + S(i) / g_col,   S(i) = the currents of rows 0..i,
// places the frozen bit-line nodes, and each frozen m follows its C by the cell's own linear
// response, dm = -(J_mC / J_mm) dC, with J_mC and 1/J_mm as last evaluated.
//
// The predictor only chooses where the full Newton starts: that Newton evaluates every cell and
// alone decides convergence, so the certificate (KCL at every node at the returned point, and a
// small step from it) is the same with or without it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "solver/grid_state.hpp"

namespace xbar::solver {

namespace {

// A cell is weak when its load is at most this fraction of the largest in its block.
constexpr double k_weak_fraction = 1e-4;
// The predictor's iterations: Newton on the active rows converges in a few from a warm start.
constexpr int k_predictor_iterations = 30;
// The predictor stops after a full step of at most this many volts (quadratic convergence: its
// error is then far below; the full Newton's first step removes the rest).
constexpr double k_predictor_step = 1e-4;
// Blocks whose active rows exceed this fraction run no predictor: the full Newton would
// evaluate the active rows again, for little saved on the frozen ones.
constexpr double k_predictor_active_fraction = 0.4;

// The condensed chain of one block (per thread): active rows, their wires and the frozen
// currents shared onto them; per node t and lane c (column j0 + c) at t * w + c.
struct Condensed {
  std::vector<std::size_t> rows;  // active block rows, top to bottom
  std::vector<double> g_below;    // per active row: conductance to the next active row, or to the sink
  std::vector<double> inject, diag, rhs, scaled, d_c, sums;
};

}  // namespace

bool GridNewton::State::has_frozen(const Block& b) const {
  return !frozen.empty() && std::any_of(frozen.begin() + b.base, frozen.begin() + end(b), [](std::uint8_t f) { return f != 0; });
}

// After the block's full Newton: the block rows whose cells are all weak at the solution are
// frozen for the next vector.
void GridNewton::State::freeze_weak_rows(const Block& b, bool converged) {
  if (frozen.empty()) return;  // fixed bit lines: no chain to condense
  const std::size_t w = b.width();
  double largest = 0;
  for (std::size_t k = b.base; k < end(b); ++k) largest = std::max(largest, std::abs(cell_f[k]));
  const double weak = k_weak_fraction * largest;
  for (std::size_t row = b.base; row < end(b); row += w) {
    bool all_weak = converged;
    for (std::size_t k = row; k < row + w; ++k) all_weak = all_weak && std::abs(cell_f[k]) <= weak;
    std::fill_n(frozen.begin() + row, w, std::uint8_t(all_weak));
  }
}

// Runs the predictor on block b and leaves its point in v_c, v_m; returns its Newton iterations.
int GridNewton::State::predict_block(const Block& b) {
  thread_local Condensed z;
  const std::size_t w = b.width(), rows = g.rows;
  auto cell = [&](std::size_t row, std::size_t c) { return b.base + row * w + c; };
  z.rows.clear();
  for (std::size_t i = 0; i < rows; ++i)
    if (!frozen[cell(i, 0)]) z.rows.push_back(i);
  const std::size_t n_active = z.rows.size();
  if (double(n_active) > k_predictor_active_fraction * double(rows)) return 0;
  // Wires and shared frozen currents of the condensed chain.
  const double r_col = 1.0 / g.g_col;
  auto r_sink = [&](std::size_t i) { return double(rows - 1 - i) * r_col + 1.0 / g.g_col_last; };
  z.g_below.assign(n_active, 0.0);
  z.inject.assign(n_active * w, 0.0);
  for (std::size_t t = 0; t < n_active; ++t)
    z.g_below[t] = t + 1 < n_active ? g.g_col / double(z.rows[t + 1] - z.rows[t]) : 1.0 / r_sink(z.rows[t]);
  for (std::size_t i = 0, t = 0; n_active > 0 && i < rows; ++i) {  // t: the first active row at or below i
    while (t < n_active && z.rows[t] < i) ++t;
    if (t < n_active && z.rows[t] == i) continue;
    for (std::size_t c = 0; c < w; ++c) {
      const double current = -cell_f[cell(i, c)];  // into the bit line
      if (t == 0) {
        z.inject[c] += current;
      } else if (t == n_active) {
        z.inject[(t - 1) * w + c] += current * r_sink(i) * z.g_below[t - 1];
      } else {
        const double below = double(i - z.rows[t - 1]) / double(z.rows[t] - z.rows[t - 1]);
        z.inject[t * w + c] += below * current;
        z.inject[(t - 1) * w + c] += (1.0 - below) * current;
      }
    }
  }
  z.diag.resize(n_active * w), z.rhs.resize(n_active * w), z.scaled.resize(n_active * w), z.d_c.resize(n_active * w);

  // Newton on the active rows: evaluation in runs of consecutive rows, then the condensed chain's
  // rows (diagonal and right-hand side; the full Newton checks KCL, not the predictor).
  auto assemble = [&] {
    for (std::size_t t = 0; t < n_active;) {
      std::size_t last = t;
      while (last + 1 < n_active && z.rows[last + 1] == z.rows[last] + 1 && (last + 2 - t) * w <= k_block_cells) ++last;
      load_cells(cell(z.rows[t], 0), cell(z.rows[last], 0) + w);
      t = last + 1;
    }
    for (std::size_t t = 0; t < n_active; ++t)
      for (std::size_t c = 0; c < w; ++c) {
        const std::size_t k = cell(z.rows[t], c), p = t * w + c;
        const double g_up = t > 0 ? z.g_below[t - 1] : 0.0, g_down = z.g_below[t];
        const double v = v_c[k], v_up = t > 0 ? v_c[cell(z.rows[t - 1], c)] : 0.0;
        const double v_down = t + 1 < n_active ? v_c[cell(z.rows[t + 1], c)] : v_sink[b.j0 + c];
        const double wires = g_up * (v - v_up) + g_down * (v - v_down);
        z.diag[p] = flat[k] + g_up + g_down;  // the cell's S_CC (col_offset() = 0) and the wires
        z.rhs[p] = work.b[k] - wires + z.inject[p];
      }
  };
  // Thomas on the condensed chains (lanes independent), then the active cells' m.
  auto step = [&](double& largest) {
    double big = 0, sum = 0;
    for (std::size_t t = 0; t < n_active; ++t)
      for (std::size_t c = 0; c < w; ++c) {
        const std::size_t p = t * w + c;
        const double coupling = t > 0 ? z.g_below[t - 1] : 0.0;  // -lower
        const double inv = 1.0 / (z.diag[p] + (t > 0 ? coupling * z.scaled[p - w] : 0.0));
        z.scaled[p] = t + 1 < n_active ? -z.g_below[t] * inv : 0.0;
        z.rhs[p] = (z.rhs[p] + (t > 0 ? coupling * z.rhs[p - w] : 0.0)) * inv;
      }
    for (std::size_t t = n_active; t-- > 0;)
      for (std::size_t c = 0; c < w; ++c) {
        const std::size_t p = t * w + c, k = cell(z.rows[t], c);
        z.d_c[p] = z.rhs[p] - (t + 1 < n_active ? z.scaled[p] * z.d_c[p + w] : 0.0);
        d_c[k] = z.d_c[p];
        const double dm = upper ? inv_mm[k] * (-res_m.f[k] - j_mc[k] * d_c[k]) : 0.0;
        if (upper) d_m[k] = dm;
        big = std::max({big, std::abs(d_c[k]), std::abs(dm)});
        sum += d_c[k] + dm;
      }
    largest = big;
    return std::isfinite(largest) && std::isfinite(sum);
  };
  auto apply = [&](double alpha) {
    for (std::size_t t = 0; t < n_active; ++t) {
      const std::size_t k0 = cell(z.rows[t], 0);
      apply_update(k0, k0 + w, alpha);
    }
  };
  // Damped Newton steps until one is full and below k_predictor_step (the predictor stops short
  // of certainty: the full Newton's first step finishes what it leaves).
  int iterations = 0;
  while (n_active > 0 && iterations < k_predictor_iterations) {
    assemble();
    ++iterations;
    double largest = 0;
    if (!step(largest)) break;
    const double alpha = options.damping(largest);
    apply(alpha);
    if (alpha == 1.0 && largest <= k_predictor_step) break;
  }

  // The frozen rows: up from the sink, V(i) = V(i+1) + S(i) / g_col (the active rows keep theirs),
  // and their m by the cells' linear response.
  z.sums.assign(rows * w, 0.0);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < w; ++c) {
      const std::size_t k = cell(i, c);
      const double current = frozen[k] ? -cell_f[k] : -res_c.f[k];
      z.sums[i * w + c] = current + (i > 0 ? z.sums[(i - 1) * w + c] : 0.0);
    }
  for (std::size_t c = 0; c < w; ++c) {
    double v = v_sink[b.j0 + c] + z.sums[(rows - 1) * w + c] / g.g_col_last;
    for (std::size_t i = rows; i-- > 0;) {
      const std::size_t k = cell(i, c);
      if (i + 1 < rows) v += z.sums[i * w + c] * r_col;
      if (!frozen[k]) {
        v = v_c[k];
        continue;
      }
      if (upper) v_m[k] -= inv_mm[k] * j_mc[k] * (v - v_c[k]);
      v_c[k] = v;
    }
  }
  return iterations;
}

}  // namespace xbar::solver
