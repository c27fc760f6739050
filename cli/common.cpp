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

io::AtomicOutput ConfigArgs::open_output(const io::RunConfig& config) const {
  return io::AtomicOutput(output, {config_path, config.weights.file, config.inputs.file});
}

void note_fallbacks(const engine::SolverSummary& summary) {
  if (summary.methods.find("stepping") == std::string::npos) return;
  fmt::print(stderr, "xbar: note: Newton alone did not converge for every input vector; methods used: {} "
             "(attribute solver_method)\n", summary.methods);
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
