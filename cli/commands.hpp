#pragma once
// One function per subcommand: it registers the subcommand and its options on the app and
// returns the function that runs it. main.cpp only dispatches.
#include <CLI/CLI.hpp>

#include <functional>

namespace xbar::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;  ///< returns the process exit status
};

Command add_solve(CLI::App& app);
Command add_netlist(CLI::App& app);
Command add_sweep(CLI::App& app);
Command add_check(CLI::App& app);
Command add_table(CLI::App& app);
Command add_characterize(CLI::App& app);
Command add_fit(CLI::App& app);
Command add_config(CLI::App& app);

}  // namespace xbar::cli
