// AtomicOutput (io/atomic_output.hpp): temporaries left beside the output by killed runs.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>

#include "io/atomic_output.hpp"

using namespace xbar;
namespace fs = std::filesystem;

namespace {

// The id of a process that has ended: a child that exits at once, reaped.
pid_t ended_process() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

std::set<std::string> names(const fs::path& dir) {
  std::set<std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("an output removes its temporaries left by killed runs, and nothing else", "[atomic_output]") {
  const fs::path dir = fs::temp_directory_path() / fmt::format("xbar-atomic-{}", getpid());
  fs::remove_all(dir);
  fs::create_directory(dir);
  const pid_t dead = ended_process(), alive = getppid();
  const std::string stale[] = {fmt::format(".out.h5.tmp-{}-0", dead), fmt::format(".out.h5.tmp-{}-3", dead)};
  const std::string kept[] = {fmt::format(".out.h5.tmp-{}-0", alive),      // a run still writing
                              fmt::format(".other.h5.tmp-{}-0", dead),     // another output's
                              fmt::format(".out.h5.tmp-{}-0.bak", dead),   // not the exact pattern
                              fmt::format(".out.h5.tmp-{}-", dead), fmt::format("out.h5.tmp-{}-0", dead),
                              fmt::format(".out.h5.tmp-x{}-0", dead)};
  for (const std::string& name : stale) std::ofstream(dir / name) << (name.back() == '3' ? "partial" : "");
  for (const std::string& name : kept) std::ofstream(dir / name) << "x";
  {
    io::AtomicOutput output((dir / "out.h5").string());
    std::ofstream(output.temp_path()) << "result";
    output.commit();
  }
  std::set<std::string> expected(std::begin(kept), std::end(kept));
  expected.insert("out.h5");
  CHECK(names(dir) == expected);
  fs::remove_all(dir);
}
