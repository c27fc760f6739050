// Programming error ([variation]): the draws have the requested spread (V_T, and the resulting
// cell current against the measured SONOS fit), are reproducible by seed, and the circuit is
// solved with them while the ideal reference stays the nominal array.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "devices/levels.hpp"
#include "engine/array_solver.hpp"
#include "engine/variation.hpp"
#include "random_arrays.hpp"

using namespace xbar;
using engine::CellContext;
using engine::VariationSpec;

namespace {

struct Moments {
  double mean, std;
};

Moments moments(const std::vector<double>& x) {
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return {mean, std::sqrt(ss / (x.size() - 1))};
}

CellContext sonos_context() {
  return {devices::CellModel{}, devices::LevelSpec{128, 1.6e-6, 1e7}, 0.1, 0.0};
}

// The relative standard error of a sample standard deviation of n normal draws.
double std_error(std::size_t n) { return 1 / std::sqrt(2.0 * n); }

constexpr std::size_t k_draws = 20000;

}  // namespace

TEST_CASE("a constant vt_sigma moves every V_T by a normal draw of that sigma", "[variation]") {
  const CellContext ctx = sonos_context();
  VariationSpec spec;
  spec.vt = {0.004, false};
  spec.seed = 7;
  const double vt_nominal = devices::sonos_vt_for_current(ctx.cell, ctx.levels.value(40), ctx.v_read);
  const std::vector<double> nominal(k_draws, vt_nominal);
  std::vector<double> error = engine::programmed_weights(spec, ctx, nominal);
  for (double& e : error) e -= vt_nominal;
  const Moments m = moments(error);
  CHECK(std::abs(m.mean) < 4 * 0.004 / std::sqrt(k_draws));
  CHECK(m.std == Approx(0.004).epsilon(4 * std_error(k_draws)));
}

TEST_CASE("the cell transconductance equals a central difference of the isolated current in V_T", "[variation]") {
  const CellContext ctx = sonos_context();
  for (int level : {0, 10, 127}) {
    const double vt = devices::sonos_vt_for_current(ctx.cell, ctx.levels.value(level), ctx.v_read);
    const double h = 1e-5;
    const double slope = (devices::isolated_cell(ctx.cell, vt - h, 0.1, 0).current -
                          devices::isolated_cell(ctx.cell, vt + h, 0.1, 0).current) / (2 * h);
    CHECK(devices::sonos_cell_transconductance(ctx.cell, vt, 0.1, 0) == Approx(slope).epsilon(1e-6));
  }
}

TEST_CASE("sonos-fit: the cell-current spread of each level is the measured fit sigma_I(I_k)", "[variation]") {
  const CellContext ctx = sonos_context();
  VariationSpec spec;
  spec.vt.sonos_fit = true;
  spec.seed = 11;
  for (int level : {1, 20, 127}) {
    const double i_k = ctx.levels.value(level);
    const double vt_nominal = devices::sonos_vt_for_current(ctx.cell, i_k, ctx.v_read);
    const std::vector<double> programmed = engine::programmed_weights(spec, ctx, std::vector<double>(k_draws, vt_nominal));
    std::vector<double> vt_error(programmed.size()), current(programmed.size());
    for (std::size_t k = 0; k < programmed.size(); ++k) {
      vt_error[k] = programmed[k] - vt_nominal;
      current[k] = devices::isolated_cell(ctx.cell, programmed[k], ctx.v_read, 0).current;
    }
    // sigma_I(I) = B (1 - exp(-A I)), A = 0.00188704 /nA, B = 39.5656 nA, written out here.
    const double i_nA = i_k * 1e9;
    const double sigma_i = 39.5656e-9 * (1 - std::exp(-0.00188704 * i_nA));
    const double sigma_vt = sigma_i / devices::sonos_cell_transconductance(ctx.cell, vt_nominal, 0.1, 0);
    INFO("level " << level << ": sigma_VT " << sigma_vt << " V, sigma_I " << sigma_i << " A");
    CHECK(sigma_vt > 0.5e-3);
    CHECK(sigma_vt < 5e-3);  // "about 3 mV"
    CHECK(moments(vt_error).std == Approx(sigma_vt).epsilon(4 * std_error(k_draws)));
    // The current responds to V_T exponentially: at 8 % relative spread the lognormal widens
    // the spread by ~0.5 %, inside the allowance.
    CHECK(moments(current).std == Approx(sigma_i).epsilon(4 * std_error(k_draws) + 0.01));
    CHECK(moments(current).mean == Approx(i_k).epsilon(0.01));
  }
}

TEST_CASE("the draws are reproducible by seed and differ between seeds", "[variation]") {
  const CellContext ctx = sonos_context();
  VariationSpec spec;
  spec.vt.sonos_fit = true;
  const std::vector<double> nominal = devices::sonos_level_vts(ctx.cell, ctx.levels, ctx.v_read);
  spec.seed = 5;
  const std::vector<double> a = engine::programmed_weights(spec, ctx, nominal);
  const std::vector<double> b = engine::programmed_weights(spec, ctx, nominal);
  spec.seed = 6;
  const std::vector<double> c = engine::programmed_weights(spec, ctx, nominal);
  CHECK(a == b);
  CHECK(a != nominal);
  std::size_t same = 0;
  for (std::size_t k = 0; k < a.size(); ++k) same += a[k] == c[k];
  CHECK(same == 0);
  spec.vt = {};  // no sigma for this cell kind: the nominal weights
  CHECK(engine::programmed_weights(spec, ctx, nominal) == nominal);
}

TEST_CASE("g_sigma is a fraction of G_max - G_min, clipped to [G_min, G_max]", "[variation]") {
  CellContext ctx{devices::CellModel{}, devices::LevelSpec{128, 1.0 / 33e3, 10}, 0.1, 0.0};
  ctx.cell.kind = devices::CellKind::select_resistor_1t1r;
  VariationSpec spec;
  spec.g = {0.05, false};
  spec.vt = {0.01, false};  // ignored for resistor cells
  const double range = ctx.levels.max - ctx.levels.min();
  const std::vector<double> mid = engine::programmed_weights(spec, ctx, std::vector<double>(k_draws, ctx.levels.value(64)));
  CHECK(moments(mid).std == Approx(0.05 * range).epsilon(4 * std_error(k_draws)));
  const std::vector<double> low = engine::programmed_weights(spec, ctx, std::vector<double>(k_draws, ctx.levels.min()));
  CHECK(*std::min_element(low.begin(), low.end()) == ctx.levels.min());  // half of them clipped
  CHECK(*std::max_element(low.begin(), low.end()) > ctx.levels.min() + 0.1 * range);
}

TEST_CASE("the circuit is solved with the programmed weights, the ideal reference stays nominal", "[variation]") {
  netlists::ArraySpec spec = test::random_array(devices::CellKind::select_sonos_2t, 12, 5, {}, 3);
  VariationSpec variation;
  variation.vt.sonos_fit = true;
  spec.nominal_weights = spec.weights;
  spec.weights = engine::programmed_weights(variation, sonos_context(), spec.weights);
  spec.cell.select_model = devices::SelectModel::ideal;  // no off-cell leakage: sums are exact
  const netlists::Crossbar varied(spec);
  netlists::ArraySpec nominal_spec = spec;
  nominal_spec.weights = spec.nominal_weights;
  nominal_spec.nominal_weights.clear();
  const netlists::Crossbar nominal(nominal_spec);
  const Matrix inputs = test::random_inputs(spec, 3, 0.5, 4);
  engine::ArraySolver solver(varied, {});
  const engine::ArrayResults r = solver.solve(inputs);
  for (std::size_t v = 0; v < inputs.rows; ++v) {
    const std::vector<double> ideal = nominal.ideal_column_currents(inputs.row(v));
    for (int j = 0; j < spec.cols; ++j) {
      double programmed = 0;  // the varied cells, each alone at nominal bias
      for (int i = 0; i < spec.rows; ++i)
        if (inputs(v, i) == 1)
          programmed += devices::isolated_cell(spec.cell, spec.weights[i * spec.cols + j], 0.1, 0).current;
      CHECK(r.column_current(v, j) == Approx(programmed).epsilon(1e-12));
      CHECK(r.column_current_ideal(v, j) == Approx(ideal[j]).epsilon(1e-15));
      CHECK(std::abs(r.column_current(v, j) / ideal[j] - 1) > 1e-4);  // the error is there
    }
  }
  for (int k = 0; k < spec.rows * spec.cols; ++k)
    CHECK(r.cell_current_programmed.data[k] ==
          Approx(devices::isolated_cell(spec.cell, spec.weights[k], 0.1, 0).current).epsilon(1e-15));
}
