#pragma once
// Coarse space of the paired line matrix of a crossbar (line_paired.cpp's two-level CG).
//
// The line preconditioner T_1^{-1} leaves the modes that are smooth along both line families:
// where the cells tie the row and bit lines together, an error smooth in both directions costs
// little energy in S and is barely seen by one family's chains (their number grows as
// M N g_cell / g_wire, and each costs CG about one iteration). The coarse space holds them:
//
//   row-line functions   (I, a): 1 on the rows of block I (b rows), hat a along the row (nodes j = a b)
//   bit-line functions   (A, J): hat A along the bit line (nodes i = A b), 1 on the columns of block J
//
// (piecewise linear along each line, so that a coarse function costs no more wire energy than
// the smooth mode it stands for; constant across the lines, which no wire joins). With Z =
// diag(Z_R, Z_C), E = Z^T S Z (Galerkin, SPD when S is), and the coarse correction of a bit-line
// residual r is
//
//   Q r = Z_C [E^{-1} (0, Z_C^T r)]_C      (the bit-line block of E^{-1}: Q symmetric, semidefinite)
//
// E is banded in the order level by level (level l: bit-line unknowns (l, 0..) then row-line
// unknowns (l, 0..)) and is factored once per matrix by a banded Cholesky.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace xbar::solver {

struct LineMatrix;

class CoarseSpace {
 public:
  /// Builds and factors E for a paired, symmetric m whose cells are rows x cols (row-major);
  /// inactive (no coarse level) when the line preconditioner leaves too few smooth modes for the
  /// coarse correction to pay (line_coarse.cpp), or E is not positive definite.
  void build(const LineMatrix& m, std::int32_t rows, std::int32_t cols);
  bool active() const { return block_ > 0; }

  /// Per-part accumulator of Z_C^T r: (hats + 1) x cols values, expanded along the row.
  std::size_t expanded_size() const { return static_cast<std::size_t>(hats_i_ + 1) * cols_; }
  /// Adds Z_C^T r over cells [k0, k1) (r_k = value(k)) into `expanded`.
  template <class Value>
  void restrict_add(std::int64_t k0, std::int64_t k1, Value&& value, double* expanded) const;
  /// y = Q applied to the residual whose expanded restrictions (one per part) are given; returns
  /// the bit-line coarse values g = Z_C^T r (for r . Q r = g . y) and writes the expanded profile
  /// of Q r (coarse_value reads it).
  void solve(const std::vector<std::vector<double>>& parts, std::vector<double>& g, std::vector<double>& y,
             std::vector<double>& profile) const;
  /// Row i's place on the bit-line hats: (1 - w) on hat `level`, w on the next.
  struct RowHat {
    std::int32_t level;
    double w;
  };
  RowHat row_hat(std::int32_t i) const {
    const std::int32_t level = i / block_;
    return {level, static_cast<double>(i - level * block_) / block_};
  }
  /// (Q r) on the cells of row i (and, through the same hats, of its neighbour rows): value(k)
  /// at cell k = i' cols + j, for i' within one block of i.
  struct Row {
    const double *lo[3], *hi[3];  ///< rows i - 1, i, i + 1: profile of the hat below and above
    double w[3];
    std::int64_t base;            ///< cell index of (i, 0)
    double value(std::int64_t k, std::int32_t cols) const {
      std::int64_t d = k - base;
      const int r = d < 0 ? 0 : (d < cols ? 1 : 2);
      d -= (r - 1) * std::int64_t(cols);
      return (1 - w[r]) * lo[r][d] + w[r] * hi[r][d];
    }
  };
  Row row(const double* profile, std::int32_t i) const {
    Row at{};
    at.base = std::int64_t(i) * cols_;
    for (int r = 0; r < 3; ++r) {
      const std::int32_t row_i = std::clamp(i + r - 1, 0, rows_ - 1), level = row_i / block_;
      at.lo[r] = profile + static_cast<std::size_t>(level) * cols_;
      at.hi[r] = at.lo[r] + cols_;
      at.w[r] = static_cast<double>(row_i - level * block_) / block_;
    }
    return at;
  }
  /// (Q r) at cell (i, j) from solve's profile.
  double value(const double* profile, std::int32_t i, std::int32_t j) const {
    const std::int32_t level = i / block_;
    const double w = static_cast<double>(i - level * block_) / block_;
    return (1 - w) * profile[static_cast<std::size_t>(level) * cols_ + j] +
           w * profile[static_cast<std::size_t>(level + 1) * cols_ + j];
  }
  std::int32_t cols() const { return cols_; }
  std::int32_t rows() const { return rows_; }
  std::int32_t block() const { return block_; }
  std::size_t coarse_size() const { return static_cast<std::size_t>(levels_) * width_; }

 private:
  std::int32_t c_index(std::int32_t hat_i, std::int32_t block_j) const { return hat_i * width_ + block_j; }
  std::int32_t r_index(std::int32_t block_i, std::int32_t hat_j) const { return block_i * width_ + blocks_j_ + hat_j; }
  void add(std::int32_t p, std::int32_t q, double value);  ///< E_pq += value (lower band only)
  bool factor();

  std::int32_t rows_ = 0, cols_ = 0, block_ = 0;
  std::int32_t hats_i_ = 0, blocks_i_ = 0, hats_j_ = 0, blocks_j_ = 0, levels_ = 0, width_ = 0, band_ = 0;
  std::vector<double> lower_;  ///< E's lower band, then its Cholesky factor: (p, p - d) at p (band_ + 1) + d
};

template <class Value>
void CoarseSpace::restrict_add(std::int64_t k0, std::int64_t k1, Value&& value, double* expanded) const {
  while (k0 < k1) {
    const auto i = static_cast<std::int32_t>(k0 / cols_);
    const auto j0 = static_cast<std::int32_t>(k0 - std::int64_t(i) * cols_);
    const auto j1 = static_cast<std::int32_t>(std::min<std::int64_t>(cols_, j0 + (k1 - k0)));
    const std::int32_t level = i / block_;
    const double w = static_cast<double>(i - level * block_) / block_;
    double* lo = expanded + static_cast<std::size_t>(level) * cols_;
    double* hi = lo + cols_;
    const std::int64_t base = std::int64_t(i) * cols_;
    for (std::int32_t j = j0; j < j1; ++j) {
      const double r = value(base + j);
      lo[j] += (1 - w) * r;
      hi[j] += w * r;
    }
    k0 += j1 - j0;
  }
}

}  // namespace xbar::solver
