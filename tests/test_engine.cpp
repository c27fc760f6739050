// The array engine against independent references: ideal sums, KCL, a hand-solved 2x2 network,
// node merging.
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "devices/levels.hpp"
#include "engine/array_solver.hpp"
#include "random_arrays.hpp"

using namespace xbar;
using netlists::ArraySpec;
using netlists::Crossbar;

namespace {

devices::CellModel cell_of(devices::CellKind kind) {
  devices::CellModel cell;
  cell.kind = kind;
  return cell;
}

Matrix random_inputs(const ArraySpec& spec, int count, unsigned seed) {
  return test::random_inputs(spec, count, 0.5, seed);
}

using test::random_array;

const devices::CellKind k_all_kinds[] = {devices::CellKind::resistor_1r,
                                         devices::CellKind::select_resistor_1t1r,
                                         devices::CellKind::select_sonos_2t};

}  // namespace

TEST_CASE("with every line resistance 0 the column currents are the ideal sums", "[engine]") {
  // Select cells: the solve finds each internal node; 1r cells have none (Ohm's law below).
  for (devices::CellKind kind : {devices::CellKind::select_resistor_1t1r, devices::CellKind::select_sonos_2t}) {
    const Crossbar xb(random_array(kind, 16, 9, {}, 11));
    engine::ArraySolver solver(xb, {});
    // Every select on: with a select off, that cell's leakage is (by definition) not ideal.
    Matrix inputs = random_inputs(xb.spec(), 4, 12);
    if (xb.spec().cell.has_select()) std::fill(inputs.data.begin(), inputs.data.end(), 1.0);
    const engine::ArrayResults r = solver.solve(inputs);
    for (std::size_t k = 0; k < r.column_current.data.size(); ++k)
      CHECK(r.column_current.data[k] == Approx(r.column_current_ideal.data[k]).epsilon(1e-12));
  }
}

TEST_CASE("a 1r array without line resistance obeys Ohm's law column by column", "[engine]") {
  // Every node merges into a source: I_j = sum_i G_ij (x_i v_read - v_sense), written out here
  // rather than taken from the engine's own ideal reference.
  ArraySpec spec = random_array(devices::CellKind::resistor_1r, 12, 7, {}, 15);
  spec.v_sense = 0.02;
  const Crossbar xb(spec);
  engine::ArraySolver solver(xb, {});
  const Matrix inputs = random_inputs(spec, 3, 16);
  const engine::ArrayResults r = solver.solve(inputs);
  for (std::size_t v = 0; v < inputs.rows; ++v)
    for (int j = 0; j < spec.cols; ++j) {
      double ohm = 0;
      for (int i = 0; i < spec.rows; ++i)
        ohm += spec.weights[static_cast<std::size_t>(i) * spec.cols + j] * (inputs(v, i) * spec.v_read - spec.v_sense);
      CHECK(r.column_current(v, j) == Approx(ohm).epsilon(1e-12));
      CHECK(r.column_current_ideal(v, j) == Approx(ohm).epsilon(1e-12));
    }
}

TEST_CASE("cells whose select is off add only their leakage to the column", "[engine]") {
  const Crossbar xb(random_array(devices::CellKind::select_sonos_2t, 16, 9, {}, 13));
  engine::ArraySolver solver(xb, {});
  const engine::ArrayResults r = solver.solve(random_inputs(xb.spec(), 4, 14));
  for (std::size_t k = 0; k < r.column_current.data.size(); ++k) {
    const double leak = r.column_current.data[k] - r.column_current_ideal.data[k];
    CHECK(leak > 0);
    CHECK(leak < 16 * 1e-12);  // select FET off: ~0.5 pA per cell at V_G = 0
  }
}

TEST_CASE("KCL holds at every node of a solved 32x32 array of each kind", "[engine]") {
  for (devices::CellKind kind : k_all_kinds) {
    ArraySpec spec = random_array(kind, 32, 32, {2.0, 3.0, 10.0, 50.0}, 21);
    spec.v_sense = 0.01;
    const Crossbar xb(spec);
    engine::ArraySolver solver(xb, {});
    std::vector<double> v;
    solver::SolveStats stats;
    const Matrix inputs = random_inputs(xb.spec(), 1, 22);
    solver.solve_vector(inputs.row(0), v, stats);
    REQUIRE(test::worst_kcl_ratio(xb.circuit(), v) <= 1.0);
    const solver::NodeCurrents kcl = solver::node_currents(xb.circuit(), v);
    double worst = 0;
    for (solver::NodeIndex n = 0; n < xb.circuit().n_free; ++n) worst = std::max(worst, std::abs(kcl.current_out[n]));
    CHECK(worst <= 1e-15);
    test::require_conservation(xb, v, kcl);  // each column current the sum of its cells' currents
  }
}

TEST_CASE("a 2x2 1r array with line resistances matches the hand-derived solution", "[engine]") {
  // Unknowns: r00 r01 r10 r11 (row nodes), c00 c01 c10 c11 (column nodes), s0 s1 (sense nodes).
  // r_driver = 0 puts a(i) at V_row(i); V_sense = 0.
  const double rr = 5, rc = 7, rs = 11, vr = 0.1;
  const double g[2][2] = {{1e-3, 2e-3}, {3e-3, 4e-3}};
  const double x[2] = {1.0, 0.5};
  ArraySpec spec;
  spec.rows = spec.cols = 2;
  spec.cell = cell_of(devices::CellKind::resistor_1r);
  spec.lines = {rr, rc, 0.0, rs};
  spec.v_read = vr;
  spec.weights = {g[0][0], g[0][1], g[1][0], g[1][1]};
  const Crossbar xb(spec);
  engine::ArraySolver solver(xb, {});
  std::vector<double> v;
  solver::SolveStats stats;
  solver.solve_vector(std::vector<double>{x[0], x[1]}, v, stats);

  // Hand-written nodal equations G u = b.
  auto R = [](int i, int j) { return 2 * i + j; };
  auto C = [](int i, int j) { return 4 + 2 * i + j; };
  auto S = [](int j) { return 8 + j; };
  Eigen::MatrixXd G = Eigen::MatrixXd::Zero(10, 10);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(10);
  auto branch = [&](int a, int c, double cond) {
    G(a, a) += cond, G(c, c) += cond, G(a, c) -= cond, G(c, a) -= cond;
  };
  for (int i = 0; i < 2; ++i) {
    G(R(i, 0), R(i, 0)) += 1 / rr;  // segment from the driver node at x_i * v_read
    b(R(i, 0)) += x[i] * vr / rr;
    branch(R(i, 0), R(i, 1), 1 / rr);
    for (int j = 0; j < 2; ++j) branch(R(i, j), C(i, j), g[i][j]);
  }
  for (int j = 0; j < 2; ++j) {
    branch(C(0, j), C(1, j), 1 / rc);
    branch(C(1, j), S(j), 1 / rc);
    G(S(j), S(j)) += 1 / rs;
  }
  const Eigen::VectorXd u = G.fullPivLu().solve(b);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      CHECK(v[xb.node(netlists::NodeKind::row, i, j)] == Approx(u(R(i, j))).epsilon(1e-12));
      CHECK(v[xb.node(netlists::NodeKind::column, i, j)] == Approx(u(C(i, j))).epsilon(1e-12));
    }
  const std::vector<double> columns = xb.column_currents(v);
  for (int j = 0; j < 2; ++j) CHECK(columns[j] == Approx(u(S(j)) / rs).epsilon(1e-12));
}

TEST_CASE("merging 0-ohm nodes agrees with 1e-9 ohm wires", "[engine]") {
  for (devices::CellKind kind : k_all_kinds) {
    const ArraySpec merged = random_array(kind, 8, 6, {0.0, 2.0, 0.0, 0.0}, 31);
    ArraySpec tiny = merged;
    tiny.lines = {1e-9, 2.0, 1e-9, 1e-9};
    const Crossbar a(merged), b(tiny);
    CHECK(a.circuit().n_free < b.circuit().n_free);
    const Matrix inputs = random_inputs(merged, 3, 32);
    engine::ArraySolver sa(a, {}), sb(b, {});
    const Matrix ia = sa.solve(inputs).column_current, ib = sb.solve(inputs).column_current;
    for (std::size_t k = 0; k < ia.data.size(); ++k)
      CHECK(ia.data[k] == Approx(ib.data[k]).epsilon(1e-6));
  }
}
