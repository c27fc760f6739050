#include "studies/sweep_file.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "io/config_schema.hpp"
#include "io/results.hpp"

namespace xbar::studies {

namespace {

void write_axes(io::H5Writer& out, const SweepSpec& spec) {
  std::vector<std::string> names;
  for (const Axis& axis : spec.axes) {
    names.push_back(axis.name);
    const std::string dataset = "/axes/values/" + axis.name;
    if (axis.numeric()) {
      std::vector<double> numbers;
      for (const AxisValue& v : axis.values) numbers.push_back(*v.number);
      out.write(dataset, numbers);
    } else {
      std::vector<std::string> labels;
      for (const AxisValue& v : axis.values) labels.push_back(v.label);
      out.write_strings(dataset, labels);
    }
  }
  out.write_strings("/axes/names", names);
}

// [n_1, ..., n_k, rows]: each point's row errors, NaN past its own row count.
void write_row_errors(io::H5Writer& out, const SweepSpec& spec, const std::vector<PointMetrics>& points) {
  std::size_t rows = 0;
  for (const PointMetrics& p : points) rows = std::max(rows, p.row_err_mean.size());
  std::vector<double> data(points.size() * rows, k_nan);
  for (std::size_t p = 0; p < points.size(); ++p)
    std::copy(points[p].row_err_mean.begin(), points[p].row_err_mean.end(), data.begin() + p * rows);
  std::vector<std::size_t> shape = spec.shape();
  shape.push_back(rows);
  out.write("/points/row_err_mean", data, shape);
}

// /derived/<name> [n_1, ..., n_k]: each point's derived config values (r_col, g_max, ...).
void write_derived(io::H5Writer& out, const SweepSpec& spec) {
  for (const io::DerivedKey& key : io::derived_keys()) {
    std::vector<double> values;
    for (const io::RunConfig& point : spec.points)
      values.push_back(std::visit([](auto v) -> double {
        if constexpr (std::is_arithmetic_v<decltype(v)>) return static_cast<double>(v);
        else return k_nan;
      }, key.value(point)));
    out.write("/derived/" + key.name, values, spec.shape());
  }
}

}  // namespace

void write_sweep(io::H5Writer& out, const SweepSpec& spec, const std::vector<PointMetrics>& points) {
  write_axes(out, spec);
  for (const ScalarMetric& metric : scalar_metrics()) {
    std::vector<double> values;
    for (const PointMetrics& p : points) values.push_back(p.*metric.value);
    out.write("/points/" + std::string(metric.name), values, spec.shape());
  }
  write_row_errors(out, spec, points);
  write_derived(out, spec);
  out.long_attribute("config", spec.config_text);
  out.attribute("xbar_version", std::string(io::k_xbar_version));
}

}  // namespace xbar::studies
