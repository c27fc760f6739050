#include "io/problem.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "io/hdf5_file.hpp"

namespace xbar::io {

namespace {

// Portable draws: the same seed gives the same numbers with any standard library.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double laplace() {
    const double u = unit() - 0.5;
    return (u < 0 ? 1.0 : -1.0) * std::log1p(-2 * std::abs(u));
  }
  double normal() {  // Box-Muller, one of the pair
    const double u1 = 1.0 - unit(), u2 = unit();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }

 private:
  std::mt19937_64 engine_;
};

// Zero-peaked signed weights: draw, divide by the clip quantile of |w| over the matrix, clip to
// [-1, 1] (design brief section 7).
Matrix zero_peaked(const RunConfig& c, std::size_t cols) {
  Matrix w(c.rows, cols);
  Random rng(c.weights.seed);
  for (double& x : w.data) x = c.weights.distribution == "laplace" ? rng.laplace() : rng.normal();
  std::vector<double> magnitude(w.data.size());
  std::transform(w.data.begin(), w.data.end(), magnitude.begin(), [](double x) { return std::abs(x); });
  const std::size_t rank = static_cast<std::size_t>(std::ceil(c.weights.clip_quantile * magnitude.size()));
  const std::size_t q = std::clamp<std::size_t>(rank, 1, magnitude.size()) - 1;
  std::nth_element(magnitude.begin(), magnitude.begin() + q, magnitude.end());
  const double scale = magnitude[q] > 0 ? magnitude[q] : 1.0;
  for (double& x : w.data) x = std::clamp(x / scale, -1.0, 1.0);
  return w;
}

// Signed weights for a mapped array, uniform in [-1, 1] or zero-peaked.
Matrix random_real(const RunConfig& c) {
  if (c.weights.distribution != "uniform") return zero_peaked(c, c.cols);
  Matrix w(c.rows, c.cols);
  Random rng(c.weights.seed);
  for (double& x : w.data) x = 2 * rng.unit() - 1;
  return w;
}

// Levels of an unmapped array: uniform over the levels, or zero-peaked magnitudes.
Matrix random_levels(const RunConfig& c) {
  const int L = c.levels().levels;
  if (c.weights.distribution != "uniform") {
    Matrix w = zero_peaked(c, c.cols);
    for (double& x : w.data) x = std::lround(std::abs(x) * (L - 1));
    return w;
  }
  Matrix levels(c.rows, c.cols);
  Random rng(c.weights.seed);
  for (double& x : levels.data) x = std::min(L - 1, static_cast<int>(rng.unit() * L));
  return levels;
}

void check_shape(const Matrix& m, std::size_t rows, std::size_t cols, const std::string& where, const char* what) {
  if (m.rows != rows || m.cols != cols)
    throw InputError(fmt::format("{} is {} x {}, expected {} x {} ({})", where, m.rows, m.cols, rows, cols, what));
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
  check_shape(m, c.rows, c.cols, where, "array.rows x array.cols");
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
std::vector<double> program_verify(const RunConfig& c) {
  try {
    return devices::sonos_level_vts(c.cell, c.sonos_levels, c.v_read);
  } catch (const devices::ModelError& e) {
    throw InputError(fmt::format("{}: keys 'bias.v_read' = {}, 'bias.v_on' = {}, 'bias.v_wl' = {}: the SONOS "
                                 "levels (sonos.i_max = {}, sonos.on_off = {}) cannot be programmed at this "
                                 "bias: {}", c.path, c.v_read, c.cell.v_on, c.cell.v_wl, c.sonos_levels.max,
                                 c.sonos_levels.on_off, e.what()));
  }
}

Matrix physical_from_levels(const RunConfig& c, const Matrix& levels) {
  Matrix physical(levels.rows, levels.cols);
  if (c.cell.is_sonos()) {
    const std::vector<double> vts = program_verify(c);
    for (std::size_t k = 0; k < levels.data.size(); ++k) physical.data[k] = vts[static_cast<int>(levels.data[k])];
  } else {
    for (std::size_t k = 0; k < levels.data.size(); ++k)
      physical.data[k] = c.resistor_levels.value(static_cast<int>(levels.data[k]));
  }
  return physical;
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
    Matrix m = read_matrix(in.file, in.dataset);
    check_inputs(c, m, dataset_name(in.file, in.dataset));
    return m;
  }
  Matrix m(in.count, c.rows);
  Random rng(in.seed);
  const bool bits = c.cell.has_select();
  for (double& x : m.data) x = bits ? (rng.unit() < in.activity ? 1.0 : 0.0) : rng.unit();
  return m;
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
    Matrix weights = read_matrix(c.weights.file, c.weights.dataset);
    check_weights(c, weights, dataset_name(c.weights.file, c.weights.dataset));
    return assemble(c, c.weights.kind, std::move(weights));
  }
  return mapped ? assemble(c, "real", random_real(c)) : assemble(c, "level", random_levels(c));
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
