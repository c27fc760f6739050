#include "cli/common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "cli/default_study.hpp"
#include "parallel/job_error.hpp"

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

CLI::Validator number_in(double lo, double hi, Low low, std::string note) {
  const std::string range = fmt::format("{}{:g}, {:g}]", low == Low::open ? '(' : '[', lo, hi);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        const bool number = !text.empty() && end == text.c_str() + text.size();
        if (number && std::isfinite(x) && (low == Low::open ? x > lo : x >= lo) && x <= hi) return {};
        return fmt::format("{} must be a finite number in {}{}", number && std::isfinite(x) ? fmt::format("{:g}", x) : io::shorten(text),
                           range, note);
      },
      "NUMBER in " + range);
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

Progress::Progress(std::string label, bool enabled, std::size_t already_done)
    : label_(std::move(label)), already_done_(already_done), enabled_(enabled), terminal_(isatty(STDERR_FILENO)) {}

void Progress::operator()(std::size_t done, std::size_t total) {
  if (!enabled_ || done <= already_done_) return;
  const Clock::time_point now = Clock::now();
  if (!terminal_ && (now - last_line_ < std::chrono::seconds(10) || done == total)) return;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = static_cast<double>(done - already_done_) / std::max(elapsed, 1e-9);
  const double eta = static_cast<double>(total - done) / rate;
  fmt::print(stderr, "{}  {} {}/{}, {:.3g}/s, {} elapsed, ETA {}   {}", terminal_ ? "\r" : "", label_, done,
             total, rate, minutes_seconds(elapsed), minutes_seconds(eta), terminal_ ? "" : "\n");
  last_line_ = now;
  printed_ = terminal_;
}

int on_every_rank(const parallel::JobPool& pool, const std::function<int()>& body) {
  if (pool.is_root()) return body();
  try {
    return body();
  } catch (const parallel::StoppedByRoot&) {
    throw;
  } catch (...) {
    throw parallel::StoppedByRoot{parallel::exit_status(std::current_exception())};
  }
}

std::pair<std::string, std::string> shared_source(const ConfigArgs& args, parallel::JobPool& pool) {
  const parallel::Bytes bytes = pool.from_root([&] {
    const auto [text, name] = args.source();
    parallel::ByteWriter out;
    out.put_string(text);
    out.put_string(name);
    return out.take();
  });
  parallel::ByteReader in(bytes);
  std::string text = in.get_string();
  return {std::move(text), in.get_string()};
}

JournaledOutput::JournaledOutput(parallel::JobPool& pool, const ConfigArgs& args, const std::vector<std::string>& inputs,
                                 const std::string& identity, std::size_t count, const std::string& jobs, bool resume) {
  pool.from_root([&] {
    output_.emplace(args.output, inputs);
    journal_.emplace(args.output, identity, count, resume);
    const std::size_t done = journal_->finished().size();
    if (resume)
      fmt::print(stderr, "xbar: note: resuming from {}: {} of {} {} journaled, {} to compute\n", journal_->path(), done,
                 count, jobs, count - done);
    pool.set_interrupt_hint(fmt::format("finished {} are kept in {}: the same command with --resume continues",
                                        jobs, journal_->path()));
    return parallel::Bytes{};
  });
}

void JournaledOutput::write(const std::function<void(io::H5Writer&)>& fill) {
  {
    io::H5Writer h5(*output_);
    fill(h5);
    h5.close();
  }
  output_->commit();
  journal_->remove();
}

void print_rank_loads(const parallel::JobPool& pool, const std::string& jobs) {
  if (pool.ranks() < 2) return;
  fmt::print("{} ranks:", pool.ranks());
  for (std::size_t r = 0; r < pool.loads().size(); ++r)
    fmt::print("{} rank {} ran {} {}, busy {:.3g} s", r ? ";" : "", r, pool.loads()[r].jobs, jobs,
               pool.loads()[r].busy_seconds);
  fmt::print("\n");
}

Progress::~Progress() {
  if (printed_) fmt::print(stderr, "\n");
}

}  // namespace xbar::cli
