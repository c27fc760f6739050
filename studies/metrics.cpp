#include "studies/metrics.hpp"

#include <algorithm>
#include <cmath>

#include "netlists/ideal_reference.hpp"

namespace xbar::studies {

namespace {

double largest_magnitude(const std::vector<double>& values) {
  double largest = 0;
  for (double x : values) largest = std::max(largest, std::abs(x));
  return largest;
}

}  // namespace

ColumnErrors column_errors(const Matrix& current, const Matrix& ideal) {
  const double largest_ideal = largest_magnitude(ideal.data);
  double sum_squares = 0, largest = 0;
  std::size_t counted = 0;
  for (std::size_t k = 0; k < ideal.data.size(); ++k) {
    if (!netlists::counts_against_ideal(ideal.data[k], largest_ideal)) continue;
    const double e = (current.data[k] - ideal.data[k]) / ideal.data[k];
    sum_squares += e * e;
    largest = std::max(largest, std::abs(e));
    ++counted;
  }
  if (counted == 0) return {};
  return {std::sqrt(sum_squares / static_cast<double>(counted)), largest};
}

OutputErrors output_errors(const Matrix& y, const Matrix& y_ideal) {
  double yy = 0, y_yi = 0, yi_yi = 0, err2 = 0, err_max = 0;
  for (std::size_t k = 0; k < y.data.size(); ++k) {
    const double a = y.data[k], b = y_ideal.data[k];
    yy += a * a;
    y_yi += a * b;
    yi_yi += b * b;
    err2 += (a - b) * (a - b);
    err_max = std::max(err_max, std::abs(a - b));
  }
  const double g = y_yi / yy;
  // Summed term by term: expanding g^2 sum y^2 - 2 g sum y ŷ + sum ŷ^2 cancels catastrophically.
  double gain_err2 = 0;
  for (std::size_t k = 0; k < y.data.size(); ++k) {
    const double d = g * y.data[k] - y_ideal.data[k];
    gain_err2 += d * d;
  }
  return {std::sqrt(err2 / yi_yi), std::sqrt(gain_err2 / yi_yi), err_max / largest_magnitude(y_ideal.data)};
}

RowErrors::RowErrors(std::size_t rows, std::size_t cols) : cols_(cols), sum_(rows, 0.0), count_(rows, 0) {}

void RowErrors::add(std::span<const double> cell, std::span<const double> ideal) {
  for (std::size_t k = 0; k < ideal.size(); ++k) {
    if (ideal[k] == 0) continue;
    sum_[k / cols_] += cell[k] / ideal[k] - 1;
    ++count_[k / cols_];
  }
}

std::vector<double> RowErrors::mean() const {
  std::vector<double> out(sum_.size(), k_nan);
  for (std::size_t i = 0; i < sum_.size(); ++i)
    if (count_[i] > 0) out[i] = sum_[i] / static_cast<double>(count_[i]);
  return out;
}

const std::vector<ScalarMetric>& scalar_metrics() {
  static const std::vector<ScalarMetric> metrics = {
      {"col_err_rms", &PointMetrics::col_err_rms},
      {"col_err_max", &PointMetrics::col_err_max},
      {"out_err_nrms", &PointMetrics::out_err_nrms},
      {"out_err_gain_nrms", &PointMetrics::out_err_gain_nrms},
      {"out_err_fullscale", &PointMetrics::out_err_fullscale},
      {"solve_time", &PointMetrics::solve_time},
      {"newton_iterations", &PointMetrics::newton_iterations},
  };
  return metrics;
}

PointMetrics point_metrics(engine::MappingScheme mapping, const engine::ArrayResults& results,
                           const RowErrors& rows) {
  PointMetrics m;
  const ColumnErrors columns = column_errors(results.column_current, results.column_current_ideal);
  m.col_err_rms = columns.rms;
  m.col_err_max = columns.max;
  if (mapping != engine::MappingScheme::none) {
    const OutputErrors out = output_errors(engine::signed_outputs(mapping, results.column_current),
                                           engine::signed_outputs(mapping, results.column_current_ideal));
    m.out_err_nrms = out.nrms;
    m.out_err_gain_nrms = out.gain_nrms;
    m.out_err_fullscale = out.fullscale;
  }
  m.row_err_mean = rows.mean();
  m.solve_time = results.summary.solve_time;
  m.newton_iterations = static_cast<double>(results.summary.newton_iterations);
  return m;
}

}  // namespace xbar::studies
