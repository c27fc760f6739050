// xbar: circuit-level crossbar solver. Parses the command line and dispatches; exit status
// (README): 0 success, 1 `check` over tolerance, 2 bad input or ngspice failure,
// 3 no solution from xbar, 4 internal error (a bug). Every error is one line on stderr.
#include <CLI/CLI.hpp>

#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "devices/cell.hpp"
#include "engine/array_solver.hpp"
#include "io/errors.hpp"
#include "io/interrupt.hpp"
#include "io/results.hpp"
#include "parallel/job_error.hpp"
#include "validation/ngspice_session.hpp"

namespace {

constexpr int k_bad_input = 2, k_no_solution = 3, k_internal_error = 4;

int report(std::string_view what, int status) {
  fmt::print(stderr, "xbar: error: {}\n", xbar::io::one_line(what));
  return status;
}

// --help and --version print and succeed; every other command-line error is one line, status 2
// (CLI11's own printer adds a second "Run with --help" line). A first word that is no subcommand
// is named with the subcommands there are (CLI11 would only say that one is required).
int command_line_error(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  const std::vector<std::string> extra = app.remaining();
  if (app.get_subcommands().empty() && !extra.empty() && !extra.front().starts_with('-')) {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    return report(fmt::format("unknown subcommand '{}': expected one of {} (see xbar --help)", extra.front(),
                              fmt::join(names, ", ")),
                  k_bad_input);
  }
  return report(fmt::format("{} (see xbar --help)", e.what()), k_bad_input);
}

// Exceptions to exit status. Anything not listed is a bug; it still ends in one line, and the
// stack unwinds (so temporary outputs are removed) instead of aborting.
int run(const std::vector<xbar::cli::Command>& commands) {
  using namespace xbar;
  try {
    for (const cli::Command& c : commands)
      if (c.app->parsed()) return c.run();
    return report("no subcommand (see xbar --help)", k_bad_input);
  } catch (const parallel::StoppedByRoot&) {
    // Another MPI rank: the root reports the error and exits with its status. This rank exits 0,
    // never first with a failure: a launcher stops every rank at the first non-zero exit, and
    // could stop the root before it has said why.
    return 0;
  } catch (const io::InputError& e) {
    return report(e.what(), k_bad_input);
  } catch (const validation::SpiceError& e) {
    return report(e.what(), k_bad_input);
  } catch (const engine::SolveFailure& e) {
    return report(e.what(), k_no_solution);
  } catch (const devices::ModelError& e) {
    return report(fmt::format("no solution: {}", e.what()), k_no_solution);
  } catch (const std::bad_alloc&) {
    return report(io::k_out_of_memory, k_bad_input);
  } catch (const std::exception& e) {
    return report(fmt::format("internal error (please report): {}", e.what()), k_internal_error);
  } catch (...) {
    return report("internal error (please report): unknown exception", k_internal_error);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace xbar;
  CLI::App app{"xbar: SPICE-exact circuit solver for analog in-memory-computing crossbars.\n"
               "Exit status: 0 ok, 1 check over tolerance, 2 bad input or ngspice failure, "
               "3 no solution from xbar, 4 internal error.\n"
               "Every config key, its default and meaning: xbar config --list."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(io::k_xbar_version));
  const std::vector<cli::Command> commands = {
      cli::add_solve(app), cli::add_netlist(app),        cli::add_check(app), cli::add_table(app),
      cli::add_sweep(app), cli::add_characterize(app), cli::add_fit(app),     cli::add_config(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return command_line_error(app, e);
  }
  io::install_interrupt_handlers();
  return run(commands);
}
