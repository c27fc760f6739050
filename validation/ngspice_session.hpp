#pragma once
// In-process ngspice (libngspice, sharedspice.h) for DC operating points of small reference decks.
//
// libngspice is one global, non-reentrant simulator per process, so this wrapper is the one
// piece of global state xbar allows: a single session, all calls serialised by its mutex.
// ngspice's return codes say little; success is judged from its own output (SendChar/SendStat
// lines) plus the presence of a non-empty "op" plot.
//
// xbar does not link libngspice: the session loads it (dlopen, libngspice.so.0) when it is first
// used, so the commands that never run ngspice (solve, table, sweep, ...) do not pay for mapping
// and relocating it at start-up, and run where it is not installed.
//
// Life of one run_operating_point(deck):
//   ngSpice_Circ(lines) -> ngSpice_Command("op") -> judge output -> copy the op plot
//   -> "remcirc" + "destroy all", so the next deck starts from an empty simulator.
//
// Sign convention (ngspice's): a voltage source's branch current is positive when current
// flows into its + terminal, through the source, out of its - terminal. A 0 V sense source
// written "VSENSE bl 0 0" therefore reports the current flowing from node bl into ground.
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xbar::validation {

struct NgspiceLibrary;  // the functions of libngspice's shared API (ngspice_session.cpp)

/// A failed ngspice run; the message starts with "ngspice: " and carries ngspice's own lines.
struct SpiceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Every vector of one op plot, copied out of ngspice memory.
struct SpiceOperatingPoint {
  /// Keyed by lower-case ngspice name: "r_0_3" (node voltage, V), "vsense_2#branch" (A).
  std::unordered_map<std::string, double> values;
  double elapsed_s = 0.0;  ///< wall time of deck load + op (s)

  /// V(node) in volts; node "0" is ground. Throws SpiceError if the node is not in the plot.
  double voltage(std::string_view node) const;
  /// i(source) in amperes (ngspice sign convention above). Throws SpiceError if absent.
  double source_current(std::string_view source) const;
};

/// Every vector of one analysis plot (e.g. a dc sweep), copied out of ngspice memory.
struct SpicePlot {
  std::string name;  ///< ngspice's plot name, e.g. "dc1"
  /// Keyed by lower-case ngspice name: "g" (node voltage, V), "va_3#branch" (A).
  std::unordered_map<std::string, std::vector<double>> vectors;
  double elapsed_s = 0.0;  ///< wall time of deck load + analysis (s)

  /// The named vector (lower-case lookup). Throws SpiceError if absent.
  const std::vector<double>& vector(std::string_view name) const;
};

class NgspiceSession {
 public:
  /// The process-wide session; libngspice is loaded and ngSpice_Init runs once, on first use.
  /// Throws SpiceError (naming the library and the loader's reason) if libngspice cannot be
  /// loaded; a later call tries again.
  static NgspiceSession& instance();

  /// Loads `deck_text` (a SPICE netlist, first line = title), runs "op", returns the op plot.
  /// A .control ... .endc block is removed before loading (its commands, e.g. `quit`, would run
  /// at load time and can leave ngspice unusable); a missing ".end" is appended.
  /// Throws SpiceError on any error-like ngspice line, on a missing/empty op plot, and for
  /// every call once ngspice has requested to be unloaded (see last_output() for the details).
  SpiceOperatingPoint run_operating_point(const std::string& deck_text);

  /// Loads `deck_text`, runs `analysis` (an ngspice command such as "dc v1 0 10 1"), returns the
  /// plot it made (its name must start with the command's first word). Same failure rules as
  /// run_operating_point. Save only what you need with `.save` in the deck: ngspice keeps every
  /// vector of every sweep point in memory.
  SpicePlot run_analysis(const std::string& deck_text, const std::string& analysis);

  /// Loads `deck_text` once and runs the analyses in turn on it (e.g. one dc sweep per range of
  /// a counter source): a deck whose parsing dominates (a binned PDK model) is parsed once.
  /// Each plot is handed to `each(index, plot)` as soon as it is made and then freed in ngspice.
  /// Same failure rules as run_analysis. `each` runs under the session's lock: it must not call
  /// the session.
  void run_analyses(const std::string& deck_text, const std::vector<std::string>& analyses,
                    const std::function<void(std::size_t, SpicePlot&&)>& each);

  /// ngspice's stdout/stderr/status lines of the last run, one per line, for diagnostics.
  std::string last_output() const;

  NgspiceSession(const NgspiceSession&) = delete;
  NgspiceSession& operator=(const NgspiceSession&) = delete;

 private:
  NgspiceSession();

  // ngspice callbacks (SendChar, SendStat, ControlledExit); `self` is this session.
  static int on_output(char* line, int ngspice_id, void* self);
  static int on_status(char* status, int ngspice_id, void* self);
  static int on_unload_request(int status, bool immediate, bool on_quit, int ngspice_id, void* self);

  /// Clears the output, loads the deck, runs the command and hands the finished run to `copy`
  /// (called under the lock, before the circuit is removed); returns what `copy` returns.
  template <class Copy>
  auto run(const std::string& deck_text, const std::string& analysis, Copy&& copy);
  SpicePlot copy_plot(std::string_view prefix) const;

  void load(std::vector<std::string> deck_lines);
  void command(const char* text);
  void throw_if_failed() const;
  SpiceOperatingPoint copy_op_plot() const;
  void clear_circuit();

  const NgspiceLibrary& ngspice_;  ///< libngspice's entry points, loaded once per process
  mutable std::mutex mutex_;
  // Written by the callbacks, which ngspice calls synchronously from inside the ngspice calls
  // made under mutex_: no extra locking needed.
  std::vector<std::string> output_;
  std::optional<int> exit_status_;  ///< set once ngspice asked to be unloaded; never cleared
};

}  // namespace xbar::validation
