#pragma once
// The TOML configuration of an array run (README "Configuration"). Every key is declared once,
// with its type, range, default and help, in io/config_schema.cpp; io/config_toml.cpp reads
// the TOML text. A config is parsed in two steps: the TOML reader gives the keys that were set
// (unknown keys with a did-you-mean first, command-line overrides `key=value` applied), then
// resolve() checks each value against the schema, applies the rules across keys, loads the
// select table and resolves the derived values (r_col from r_hat_p, G_max, ...) once. A sweep
// point is its study's values with the point's values on top, resolved again: no TOML is
// parsed per point.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "devices/cell.hpp"
#include "devices/levels.hpp"
#include "engine/mapping.hpp"
#include "engine/variation.hpp"
#include "io/errors.hpp"
#include "netlists/crossbar.hpp"
#include "solver/newton.hpp"

namespace xbar::io {

struct WeightsConfig {
  std::string source = "random";        ///< random | file
  std::uint64_t seed = 1;
  std::string distribution = "uniform"; ///< uniform | laplace | normal
  double clip_quantile = 0.999;
  std::string file, dataset;
  std::string kind = "level";           ///< level | vt | conductance | real (with [mapping])
};

struct InputsConfig {
  std::string source = "random";  ///< random | file
  int count = 1;
  double activity = 0.5;          ///< fraction of 1 bits (select cells)
  std::uint64_t seed = 2;
  std::string file, dataset;
};

struct CheckConfig {
  double tolerance = 1e-6;    ///< relative column-current difference
  long max_cells = 64 * 64;   ///< size guard for ngspice
  int vectors = 0;            ///< check only the first N input vectors (0: all)
};

/// `xbar table` (tables/): sample arrays, bins and the cell-law grid. Voltage ranges left unset
/// default to the array's bias range (see tables/table_builder.hpp).
struct TableConfig {
  int samples = 32;     ///< random arrays (weights and inputs drawn as [weights]/[inputs] say)
  int vectors = 8;      ///< input vectors per array
  int threads = 0;      ///< 0: every core
  int row_bins = 8, col_bins = 4, load_bins = 8;
  int v_bl_points = 41, v_sup_points = 41;
  std::optional<double> v_bl_min, v_bl_max, v_sup_min, v_sup_max;  ///< V
};

/// [network]: the network stage (python/xbar/nn.py) reads these; the engine only validates them.
struct NetworkConfig {
  int input_bits = 8;  ///< B: inputs quantised to 2^B - 1 steps, one bit plane each (select cells)
  int adc_bits = 0;    ///< 0: no ADC
};

/// Largest array accepted: 4096 x 4096 cells (the largest benchmark case) times 4.
inline constexpr long k_max_cells = 4L * 4096 * 4096;

/// A key's value as TOML typed it: boolean, integer, number or string.
using ConfigValue = std::variant<bool, std::int64_t, double, std::string>;

/// A key that was set, and where: messages name `origin` (the config file, "--set", or
/// "FILE: [sweep]") and show the value as it was written.
struct SetValue {
  ConfigValue value;
  std::string origin;
  std::string shown;        ///< the value as written, for messages
  std::string typed;        ///< a --set value's text (a name stays the text typed, even "123")
  std::string file_folder;  ///< folder that relative file names are taken from ("" = working folder)
};

/// The keys set by a config, its overrides or a sweep point ("section.key" -> value).
using ConfigValues = std::map<std::string, SetValue>;

struct RunConfig {
  engine::MappingScheme mapping = engine::MappingScheme::none;
  std::string path;   ///< file the config came from ("<defaults>" if none)
  std::string select_file;  ///< select.file, resolved (see parse_config), when select.model = "table"
  ConfigValues values;  ///< the keys that were set; every other key has its default
  /// The complete effective configuration as TOML text: every key with its value, defaults
  /// included, and a [derived] section with the resolved values (config_schema.hpp).
  std::string text;
  int rows = 64, cols = 64;  ///< cols: logical outputs when mapping, else physical columns
  devices::CellModel cell;
  double select_beta = devices::k_select_beta;  ///< A/V^2; cell.select.i_s follows from it
  netlists::LineResistance lines;  ///< lines.r_col resolved (from r_hat_p when that is set)
  double v_sense = 0.0, v_read = 0.1;
  std::optional<double> r_hat_p;
  devices::LevelSpec sonos_levels = devices::sonos_level_defaults();
  devices::LevelSpec resistor_levels = devices::resistor_level_defaults();
  WeightsConfig weights;
  InputsConfig inputs;
  engine::VariationSpec variation;
  NetworkConfig network;
  solver::NewtonOptions newton;
  CheckConfig check;
  TableConfig table;

  int physical_cols() const { return engine::physical_columns(mapping, cols); }
  /// G_max of the cell law: i_max / v_read for SONOS, g_max for resistor cells.
  double g_max() const;
  const devices::LevelSpec& levels() const {
    return cell.is_sonos() ? sonos_levels : resistor_levels;
  }
};

/// Loads the select law of a DEVICE.h5 (select.file, resolved); a sweep passes one that loads
/// each file once for all its points.
using SelectTableLoader = std::function<std::shared_ptr<const devices::TabulatedTransistor>(const std::string&)>;

/// The run config of `values` (each checked against the schema, then the rules across keys),
/// `path` naming the config in messages about keys that were not set. Throws InputError.
RunConfig resolve(const ConfigValues& values, const std::string& path, const SelectTableLoader& load_table = {});

/// Parses TOML text (path names it in messages), applies overrides "key=value" (value in TOML
/// syntax; a bare word is taken as a string) and validates. Throws InputError.
/// Relative file names in the text (weights.file, inputs.file, select.file) are taken relative
/// to the folder of `path` when it names a file; those given as overrides, to the working folder.
/// Errors in an override name `override_origin` ("--set"; a sweep passes "FILE: [sweep]").
inline constexpr const char* k_command_line = "--set";
RunConfig parse_config(const std::string& text, const std::string& path,
                       const std::vector<std::string>& overrides = {},
                       const std::string& override_origin = k_command_line);
/// Reads the file, then parse_config.
RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});
/// The text of a config file; throws InputError naming the path if it cannot be read.
std::string read_config_text(const std::string& path);

}  // namespace xbar::io
