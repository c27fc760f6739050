// xbar sweep [CONFIG] -o SWEEP.h5: run the product of the [sweep] table's values, write the
// study metrics of every point (docs/conventions.md), print them as a table.
#include <cmath>
#include <thread>

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

}  // namespace

Command add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "run a parameter study ([sweep] table), write the metrics of every point");
  auto args = std::make_shared<ConfigArgs>();
  args->add_to(*cmd, "output HDF5 file (layout: docs/sweep.md)", true);
  auto jobs = std::make_shared<unsigned>(std::max(1u, std::thread::hardware_concurrency()));
  cmd->add_option("-j,--jobs", *jobs, "points solved in parallel (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  return {cmd, [args, jobs] {
            const auto [text, name] = args->source();
            const studies::SweepSpec spec = studies::parse_sweep(text, name, args->overrides);
            io::AtomicOutput output(args->output, {args->config_path});
            std::vector<PointMetrics> points;
            {
              Progress progress("sweep: input vectors", !args->quiet);
              points = studies::run_sweep(spec, *jobs, std::ref(progress));
            }
            {
              io::H5Writer h5(output.temp_path());
              studies::write_sweep(h5, spec, points);
              h5.close();
            }
            output.commit();
            if (!args->quiet) {
              print_summary(spec, points);
              fmt::print("{} points; wrote {}\n", points.size(), args->output);
            }
            return 0;
          }};
}

}  // namespace xbar::cli
