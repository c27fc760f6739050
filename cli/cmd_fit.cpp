// xbar fit MODEL.cir --device NAME [--w W --l L] [-o SNIPPET.toml]: fit the EKV law (docs/conventions.md)
// (V_T, n, I_S, eta) to a transistor model card over the read bias range, report the error.
#include <algorithm>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/device_args.hpp"
#include "devices/ekv_fit.hpp"
#include "io/atomic_output.hpp"
#include "io/errors.hpp"
#include "io/hdf5_file.hpp"
#include "validation/characterize.hpp"

namespace xbar::cli {

namespace {

// Fit range: V_G over [v_off, v_on], V_D and V_S over [v_sense, v_read] (no margins: the read
// bias range itself), 20 mV gate and 10 mV terminal steps.
constexpr BiasDefaults k_fit_defaults{0.0, 0.0, 0.02, 0.01};

struct FitReport {
  devices::EkvFitResult fit;
  devices::OnCurrentErrors errors;
  devices::TableGridSpec spec;
};

std::string error_line(const devices::RelativeError& e) {
  return fmt::format("max {:.3g} %, rms {:.3g} % ({} points)", 100 * e.max, 100 * e.rms, e.points);
}

void print_report(const devices::ModelCard& card, const io::RunConfig& c, const FitReport& r) {
  const devices::EkvParams& p = r.fit.params;
  fmt::print("EKV fit of '{}' ({}) over V_G [{:.4g}, {:.4g}] V, V_D and V_S [{:.4g}, {:.4g}] V: {} points{}\n",
             card.device, describe_card(card), r.spec.vg_lo, r.spec.vg_hi, r.spec.v_lo, r.spec.v_hi,
             r.fit.error.points, r.fit.excluded ? fmt::format(" ({} more at V_DS = 0 or with I against V_DS left out)", r.fit.excluded) : "");
  fmt::print("  n = {:.5g}, I_S = {:.5g} A (beta = {:.5g} A/V^2), eta = {:.5g}, V_T = {:.5g} V  ({} iterations{})\n", p.n,
             p.i_s, devices::select_beta(p.n, p.i_s), p.eta, p.vt, r.fit.iterations, r.fit.converged ? "" : ", NOT converged");
  for (const devices::FitBound* b : r.fit.at_bound) {
    const double value = p.*(b->value);
    fmt::print("  note: {} = {:.3g} is at the bound {:g} of its range [{:g}, {:g}]: the law found no better use for it "
               "here{}\n",
               b->name, value, std::abs(value - b->lo) < std::abs(value - b->hi) ? b->lo : b->hi, b->lo, b->hi,
               std::string_view(b->name) == "eta" ? " (over V_DS of both signs a symmetric card's barrier lowering is "
                                                    "even in V_DS, EKV's eta (V_D - V_S) is odd)"
                                                  : "");
  }
  fmt::print("  error |I_EKV - I_card| / I_on, I_on = {:.4g} A (the largest current at V_G = v_on), i.e. the error in a "
             "column current per cell as a share of one on cell:\n",
             r.errors.i_on);
  const devices::OnCurrentErrors& e = r.errors;
  if (e.on.points) fmt::print("    on state, V_G = v_on = {:.4g} V: {}\n", c.cell.v_on, error_line(e.on));
  fmt::print("    read bias range, every V_G:     {}\n", error_line(e.read));
  if (e.off.points) fmt::print("    off state, V_G = v_off = {:.4g} V: {}\n", c.cell.v_off, error_line(e.off));
  const devices::IvSample& w = r.fit.error.worst;
  fmt::print("  relative error |I_EKV / I_card - 1| at every point alike (the fit's objective; largest where the current "
             "is tiny): {}, worst at V_G = {:.4g} V, V_D = {:.4g} V, V_S = {:.4g} V, I_card = {:.3g} A\n",
             error_line(r.fit.error), w.v_g, w.v_d, w.v_s, w.i_ds);
}

void write_snippet(io::AtomicOutput& output, const DeviceArgs& args, const devices::ModelCard& card,
                   const FitReport& r) {
  const std::string& path = output.path();
  const devices::EkvParams& p = r.fit.params;
  {
    std::ofstream file(output.temp_path(), std::ios::binary);
    file << fmt::format("# EKV fit of '{}' from {} ({}) by xbar fit, over V_G in [{:.4g}, {:.4g}] V,\n"
                        "# V_D and V_S in [{:.4g}, {:.4g}] V: error |I_EKV - I_card| / I_on (I_on = {:.4g} A) max {:.3g} % "
                        "at V_G = v_on, {:.3g} % over the range\n"
                        "[select]\nmodel = \"ekv\"\nn = {:.17g}\nbeta = {:.17g}\neta = {:.17g}\nvt = {:.17g}\n",
                        card.device, args.model_path, describe_card(card), r.spec.vg_lo, r.spec.vg_hi, r.spec.v_lo,
                        r.spec.v_hi, r.errors.i_on, 100 * r.errors.on.max, 100 * r.errors.read.max, p.n,
                        devices::select_beta(p.n, p.i_s), p.eta, p.vt);
    if (!file.flush()) throw io::InputError(fmt::format("{}: cannot write", path));
  }
  output.commit();
}

int run(const DeviceArgs& args) {
  const devices::ModelCard card = args.card();
  const io::RunConfig config = args.config();
  std::optional<io::AtomicOutput> output;  // opened first: a bad path fails before the fit
  if (!args.output.empty()) output.emplace(args.output, std::vector<std::string>{args.model_path, args.config_path});
  FitReport report;
  report.spec = args.grid_spec(config, k_fit_defaults);
  args.check_card_runs(card, report.spec);
  const devices::TableSamples table =
      validation::characterize(card, report.spec, 0.0, args.progress_line("ngspice sweep, V_S node"));
  const std::vector<devices::IvSample> samples =
      validation::samples_in_range(table, report.spec.vg_lo, report.spec.vg_hi, report.spec.v_lo, report.spec.v_hi);
  try {
    report.fit = devices::fit_ekv(samples);
  } catch (const std::invalid_argument& e) {
    throw io::InputError(fmt::format("{}: {}", args.model_path, e.what()));
  }
  report.errors = devices::ekv_on_current_errors(report.fit.params, samples, config.cell.v_on, config.cell.v_off);
  if (!args.quiet) print_report(card, config, report);
  if (output) {
    write_snippet(*output, args, card, report);
    if (!args.quiet) fmt::print("wrote {}\n", args.output);
  }
  return 0;
}

}  // namespace

Command add_fit(CLI::App& app) {
  auto* cmd = app.add_subcommand("fit", "fit the EKV law (V_T, n, I_S, eta) to a transistor model card");
  auto args = std::make_shared<DeviceArgs>();
  args->add_to(*cmd, "write the fitted values as a [select] config snippet (TOML)", false);
  return {cmd, [args] { return run(*args); }};
}

}  // namespace xbar::cli
