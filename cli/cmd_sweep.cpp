// xbar sweep [CONFIG] -o SWEEP.h5: run the product of the [sweep] table's values, write the
// study metrics of every point (docs/conventions.md), print them as a table.
#include <cmath>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "studies/sweep_file.hpp"
#include "studies/sweep_runner.hpp"

namespace xbar::cli {

namespace {

using studies::PointMetrics;

struct Column {
  std::string header;
  std::vector<std::string> cells;
};

// Relative errors as percent, NaN as "-".
std::string percent(double x) { return std::isnan(x) ? "-" : fmt::format("{:.3g}", 100 * x); }

void print_table(const std::vector<Column>& columns) {
  std::vector<std::size_t> widths;
  for (const Column& c : columns) {
    std::size_t w = c.header.size();
    for (const std::string& cell : c.cells) w = std::max(w, cell.size());
    widths.push_back(w);
  }
  const auto print_row = [&](const auto& text_of) {
    for (std::size_t k = 0; k < columns.size(); ++k) fmt::print("{:>{}}  ", text_of(columns[k]), widths[k]);
    fmt::print("\n");
  };
  print_row([](const Column& c) { return c.header; });
  for (std::size_t r = 0; r < columns.front().cells.size(); ++r)
    print_row([r](const Column& c) { return c.cells[r]; });
}

// One row per point: its axis values, the errors (percent) and the solver cost.
void print_summary(const studies::SweepSpec& spec, const std::vector<PointMetrics>& points) {
  std::vector<Column> columns;
  for (const studies::Axis& axis : spec.axes) columns.push_back({axis.name, {}});
  for (std::size_t p = 0; p < points.size(); ++p) {
    const std::vector<std::size_t> index = spec.coordinates(p);
    for (std::size_t k = 0; k < spec.axes.size(); ++k)
      columns[k].cells.push_back(spec.axes[k].values[index[k]].label);
  }
  const bool mapped = std::any_of(points.begin(), points.end(),
                                  [](const PointMetrics& m) { return !std::isnan(m.out_err_nrms); });
  const auto add = [&](const std::string& header, auto&& text_of) {
    Column c{header, {}};
    for (const PointMetrics& m : points) c.cells.push_back(text_of(m));
    columns.push_back(std::move(c));
  };
  // Every scalar metric of the study, in its order: errors in percent, then the solver's cost.
  for (const studies::ScalarMetric& metric : studies::scalar_metrics()) {
    const std::string name = metric.name;
    const auto value = metric.value;
    if (name.starts_with("out_err") && !mapped) continue;
    if (name == "solve_time")
      add("time s", [value](const PointMetrics& m) { return fmt::format("{:.3g}", m.*value); });
    else if (name == "newton_iterations")
      add("newton", [value](const PointMetrics& m) { return fmt::format("{}", m.*value); });
    else
      add(name + " %", [value](const PointMetrics& m) { return percent(m.*value); });
  }
  print_table(columns);
}

// On every rank: the spec; on the root: the output and the journal first, the points' metrics
// written at the end.
int run_sweep_command(const ConfigArgs& args, bool resume, parallel::JobPool& pool) {
  const auto [text, name] = shared_source(args, pool);
  const studies::SweepSpec spec = studies::parse_sweep(text, name, args.overrides);
  // The output must not replace a file any point reads.
  std::vector<std::string> inputs{args.config_path};
  for (const io::RunConfig& point : spec.points)
    for (const std::string& file : args.inputs(point)) inputs.push_back(file);
  JournaledOutput output(pool, args, inputs, studies::journal_identity(spec), spec.points.size(), "points", resume);
  std::vector<PointMetrics> points;
  {
    Progress progress("sweep: points", !args.quiet && pool.is_root(), output.journaled());
    points = studies::run_sweep(spec, pool, output.journal(), std::ref(progress));
  }
  if (!pool.is_root()) return 0;
  output.write([&](io::H5Writer& h5) { studies::write_sweep(h5, spec, points); });
  if (!args.quiet)
    print_after_commit(args.output, [&] {
      print_summary(spec, points);
      print_rank_loads(pool, "points");
      fmt::print("{} points; wrote {}\n", points.size(), args.output);
    });
  return 0;
}

}  // namespace

Command add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "run a parameter study ([sweep] table), write the metrics of every point");
  auto args = std::make_shared<ConfigArgs>();
  args->add_to(*cmd, "output HDF5 file (layout: docs/sweep.md)", true);
  auto jobs = std::make_shared<unsigned>(parallel::available_cores());
  cmd->add_option("-j,--jobs", *jobs, "points solved in parallel on each machine or MPI rank (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  auto resume = std::make_shared<bool>(false);
  cmd->add_flag("--resume", *resume,
                "continue a stopped sweep from its journal (OUTPUT.journal): compute only the points it lacks");
  return {cmd, [args, jobs, resume] {
            const std::unique_ptr<parallel::Transport> transport = parallel::connect();
            if (!transport) return 0;  // a rank of its own in a build without MPI: rank 0 does the work
            parallel::JobPool pool(*transport, *jobs);
            return on_every_rank(pool, [&] { return run_sweep_command(*args, *resume, pool); });
          }};
}

}  // namespace xbar::cli
