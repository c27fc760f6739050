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

/// The same with the weights given in memory instead of [weights]: of the kind weights.kind
/// names (level, vt, conductance, or real with [mapping]), [array.rows, array.cols]. `where`
/// names them in messages (e.g. "argument 'weights'"); the input vectors are the config's.
Problem build_problem(const RunConfig& config, Matrix weights, const std::string& where);

/// Input vectors [count, array.rows] as a file must hold them: bits for select cells, finite
/// reals for 1r. Throws InputError naming `where`, the shape or the first bad element.
void check_inputs(const RunConfig& config, const Matrix& inputs, const std::string& where);

/// Real weights for a mapping: finite and in [-1, 1]. Throws InputError naming `where`.
void check_real_weights(const Matrix& weights, const std::string& where);

}  // namespace xbar::io
