#include "cli/device_args.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/common.hpp"
#include "cli/default_study.hpp"
#include "io/config_toml.hpp"
#include "io/errors.hpp"
#include "validation/ngspice_session.hpp"

namespace xbar::cli {

namespace {

// Bounds of the options: voltages as for a [table] (io/config), ranges at least 1 mV wide, W and
// L below 1 km (or 1000 units of the card's scale), temperatures where device models mean something.
constexpr double k_max_voltage = 1e3, k_min_range = 1e-3, k_max_size = 1e3;
constexpr double k_absolute_zero_c = -273.15, k_max_temp_c = 500;

}  // namespace

void DeviceArgs::add_to(CLI::App& cmd, const std::string& output_help, bool output_required) {
  cmd.add_option("MODEL", model_path, "SPICE file with the .model card or .subckt (pins drain gate source bulk), or .lib FILE SECTION / .include lines naming them")
      ->required();
  cmd.add_option("--device", device, "name of the .model or .subckt in MODEL")->required();
  cmd.add_option("--w", w, "channel width as the card's instances take it: metres, or the unit of the card's "
                           ".option scale (scale=1u: micrometres); required for a .model")
      ->check(number_in(0, k_max_size, Low::open));
  cmd.add_option("--l", l, "channel length, same unit as --w; required for a .model")
      ->check(number_in(0, k_max_size, Low::open));
  cmd.add_option("--temp", temp_c, "simulation temperature (degrees C, default 27)")
      ->check(number_in(k_absolute_zero_c, k_max_temp_c, Low::open,
                        " degrees C (above absolute zero; BSIM4 cards fail their own parameter checks not far above 500)"));
  cmd.add_option("-c,--config", config_path, "array config whose biases set the voltage ranges "
                                              "(default: the embedded default study)");
  cmd.add_option("-s,--set", overrides, "override a config key, e.g. --set bias.v_read=0.2")->type_name("KEY=VALUE");
  const CLI::Validator voltage = number_in(-k_max_voltage, k_max_voltage, Low::closed, " V");
  const CLI::Validator step = number_in(0, k_max_voltage, Low::open, " V");
  cmd.add_option("--vg", vg_range, "gate voltage range LO,HI (V)")->expected(2)->delimiter(',')->check(voltage);
  cmd.add_option("--vterm", v_range, "drain and source voltage range LO,HI (V)")->expected(2)->delimiter(',')->check(voltage);
  cmd.add_option("--vg-step", vg_step, "largest gate voltage step (V)")->check(step);
  cmd.add_option("--v-step", v_step, "largest drain/source voltage step (V)")->check(step);
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
  // Only the biases matter here, and the file's [select] may well name the table this command is
  // about to make: its keys are left out of the parsed config (those given with --set stay).
  const std::string name = config_path.empty() ? std::string(k_default_study_name) : config_path;
  const std::string text = config_path.empty() ? std::string(k_default_study_toml) : io::read_config_text(config_path);
  io::ConfigValues values = io::read_config_document(text, name, overrides, io::k_command_line).values;
  std::erase_if(values, [](const auto& key_value) {
    return key_value.first.starts_with("select.") && key_value.second.origin != io::k_command_line;
  });
  return io::resolve(values, name);
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
  if (!(spec.vg_hi - spec.vg_lo >= k_min_range) || !(spec.v_hi - spec.v_lo >= k_min_range))
    throw io::InputError(fmt::format("--vg {:g},{:g} / --vterm {:g},{:g}: each range must be LO,HI with HI - LO >= {:g} V",
                                     spec.vg_lo, spec.vg_hi, spec.v_lo, spec.v_hi, k_min_range));
  // The grid's size before any of it is built or ngspice starts.
  const auto [n_g, n_s, n_ds] = devices::table_grid_shape(spec);
  const auto too_many = [](double count, std::string_view what, std::string_view range, double lo, double hi,
                           std::string_view step, double h) {
    return io::InputError(fmt::format("{} {:g},{:g} with {} {:g} (V): {:.4g} {}, at most {:g}: give a larger {} or a "
                                      "narrower {}",
                                      range, lo, hi, step, h, count, what, devices::k_max_table_axis_points, step, range));
  };
  if (n_g > devices::k_max_table_axis_points)
    throw too_many(n_g, "gate voltages", "--vg", spec.vg_lo, spec.vg_hi, "--vg-step", spec.vg_step);
  if (n_ds > devices::k_max_table_axis_points)
    throw too_many(n_ds, "drain-source voltages", "--vterm", spec.v_lo, spec.v_hi, "--v-step", spec.v_step);
  if (n_g * n_s * n_ds > devices::k_max_table_points)
    throw io::InputError(fmt::format("--vg {:g},{:g} --vg-step {:g}, --vterm {:g},{:g} --v-step {:g}: a grid of {:g} x {:g} "
                                     "x {:g} = {:.3g} points (V_G x V_S x V_DS), at most {:.3g}: give larger steps or "
                                     "narrower ranges",
                                     spec.vg_lo, spec.vg_hi, spec.vg_step, spec.v_lo, spec.v_hi, spec.v_step, n_g, n_s,
                                     n_ds, n_g * n_s * n_ds, devices::k_max_table_points));
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
