// The tabulated transistor law against analytic references (no ngspice): accuracy between the
// nodes, exactness at them, derivatives that are the current's own, C1 continuity, and the
// array solver using it in place of the law it tabulates.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "device_fixtures.hpp"
#include "random_arrays.hpp"
#include "solver/circuit.hpp"

using namespace xbar;
using devices::TableDevice;
using devices::TransistorCurrent;

namespace {

struct Accuracy {
  double max_rel = 0, rms_rel = 0;
};

// |I_table / I_law - 1| at random points of the spec's box.
Accuracy accuracy(const TableDevice& table, const test::Law& law, const devices::TableGridSpec& spec, int count) {
  Accuracy a;
  double sum = 0;
  int n = 0;
  for (const test::Bias& b : test::random_biases(spec, count, 7)) {
    const double reference = law(b.v_g, b.v_d, b.v_s).i_ds;
    if (reference == 0) continue;
    const double rel = std::abs(table.current(b.v_g, b.v_d, b.v_s).i_ds / reference - 1);
    a.max_rel = std::max(a.max_rel, rel);
    sum += rel * rel, ++n;
  }
  a.rms_rel = std::sqrt(sum / n);
  return a;
}

const devices::EkvParams k_select = devices::select_defaults();

TableDevice ekv_table(const devices::EkvParams& envelope) {
  const devices::TableGrid grid = devices::make_table_grid(test::default_spec());
  return TableDevice(test::tabulate(grid, test::ekv_law(k_select)), envelope);
}

// A ratio cubic in each coordinate (V_G, V_S, V_DS): the tensor spline reproduces it exactly.
double cubic_ratio(double v_g, double v_s, double v_ds) {
  return (1 + 0.3 * v_g - 0.2 * v_g * v_g + 0.1 * v_g * v_g * v_g) * (0.5 + v_s - 2 * v_s * v_s + 3 * v_s * v_s * v_s) *
         (0.2 + v_ds + 4 * v_ds * v_ds - 5 * v_ds * v_ds * v_ds);
}

}  // namespace

TEST_CASE("the default grid has v_off and v_on as nodes and V_DS = 0 as a grid plane", "[table]") {
  const devices::TableGrid g = devices::make_table_grid(test::default_spec());
  CHECK(std::count(g.v_g.begin(), g.v_g.end(), 0.0) == 1);
  CHECK(std::any_of(g.v_g.begin(), g.v_g.end(), [](double v) { return std::abs(v - 1.1) < 1e-15; }));
  CHECK(g.v_g.front() <= -0.1 + 1e-12);
  CHECK(g.v_g.back() >= 1.2 - 1e-12);
  CHECK(std::count(g.v_ds.begin(), g.v_ds.end(), 0.0) == 1);
  CHECK(g.v_s.front() == -0.05);
  CHECK(g.v_s.back() == Approx(0.15).margin(1e-15));
  CHECK(g.v_ds.back() == Approx(0.2).margin(1e-15));
  CHECK(g.v_ds[1] - g.v_ds[0] == Approx(g.v_s[1] - g.v_s[0]).epsilon(1e-12));  // V_D on the V_S lattice
  CHECK(g.v_s[1] - g.v_s[0] <= 0.0075 + 1e-15);
}

TEST_CASE("a table of the EKV select law is within 1e-4 of it between the nodes (default density)", "[table]") {
  const devices::TableGridSpec spec = test::default_spec();
  SECTION("envelope = the law itself") {
    const Accuracy a = accuracy(ekv_table(k_select), test::ekv_law(k_select), spec, 40000);
    INFO("max " << a.max_rel << ", rms " << a.rms_rel);
    CHECK(a.max_rel <= 1e-4);
  }
  SECTION("envelope 50 mV, 10 % and a factor 2 off the law") {
    devices::EkvParams rough = k_select;
    rough.vt += 0.05, rough.n *= 1.1, rough.eta = 0, rough.i_s *= 2;
    const Accuracy a = accuracy(ekv_table(rough), test::ekv_law(k_select), spec, 40000);
    INFO("max " << a.max_rel << ", rms " << a.rms_rel);
    CHECK(a.max_rel <= 1e-4);
  }
}

TEST_CASE("the table passes through its samples at every node", "[table]") {
  const TableDevice table = ekv_table(k_select);
  const devices::TableGrid& g = table.grid();
  double worst = 0;
  for (std::size_t ig = 0; ig < g.v_g.size(); ig += 3)
    for (std::size_t is = 0; is < g.v_s.size(); ++is)
      for (std::size_t id = 0; id < g.v_ds.size(); ++id) {
        const double v_s = g.v_s[is], v_d = v_s + g.v_ds[id];
        const double sample = table.samples()[g.index(ig, is, id)];
        const double error = std::abs(table.current(g.v_g[ig], v_d, v_s).i_ds - sample);
        worst = std::max(worst, error / std::max(std::abs(sample), 1e-300));
        if (sample == 0) CHECK(error == 0);
      }
  CHECK(worst <= 1e-13);
}

TEST_CASE("the table's partials are the derivatives of its own current", "[table]") {
  const TableDevice table = ekv_table(k_select);
  const double h = 1e-7;
  for (const test::Bias& b : test::random_biases(test::default_spec(), 300, 8)) {
    const TransistorCurrent c = table.current(b.v_g, b.v_d, b.v_s);
    const double scale = std::abs(c.di_dvg) + std::abs(c.di_dvd) + std::abs(c.di_dvs);
    const double fd_g = (table.current(b.v_g + h, b.v_d, b.v_s).i_ds - table.current(b.v_g - h, b.v_d, b.v_s).i_ds) / (2 * h);
    const double fd_d = (table.current(b.v_g, b.v_d + h, b.v_s).i_ds - table.current(b.v_g, b.v_d - h, b.v_s).i_ds) / (2 * h);
    const double fd_s = (table.current(b.v_g, b.v_d, b.v_s + h).i_ds - table.current(b.v_g, b.v_d, b.v_s - h).i_ds) / (2 * h);
    CHECK(std::abs(c.di_dvg - fd_g) <= 1e-6 * scale);
    CHECK(std::abs(c.di_dvd - fd_d) <= 1e-6 * scale);
    CHECK(std::abs(c.di_dvs - fd_s) <= 1e-6 * scale);
  }
}

TEST_CASE("the table is C1: current and partials continuous across cell faces and V_DS = 0", "[table]") {
  const TableDevice table = ekv_table(k_select);
  const devices::TableGrid& g = table.grid();
  const double eps = 1e-10;
  auto same = [](const TransistorCurrent& a, const TransistorCurrent& b) {
    const double scale = std::abs(a.di_dvg) + std::abs(a.di_dvd) + std::abs(a.di_dvs);
    return std::abs(a.i_ds - b.i_ds) <= 1e-9 * scale + 1e-13 * std::abs(a.i_ds) &&
           std::abs(a.di_dvg - b.di_dvg) <= 1e-6 * scale &&
           std::abs(a.di_dvd - b.di_dvd) <= 1e-6 * scale && std::abs(a.di_dvs - b.di_dvs) <= 1e-6 * scale;
  };
  const std::size_t zero = std::find(g.v_ds.begin(), g.v_ds.end(), 0.0) - g.v_ds.begin();
  for (std::size_t ig : {std::size_t{5}, std::size_t{30}, std::size_t{60}})
    for (std::size_t is : {std::size_t{3}, std::size_t{14}})
      for (std::size_t id : {std::size_t{7}, zero, zero + 5}) {
        const double v_g = g.v_g[ig] + 0.3 * (g.v_g[1] - g.v_g[0]), v_s = g.v_s[is], v_ds = g.v_ds[id];
        // across the V_DS face (at fixed V_S), the V_S face (at fixed V_DS) and the V_G face
        CHECK(same(table.current(v_g, v_s + v_ds - eps, v_s), table.current(v_g, v_s + v_ds + eps, v_s)));
        CHECK(same(table.current(v_g, v_s - eps + v_ds, v_s - eps), table.current(v_g, v_s + eps + v_ds, v_s + eps)));
        CHECK(same(table.current(g.v_g[ig] - eps, v_s + v_ds, v_s), table.current(g.v_g[ig] + eps, v_s + v_ds, v_s)));
      }
}

TEST_CASE("a ratio I/E cubic in each voltage is reproduced exactly, split at V_DS = 0 or not", "[table]") {
  const devices::EkvParams envelope = k_select;
  const test::Law law = [&](double v_g, double v_d, double v_s) {
    const TransistorCurrent e = devices::table_envelope(envelope, v_g, v_d, v_s);
    const double v_ds = v_d - v_s, h = 1e-6;
    const double q = cubic_ratio(v_g, v_s, v_ds);
    const double dq_dvds = (cubic_ratio(v_g, v_s, v_ds + h) - cubic_ratio(v_g, v_s, v_ds - h)) / (2 * h);
    return TransistorCurrent{e.i_ds * q, 0, e.di_dvd * q + e.i_ds * dq_dvds, 0};
  };
  devices::TableSamples samples = test::tabulate(devices::make_table_grid(test::default_spec()), law);
  const bool split = GENERATE(true, false);
  if (!split) samples.di_dvd.clear();
  const TableDevice table(samples, envelope);
  for (const test::Bias& b : test::random_biases(test::default_spec(), 2000, 9)) {
    const double e = devices::table_envelope(envelope, b.v_g, b.v_d, b.v_s).i_ds;
    CHECK(std::abs(table.current(b.v_g, b.v_d, b.v_s).i_ds - law(b.v_g, b.v_d, b.v_s).i_ds) <= 1e-9 * e);
  }
}

TEST_CASE("outside its grid the table continues: ratio held at the boundary, envelope analytic", "[table]") {
  const TableDevice table = ekv_table(k_select);
  const devices::TableGrid& g = table.grid();
  const double v_s = 0.02, edge = g.v_ds.back(), eps = 1e-9;
  const TransistorCurrent inside = table.current(1.1, v_s + edge - eps, v_s);
  const TransistorCurrent outside = table.current(1.1, v_s + edge + eps, v_s);
  CHECK(outside.i_ds == Approx(inside.i_ds).epsilon(1e-7));  // 2 nV apart
  CHECK_FALSE(table.covers(1.1, v_s + edge + eps, v_s));
  CHECK(table.covers(1.1, v_s + edge - eps, v_s));
  const TransistorCurrent far = table.current(2.0, 0.8, -0.3);
  CHECK(std::isfinite(far.i_ds));
  CHECK(far.i_ds > 0);
  CHECK(std::isfinite(far.di_dvg));
}

TEST_CASE("bad tables are rejected with the reason", "[table]") {
  devices::TableSamples samples = test::tabulate(devices::make_table_grid(test::default_spec()), test::ekv_law(k_select));
  SECTION("non-finite sample") {
    samples.i_ds[17] = NAN;
    CHECK_THROWS_WITH(TableDevice(samples, k_select), Catch::Contains("not finite"));
  }
  SECTION("size mismatch") {
    samples.i_ds.pop_back();
    CHECK_THROWS_WITH(TableDevice(samples, k_select), Catch::Contains("samples for a grid of"));
  }
  SECTION("axis too short or not increasing") {
    samples.grid.v_g = {0.0, 0.5, 1.1};
    CHECK_THROWS_WITH(TableDevice(samples, k_select), Catch::Contains("at least 4"));
  }
}

TEST_CASE("an array whose select is the table of the EKV law solves like the EKV array, KCL to rounding",
          "[table][engine]") {
  auto table = std::make_shared<const devices::TabulatedTransistor>(
      devices::TabulatedTransistor{devices::make_model_card(".model x nmos\n", "x", 1e-7, 1e-7, 27), ekv_table(k_select)});
  for (devices::CellKind kind : {devices::CellKind::select_resistor_1t1r, devices::CellKind::select_sonos_2t}) {
    const netlists::Crossbar tabulated(test::array_with_select(kind, table, 16, 16, 5));
    const netlists::Crossbar analytic(test::array_with_select(kind, nullptr, 16, 16, 5));
    engine::ArraySolver a(tabulated, {}), b(analytic, {});
    const Matrix inputs = test::random_bits(3, 16, 6);
    const engine::ArrayResults ra = a.solve(inputs), rb = b.solve(inputs);
    for (std::size_t k = 0; k < ra.column_current.data.size(); ++k)
      CHECK(ra.column_current.data[k] == Approx(rb.column_current.data[k]).epsilon(1e-5));
    REQUIRE(test::worst_kcl_ratio(tabulated.circuit(), ra.voltages) <= 1.0);
  }
}
