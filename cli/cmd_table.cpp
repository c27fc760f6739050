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

}  // namespace

Command add_table(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "table", "build effective-weight lookup tables ([table] section: samples, vectors, bins)");
  auto args = std::make_shared<ConfigArgs>();
  args->add_to(*cmd, "output HDF5 file (datasets: see docs/tables.md)", true);
  return {cmd, [args] {
            const io::RunConfig config = args->load();
            io::AtomicOutput output = args->open_output(config);
            const tables::EffectiveWeightTable table = [&] {
              Progress progress("solving sample vectors", !args->quiet);  // ends its line when done
              return tables::build_table(config, [&](std::size_t d, std::size_t t) { progress(d, t); });
            }();
            {
              io::H5Writer h5(output);
              tables::write_table(h5, config, table);
              h5.close();
            }
            output.commit();
            if (!args->quiet)
              print_after_commit(args->output, [&] { print_summary(config, table, args->output); });
            return 0;
          }};
}

}  // namespace xbar::cli
