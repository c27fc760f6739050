#include "engine/mapping.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace xbar::engine {

MappingScheme parse_mapping(const std::string& name) {
  if (name.empty()) return MappingScheme::none;
  if (name == "differential") return MappingScheme::differential;
  if (name == "offset") return MappingScheme::offset;
  throw std::invalid_argument("unknown mapping scheme: " + name);
}

std::string to_string(MappingScheme scheme) {
  switch (scheme) {
    case MappingScheme::differential: return "differential";
    case MappingScheme::offset: return "offset";
    default: return "";
  }
}

int physical_columns(MappingScheme scheme, int logical_cols) {
  switch (scheme) {
    case MappingScheme::differential: return 2 * logical_cols;
    case MappingScheme::offset: return logical_cols + 1;
    default: return logical_cols;
  }
}

Matrix levels_from_real(MappingScheme scheme, const Matrix& w, int levels) {
  const std::size_t cols = w.cols, phys = physical_columns(scheme, static_cast<int>(cols));
  const double top = levels - 1;
  Matrix out(w.rows, phys);
  for (std::size_t i = 0; i < w.rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const double x = std::clamp(w(i, j), -1.0, 1.0);
      if (scheme == MappingScheme::differential) {
        out(i, 2 * j) = std::lround(std::max(x, 0.0) * top);
        out(i, 2 * j + 1) = std::lround(std::max(-x, 0.0) * top);
      } else if (scheme == MappingScheme::offset) {
        out(i, j) = std::lround((x + 1) / 2 * top);
      } else {
        throw std::invalid_argument("levels_from_real: no mapping scheme");
      }
    }
    if (scheme == MappingScheme::offset) out(i, cols) = levels / 2;
  }
  return out;
}

Matrix signed_outputs(MappingScheme scheme, const Matrix& currents) {
  const std::size_t logical = scheme == MappingScheme::differential ? currents.cols / 2 : currents.cols - 1;
  Matrix y(currents.rows, logical);
  for (std::size_t v = 0; v < currents.rows; ++v)
    for (std::size_t j = 0; j < logical; ++j)
      y(v, j) = scheme == MappingScheme::differential ? currents(v, 2 * j) - currents(v, 2 * j + 1)
                                                      : currents(v, j) - currents(v, logical);
  return y;
}

}  // namespace xbar::engine
