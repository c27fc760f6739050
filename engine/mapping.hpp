#pragma once
// Signed weights on an unsigned array (docs/conventions.md). A real matrix W [rows, cols]
// with entries in [-1, 1] (1 = I_max or G_max) maps to levels 0..L-1 with lround (half away
// from zero):
//   differential: column 2j = lround(max(w,0)(L-1)), column 2j+1 = lround(max(-w,0)(L-1));
//                 y_j = I_2j - I_2j+1
//   offset:       column j = lround((w+1)/2 (L-1)); an extra last column holds level L/2 in
//                 every row (the reference); y_j = I_j - I_ref
#include <string>

#include "engine/array_solver.hpp"

namespace xbar::engine {

enum class MappingScheme { none, differential, offset };

MappingScheme parse_mapping(const std::string& name);  ///< "", "differential", "offset"
std::string to_string(MappingScheme scheme);

/// Physical columns that carry `logical_cols` signed outputs.
int physical_columns(MappingScheme scheme, int logical_cols);

/// Levels [rows, physical columns] of a real matrix (entries are clipped to [-1, 1]).
Matrix levels_from_real(MappingScheme scheme, const Matrix& weights, int levels);

/// Signed outputs [count, logical cols] from physical column currents [count, physical cols].
Matrix signed_outputs(MappingScheme scheme, const Matrix& column_currents);

}  // namespace xbar::engine
