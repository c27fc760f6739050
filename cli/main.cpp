// xbar: circuit-level crossbar solver. Parses the command line and dispatches; exit status
// (design brief section 4): 0 success, 1 `check` over tolerance, 2 bad input or ngspice failure,
// 3 no solution from xbar.
#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "engine/array_solver.hpp"
#include "io/errors.hpp"
#include "io/interrupt.hpp"
#include "io/results.hpp"
#include "validation/ngspice_session.hpp"

namespace {

int report(const char* what, int status) {
  fmt::print(stderr, "xbar: error: {}\n", what);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace xbar;
  CLI::App app{"xbar: SPICE-exact circuit solver for analog in-memory-computing crossbars.\n"
               "Exit status: 0 ok, 1 check over tolerance, 2 bad input or ngspice failure, "
               "3 no solution from xbar."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(io::k_xbar_version));
  const std::vector<cli::Command> commands = {
      cli::add_solve(app), cli::add_netlist(app),        cli::add_check(app), cli::add_table(app),
      cli::add_sweep(app), cli::add_characterize(app), cli::add_fit(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }
  io::install_interrupt_handlers();
  try {
    for (const cli::Command& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const io::InputError& e) {
    return report(e.what(), 2);
  } catch (const validation::SpiceError& e) {
    return report(e.what(), 2);
  } catch (const engine::SolveFailure& e) {
    return report(e.what(), 3);
  }
  return 2;
}
