// Device laws: analytic derivatives against finite differences, program-verify, the reference cell.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "devices/cell.hpp"
#include "devices/levels.hpp"
#include "devices/root_find.hpp"

using namespace xbar::devices;

namespace {

// Central difference with a step relative to the scale of the voltages.
template <class Fn>
double central_difference(Fn&& fn, double x, double h = 1e-6) {
  return (fn(x + h) - fn(x - h)) / (2 * h);
}

void check_ekv_partials(const EkvParams& p, double vg, double vd, double vs) {
  const EkvCurrent e = ekv_current(p, vg, vd, vs);
  const double fd_g = central_difference([&](double x) { return ekv_current(p, x, vd, vs).i_ds; }, vg);
  const double fd_d = central_difference([&](double x) { return ekv_current(p, vg, x, vs).i_ds; }, vd);
  const double fd_s = central_difference([&](double x) { return ekv_current(p, vg, vd, x).i_ds; }, vs);
  // Finite differences carry rounding ~ eps*|I|/h; compare relative to the largest partial.
  const double scale = std::max({std::abs(e.di_dvg), std::abs(e.di_dvd), std::abs(e.di_dvs)});
  INFO("vg " << vg << " vd " << vd << " vs " << vs << " vt " << p.vt);
  CHECK(std::abs(e.di_dvg - fd_g) <= 1e-6 * scale);
  CHECK(std::abs(e.di_dvd - fd_d) <= 1e-6 * scale);
  CHECK(std::abs(e.di_dvs - fd_s) <= 1e-6 * scale);
}

}  // namespace

TEST_CASE("softplus is exact over the whole double range", "[devices]") {
  CHECK(softplus(0.0) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(softplus(-800.0) == 0.0);                       // underflows cleanly, no NaN
  CHECK(softplus(-40.0) == Approx(std::exp(-40.0)).epsilon(1e-12));
  CHECK(softplus(800.0) == 800.0);
  CHECK(softplus(5.0) == Approx(std::log1p(std::exp(5.0))).epsilon(1e-15));
}

TEST_CASE("EKV partial derivatives match central differences over the bias range", "[devices]") {
  EkvParams sonos = sonos_defaults();
  for (double vt : {0.519, 0.2, -0.205}) {  // level 0, mid, level 127
    sonos.vt = vt;
    for (double vd : {0.0, 0.03, 0.1})
      for (double vs : {0.0, 0.002, 0.05}) check_ekv_partials(sonos, 0.0, vd, vs);
  }
  const EkvParams select = select_defaults();
  for (double vg : {0.0, 1.1})
    for (double vd : {0.0, 0.05, 0.1})
      for (double vs : {0.0, 0.01, 0.099}) check_ekv_partials(select, vg, vd, vs);
}

TEST_CASE("the sinh resistor law has consistent derivative and linear limit", "[devices]") {
  const ResistorLaw sinh_law{0.25};
  for (double v : {-0.1, 0.0, 0.03, 0.1}) {
    const auto r = resistor_current(sinh_law, 1e-4, v);
    const double fd = central_difference([&](double x) { return resistor_current(sinh_law, 1e-4, x).i; }, v);
    CHECK(r.di_dv == Approx(fd).epsilon(1e-7));
  }
  CHECK(resistor_current(ResistorLaw{}, 1e-4, 0.1).i == 1e-5);
  CHECK(resistor_current(ResistorLaw{1e3}, 1e-4, 0.1).i == Approx(1e-5).epsilon(1e-8));
}

TEST_CASE("the reference 2T cell at V_T = -0.2054 V conducts 1.6000 uA", "[devices]") {
  const CellModel cell;  // 2t-sonos, default parameters
  const IsolatedCell c = isolated_cell(cell, -0.2054, 0.1, 0.0);
  CHECK(c.current == Approx(1.600026e-6).epsilon(1e-4));
  // KCL at the internal node: the select FET and the SONOS carry the same current.
  CHECK(select_current(cell, cell.v_on, 0.1, c.v_m).i == Approx(c.current).epsilon(1e-12));
  // With the select gate off the cell only leaks.
  CHECK(std::abs(storage_current(cell, -0.2054, 0.1, 0.0).i) > 1e-6);
}

TEST_CASE("program-verify gives the expected V_T range and round-trips to I_k", "[devices]") {
  const CellModel cell;
  const LevelSpec spec{128, 1.6e-6, 1e7};
  const std::vector<double> vts = sonos_level_vts(cell, spec, 0.1);
  CHECK(vts.front() == Approx(0.519).margin(0.001));
  CHECK(vts.back() == Approx(-0.205).margin(0.001));
  for (int k = 0; k < spec.levels; ++k) {
    INFO("level " << k);
    CHECK(isolated_cell(cell, vts[k], 0.1, 0.0).current == Approx(spec.value(k)).epsilon(1e-9));
    if (k > 0) CHECK(vts[k] < vts[k - 1]);
  }
}

TEST_CASE("the bracketed root find converges even when Newton would creep, and stops at NaN", "[devices]") {
  // A derivative a million times too steep (what rounding noise makes of a strongly-on EKV
  // transistor at absurd bias): Newton steps stay inside the bracket but barely move.
  auto steep = [](double x) { return std::pair{x - 0.3, 1e6}; };
  const RootResult root = find_root(steep, 0.0, 1.0, 1e-15);
  CHECK(root.converged);
  CHECK(root.x == Approx(0.3).margin(1e-14));
  CHECK(root.iterations <= 2 * 53);  // the bracket halves at least every second iteration
  auto overflowed = [](double) { return std::pair{std::nan(""), 1.0}; };
  CHECK_FALSE(find_root(overflowed, 0.0, 1.0, 1e-15).converged);
}

TEST_CASE("an isolated cell at an overflowing bias is a ModelError, not a made-up current", "[devices]") {
  CellModel cell;
  cell.v_on = 1e200;
  CHECK_THROWS_AS(isolated_cell(cell, 0.1, 0.1, 0.0), ModelError);
}

TEST_CASE("storage_currents gives storage_current's currents, SONOS through the batched law", "[devices]") {
  // Every programmed level, bit line and internal node from 0 to 0.1 V either way round (V_DS from
  // 0 through 1 uV to 0.1 V), 1r cells at conductances from 1e-8 to 1e-4 S; 1000 cells, so that the
  // batches' chunks of 256 end in a tail.
  CellModel sonos;
  const std::vector<double> vts = sonos_level_vts(sonos, LevelSpec{128, 1.6e-6, 1e7}, 0.1);
  CellModel resistor;
  resistor.kind = CellKind::resistor_1r;
  for (const CellModel& cell : {sonos, resistor}) {
    INFO("cell " << to_string(cell.kind));
    std::vector<double> weight, v_m, v_bl;
    const double sides[] = {0.0, 1e-6, 0.003, 0.05, 0.1};
    for (std::size_t k = 0; weight.size() < 1000; ++k) {
      weight.push_back(cell.is_sonos() ? vts[k % vts.size()] : std::pow(10.0, -8.0 + 4.0 * double(k % 97) / 96));
      v_m.push_back(sides[k % 5]);
      v_bl.push_back(sides[(k / 5) % 5]);
    }
    std::vector<double> batch(weight.size());
    storage_currents(cell, weight, v_m, v_bl, batch);
    double worst = 0;
    for (std::size_t k = 0; k < weight.size(); ++k) {
      const double scalar = storage_current(cell, weight[k], v_m[k], v_bl[k]).i;
      // Where V_DS ~ 0 the law's two terms cancel: a few ulp of them, ~1e-16 of the cell's on current
      // (the larger term, at V_DS = 0.1 V), bound the difference there.
      const double on = std::abs(storage_current(cell, weight[k], 0.1, 0.0).i);
      worst = std::max(worst, std::abs(batch[k] - scalar) / (std::abs(scalar) + 0.01 * on));
      if (!cell.is_sonos()) REQUIRE(batch[k] == scalar);  // the same function, cell by cell
    }
    INFO("worst relative difference " << worst);
    CHECK(worst <= 1e-12);  // ~6e-14 measured: some ulp of the terms
  }
  std::vector<double> three(3), two(2), out(3);
  CHECK_THROWS_AS(storage_currents(sonos, three, three, two, out), std::invalid_argument);
}
