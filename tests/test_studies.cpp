// Sweep specs and the study metric formulas (docs/conventions.md), on cases worked by hand.
#include <catch2/catch.hpp>

#include <cmath>

#include "io/errors.hpp"
#include "studies/metrics.hpp"
#include "studies/sweep_spec.hpp"

using namespace xbar;
using Catch::Matchers::Contains;

namespace {

Matrix matrix(std::size_t rows, std::size_t cols, std::vector<double> data) {
  Matrix m(rows, cols);
  m.data = std::move(data);
  return m;
}

const char* const k_base = R"(
[array]
rows = 8
cols = 2
cell = "1t1r"
r_col = 1.0
[select]
model = "ideal"
)";

studies::SweepSpec spec(const std::string& sweep) {
  return studies::parse_sweep(std::string(k_base) + "[sweep]\n" + sweep, "test.toml");
}

}  // namespace

TEST_CASE("column errors count only the pairs above 1e-3 of the largest ideal current") {
  // Ideal 1, 2, 1e-4 (below 1e-3 * 2: skipped); errors -0.1 and +0.05.
  const auto e = studies::column_errors(matrix(1, 3, {0.9, 2.1, 5.0}), matrix(1, 3, {1.0, 2.0, 1e-4}));
  CHECK(e.rms == Approx(std::sqrt((0.01 + 0.0025) / 2)).epsilon(1e-14));
  CHECK(e.max == Approx(0.1).epsilon(1e-14));
}

TEST_CASE("a uniform gain error vanishes after the least-squares gain calibration") {
  const auto ideal = matrix(2, 2, {1.0, -2.0, 0.5, 3.0});
  Matrix y = ideal;
  for (double& x : y.data) x *= 0.9;
  const auto e = studies::output_errors(y, ideal);
  CHECK(e.nrms == Approx(0.1).epsilon(1e-13));
  CHECK(e.gain_nrms < 1e-15);
  CHECK(e.fullscale == Approx(0.1).epsilon(1e-13));
}

TEST_CASE("row errors average the active cells of each row; rows never active are NaN") {
  studies::RowErrors rows(2, 2);
  rows.add(std::vector<double>{0.9, 1.8, 0, 0}, std::vector<double>{1, 2, 0, 0});
  rows.add(std::vector<double>{0.8, 0, 0, 0}, std::vector<double>{1, 0, 0, 0});
  const std::vector<double> mean = rows.mean();
  CHECK(mean[0] == Approx((-0.1 - 0.1 - 0.2) / 3));
  CHECK(std::isnan(mean[1]));
}

TEST_CASE("sweep axes keep the file order and the points are row-major") {
  const auto s = spec("\"select.model\" = [\"ideal\"]\n\"inputs.activity\" = [0.1, 0.9]\n\"array.rows\" = [4, 8, 16]\n");
  REQUIRE(s.axes.size() == 3);
  CHECK(s.axes[0].name == "select.model");
  CHECK(s.axes[1].name == "inputs.activity");
  CHECK(s.shape() == std::vector<std::size_t>{1, 2, 3});
  REQUIRE(s.points.size() == 6);
  CHECK(s.points[4].rows == 8);
  CHECK(s.points[4].inputs.activity == 0.9);
  CHECK(s.describe(4) == "select.model = ideal, inputs.activity = 0.9, array.rows = 8");
}

TEST_CASE("a swept array.r_hat_p replaces the base config's array.r_col") {
  const auto s = spec("\"array.r_hat_p\" = [1e-5, 1e-3]\n");
  CHECK(s.axes[0].numeric());
  CHECK(s.points[1].lines.r_col == Approx(1e-3 / 1e-4));  // r_hat_p / g_max
}

TEST_CASE("a combined axis sets several keys per named value") {
  const auto s = spec("circuit = [ { name = \"a\", \"array.cell\" = \"1r\" },\n"
                      "            { name = \"b\", \"array.cell\" = \"2t-sonos\", \"select.model\" = \"ekv\" } ]\n");
  REQUIRE(s.points.size() == 2);
  CHECK(!s.axes[0].numeric());
  CHECK(s.axes[0].values[1].label == "b");
  CHECK(!s.points[0].cell.has_select());
  CHECK(s.points[1].cell.is_sonos());
  CHECK(s.points[1].cell.select_model == devices::SelectModel::ekv);
}

TEST_CASE("sweep keys are checked like config keys") {
  CHECK_THROWS_WITH(spec("\"array.r_hatp\" = [1e-5]\n"), Contains("did you mean 'array.r_hat_p'"));
  CHECK_THROWS_WITH(spec("\"array.rows\" = [4]\nc = [{ name = \"x\", \"array.rows\" = 2 }]\n"),
                    Contains("already set by another axis"));
  CHECK_THROWS_WITH(spec("\"inputs.activity\" = [0.5, 2.0]\n"), Contains("sweep point inputs.activity = 2"));
  CHECK_THROWS_AS(spec(""), io::InputError);
}
