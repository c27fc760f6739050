// Signed-weight mapping rules (docs/conventions.md) and the ideal select switch.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "devices/levels.hpp"
#include "engine/mapping.hpp"
#include "io/config.hpp"
#include "io/problem.hpp"

using namespace xbar;
using engine::MappingScheme;

TEST_CASE("differential and offset mapping follow the rounding rules", "[mapping]") {
  Matrix w(1, 4);
  w.data = {1.0, -0.5, 0.0, 0.3};
  const Matrix d = engine::levels_from_real(MappingScheme::differential, w, 128);
  REQUIRE(d.cols == 8);
  // 0.5 * 127 = 63.5 rounds half away from zero to 64; 0.3 * 127 = 38.1 -> 38.
  CHECK(d.data == std::vector<double>{127, 0, 0, 64, 0, 0, 38, 0});
  const Matrix o = engine::levels_from_real(MappingScheme::offset, w, 128);
  REQUIRE(o.cols == 5);
  // (w+1)/2 * 127: 127, 31.75 -> 32, 63.5 -> 64, 82.55 -> 83; reference column at L/2 = 64.
  CHECK(o.data == std::vector<double>{127, 32, 64, 83, 64});
  Matrix currents(1, 8);
  currents.data = {5, 1, 2, 7, 3, 3, 9, 4};
  CHECK(engine::signed_outputs(MappingScheme::differential, currents).data ==
        std::vector<double>{4, -5, 0, 5});
  Matrix offset_currents(1, 5);
  offset_currents.data = {5, 1, 2, 7, 3};
  CHECK(engine::signed_outputs(MappingScheme::offset, offset_currents).data ==
        std::vector<double>{2, -2, -1, 4});
}

TEST_CASE("a mapped config builds the physical array and keeps the real weights", "[mapping]") {
  const io::RunConfig c = io::parse_config(
      "[array]\nrows = 8\ncols = 3\n[mapping]\nscheme = \"offset\"\n"
      "[weights]\ndistribution = \"laplace\"\n",
      "test.toml");
  const io::Problem p = io::build_problem(c);
  CHECK(p.spec.cols == 4);
  REQUIRE(p.real_weights);
  CHECK(p.real_weights->cols == 3);
  double largest = 0;
  for (double x : p.real_weights->data) largest = std::max(largest, std::abs(x));
  CHECK(largest == 1.0);  // clipped at the 0.999 quantile of |w|: some entries reach 1
  for (std::size_t i = 0; i < 8; ++i) CHECK((*p.levels)(i, 3) == 64);
}

TEST_CASE("an ideal select opens unselected cells exactly and shorts selected ones", "[mapping]") {
  for (const char* cell : {"2t-sonos", "1t1r"}) {
    const io::RunConfig c = io::parse_config(
        fmt::format("[array]\nrows = 12\ncols = 5\ncell = \"{}\"\n[select]\nmodel = \"ideal\"\n"
                    "[inputs]\ncount = 3\n", cell),
        "test.toml");
    const io::Problem p = io::build_problem(c);
    const netlists::Crossbar xb(p.spec);
    engine::ArraySolver solver(xb, c.newton);
    const engine::ArrayResults r = solver.solve(p.inputs);
    // No line resistance: each column is exactly the sum of its selected cells' currents.
    for (std::size_t k = 0; k < r.column_current.data.size(); ++k)
      CHECK(r.column_current.data[k] == Approx(r.column_current_ideal.data[k]).epsilon(1e-12));
    for (std::size_t i = 0; i < 12; ++i)
      if (p.inputs(0, i) == 0)
        for (std::size_t j = 0; j < 5; ++j) CHECK(r.cell_current(i, j) == 0.0);
  }
}
