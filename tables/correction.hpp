#pragma once
// /correction/*: statistics of r = I_actual / I_ideal over the active cells of full circuit
// solves, binned by (row, column, level, column load) (docs/tables.md).
//
//   load(v, j) = sum over the active cells i of column j of I_ideal(i, j) / I_max
//
// Bin b of an axis holds x with edges[b] <= x < edges[b+1]; values beyond the end edges fall in
// the end bins (so a lookup never misses). Row and column edges split 0..rows and 0..cols evenly
// (cell i is at position i); load edges are quantiles of the loads the samples drew.
#include <cstdint>
#include <span>
#include <vector>

namespace xbar::tables {

struct CorrectionBins {
  std::vector<double> row_edges, col_edges, load_edges;  ///< n_bins + 1 each, increasing
  int levels = 0;

  /// Even split of [0, count) into min(bins, count) bins.
  static std::vector<double> even_edges(int count, int bins);
  /// Edges at the quantiles of the loads (> 0), merged where they coincide (fewer bins then).
  static std::vector<double> quantile_edges(std::vector<double> loads, int bins);

  static int bin_of(std::span<const double> edges, double x);
  int n_row() const { return static_cast<int>(row_edges.size()) - 1; }
  int n_col() const { return static_cast<int>(col_edges.size()) - 1; }
  int n_load() const { return static_cast<int>(load_edges.size()) - 1; }
  std::size_t size() const {
    return static_cast<std::size_t>(n_row()) * n_col() * levels * n_load();
  }
  /// Flat index, row-major [row bin][col bin][level][load bin].
  std::uint32_t index(int row, int col, int level, double load) const;
  std::vector<std::size_t> shape() const {
    return {static_cast<std::size_t>(n_row()), static_cast<std::size_t>(n_col()),
            static_cast<std::size_t>(levels), static_cast<std::size_t>(n_load())};
  }
};

/// One active cell of one solve: its bin and its ratio I_actual / I_ideal.
struct CellRatio {
  std::uint32_t bin;
  double ratio;
};

/// Running mean and (population) standard deviation per bin, Welford's update:
///   n += 1,  delta = r - mean,  mean += delta / n,  m2 += delta (r - mean),  std = sqrt(m2 / n)
/// Adding the same ratios in the same order gives the same bits, whatever the thread count.
class CorrectionStats {
 public:
  explicit CorrectionStats(std::size_t bins) : count_(bins, 0), mean_(bins, 0), m2_(bins, 0) {}
  void add(std::span<const CellRatio> ratios);
  /// Empty bins: NaN mean and std.
  std::vector<double> mean() const;
  std::vector<double> std() const;
  std::vector<double> count() const { return {count_.begin(), count_.end()}; }

 private:
  std::vector<std::uint64_t> count_;
  std::vector<double> mean_, m2_;
};

}  // namespace xbar::tables
