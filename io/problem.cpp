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

void check_shape(std::size_t m_rows, std::size_t m_cols, std::size_t rows, std::size_t cols, const std::string& where,
                 const char* what) {
  if (m_rows != rows || m_cols != cols)
    throw InputError(fmt::format("{} is {} x {}, expected {} x {} ({})", where, m_rows, m_cols, rows, cols, what));
}

// First element that fails ok(), reported with its index.
template <class Ok>
void check_values(const Matrix& m, const std::string& where, Ok&& ok, std::string_view allowed) {
  for (std::size_t k = 0; k < m.data.size(); ++k)
    if (!ok(m.data[k]))
      throw InputError(fmt::format("{} [{}, {}] = {}: {}", where, k / m.cols, k % m.cols, m.data[k], allowed));
}

std::string dataset_name(const std::string& file, const std::string& dataset) {
  return fmt::format("{}: dataset '{}'", file, dataset);
}

// Weights of the config's kind, [array.rows, array.cols], with values that kind allows.
void check_weights(const RunConfig& c, const Matrix& m, const std::string& where) {
  check_shape(m.rows, m.cols, c.rows, c.cols, where, "array.rows x array.cols");
  const std::string& kind = c.weights.kind;
  if (kind == "level") {
    const int L = c.levels().levels;
    check_values(m, where, [L](double x) { return x >= 0 && x <= L - 1 && x == std::floor(x); },
                 fmt::format("levels must be integers in [0, {}]", L - 1));
  } else if (kind == "real") {
    check_real_weights(m, where);
  } else if (kind == "vt") {
    check_values(m, where, [](double x) { return std::isfinite(x); }, "V_T must be finite");
  } else {
    check_values(m, where, [](double x) { return std::isfinite(x) && x > 0; }, "conductances must be finite and > 0");
  }
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

// [variation]: the programmed weights (nominal plus programming error; the nominal ones if none).
std::vector<double> program_with_error(const RunConfig& c, const std::vector<double>& nominal) {
  const engine::CellContext context{c.cell, c.levels(), c.v_read, c.v_sense};
  try {
    return engine::programmed_weights(c.variation, context, nominal);
  } catch (const devices::ModelError& e) {
    throw InputError(fmt::format("{}: [variation]: the programming error of a cell cannot be computed at this "
                                 "bias: {}", c.path, e.what()));
  }
}

Matrix make_inputs(const RunConfig& c) {
  const InputsConfig& in = c.inputs;
  if (in.source == "file") {
    const std::string where = dataset_name(in.file, in.dataset);
    // The shape is checked from the dataspace, before anything is allocated.
    Matrix m = read_matrix(in.file, in.dataset, [&](std::size_t rows, std::size_t cols) {
      if (cols != static_cast<std::size_t>(c.rows) || rows == 0)
        throw InputError(fmt::format("{} is {} x {}, expected count x {} (count x array.rows)", where, rows, cols, c.rows));
    });
    check_inputs(c, m, where);
    return m;
  }
  return engine::random_inputs(in.count, c.rows, in.seed, in.activity, c.cell.has_select());
}

// The problem of a config with weights of the given kind (already checked): levels become
// physical weights by program-verify, real weights are mapped to levels first.
Problem assemble(const RunConfig& c, const std::string& kind, Matrix weights) {
  Problem p;
  p.spec.rows = c.rows;
  p.spec.cell = c.cell;
  p.spec.lines = c.lines;
  p.spec.v_read = c.v_read;
  p.spec.v_sense = c.v_sense;
  p.spec.cols = c.physical_cols();
  p.mapping = c.mapping;
  Matrix physical;
  if (kind == "real") {
    p.levels = engine::levels_from_real(c.mapping, weights, c.levels().levels);
    p.real_weights = std::move(weights);
    physical = physical_from_levels(c, *p.levels);
  } else if (kind == "level") {
    physical = physical_from_levels(c, weights);
    p.levels = std::move(weights);
  } else {
    physical = std::move(weights);
  }
  p.spec.weights = program_with_error(c, physical.data);
  if (c.variation.for_cell(c.cell).active()) p.spec.nominal_weights = std::move(physical.data);
  p.inputs = make_inputs(c);
  return p;
}

}  // namespace

Problem build_problem(const RunConfig& c) {
  const bool mapped = c.mapping != engine::MappingScheme::none;
  if (c.weights.source == "file") {
    const std::string where = dataset_name(c.weights.file, c.weights.dataset);
    Matrix weights = read_matrix(c.weights.file, c.weights.dataset, [&](std::size_t rows, std::size_t cols) {
      check_shape(rows, cols, c.rows, c.cols, where, "array.rows x array.cols");
    });
    check_weights(c, weights, dataset_name(c.weights.file, c.weights.dataset));
    return assemble(c, c.weights.kind, std::move(weights));
  }
  return mapped ? assemble(c, "real", engine::random_real_weights(c.rows, c.cols, weight_draw(c)))
                : assemble(c, "level", engine::random_levels(c.rows, c.cols, c.levels().levels, weight_draw(c)));
}

Problem build_problem(const RunConfig& c, Matrix weights, const std::string& where) {
  const bool sonos = c.cell.is_sonos();
  const std::string& kind = c.weights.kind;
  if ((kind == "vt" && !sonos) || (kind == "conductance" && sonos))
    throw InputError(fmt::format("{}: key 'weights.kind' = \"{}\": {}", c.path, kind,
                                 sonos ? "must be \"level\" or \"vt\" for 2t-sonos"
                                       : "must be \"level\" or \"conductance\" for resistor cells"));
  check_weights(c, weights, where);
  return assemble(c, kind, std::move(weights));
}

void check_inputs(const RunConfig& c, const Matrix& inputs, const std::string& where) {
  if (inputs.cols != static_cast<std::size_t>(c.rows) || inputs.rows == 0)
    throw InputError(fmt::format("{} is {} x {}, expected count x {} (count x array.rows)", where, inputs.rows,
                                 inputs.cols, c.rows));
  if (c.cell.has_select())
    check_values(inputs, where, [](double x) { return x == 0 || x == 1; }, "inputs of select cells must be bits (0 or 1)");
  else
    check_values(inputs, where, [](double x) { return std::isfinite(x); }, "inputs must be finite");
}

void check_real_weights(const Matrix& weights, const std::string& where) {
  check_values(weights, where, [](double x) { return std::isfinite(x) && std::abs(x) <= 1; },
               "real weights must be in [-1, 1]");
}

}  // namespace xbar::io
