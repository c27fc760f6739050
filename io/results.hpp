#pragma once
// The HDF5 layout of `xbar solve` / `xbar check` (README). The description of
// every dataset lives in docs/hdf5_schema.md; keep the two in step.
#include <string>

#include "engine/array_solver.hpp"
#include "io/config.hpp"
#include "io/hdf5_file.hpp"
#include "io/problem.hpp"

namespace xbar::io {

inline constexpr const char* k_xbar_version = "0.1.0";

/// Writes the solve datasets and the root attributes (config, xbar_version, solver statistics).
void write_solve_results(H5Writer& out, const RunConfig& config, const Problem& problem,
                         const engine::ArrayResults& results);

}  // namespace xbar::io
