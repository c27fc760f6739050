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
  devices::RelativeError at_on, at_off;
  devices::TableGridSpec spec;
};

std::vector<devices::IvSample> at_gate(const std::vector<devices::IvSample>& samples, double v_g) {
  std::vector<devices::IvSample> out;
  std::copy_if(samples.begin(), samples.end(), std::back_inserter(out),
               [v_g](const devices::IvSample& s) { return std::abs(s.v_g - v_g) < 1e-9; });
  return out;
}

// EKV's beta = I_S / (2 n U_T^2), the config's parameter for the select FET's I_S.
double beta_of(const devices::EkvParams& p) {
  return p.i_s / (2 * p.n * devices::k_thermal_voltage * devices::k_thermal_voltage);
}

std::string error_line(const devices::RelativeError& e) {
  return fmt::format("max {:.3g} %, rms {:.3g} % ({} points)", 100 * e.max, 100 * e.rms, e.points);
}

void print_report(const devices::ModelCard& card, const io::RunConfig& c, const FitReport& r) {
  const devices::EkvParams& p = r.fit.params;
  fmt::print("EKV fit of '{}' ({}) over V_G [{:.4g}, {:.4g}] V, V_D and V_S [{:.4g}, {:.4g}] V: {} points{}\n",
             card.device, describe_card(card), r.spec.vg_lo, r.spec.vg_hi, r.spec.v_lo, r.spec.v_hi,
             r.fit.error.points, r.fit.excluded ? fmt::format(" ({} more at V_DS = 0 or with I against V_DS left out)", r.fit.excluded) : "");
  fmt::print("  n = {:.5g}, I_S = {:.5g} A (beta = {:.5g} A/V^2), eta = {:.5g}, V_T = {:.5g} V  ({} iterations{})\n", p.n,
             p.i_s, beta_of(p), p.eta, p.vt, r.fit.iterations, r.fit.converged ? "" : ", NOT converged");
  const devices::IvSample& w = r.fit.error.worst;
  fmt::print("  relative error |I_EKV / I_card - 1|: {}\n    worst at V_G = {:.4g} V, V_D = {:.4g} V, V_S = {:.4g} V, "
             "I_card = {:.4g} A\n",
             error_line(r.fit.error), w.v_g, w.v_d, w.v_s, w.i_ds);
  if (r.at_on.points) fmt::print("    at V_G = v_on = {:.4g} V: {}\n", c.cell.v_on, error_line(r.at_on));
  if (r.at_off.points) fmt::print("    at V_G = v_off = {:.4g} V: {}\n", c.cell.v_off, error_line(r.at_off));
}

void write_snippet(io::AtomicOutput& output, const DeviceArgs& args, const devices::ModelCard& card,
                   const FitReport& r) {
  const std::string& path = output.path();
  const devices::EkvParams& p = r.fit.params;
  {
    std::ofstream file(output.temp_path(), std::ios::binary);
    file << fmt::format("# EKV fit of '{}' from {} ({}) by xbar fit, over V_G in [{:.4g}, {:.4g}] V,\n"
                        "# V_D and V_S in [{:.4g}, {:.4g}] V: relative error max {:.3g} %, rms {:.3g} %\n"
                        "[select]\nmodel = \"ekv\"\nn = {:.17g}\nbeta = {:.17g}\neta = {:.17g}\nvt = {:.17g}\n",
                        card.device, args.model_path, describe_card(card), r.spec.vg_lo, r.spec.vg_hi, r.spec.v_lo,
                        r.spec.v_hi, 100 * r.fit.error.max, 100 * r.fit.error.rms, p.n, beta_of(p), p.eta, p.vt);
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
  const devices::TableSamples table = validation::characterize(card, report.spec, 0.0);
  const std::vector<devices::IvSample> samples =
      validation::samples_in_range(table, report.spec.vg_lo, report.spec.vg_hi, report.spec.v_lo, report.spec.v_hi);
  try {
    report.fit = devices::fit_ekv(samples);
  } catch (const std::invalid_argument& e) {
    throw io::InputError(fmt::format("{}: {}", args.model_path, e.what()));
  }
  report.at_on = devices::ekv_relative_error(report.fit.params, at_gate(samples, config.cell.v_on));
  report.at_off = devices::ekv_relative_error(report.fit.params, at_gate(samples, config.cell.v_off));
  if (!args.quiet) print_report(card, config, report);
  if (!args.output.empty()) {
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
