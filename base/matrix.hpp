#pragma once
// Row-major matrix of doubles: the in-memory form of every 2-D dataset (weights, levels, inputs,
// column currents). The bottom layer: it knows nothing of circuits or files.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

namespace xbar {

struct Matrix {
  std::size_t rows = 0, cols = 0;
  std::vector<double> data;
  Matrix() = default;
  Matrix(std::size_t r, std::size_t c, double fill = 0.0) : rows(r), cols(c), data(r * c, fill) {}
  /// Takes row-major values, exactly r * c of them.
  Matrix(std::size_t r, std::size_t c, std::vector<double> values) : rows(r), cols(c), data(std::move(values)) {
    if (data.size() != r * c) throw std::logic_error("Matrix: values do not fill rows x cols");
  }
  double& operator()(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  double operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
  std::span<const double> row(std::size_t r) const { return {data.data() + r * cols, cols}; }
  std::span<double> row(std::size_t r) { return {data.data() + r * cols, cols}; }
};

}  // namespace xbar
