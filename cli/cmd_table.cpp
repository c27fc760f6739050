// xbar table [CONFIG] -o TABLE.h5: effective-weight lookup tables from full circuit solves.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
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

// On the root: the output and the journal first, the table written at the end.
int run_table_command(const ConfigArgs& args, bool resume, const io::RunConfig& config, parallel::JobPool& pool) {
  JournaledOutput output(pool, args, args.inputs(config), tables::journal_identity(config), static_cast<std::size_t>(config.table.samples), "samples",
                         resume);
  const tables::EffectiveWeightTable table = [&] {
    Progress progress("table: samples", !args.quiet && pool.is_root(), output.journaled());
    return tables::build_table(config, pool, output.journal(), std::ref(progress));
  }();
  if (!pool.is_root()) return 0;
  output.write([&](io::H5Writer& h5) { tables::write_table(h5, config, table); });
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
  cmd->add_flag("--resume", *resume,
                "continue a stopped build from its journal (OUTPUT.journal): solve only the samples it lacks");
  return {cmd, [args, resume] {
            const std::unique_ptr<parallel::Transport> transport = parallel::connect();
            if (!transport) return 0;  // a rank of its own in a build without MPI: rank 0 does the work
            // Threads per rank: table.threads, known once the config is read on every rank.
            parallel::JobPool setup(*transport, 1);
            return on_every_rank(setup, [&] {
              const auto [text, name] = shared_source(*args, setup);
              const io::RunConfig config = io::parse_config(text, name, args->overrides);
              parallel::JobPool pool(*transport, tables::thread_count(config));
              return run_table_command(*args, *resume, config, pool);
            });
          }};
}

}  // namespace xbar::cli
