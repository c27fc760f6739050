#pragma once
// What every array subcommand shares: the CONFIG argument (optional: the embedded default
// study), repeated `--set section.key=value` overrides, and the output path.
#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "engine/array_solver.hpp"
#include "io/atomic_output.hpp"
#include "io/config.hpp"
#include "io/hdf5_file.hpp"

namespace xbar::cli {

struct ConfigArgs {
  std::string config_path;             ///< empty: the embedded default study
  std::vector<std::string> overrides;  ///< "section.key=value"
  std::string output;
  bool quiet = false;

  /// Adds CONFIG, --set, -o (required or not) and --quiet to a subcommand.
  void add_to(CLI::App& command, const std::string& output_help, bool output_required);
  io::RunConfig load() const;
  /// The config's TOML text and the name to report it by (file path or the embedded default).
  std::pair<std::string, std::string> source() const;
  /// The files a run of `config` reads: CONFIG, weights.file, inputs.file, select.file.
  std::vector<std::string> inputs(const io::RunConfig& config) const;
  /// The output, as a temporary until commit(); refuses a path that is one of the run's
  /// inputs, which the rename would destroy.
  io::AtomicOutput open_output(const io::RunConfig& config) const;
};

/// Runs `print` (a summary on stdout, after the output file was committed) and flushes stdout.
/// A failed write to stdout (/dev/full, a full disk) is an InputError (exit 2) that says the
/// output file was written: the file is kept, since it holds everything the summary shows.
void print_after_commit(const std::string& output, const std::function<void()>& print);

/// "xbar: note: ..." on stderr (even with --quiet) when plain Newton did not solve every input
/// vector and a fallback did: the answer is converged, but the user should know.
void note_fallbacks(const engine::SolverSummary& summary);

/// "\r  solving 12/16  0:05 elapsed, ETA 0:02" on stderr while running, when stderr is a
/// terminal; otherwise one such line every 10 s, so that quick runs stay quiet in logs.
/// ETA = elapsed * (total - done) / done.
class Progress {
 public:
  Progress(std::string label, bool enabled);
  void operator()(std::size_t done, std::size_t total);
  ~Progress();

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  bool enabled_, terminal_, printed_ = false;
  Clock::time_point start_ = Clock::now(), last_line_ = start_;
};

}  // namespace xbar::cli
