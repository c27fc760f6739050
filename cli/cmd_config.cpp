// xbar config [CONFIG] [--set KEY=VALUE] [-o OUT.toml] | xbar config --list: the complete
// effective config (every key, defaults included, and the [derived] values), or every key the
// config accepts with its type, default and meaning (io/config_schema.hpp).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "io/config_schema.hpp"

namespace xbar::cli {

namespace {

void print(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
    throw io::InputError(fmt::format("cannot write to standard output: {}", std::strerror(errno)));
}

}  // namespace

Command add_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "print the effective config (defaults included), or --list every key");
  auto args = std::make_shared<ConfigArgs>();
  auto list = std::make_shared<bool>(false);
  args->add_to(*cmd, "write the effective config to this TOML file (default: standard output)", false);
  cmd->add_flag("--list", *list, "list every config key: type and range, default, meaning");
  return {cmd, [args, list] {
            if (*list) {
              print(io::config_key_listing());
              return 0;
            }
            const io::RunConfig config = args->load();
            if (args->output.empty()) {
              print(config.text);
              return 0;
            }
            io::AtomicOutput output = args->open_output(config);
            {
              std::ofstream file(output.temp_path(), std::ios::binary);
              file << config.text;
              if (!file.flush()) throw io::InputError(fmt::format("{}: cannot write", args->output));
            }
            output.commit();
            return 0;
          }};
}

}  // namespace xbar::cli
