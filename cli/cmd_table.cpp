// xbar table [CONFIG] -o TABLE.h5: effective-weight lookup tables from full circuit solves.
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "tables/neurosim.hpp"
#include "tables/table_file.hpp"

namespace xbar::cli {

namespace {

void print_summary(const io::RunConfig& c, const tables::EffectiveWeightTable& t, const std::string& out) {
  fmt::print("table of a {} x {} array: {} arrays x {} input vectors, {} active cells, "
             "{} x {} x {} x {} correction bins, {:.3g} s\n",
             c.rows, c.physical_cols(), t.samples, t.vectors, t.cells, t.bins.n_row(), t.bins.n_col(),
             t.bins.levels, t.bins.n_load(), t.elapsed);
  fmt::print("wrote {}\n", out);
}

// --neurosim-csv PATH [--adc-bits N]: NeuroSim's output-error file from the sampled solves.
struct NeurosimArgs {
  std::string path;
  int adc_bits = -1;  ///< -1: network.adc_bits

  /// Refuses a CSV path that is the table's own output (the rename would replace one by the other).
  void check_path(const std::string& output) const {
    std::error_code ignored;
    if (path == output || std::filesystem::weakly_canonical(path, ignored) == std::filesystem::weakly_canonical(output, ignored))
      throw io::InputError(fmt::format("--neurosim-csv: {}: is the table's output (-o): give another path", path));
  }

  int bits(const io::RunConfig& config) const {
    const int bits = adc_bits >= 0 ? adc_bits : config.network.adc_bits;
    if (bits < 1 || bits > 24)
      throw io::InputError(fmt::format("--neurosim-csv: ADC bits = {}: must be 1..24 (set network.adc_bits or --adc-bits)",
                                       bits));
    return bits;
  }
};

// The sampled columns deviate from ideal beyond what the table method is used for.
void warn_outside_domain(const tables::EffectiveWeightTable& t, const std::string& out) {
  if (t.domain.deviation <= tables::k_deviation_limit) return;
  fmt::print(stderr,
             "xbar: warning: {}: the line resistance changes the sampled column currents by up to {:.0f} %, more "
             "than the {:.0f} % the table method is used for (docs/tables.md, \"Domain\"): its predictions for this "
             "array extrapolate\n",
             out, 100 * t.domain.deviation, 100 * tables::k_deviation_limit);
}

// On the root: the outputs and the journal first, the table written at the end.
int run_table_command(const ConfigArgs& args, bool resume, const NeurosimArgs& neurosim, const io::RunConfig& config,
                      parallel::JobPool& pool) {
  const int adc_bits = neurosim.path.empty() ? 0 : neurosim.bits(config);
  if (!neurosim.path.empty()) {
    neurosim.check_path(args.output);
    tables::require_binary_inputs(config.cell.has_select());
  }
  std::optional<io::AtomicOutput> csv;
  if (pool.is_root() && !neurosim.path.empty()) csv.emplace(neurosim.path, args.inputs(config));
  JournaledOutput output(pool, args, args.inputs(config), tables::journal_identity(config), static_cast<std::size_t>(config.table.samples), "samples",
                         resume);
  const tables::EffectiveWeightTable table = [&] {
    Progress progress("table: samples", !args.quiet && pool.is_root(), output.journaled());
    return tables::build_table(config, pool, output.journal(), std::ref(progress));
  }();
  if (!pool.is_root()) return 0;
  if (csv) {
    std::ofstream file(csv->temp_path());
    file << tables::neurosim_csv(
        tables::neurosim_rows(tables::neurosim_samples(table), adc_bits));
    if (!file.flush()) throw io::InputError(fmt::format("--neurosim-csv: {}: cannot write", neurosim.path));
  }
  output.write([&](io::H5Writer& h5) { tables::write_table(h5, config, table); });
  if (csv) csv->commit();
  warn_outside_domain(table, args.output);
  if (!args.quiet)
    print_after_commit(args.output, [&] {
      print_rank_loads(pool, "samples");
      print_summary(config, table, args.output);
    });
  return 0;
}

}  // namespace

Command add_table(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "table", "build effective-weight lookup tables ([table] section: samples, vectors, bins)");
  auto args = std::make_shared<ConfigArgs>();
  args->add_to(*cmd, "output HDF5 file (datasets: see docs/tables.md)", true);
  auto resume = std::make_shared<bool>(false);
  auto neurosim = std::make_shared<NeurosimArgs>();
  cmd->add_option("--neurosim-csv", neurosim->path,
                  "also write NeuroSim V1.5's --output_noise_file CSV (output,mean,std per ideal ADC code, "
                  "2^bits + 1 rows; select cells) from the sampled solves (docs/tables.md)");
  cmd->add_option("--adc-bits", neurosim->adc_bits, "ADC bits of the NeuroSim CSV (default network.adc_bits)")
      ->check(CLI::Range(1, 24));
  cmd->add_flag("--resume", *resume,
                "continue a stopped build from its journal (OUTPUT.journal): solve only the samples it lacks");
  return {cmd, [args, resume, neurosim] {
            const std::unique_ptr<parallel::Transport> transport = parallel::connect();
            if (!transport) return 0;  // a rank of its own in a build without MPI: rank 0 does the work
            // Threads per rank: table.threads, known once the config is read on every rank.
            parallel::JobPool setup(*transport, 1);
            return on_every_rank(setup, [&] {
              const auto [text, name] = shared_source(*args, setup);
              const io::RunConfig config = io::parse_config(text, name, args->overrides);
              parallel::JobPool pool(*transport, tables::thread_count(config));
              return run_table_command(*args, *resume, *neurosim, config, pool);
            });
          }};
}

}  // namespace xbar::cli
