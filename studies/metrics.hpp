#pragma once
// The metrics of one sweep point (docs/conventions.md), over all its input vectors v. Hats
// are the ideal reference (docs/conventions.md: the same array without line resistance, each active cell
// at its isolated current); j runs over physical columns, o over logical outputs (with
// [mapping]), y are the signed outputs.
//
//   e_vj              = (I_vj - Î_vj) / Î_vj    over the pairs with |Î_vj| > 1e-3 max_vj |Î_vj|
//   col_err_rms       = sqrt(mean e_vj^2)
//   col_err_max       = max |e_vj|
//   out_err_nrms      = sqrt(sum_vo (y_vo - ŷ_vo)^2 / sum_vo ŷ_vo^2)
//   out_err_gain_nrms = sqrt(sum_vo (g y_vo - ŷ_vo)^2 / sum_vo ŷ_vo^2),  g = sum y ŷ / sum y^2
//                       (the best single gain, least squares: what a per-array calibration leaves)
//   out_err_fullscale = max_vo |y_vo - ŷ_vo| / max_vo |ŷ_vo|
//   row_err_mean_i    = mean over (v, j) with Î_cell,vij != 0 of I_cell,vij / Î_cell,vij - 1
//                       (active cells: select bit 1; a 1r cell with input 0 has no ideal current)
//
// Metrics that do not apply (no [mapping]; no column or cell over the threshold) are NaN.
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "engine/array_solver.hpp"
#include "engine/mapping.hpp"

namespace xbar::studies {

inline constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

struct ColumnErrors {
  double rms = k_nan, max = k_nan;
};
/// current, ideal: [count, physical cols] (A); the pairs netlists::counts_against_ideal counts.
ColumnErrors column_errors(const Matrix& current, const Matrix& ideal);

struct OutputErrors {
  double nrms = k_nan, gain_nrms = k_nan, fullscale = k_nan;
};
/// y, y_ideal: [count, logical outputs] (A).
OutputErrors output_errors(const Matrix& y, const Matrix& y_ideal);

/// Accumulates the relative cell-current error by row over input vectors.
class RowErrors {
 public:
  RowErrors(std::size_t rows, std::size_t cols);
  /// cell, ideal: one vector's cell currents, row-major [rows, cols] (A).
  void add(std::span<const double> cell, std::span<const double> ideal);
  std::vector<double> mean() const;  ///< [rows], NaN for rows with no active cell

 private:
  std::size_t cols_;
  std::vector<double> sum_;
  std::vector<std::size_t> count_;
};

struct PointMetrics {
  double col_err_rms = k_nan, col_err_max = k_nan;
  double out_err_nrms = k_nan, out_err_gain_nrms = k_nan, out_err_fullscale = k_nan;
  std::vector<double> row_err_mean;  ///< [rows]
  double solve_time = k_nan;         ///< s, wall clock of the point's solves
  double newton_iterations = k_nan;  ///< over all its input vectors
};

/// The scalar metrics by name, in the order they are written and printed.
struct ScalarMetric {
  const char* name;
  double PointMetrics::*value;
};
const std::vector<ScalarMetric>& scalar_metrics();

PointMetrics point_metrics(engine::MappingScheme mapping, const engine::ArrayResults& results,
                           const RowErrors& rows);

}  // namespace xbar::studies
