#pragma once
// From a validated config to the arrays that get solved: physical weights per cell (from levels
// by program-verify, or given), optional levels, and the input vectors. Random draws depend only
// on the config's seeds, so a config always means the same array.
#include <optional>

#include "engine/array_solver.hpp"
#include "io/config.hpp"

namespace xbar::io {

using engine::Matrix;

struct Problem {
  netlists::ArraySpec spec;      ///< spec.cols: physical columns
  engine::MappingScheme mapping = engine::MappingScheme::none;
  std::optional<Matrix> real_weights;  ///< [rows, logical cols] with a mapping
  std::optional<Matrix> levels;  ///< [rows, physical cols] when weights are levels
  Matrix inputs;                 ///< [count, rows]
};

/// Throws InputError for bad files, shapes and values (naming file, dataset, index, value).
Problem build_problem(const RunConfig& config);

}  // namespace xbar::io
