// xbar against ngspice (validation/cross_check): the same figure `xbar check` exits on,
//   max over vectors of max_j |I_xbar - I_spice| / max_j |I_spice| <= 1e-6,
// for every cell kind and size with every line resistance non-zero, measured V_T, the sinh law;
// ngspice's failures surface as SpiceError; checks leave no ngspice state behind.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "io/config.hpp"
#include "io/hdf5_file.hpp"
#include "io/problem.hpp"
#include "netlists/spice_deck.hpp"
#include "validation/cross_check.hpp"
#include "validation/ngspice_session.hpp"

using namespace xbar;
using Catch::Matchers::Contains;

namespace {

constexpr double k_tolerance = 1e-6;  // README: the default of `xbar check`
// ngspice converges node voltages to reltol 1e-6 of ~0.1 V: a mapping error shows far above this.
constexpr double k_node_tolerance = 1e-7;  // V

// A random array (levels and inputs) with all four line resistances non-zero and distinct, so
// that a swapped or dropped one would show.
std::string array_toml(const std::string& cell, int rows, int cols, unsigned seed) {
  return fmt::format(R"(
[array]
rows = {}
cols = {}
cell = "{}"
r_row = 1.5
r_col = 2.5
r_driver = 7.0
r_sense = 11.0
[weights]
seed = {}
[inputs]
count = 2
activity = 0.5
seed = {}
)",
                     rows, cols, cell, seed, seed + 100);
}

io::RunConfig config_of(const std::string& toml, const std::vector<std::string>& overrides = {}) {
  return io::parse_config(toml, "test_check", overrides);
}

validation::CrossCheck check(const io::RunConfig& config) {
  const io::Problem problem = io::build_problem(config);
  const netlists::Crossbar crossbar(problem.spec);
  return validation::cross_check(crossbar, problem.inputs, config.newton,
                                 [](std::size_t v) { return fmt::format("test_check vector {}", v); });
}

void require_agreement(const io::RunConfig& config) {
  INFO(config.text);
  const validation::CrossCheck result = check(config);
  REQUIRE(result.vectors.size() == static_cast<std::size_t>(config.inputs.count));
  REQUIRE(result.current_spice.rows == result.xbar.column_current.rows);
  REQUIRE(result.current_spice.cols == static_cast<std::size_t>(config.cols));
  INFO("max |dI| / max |I_spice| = " << result.overall.max_rel_diff);
  CHECK(result.passed(k_tolerance));
  CHECK(result.overall.max_node_diff < k_node_tolerance);
}

void require_agreement_at_every_size(const std::string& cell, unsigned seed) {
  for (auto [rows, cols] : {std::pair{1, 1}, {4, 7}, {16, 16}, {32, 32}})
    require_agreement(config_of(array_toml(cell, rows, cols, seed + rows)));
}

}  // namespace

TEST_CASE("ngspice and xbar agree to 1e-6 on 1r arrays of 1x1 to 32x32 with all line resistances",
          "[ngspice][check]") {
  require_agreement_at_every_size("1r", 10);
}

TEST_CASE("ngspice and xbar agree to 1e-6 on 1t1r arrays of 1x1 to 32x32 with all line resistances",
          "[ngspice][check]") {
  require_agreement_at_every_size("1t1r", 20);
}

TEST_CASE("ngspice and xbar agree to 1e-6 on 2t-sonos arrays of 1x1 to 32x32 with all line resistances",
          "[ngspice][check]") {
  require_agreement_at_every_size("2t-sonos", 30);
}

TEST_CASE("ngspice and xbar agree with the sense amplifiers' virtual ground off 0 V", "[ngspice][check]") {
  for (const char* cell : {"1r", "2t-sonos"})
    require_agreement(config_of(array_toml(cell, 16, 16, 40), {"array.v_sense=0.03"}));
}

TEST_CASE("ngspice and xbar agree on the sinh resistor law", "[ngspice][check]") {
  // V0 = 50 mV: at 0.1 V across a cell the current is sinh(2)/2 = 1.8x the linear one.
  for (const char* cell : {"1r", "1t1r"})
    require_agreement(config_of(array_toml(cell, 16, 16, 50), {"resistor.law=\"sinh\"", "resistor.v0=0.05"}));
}

TEST_CASE("ngspice and xbar agree on measured V_T: levels with a 3 mV spread, read from HDF5",
          "[ngspice][check]") {
  const std::string base = array_toml("2t-sonos", 16, 16, 60);
  Matrix vt(16, 16);
  vt.data = io::build_problem(config_of(base)).spec.weights;
  std::mt19937_64 rng(61);
  std::normal_distribution<double> spread(0.0, 3e-3);
  for (double& v : vt.data) v += spread(rng);
  const auto file = std::filesystem::temp_directory_path() / fmt::format("xbar_test_check_vt_{}.h5", getpid());
  {
    io::H5Writer h5(file.string());
    h5.write("/vt", vt);
    h5.close();
  }
  const io::RunConfig config = config_of(
      base, {"weights.source=\"file\"", fmt::format("weights.file=\"{}\"", file.string()),
             "weights.dataset=\"vt\"", "weights.kind=\"vt\""});
  REQUIRE(io::build_problem(config).spec.weights == vt.data);
  require_agreement(config);
  std::filesystem::remove(file);
}

TEST_CASE("a floating node in a crossbar deck surfaces ngspice's singular-matrix text", "[ngspice][check]") {
  const io::Problem problem = io::build_problem(config_of(array_toml("2t-sonos", 4, 4, 70)));
  const netlists::Crossbar crossbar(problem.spec);
  std::string deck = netlists::spice_deck(crossbar, problem.inputs.row(0), "deck with a floating node");
  // Node x hangs between two capacitors: no DC path, so the op matrix is singular.
  deck.insert(deck.find(".op"), "CFLOAT1 r_0_0 x_floating 1p\nCFLOAT2 x_floating 0 1p\n");
  REQUIRE_THROWS_AS(validation::run_spice(crossbar, deck), validation::SpiceError);
  REQUIRE_THROWS_WITH(validation::run_spice(crossbar, deck),
                      Contains("ngspice: ") && Contains("singular matrix") && Contains("x_floating"));
  // The session is usable again at once.
  const std::string good = netlists::spice_deck(crossbar, problem.inputs.row(0), "the same deck, intact");
  CHECK(validation::run_spice(crossbar, good).column_current.size() == 4);
}

TEST_CASE("two checks back to back give the answers each gives alone", "[ngspice][check]") {
  // Run by ctest, each test case has a process of its own: the first check here runs alone.
  const io::RunConfig sonos = config_of(array_toml("2t-sonos", 8, 8, 80));
  const io::RunConfig resistor = config_of(array_toml("1r", 8, 5, 81));
  const validation::CrossCheck first = check(sonos);
  const validation::CrossCheck other = check(resistor);
  const validation::CrossCheck again = check(sonos);
  const validation::CrossCheck other_again = check(resistor);
  CHECK(first.current_spice.data == again.current_spice.data);
  CHECK(first.overall.max_rel_diff == again.overall.max_rel_diff);
  CHECK(first.overall.max_node_diff == again.overall.max_node_diff);
  CHECK(other.current_spice.data == other_again.current_spice.data);
}
