#pragma once
// A parameter study (docs/conventions.md): a base config plus a [sweep] table whose entries are
// the axes. The points are the product of the axes' values, numbered row-major (the first axis
// varies slowest), and each point is the study's parsed config with that point's values on top,
// validated like any config (no TOML is parsed per point; a select table is loaded once).
//
//   [sweep]
//   "array.r_hat_p" = [1e-6, 1e-5, 1e-4]         # a config key and its values
//   "mapping.scheme" = ["differential", "offset"]
//   circuit = [                                   # a combined axis: a label without a dot, and
//     { name = "real", "array.cell" = "2t-sonos", "select.model" = "ekv" },     # named sets of
//     { name = "approx", "array.cell" = "1t1r", "select.model" = "ideal" },     # config keys
//   ]
//
// Axes keep the order they have in the file; axes added with --set sweep.KEY=[...] come after.
// `array.r_col` and `array.r_hat_p` set the same resistance: sweeping one removes the other from
// the base config.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "io/config.hpp"

namespace xbar::studies {

struct AxisValue {
  std::string label;                   ///< "1e-06", "offset", or a combined value's name
  std::optional<double> number;        ///< numeric values of a config key
  io::ConfigValues settings;           ///< the keys this value sets
};

struct Axis {
  std::string name;  ///< the config key ("array.r_hat_p") or the combined axis' label
  std::vector<AxisValue> values;
  /// Every value is a number (written as float64 to /axes/values/<name>, else as strings).
  bool numeric() const;
};

struct SweepSpec {
  std::string path;         ///< config file name, for messages
  /// The study as TOML: the points' common config, complete (--set applied, defaults
  /// included), and the [sweep] table.
  std::string config_text;
  std::vector<Axis> axes;
  std::vector<io::RunConfig> points;  ///< row-major over the axes

  std::vector<std::size_t> shape() const;  ///< [n_1, ..., n_k]
  /// Index of each axis for a point: the row-major digits of `point` in shape().
  std::vector<std::size_t> coordinates(std::size_t point) const;
  /// "array.r_hat_p = 1e-06, mapping.scheme = offset" for messages and tables.
  std::string describe(std::size_t point) const;
};

/// Parses the study: validates the base config (overrides "key=value" applied), the [sweep]
/// table and then every point. Throws InputError naming the file, key, value and, for a point
/// that fails validation, the point.
SweepSpec parse_sweep(const std::string& text, const std::string& path,
                      const std::vector<std::string>& overrides = {});

}  // namespace xbar::studies
