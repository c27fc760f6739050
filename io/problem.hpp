#pragma once
// From a validated config to the arrays that get solved: reads and checks the weight and input
// files, or draws them (engine/weights.hpp) from the config's seeds, so a config always means the
// same array; physical weights per cell from levels by program-verify, or given.
#include <optional>

#include "engine/array_solver.hpp"
#include "io/config.hpp"

namespace xbar::io {


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
