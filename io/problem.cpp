#include "io/problem.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/weights.hpp"
#include "io/hdf5_file.hpp"

namespace xbar::io {

namespace {

engine::WeightDraw weight_draw(const RunConfig& c) {
  return {c.weights.seed, c.weights.distribution, c.weights.clip_quantile};
}

void check_shape(const Matrix& m, std::size_t rows, std::size_t cols, const std::string& file,
                 const std::string& dataset, const char* what) {
  if (m.rows != rows || m.cols != cols)
    throw InputError(fmt::format("{}: dataset '{}' is {} x {}, expected {} x {} ({})", file, dataset,
                                 m.rows, m.cols, rows, cols, what));
}

// First element that fails ok(), reported with its index.
template <class Ok>
void check_values(const Matrix& m, const std::string& file, const std::string& dataset, Ok&& ok,
                  std::string_view allowed) {
  for (std::size_t k = 0; k < m.data.size(); ++k)
    if (!ok(m.data[k]))
      throw InputError(fmt::format("{}: dataset '{}' [{}, {}] = {}: {}", file, dataset, k / m.cols,
                                   k % m.cols, m.data[k], allowed));
}

Matrix weights_from_file(const RunConfig& c) {
  const WeightsConfig& w = c.weights;
  Matrix m = read_matrix(w.file, w.dataset);
  check_shape(m, c.rows, c.cols, w.file, w.dataset, "array.rows x array.cols");
  if (w.kind == "level") {
    const int L = c.levels().levels;
    check_values(m, w.file, w.dataset, [L](double x) { return x >= 0 && x <= L - 1 && x == std::floor(x); },
                 fmt::format("levels must be integers in [0, {}]", L - 1));
  } else if (w.kind == "real") {
    check_values(m, w.file, w.dataset, [](double x) { return std::isfinite(x) && std::abs(x) <= 1; },
                 "real weights must be in [-1, 1]");
  } else if (w.kind == "vt") {
    check_values(m, w.file, w.dataset, [](double x) { return std::isfinite(x); }, "V_T must be finite");
  } else {
    check_values(m, w.file, w.dataset, [](double x) { return std::isfinite(x) && x > 0; },
                 "conductances must be finite and > 0");
  }
  return m;
}

// The levels cannot be programmed at an absurd bias: that is the config's fault, not the solver's.
Matrix physical_from_levels(const RunConfig& c, const Matrix& levels) {
  try {
    return engine::physical_weights(c.cell, c.levels(), c.v_read, levels);
  } catch (const devices::ModelError& e) {
    throw InputError(fmt::format("{}: keys 'bias.v_read' = {}, 'bias.v_on' = {}, 'bias.v_wl' = {}: the SONOS "
                                 "levels (sonos.i_max = {}, sonos.on_off = {}) cannot be programmed at this "
                                 "bias: {}", c.path, c.v_read, c.cell.v_on, c.cell.v_wl, c.sonos_levels.max,
                                 c.sonos_levels.on_off, e.what()));
  }
}

Matrix make_inputs(const RunConfig& c) {
  const InputsConfig& in = c.inputs;
  const bool bits = c.cell.has_select();
  if (in.source == "file") {
    Matrix m = read_matrix(in.file, in.dataset);
    if (m.cols != static_cast<std::size_t>(c.rows) || m.rows == 0)
      throw InputError(fmt::format("{}: dataset '{}' is {} x {}, expected count x {} (count x array.rows)",
                                   in.file, in.dataset, m.rows, m.cols, c.rows));
    if (bits)
      check_values(m, in.file, in.dataset, [](double x) { return x == 0 || x == 1; },
                   "inputs of select cells must be bits (0 or 1)");
    else
      check_values(m, in.file, in.dataset, [](double x) { return std::isfinite(x); }, "inputs must be finite");
    return m;
  }
  return engine::random_inputs(in.count, c.rows, in.seed, in.activity, bits);
}

}  // namespace

Problem build_problem(const RunConfig& c) {
  Problem p;
  p.spec.rows = c.rows;
  p.spec.cell = c.cell;
  p.spec.lines = c.lines;
  p.spec.v_read = c.v_read;
  p.spec.v_sense = c.v_sense;
  p.spec.cols = c.physical_cols();
  p.mapping = c.mapping;
  Matrix physical;
  if (c.mapping != engine::MappingScheme::none) {
    p.real_weights = c.weights.source == "random" ? engine::random_real_weights(c.rows, c.cols, weight_draw(c)) : weights_from_file(c);
    p.levels = engine::levels_from_real(c.mapping, *p.real_weights, c.levels().levels);
    physical = physical_from_levels(c, *p.levels);
  } else if (c.weights.source == "random" || c.weights.kind == "level") {
    p.levels = c.weights.source == "random" ? engine::random_levels(c.rows, c.cols, c.levels().levels, weight_draw(c)) : weights_from_file(c);
    physical = physical_from_levels(c, *p.levels);
  } else {
    physical = weights_from_file(c);
  }
  p.spec.weights = std::move(physical.data);
  p.inputs = make_inputs(c);
  return p;
}

}  // namespace xbar::io
