// xbar characterize MODEL.cir --device NAME [--w W --l L] [--temp C] [-c CONFIG] -o DEVICE.h5:
// tabulate a transistor model card in ngspice for `[select] model = "table"`.
#include <chrono>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/device_args.hpp"
#include "io/atomic_output.hpp"
#include "io/device_file.hpp"
#include "io/hdf5_file.hpp"
#include "validation/characterize.hpp"

namespace xbar::cli {

namespace {

// Table defaults: 0.1 V beyond the gate biases and 0.05 V beyond the read range, 20 mV gate
// and 7.5 mV terminal steps (the tabulated EKV law is then within 1e-4 of the analytic one).
constexpr BiasDefaults k_table_defaults{0.1, 0.05, 0.02, 0.0075};

struct CharacterizeOptions {
  double fd_step = 1e-6;
  int check_points = 400;
};

void print_summary(const io::DeviceFile& f, const devices::TableGridSpec& spec, const devices::RelativeError& check,
                   const std::string& output) {
  const devices::TableGrid& g = f.samples.grid;
  const devices::EkvParams& e = f.envelope;
  fmt::print("characterized '{}' ({}, {}) in ngspice: {} x {} x {} = {} grid points, {:.2f} s\n", f.card.device,
             f.card.kind == devices::CardKind::model ? "model" : "subckt", describe_card(f.card), g.v_g.size(),
             g.v_s.size(), g.v_ds.size(), g.size(), f.quality.characterize_time);
  fmt::print("  V_G [{:.4g}, {:.4g}] V step {:.3g} mV; V_S [{:.4g}, {:.4g}] V, V_DS [{:.4g}, {:.4g}] V step {:.3g} mV\n",
             g.v_g.front(), g.v_g.back(), 1e3 * (g.v_g[1] - g.v_g[0]), g.v_s.front(), g.v_s.back(), g.v_ds.front(),
             g.v_ds.back(), 1e3 * (g.v_s[1] - g.v_s[0]));
  fmt::print("  envelope (EKV fit): n = {:.4g}, I_S = {:.4g} A, eta = {:.3g}, V_T = {:.4g} V\n", e.n, e.i_s, e.eta, e.vt);
  if (check.points > 0)
    fmt::print("  table vs card at {} random bias points in V_G [{:.3g}, {:.3g}], V_D, V_S [{:.3g}, {:.3g}] V: "
               "max {:.2e}, rms {:.2e} relative\n    (worst at V_G = {:.4g} V, V_D = {:.4g} V, V_S = {:.4g} V, "
               "I = {:.4g} A)\n",
               check.points, spec.vg_lo, spec.vg_hi, spec.v_lo, spec.v_hi, check.max, check.rms, check.worst.v_g,
               check.worst.v_d, check.worst.v_s, check.worst.i_ds);
  fmt::print("wrote {}\n", output);
}

int run(const DeviceArgs& args, const CharacterizeOptions& options) {
  const devices::ModelCard card = args.card();
  const devices::TableGridSpec spec = args.grid_spec(args.config(), k_table_defaults);
  io::AtomicOutput output(args.output, {args.model_path, args.config_path});
  args.check_card_runs(card, spec);  // everything that can fail fails before the sweep
  const auto start = std::chrono::steady_clock::now();
  io::DeviceFile file{card, validation::characterize(card, spec, options.fd_step, args.progress_line("ngspice sweep, V_S node")), {}, {}};
  file.quality.characterize_time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  file.envelope = validation::table_envelope_for(file.samples, spec);
  devices::RelativeError check;
  if (options.check_points > 0) {
    const devices::TableDevice table(file.samples, file.envelope);
    check = validation::table_error(table, card, validation::random_bias_points(spec, options.check_points),
                                    args.progress_line("check against the card, sweep of 50 points"));
    file.quality = {static_cast<double>(check.points), check.max, check.rms, file.quality.characterize_time};
  }
  io::write_device_file(output.temp_path(), file);
  output.commit();
  if (!args.quiet) print_summary(file, spec, check, args.output);
  return 0;
}

}  // namespace

Command add_characterize(CLI::App& app) {
  auto* cmd = app.add_subcommand("characterize",
                                 "tabulate a transistor model card in ngspice (for [select] model = \"table\")");
  auto args = std::make_shared<DeviceArgs>();
  auto options = std::make_shared<CharacterizeOptions>();
  args->add_to(*cmd, "output device table (HDF5, see docs/device_table.md)", true);
  cmd->add_option("--fd-step", options->fd_step, "central-difference step of the stored partials (V, 0: none)")
      ->check(number_in(0, 0.1, Low::closed, " V"));
  cmd->add_option("--check-points", options->check_points,
                  "random bias points at which the table is compared with the card (0: none)")
      ->check(number_in(0, 1e6));
  return {cmd, [args, options] { return run(*args, *options); }};
}

}  // namespace xbar::cli
