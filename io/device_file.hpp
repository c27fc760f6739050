#pragma once
// DEVICE.h5, the tabulated transistor of `xbar characterize` (layout: docs/device_table.md):
// the grid axes, the drain current and its partials on the grid, the interpolation envelope,
// and the model card that produced them (text, device name, W, L, temperature), so that a
// cross-check can run the original card in ngspice.
#include <cmath>
#include <memory>
#include <string>

#include "devices/table_device.hpp"

namespace xbar::io {

/// How well the table reproduces the card between its nodes (`xbar characterize` measures it at
/// random bias points with direct ngspice op points); NaN when not measured.
struct TabulationQuality {
  double points = 0;
  double max_rel_error = NAN, rms_rel_error = NAN;
  double characterize_time = NAN;  ///< s, ngspice sweep
};

struct DeviceFile {
  devices::ModelCard card;
  devices::TableSamples samples;
  devices::EkvParams envelope;
  TabulationQuality quality;
};

/// Writes the file (creates or truncates `path`). Throws InputError if it cannot.
void write_device_file(const std::string& path, const DeviceFile& device);

/// Reads and checks a file written by write_device_file. Throws InputError naming the file and
/// the dataset or attribute that is missing or malformed.
DeviceFile read_device_file(const std::string& path);

/// The select law of `[select] model = "table"`: read_device_file, then the table built from it
/// (errors in the data are reported as InputError naming the file).
std::shared_ptr<const devices::TabulatedTransistor> load_tabulated_transistor(const std::string& path);

}  // namespace xbar::io
