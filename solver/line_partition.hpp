#pragma once
// A partition of the unknowns into lines, for the structured backends (line_solver.hpp). Solver
// code knows nothing of crossbars: whoever builds the circuit (netlists/) says which unknowns
// form chains.
//
//   families[f][c] = the unknowns of chain c of family f, in chain order.
//
// Contract (checked by the backend when it analyses the pattern):
//   - within a chain, an unknown couples only to its neighbours in the chain (tridiagonal);
//   - chains of one family do not couple to each other (a family is solved at once);
//   - an unknown in no chain is "internal": it couples to no other internal unknown, so it is
//     eliminated locally (one Schur complement per internal unknown).
// A crossbar: family 0 = row lines (driver, row nodes), family 1 = bit lines (column nodes,
// sense node), internal = cell nodes m(i,j).
#include <vector>

#include "solver/circuit.hpp"

namespace xbar::solver {

struct LinePartition {
  std::vector<std::vector<std::vector<NodeIndex>>> families;

  std::size_t family_count() const { return families.size(); }
};

}  // namespace xbar::solver
