#pragma once
// SWEEP.h5 (docs/conventions.md; described in docs/sweep.md):
//   /axes/names              [k] strings, the swept keys in dimension order
//   /axes/values/<name>      [n_a] float64, or strings (string values, combined axes' names)
//   /points/<metric>         [n_1, ..., n_k] float64, one per scalar metric
//   /points/row_err_mean     [n_1, ..., n_k, rows]; rows = the largest over the points, NaN-padded
//   root attributes          config (TOML text of the study), xbar_version
#include <vector>

#include "io/hdf5_file.hpp"
#include "studies/metrics.hpp"
#include "studies/sweep_spec.hpp"

namespace xbar::studies {

void write_sweep(io::H5Writer& out, const SweepSpec& spec, const std::vector<PointMetrics>& points);

}  // namespace xbar::studies
