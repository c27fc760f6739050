#pragma once
// What every array subcommand shares: the CONFIG argument (optional: the embedded default
// study), repeated `--set section.key=value` overrides, and the output path.
#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/array_solver.hpp"
#include "io/atomic_output.hpp"
#include "io/config.hpp"
#include "io/hdf5_file.hpp"
#include "parallel/job_pool.hpp"
#include "parallel/journal.hpp"

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

/// The check of a number option: a finite number in [lo, hi], or in (lo, hi] with Low::open.
/// The error names the value and the range in short form (CLI11's own range checks print
/// DBL_MAX in 309 digits), e.g. "--vg-step: 1e+400 must be a finite number in (0, 1000]", then
/// `note` if any.
enum class Low { closed, open };
CLI::Validator number_in(double lo, double hi, Low low = Low::closed, std::string note = {});

/// Runs `print` (a summary on stdout, after the output file was committed) and flushes stdout.
/// A failed write to stdout (/dev/full, a full disk) is an InputError (exit 2) that says the
/// output file was written: the file is kept, since it holds everything the summary shows.
void print_after_commit(const std::string& output, const std::function<void()>& print);

/// "xbar: note: ..." on stderr (even with --quiet) when plain Newton did not solve every input
/// vector and a fallback did: the answer is converged, but the user should know.
void note_fallbacks(const engine::SolverSummary& summary);

/// "\r  solving 12/16, 2.4/s, 0:05 elapsed, ETA 0:02" on stderr while running, when stderr is a
/// terminal; otherwise one such line every 10 s, so that quick runs stay quiet in logs.
/// rate = (done - already_done) / elapsed (what this run did: a resumed sweep starts with the
/// journaled points done), ETA = (total - done) / rate.
class Progress {
 public:
  Progress(std::string label, bool enabled, std::size_t already_done = 0);
  void operator()(std::size_t done, std::size_t total);
  ~Progress();

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  std::size_t already_done_;
  bool enabled_, terminal_, printed_ = false;
  Clock::time_point start_ = Clock::now(), last_line_ = start_;
};

/// Runs a command's body on every rank of the pool's run (one, without a launcher). Errors are
/// reported by the root alone: every rank parses the same config and meets the same error, and
/// the pool carries a job's failure to the root. The other ranks then throw StoppedByRoot.
int on_every_rank(const parallel::JobPool& pool, const std::function<int()>& body);

/// The output of a run whose jobs are journaled (sweep, table). On the root the output (a
/// temporary until write()) and its journal are opened before the other ranks start (the run
/// stops on every rank if either cannot be), with a note on stderr when resuming and the
/// journal's name for the interrupt line; nothing is opened on the other ranks.
class JournaledOutput {
 public:
  /// jobs: "points" or "samples", for messages.
  JournaledOutput(parallel::JobPool& pool, const ConfigArgs& args, const std::vector<std::string>& inputs,
                  const std::string& identity, std::size_t count, const std::string& jobs, bool resume);
  parallel::Journal* journal() { return journal_ ? &*journal_ : nullptr; }
  std::size_t journaled() const { return journal_ ? journal_->finished().size() : 0; }
  /// Writes the file with fill(), renames it onto the output, deletes the journal (root only).
  void write(const std::function<void(io::H5Writer&)>& fill);

 private:
  std::optional<io::AtomicOutput> output_;
  std::optional<parallel::Journal> journal_;
};

/// "2 ranks: rank 0 ran 5 points, busy 1.23 s; rank 1 ..." on stdout, after a run over several ranks.
void print_rank_loads(const parallel::JobPool& pool, const std::string& jobs);

/// The config's TOML text and its name, read on the root and sent to every rank.
std::pair<std::string, std::string> shared_source(const ConfigArgs& args, parallel::JobPool& pool);

}  // namespace xbar::cli
