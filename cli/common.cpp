#include "cli/common.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "cli/default_study.hpp"

namespace xbar::cli {

void ConfigArgs::add_to(CLI::App& command, const std::string& output_help, bool output_required) {
  command.add_option("CONFIG", config_path, "TOML config (default: the embedded default study)");
  command.add_option("-s,--set", overrides, "override a config key, e.g. --set array.rows=32")
      ->type_name("KEY=VALUE");
  auto* out = command.add_option("-o,--output", output, output_help);
  if (output_required) out->required();
  command.add_flag("-q,--quiet", quiet, "no progress or summary on the terminal");
}

io::RunConfig ConfigArgs::load() const {
  if (config_path.empty()) return io::parse_config(k_default_study_toml, k_default_study_name, overrides);
  return io::load_config(config_path, overrides);
}

std::string cell_name(const devices::CellModel& cell) {
  return cell.is_sonos() ? "2t-sonos" : cell.has_select() ? "1t1r" : "1r";
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && isatty(STDERR_FILENO)) {}

void Progress::operator()(std::size_t done, std::size_t total) {
  if (!enabled_) return;
  fmt::print(stderr, "\r  {} {}/{}", label_, done, total);
  printed_ = true;
}

Progress::~Progress() {
  if (printed_) fmt::print(stderr, "\n");
}

}  // namespace xbar::cli
