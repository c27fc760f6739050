#pragma once
// The crossbar as the structured solvers see it: its lines as chains of unknowns (the line
// backend) and its grid shape (the grid Newton). Kept apart from crossbar.hpp, so that the
// circuit's builder and queries do not depend on any particular solver.
#include <optional>

#include "netlists/crossbar.hpp"
#include "solver/grid_layout.hpp"
#include "solver/line_partition.hpp"

namespace xbar::netlists {

/// The line structure for the structured solvers: family 0 = row lines (driver a(i), r(i,0..)),
/// family 1 = bit lines (c(0..,j), s(j)); free nodes only, merged nodes once; the cell nodes
/// m(i,j) are left out (internal, eliminated per cell).
solver::LinePartition line_partition(const Crossbar& crossbar);
/// The array as solver::GridNewton sees it, or nothing where the grid does not fit: a
/// tabulated select, or a line of zero resistance behind a non-zero driver / sense resistance
/// (one shared node per line). Driver and sense nodes become series junctions.
std::optional<solver::GridLayout> grid_layout(const Crossbar& crossbar);
/// Whether grid_layout() has a value (without building it).
bool grid_fits(const Crossbar& crossbar);

}  // namespace xbar::netlists
