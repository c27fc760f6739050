#pragma once
// The HDF5 layout of `xbar table` (docs/tables.md; every dataset is described in
// docs/tables.md: keep the two in step).
#include "io/config.hpp"
#include "io/hdf5_file.hpp"
#include "tables/table_builder.hpp"

namespace xbar::tables {

/// Writes /device/*, /cell/*, /correction/* and the root attributes: config, xbar_version,
/// samples, vectors, cells, elapsed_time, and the array the table describes (rows, cols, cell,
/// select_model, levels, r_row, r_col, r_driver, r_sense, v_read, v_sense, full_scale_current,
/// mapping).
void write_table(io::H5Writer& out, const io::RunConfig& config, const EffectiveWeightTable& table);

}  // namespace xbar::tables
