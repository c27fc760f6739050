// xbar netlist [CONFIG] -o DECK.cir: the SPICE deck xbar checks against, for one input vector.
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "io/hdf5_file.hpp"
#include "io/problem.hpp"
#include "io/results.hpp"
#include "netlists/spice_deck.hpp"

namespace xbar::cli {

Command add_netlist(CLI::App& app) {
  auto* cmd = app.add_subcommand("netlist", "write the SPICE deck of the array for one input vector");
  auto args = std::make_shared<ConfigArgs>();
  auto vector = std::make_shared<int>(0);
  args->add_to(*cmd, "output SPICE deck (.cir)", true);
  cmd->add_option("--vector", *vector, "input vector to emit (default 0)")->check(number_in(0, 1e9));
  return {cmd, [args, vector] {
            const io::RunConfig config = args->load();
            io::AtomicOutput output = args->open_output(config);
            const io::Problem problem = io::build_problem(config);
            if (static_cast<std::size_t>(*vector) >= problem.inputs.rows)
              throw io::InputError(fmt::format("--vector {}: the config has {} input vector(s), so 0..{}", *vector,
                                               problem.inputs.rows, problem.inputs.rows - 1));
            const netlists::Crossbar crossbar(problem.spec);
            const std::string deck = netlists::spice_deck(
                crossbar, problem.inputs.row(*vector),
                fmt::format("xbar {} netlist of {}, input vector {}", io::k_xbar_version, config.path, *vector));
            {
              std::ofstream file(output.temp_path(), std::ios::binary);
              file << deck;
              if (!file.flush()) throw io::InputError(fmt::format("{}: cannot write", args->output));
            }
            output.commit();
            if (!args->quiet)
              fmt::print("wrote {} ({} nodes, {:.1f} kB); column j current = i(VSENSE_j)\n", args->output,
                         crossbar.circuit().n_nodes(), deck.size() / 1e3);
            return 0;
          }};
}

}  // namespace xbar::cli
