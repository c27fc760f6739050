#include "cli/common.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <system_error>

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
  const auto [text, name] = source();
  return io::parse_config(text, name, overrides);
}

std::pair<std::string, std::string> ConfigArgs::source() const {
  if (config_path.empty()) return {k_default_study_toml, k_default_study_name};
  return {io::read_config_text(config_path), config_path};
}

namespace {

std::string minutes_seconds(double seconds) {
  const long s = std::lround(seconds);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::vector<std::string> ConfigArgs::inputs(const io::RunConfig& config) const {
  return {config_path, config.weights.file, config.inputs.file, config.select_file};
}

io::AtomicOutput ConfigArgs::open_output(const io::RunConfig& config) const {
  return io::AtomicOutput(output, inputs(config));
}

void print_after_commit(const std::string& output, const std::function<void()>& print) {
  const auto failed = [&](const std::string& reason) {
    return io::InputError(fmt::format("cannot write the summary to standard output ({}); the output {} was written",
                                      reason, io::shorten(output)));
  };
  try {
    print();
  } catch (const std::system_error& e) {
    throw failed(e.code().message());
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw failed(std::strerror(errno));
}

void note_fallbacks(const engine::SolverSummary& summary) {
  if (summary.methods.find("stepping") == std::string::npos) return;
  fmt::print(stderr, "xbar: note: Newton alone did not converge for every input vector; methods used: {} "
             "(attribute solver_method)\n", summary.methods);
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), terminal_(isatty(STDERR_FILENO)) {}

void Progress::operator()(std::size_t done, std::size_t total) {
  if (!enabled_ || done == 0) return;
  const Clock::time_point now = Clock::now();
  if (!terminal_ && (now - last_line_ < std::chrono::seconds(10) || done == total)) return;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = elapsed * static_cast<double>(total - done) / static_cast<double>(done);
  fmt::print(stderr, "{}  {} {}/{}  {} elapsed, ETA {}   {}", terminal_ ? "\r" : "", label_, done,
             total, minutes_seconds(elapsed), minutes_seconds(eta), terminal_ ? "" : "\n");
  last_line_ = now;
  printed_ = terminal_;
}

Progress::~Progress() {
  if (printed_) fmt::print(stderr, "\n");
}

}  // namespace xbar::cli
