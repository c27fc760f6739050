#include "cli/device_args.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "cli/common.hpp"
#include "cli/default_study.hpp"
#include "io/errors.hpp"
#include "validation/ngspice_session.hpp"

namespace xbar::cli {

void DeviceArgs::add_to(CLI::App& cmd, const std::string& output_help, bool output_required) {
  cmd.add_option("MODEL", model_path, "SPICE file with the .model card or .subckt (pins drain gate source bulk), or .lib FILE SECTION / .include lines naming them")
      ->required();
  cmd.add_option("--device", device, "name of the .model or .subckt in MODEL")->required();
  cmd.add_option("--w", w, "channel width as the card's instances take it: metres, or the unit of the card's "
                           ".option scale (scale=1u: micrometres); required for a .model")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--l", l, "channel length, same unit as --w; required for a .model")->check(CLI::PositiveNumber);
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
  cmd.add_flag("--progress", progress,
               "always print progress lines on stderr (default: when a stage will take more than 3 s, not with -q)");
}

devices::ModelCard DeviceArgs::card() const {
  devices::ResolvedCard resolved;
  try {
    resolved = devices::resolve_card_file(model_path);
    return devices::make_model_card(std::move(resolved.text), device, w, l, temp_c);
  } catch (const std::invalid_argument& e) {
    // A library file given as the card: its sections are only read when a `.lib` line names one.
    const std::string hint = resolved.sections.empty()
                                 ? std::string()
                                 : fmt::format(" ({0} is a library of sections {1}: give a card that names one, e.g. the "
                                               "line .lib \"{0}\" {2})",
                                               model_path, fmt::join(resolved.sections, ", "), resolved.sections[0]);
    throw io::InputError(fmt::format("{}: {}{}", model_path, e.what(), hint));
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

void DeviceArgs::check_card_runs(const devices::ModelCard& card, const devices::TableGridSpec& spec) const {
  const validation::BiasPoint point{spec.vg_hi, spec.v_hi, spec.v_lo};
  try {
    validation::card_currents(card, std::span(&point, 1));
  } catch (const validation::SpiceError& e) {
    const std::vector<devices::CardBin> bins = devices::card_bins(card);
    if (bins.empty() || std::string(e.what()).find("could not find a valid modelname") == std::string::npos) throw;
    double range[4] = {bins[0].lmin, bins[0].lmax, bins[0].wmin, bins[0].wmax};
    for (const devices::CardBin& b : bins) {
      range[0] = std::min(range[0], b.lmin), range[1] = std::max(range[1], b.lmax);
      range[2] = std::min(range[2], b.wmin), range[3] = std::max(range[3], b.wmax);
    }
    for (double& r : range) r /= card.scale;  // in the unit of --w, --l
    const std::string sizes = card.w || card.l ? fmt::format("--w {} --l {}", card.w ? fmt::format("{:g}", *card.w) : "(default)",
                                                             card.l ? fmt::format("{:g}", *card.l) : "(default)")
                                               : std::string("the subckt's default W and L");
    const std::string unit = card.scale == 1 ? std::string("m") : fmt::format("units of {:g} m, the card's .option scale", card.scale);
    throw io::InputError(fmt::format(
        "{}: no bin of '{}' covers {} (ngspice: could not find a valid modelname): give --w and --l ({}) inside one of "
        "its {} bins, which span L from {:.4g} to {:.4g} and W from {:.4g} to {:.4g} (lmin <= L < lmax, wmin <= W < "
        "wmax of each), e.g. --w {:.3g} --l {:.3g}",
        model_path, card.device, sizes, unit, bins.size(), range[0], range[1], range[2], range[3],
        (bins[0].wmin + bins[0].wmax) / 2 / card.scale, (bins[0].lmin + bins[0].lmax) / 2 / card.scale));
  }
}

validation::Progress DeviceArgs::progress_line(std::string what) const {
  if (quiet && !progress) return {};
  auto line = std::make_shared<ProgressLine>(std::move(what), progress);
  return [line](std::size_t done, std::size_t total) { (*line)(done, total); };
}

ProgressLine::ProgressLine(std::string what, bool always)
    : what_(std::move(what)), always_(always), terminal_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void ProgressLine::operator()(std::size_t done, std::size_t total) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double left = done ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : 0.0;
  shown_ = shown_ || always_ || elapsed + left > k_after_s;
  const bool last = done >= total;
  if (!shown_ || (!terminal_ && !always_ && !last && std::chrono::duration<double>(now - last_).count() < k_every_s))
    return;
  last_ = now;
  const std::string text = last ? fmt::format("xbar: {} {}/{} done in {:.1f} s", what_, done, total, elapsed)
                                : fmt::format("xbar: {} {}/{}, {:.1f} s, ETA {:.0f} s", what_, done, total, elapsed, left);
  if (terminal_)
    fmt::print(stderr, "\r{:<72}{}", text, last ? "\n" : "");
  else
    fmt::print(stderr, "{}\n", text);
  std::fflush(stderr);
}

std::string describe_card(const devices::ModelCard& card) {
  std::string size;
  for (const auto& [name, value, given] : {std::tuple{"W", card.width_m(), card.w}, {"L", card.length_m(), card.l}})
    if (value)
      size += card.scale == 1 ? fmt::format("{} = {:.4g} nm, ", name, *value * 1e9)
                              : fmt::format("{} = {:.4g} nm ({:g} x scale {:g} m), ", name, *value * 1e9, *given, card.scale);
  return fmt::format("{}{} C", size, card.temp_c);
}

}  // namespace xbar::cli
