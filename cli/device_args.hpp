#pragma once
// What `xbar characterize` and `xbar fit` share: the model card (MODEL.cir --device NAME
// [--w W --l L] [--temp C]), the config whose biases set the default voltage ranges (-c CONFIG,
// --set), and the range flags (--vg LO,HI --vterm LO,HI --vg-step H --v-step H).
#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "devices/model_card.hpp"
#include "devices/table_device.hpp"
#include "io/config.hpp"
#include "validation/characterize.hpp"

namespace xbar::cli {

/// Default ranges from the array's biases: the gate range of the table or fit, and the terminal
/// (V_D, V_S) range around [v_sense, v_read].
struct BiasDefaults {
  double gate_margin;      ///< V beyond [v_off, v_on]
  double terminal_margin;  ///< V beyond [min(v_sense, v_read), max(v_sense, v_read)]
  double vg_step, v_step;  ///< V
};

struct DeviceArgs {
  std::string model_path, device;
  std::optional<double> w, l;
  double temp_c = 27.0;
  std::string config_path;
  std::vector<std::string> overrides;
  std::vector<double> vg_range, v_range;  ///< LO,HI when given
  std::optional<double> vg_step, v_step;
  std::string output;
  bool quiet = false, progress = false;

  void add_to(CLI::App& command, const std::string& output_help, bool output_required);
  /// Reads and checks the card; InputError naming the file on any problem.
  devices::ModelCard card() const;
  /// The array config (-c, --set; the embedded default study without -c).
  io::RunConfig config() const;
  /// Ranges and steps: flags, else the config's biases with the given margins; the gate nodes
  /// are v_off and v_on.
  devices::TableGridSpec grid_spec(const io::RunConfig& config, const BiasDefaults& defaults) const;
  /// Runs the card at one bias point of the spec's box before any long sweep: a card ngspice
  /// cannot load, or a size no bin of a binned model covers, is an InputError naming --w/--l
  /// and the bins' ranges, at once.
  void check_card_runs(const devices::ModelCard& card, const devices::TableGridSpec& spec) const;
  /// Progress of a long ngspice stage (`what`) on stderr, see ProgressLine; none with -q
  /// unless --progress.
  validation::Progress progress_line(std::string what) const;
};

/// A progress line on stderr: shown once the stage is estimated to take more than
/// k_after_s (always with `always`); on a terminal one line rewritten in place, else a line
/// per update at most every k_every_s, and the last one.
class ProgressLine {
 public:
  static constexpr double k_after_s = 3.0, k_every_s = 5.0;
  ProgressLine(std::string what, bool always);
  void operator()(std::size_t done, std::size_t total);

 private:
  std::string what_;
  bool always_, terminal_, shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

/// "W = 120 nm, L = 40 nm, 27 C" or "27 C" for a subckt without sizes.
std::string describe_card(const devices::ModelCard& card);

}  // namespace xbar::cli
