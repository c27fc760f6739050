#include "cli/device_args.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "cli/common.hpp"
#include "cli/default_study.hpp"
#include "io/errors.hpp"

namespace xbar::cli {

void DeviceArgs::add_to(CLI::App& cmd, const std::string& output_help, bool output_required) {
  cmd.add_option("MODEL", model_path, "SPICE file with the .model card or .subckt (pins drain gate source bulk)")
      ->required();
  cmd.add_option("--device", device, "name of the .model or .subckt in MODEL")->required();
  cmd.add_option("--w", w, "channel width (m), required for a .model")->check(CLI::PositiveNumber);
  cmd.add_option("--l", l, "channel length (m), required for a .model")->check(CLI::PositiveNumber);
  cmd.add_option("--temp", temp_c, "simulation temperature (degrees C, default 27)");
  cmd.add_option("-c,--config", config_path, "array config whose biases set the voltage ranges "
                                              "(default: the embedded default study)");
  cmd.add_option("-s,--set", overrides, "override a config key, e.g. --set bias.v_read=0.2")->type_name("KEY=VALUE");
  cmd.add_option("--vg", vg_range, "gate voltage range LO,HI (V)")->expected(2)->delimiter(',');
  cmd.add_option("--vterm", v_range, "drain and source voltage range LO,HI (V)")->expected(2)->delimiter(',');
  cmd.add_option("--vg-step", vg_step, "largest gate voltage step (V)")->check(CLI::PositiveNumber);
  cmd.add_option("--v-step", v_step, "largest drain/source voltage step (V)")->check(CLI::PositiveNumber);
  auto* out = cmd.add_option("-o,--output", output, output_help);
  if (output_required) out->required();
  cmd.add_flag("-q,--quiet", quiet, "no summary on the terminal");
}

devices::ModelCard DeviceArgs::card() const {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw io::InputError(fmt::format("{}: cannot read model file", model_path));
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return devices::make_model_card(text.str(), device, w, l, temp_c);
  } catch (const std::invalid_argument& e) {
    throw io::InputError(fmt::format("{}: {}", model_path, e.what()));
  }
}

io::RunConfig DeviceArgs::config() const {
  // Only the biases matter here, and [select] may well name the table this command is about to
  // make: the config is read without it.
  std::string text = k_default_study_toml, name = k_default_study_name;
  if (!config_path.empty()) {
    std::ifstream in(config_path, std::ios::binary);
    if (!in) throw io::InputError(fmt::format("{}: cannot read config file", config_path));
    std::ostringstream file;
    file << in.rdbuf();
    text = file.str(), name = config_path;
  }
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return io::parse_config(text, name, overrides);  // reports the syntax error in its own words
  }
  root.erase("select");
  std::ostringstream stripped;
  stripped << root;
  return io::parse_config(stripped.str(), name, overrides);
}

devices::TableGridSpec DeviceArgs::grid_spec(const io::RunConfig& c, const BiasDefaults& d) const {
  devices::TableGridSpec spec;
  const auto [v_off, v_on] = std::minmax(c.cell.v_off, c.cell.v_on);
  const auto [v_low, v_high] = std::minmax(c.v_sense, c.v_read);
  spec.vg_lo = vg_range.empty() ? v_off - d.gate_margin : vg_range[0];
  spec.vg_hi = vg_range.empty() ? v_on + d.gate_margin : vg_range[1];
  spec.v_lo = v_range.empty() ? v_low - d.terminal_margin : v_range[0];
  spec.v_hi = v_range.empty() ? v_high + d.terminal_margin : v_range[1];
  spec.vg_step = vg_step.value_or(d.vg_step);
  spec.v_step = v_step.value_or(d.v_step);
  for (double gate : {c.cell.v_off, c.cell.v_on})
    if (gate >= spec.vg_lo && gate <= spec.vg_hi) spec.gate_nodes.push_back(gate);
  if (!(spec.vg_hi > spec.vg_lo) || !(spec.v_hi > spec.v_lo))
    throw io::InputError(fmt::format("--vg {},{} / --vterm {},{}: each range must be LO,HI with LO < HI", spec.vg_lo,
                                     spec.vg_hi, spec.v_lo, spec.v_hi));
  return spec;
}

std::string describe_card(const devices::ModelCard& card) {
  std::string size;
  if (card.w) size += fmt::format("W = {:.4g} nm, ", *card.w * 1e9);
  if (card.l) size += fmt::format("L = {:.4g} nm, ", *card.l * 1e9);
  return fmt::format("{}{} C", size, card.temp_c);
}

}  // namespace xbar::cli
