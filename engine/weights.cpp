#include "engine/weights.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace xbar::engine {

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
// [-1, 1].
Matrix zero_peaked(std::size_t rows, std::size_t cols, const WeightDraw& draw) {
  Matrix w(rows, cols);
  Random rng(draw.seed);
  for (double& x : w.data) x = draw.distribution == "laplace" ? rng.laplace() : rng.normal();
  std::vector<double> magnitude(w.data.size());
  std::transform(w.data.begin(), w.data.end(), magnitude.begin(), [](double x) { return std::abs(x); });
  const std::size_t rank = static_cast<std::size_t>(std::ceil(draw.clip_quantile * magnitude.size()));
  const std::size_t q = std::clamp<std::size_t>(rank, 1, magnitude.size()) - 1;
  std::nth_element(magnitude.begin(), magnitude.begin() + q, magnitude.end());
  const double scale = magnitude[q] > 0 ? magnitude[q] : 1.0;
  for (double& x : w.data) x = std::clamp(x / scale, -1.0, 1.0);
  return w;
}

}  // namespace

Matrix random_real_weights(std::size_t rows, std::size_t cols, const WeightDraw& draw) {
  if (draw.distribution != "uniform") return zero_peaked(rows, cols, draw);
  Matrix w(rows, cols);
  Random rng(draw.seed);
  for (double& x : w.data) x = 2 * rng.unit() - 1;
  return w;
}

Matrix random_levels(std::size_t rows, std::size_t cols, int levels, const WeightDraw& draw) {
  if (draw.distribution != "uniform") {
    Matrix w = zero_peaked(rows, cols, draw);
    for (double& x : w.data) x = std::lround(std::abs(x) * (levels - 1));
    return w;
  }
  Matrix out(rows, cols);
  Random rng(draw.seed);
  for (double& x : out.data) x = std::min(levels - 1, static_cast<int>(rng.unit() * levels));
  return out;
}

Matrix random_inputs(std::size_t count, std::size_t rows, std::uint64_t seed, double activity, bool bits) {
  Matrix m(count, rows);
  Random rng(seed);
  for (double& x : m.data) x = bits ? (rng.unit() < activity ? 1.0 : 0.0) : rng.unit();
  return m;
}

Matrix physical_weights(const devices::CellModel& cell, const devices::LevelSpec& spec, double v_read,
                        const Matrix& levels) {
  Matrix physical(levels.rows, levels.cols);
  if (cell.is_sonos()) {
    const std::vector<double> vts = devices::sonos_level_vts(cell, spec, v_read);
    for (std::size_t k = 0; k < levels.data.size(); ++k) physical.data[k] = vts[static_cast<int>(levels.data[k])];
  } else {
    for (std::size_t k = 0; k < levels.data.size(); ++k) physical.data[k] = spec.value(static_cast<int>(levels.data[k]));
  }
  return physical;
}

}  // namespace xbar::engine
