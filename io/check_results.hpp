#pragma once
// The HDF5 layout of `xbar check` (design brief section 4, docs/hdf5_schema.md): everything
// `xbar solve` writes, plus ngspice's column currents and the comparison figures.
#include "io/results.hpp"
#include "validation/cross_check.hpp"

namespace xbar::io {

/// write_solve_results of check.xbar, then /columns/current_spice [count, cols] and the root
/// attributes check_max_rel_diff, check_max_abs_diff, check_max_col_rel_diff,
/// check_max_node_diff, check_tolerance, check_passed (1 or 0), spice_time, xbar_time.
/// What `xbar check` refuses before anything runs: arrays above check.max_cells (ngspice has no
/// KLU in Debian and its decks grow fast); the message estimates ngspice's time. InputError.
void guard_check_size(const RunConfig& config);

/// The config's problem with only the input vectors `check` compares (check.vectors; 0: all).
Problem build_checked_problem(const RunConfig& config);

void write_check_results(H5Writer& out, const RunConfig& config, const Problem& problem,
                         const validation::CrossCheck& check, double tolerance);

}  // namespace xbar::io
