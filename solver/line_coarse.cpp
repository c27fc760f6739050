// Coarse space of the paired line matrix: see line_coarse.hpp for the functions and E.
#include "solver/line_coarse.hpp"

#include <algorithm>
#include <cmath>

#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver {

namespace {

constexpr std::int32_t k_min_side = 64;      // lines per family below which the coarse level never pays
constexpr std::int32_t k_coarse_side = 24;   // coarse functions per direction and family (measured)
constexpr double k_min_smooth_modes = 3;     // below this many the line preconditioner alone is faster (measured)

// How many modes the line preconditioner leaves, estimated for uniform conductances: mode (k, l)
// is smooth in both directions when its wire energies (pi k / cols)^2 g_row and (pi l / rows)^2 g_col
// both stay under the cell conductance g_cell, i.e. k < cols sqrt(g_cell / g_row) / pi, and as
// many l; the means are taken over a sample of the cells.
double smooth_modes(const LineMatrix& m, std::int32_t rows, std::int32_t cols) {
  const std::int64_t n = m.paired, step = std::max<std::int64_t>(1, n / 4096);
  double cell = 0, row_wire = 0, col_wire = 0;
  std::int64_t count = 0;
  for (std::int64_t k = 0; k + cols < n; k += step) {
    if (k % cols == cols - 1) continue;  // upper = 0 at a row's end (the last row is excluded above)
    cell += std::abs(m.cross_val[k]);
    row_wire += std::abs(m.upper[k]);
    col_wire += std::abs(m.upper[n + k]);
    ++count;
  }
  if (count == 0 || !(row_wire > 0) || !(col_wire > 0)) return 0;
  cell /= count, row_wire /= count, col_wire /= count;
  const double pi2 = 9.869604401089358;
  return double(rows) * cols * cell / (pi2 * std::sqrt(row_wire * col_wire));
}

// Hat weights of position t (nodes at multiples of b): (1 - w) on hat t / b, w on the next.
struct Hat {
  std::int32_t node;
  double w;
};
inline Hat hat(std::int32_t t, std::int32_t b) { return {t / b, static_cast<double>(t % b) / b}; }

}  // namespace

void CoarseSpace::add(std::int32_t p, std::int32_t q, double value) {
  if (p >= q) lower_[static_cast<std::size_t>(p) * (band_ + 1) + (p - q)] += value;
}

void CoarseSpace::build(const LineMatrix& m, std::int32_t rows, std::int32_t cols) {
  block_ = 0;
  if (rows < k_min_side || cols < k_min_side || smooth_modes(m, rows, cols) < k_min_smooth_modes) return;
  const std::int32_t b = std::max(rows, cols) / k_coarse_side;
  rows_ = rows, cols_ = cols;
  hats_i_ = (rows - 1 + b - 1) / b + 1, blocks_i_ = (rows + b - 1) / b;
  hats_j_ = (cols - 1 + b - 1) / b + 1, blocks_j_ = (cols + b - 1) / b;
  levels_ = hats_i_, width_ = blocks_j_ + hats_j_, band_ = width_ + blocks_j_;
  block_ = b;
  lower_.assign(coarse_size() * (band_ + 1), 0.0);
  const std::int64_t n = m.paired;
  const double *diag = m.diag.data(), *upper = m.upper.data(), *cross = m.cross_val.data();
  // Sums over the rows of each block I (row-line functions are constant there) and over the
  // columns of each block J (bit-line functions), weighted by the bit-line hats where needed.
  std::vector<double> d_r(std::size_t(blocks_i_) * cols), u_r(d_r.size()), x0(d_r.size()), x1(d_r.size());
  std::vector<double> d_c(std::size_t(blocks_j_) * rows), u_c(d_c.size());
  parallel_for(blocks_i_, 1, [&](int, std::int64_t i_block0, std::int64_t i_block1) {
    for (std::int64_t big = i_block0; big < i_block1; ++big)
      for (std::int32_t i = std::int32_t(big) * b; i < std::min<std::int32_t>(rows, (big + 1) * b); ++i) {
        const Hat h = hat(i, b);
        const std::int64_t k0 = std::int64_t(i) * cols;
        double *dr = &d_r[big * cols], *ur = &u_r[big * cols], *c0 = &x0[big * cols], *c1 = &x1[big * cols];
        for (std::int32_t j = 0; j < cols; ++j) {
          dr[j] += diag[k0 + j];
          ur[j] += upper[k0 + j];
          c0[j] += (1 - h.w) * cross[k0 + j];
          c1[j] += h.w * cross[k0 + j];
        }
        for (std::int32_t j = 0; j < cols; ++j) {
          d_c[std::size_t(j / b) * rows + i] += diag[n + k0 + j];
          u_c[std::size_t(j / b) * rows + i] += upper[n + k0 + j];
        }
      }
  });
  // Fine entry s between positions with hats (h, h') along a line: E gets s phi phi'.
  auto line = [&](std::int32_t length, auto index, const double* d, const double* u) {
    for (std::int32_t t = 0; t < length; ++t) {
      const Hat h = hat(t, b), g = hat(t + 1, b);
      const std::int32_t p[2] = {index(h.node), index(h.node + 1)};
      const double wp[2] = {1 - h.w, h.w};
      const std::int32_t q[2] = {index(g.node), index(g.node + 1)};
      const double wq[2] = {1 - g.w, g.w};
      for (int x = 0; x < 2; ++x)
        for (int y = 0; y < 2; ++y) {
          if (wp[x] == 0 || wp[y] == 0) continue;
          add(p[x], p[y], d[t] * wp[x] * wp[y]);
        }
      if (t + 1 == length) continue;
      for (int x = 0; x < 2; ++x)
        for (int y = 0; y < 2; ++y) {
          if (wp[x] == 0 || wq[y] == 0) continue;
          add(p[x], q[y], u[t] * wp[x] * wq[y]);
          add(q[y], p[x], u[t] * wp[x] * wq[y]);
        }
    }
  };
  for (std::int32_t big = 0; big < blocks_i_; ++big)
    line(cols, [&](std::int32_t a) { return r_index(big, a); }, &d_r[std::size_t(big) * cols],
         &u_r[std::size_t(big) * cols]);
  for (std::int32_t big = 0; big < blocks_j_; ++big)
    line(rows, [&](std::int32_t a) { return c_index(a, big); }, &d_c[std::size_t(big) * rows],
         &u_c[std::size_t(big) * rows]);
  // Row-line function (I, a) meets bit-line function (A, J) at the cells of blocks I x J.
  for (std::int32_t big = 0; big < blocks_i_; ++big)
    for (std::int32_t j = 0; j < cols; ++j) {
      const Hat h = hat(j, b);
      const double c[2] = {x0[std::size_t(big) * cols + j], x1[std::size_t(big) * cols + j]};
      const double wj[2] = {1 - h.w, h.w};
      for (int x = 0; x < 2; ++x)
        for (int y = 0; y < 2; ++y) {
          if (wj[x] == 0) continue;
          const std::int32_t p = r_index(big, h.node + x), q = c_index(big + y, j / b);
          add(p, q, c[y] * wj[x]);
          add(q, p, c[y] * wj[x]);
        }
    }
  for (std::int32_t big = blocks_i_; big < levels_; ++big)  // row-line levels with no rows
    for (std::int32_t a = 0; a < hats_j_; ++a) add(r_index(big, a), r_index(big, a), 1.0);
  if (!factor()) block_ = 0;
}

// Banded Cholesky E = L L^T in place.
bool CoarseSpace::factor() {
  const std::int32_t n = static_cast<std::int32_t>(coarse_size()), w = band_ + 1;
  auto at = [&](std::int32_t p, std::int32_t q) -> double& { return lower_[std::size_t(p) * w + (p - q)]; };
  for (std::int32_t p = 0; p < n; ++p) {
    const std::int32_t first = std::max(0, p - band_);
    for (std::int32_t q = first; q <= p; ++q) {
      double sum = at(p, q);
      for (std::int32_t k = std::max(first, q - band_); k < q; ++k) sum -= at(p, k) * at(q, k);
      if (q < p) {
        at(p, q) = sum / at(q, q);
      } else {
        if (!(sum > 0)) return false;
        at(p, p) = std::sqrt(sum);
      }
    }
  }
  return true;
}

void CoarseSpace::solve(const std::vector<std::vector<double>>& parts, std::vector<double>& g, std::vector<double>& y,
                        std::vector<double>& profile) const {
  const std::int32_t n = static_cast<std::int32_t>(coarse_size()), w = band_ + 1;
  auto at = [&](std::int32_t p, std::int32_t q) { return lower_[std::size_t(p) * w + (p - q)]; };
  g.assign(n, 0.0);
  for (const std::vector<double>& e : parts)
    if (!e.empty())
      for (std::int32_t level = 0; level < hats_i_; ++level)
      for (std::int32_t j = 0; j < cols_; ++j) g[c_index(level, j / block_)] += e[std::size_t(level) * cols_ + j];
  y = g;
  for (std::int32_t p = 0; p < n; ++p) {
    double sum = y[p];
    for (std::int32_t k = std::max(0, p - band_); k < p; ++k) sum -= at(p, k) * y[k];
    y[p] = sum / at(p, p);
  }
  for (std::int32_t p = n - 1; p >= 0; --p) {
    double sum = y[p];
    for (std::int32_t k = p + 1; k <= std::min(n - 1, p + band_); ++k) sum -= at(k, p) * y[k];
    y[p] = sum / at(p, p);
  }
  profile.assign(std::size_t(hats_i_ + 1) * cols_, 0.0);
  for (std::int32_t level = 0; level < hats_i_; ++level)
    for (std::int32_t j = 0; j < cols_; ++j) profile[std::size_t(level) * cols_ + j] = y[c_index(level, j / block_)];
}

}  // namespace xbar::solver
