// A Krylov solve that stops short of its tolerance is reported, never passed off as converged:
// the line backend's info() says so, and the grid Newton counts it in its statistics (its own
// KCL test still decides whether the answer stands). And the grid's CG on the Schur complement
// of the row lines (1r arrays with both line resistances take it) gives KLU's answer.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/array_solver.hpp"
#include "netlists/solver_views.hpp"
#include "random_arrays.hpp"
#include "solver/line_solver.hpp"
#include "solver/nodal_system.hpp"

using namespace xbar;

namespace {

// Newton's first linear system of `xb` at its initial guess for `input`: J dv = -f.
struct FirstSystem {
  std::vector<double> jacobian, rhs;
};

FirstSystem first_system(const netlists::Crossbar& xb, const solver::NodalSystem& system, std::span<const double> input) {
  const std::size_t n = xb.circuit().n_free;
  std::vector<double> f(n), scale(n);
  FirstSystem out{std::vector<double>(system.pattern().nnz()), {}};
  const std::vector<double> v = solver::full_voltages(xb.initial_guess(input), xb.fixed_voltages(input));
  system.assemble(v, 0.0, f, out.jacobian, scale);
  for (double x : f) out.rhs.push_back(-x);
  return out;
}

}  // namespace

TEST_CASE("the line backend reports a Krylov solve stopped by its iteration limit", "[krylov]") {
  const netlists::Crossbar xb(test::random_array(devices::CellKind::resistor_1r, 24, 20, {1.0, 1.0, 0.0, 0.0}, 61));
  const Matrix inputs = test::random_inputs(xb.spec(), 1, 0.5, 7);
  const solver::NodalSystem system(xb.circuit());
  const FirstSystem s = first_system(xb, system, inputs.row(0));
  for (int limit : {1, 2000}) {
    CAPTURE(limit);
    solver::LineSolverOptions options;
    options.max_iterations = limit;
    const auto lines = solver::make_line_solver(netlists::line_partition(xb), options);
    lines->analyze(system.pattern());
    lines->factor(s.jacobian);
    std::vector<double> x = s.rhs;
    lines->solve(x);
    const solver::LinearInfo info = lines->info();
    CHECK(info.iterations <= limit);
    CHECK(info.converged == (limit > 1));  // one iteration cannot solve a coupled 24x20 grid
  }
}

TEST_CASE("the grid counts Krylov solves that stopped short, and KCL still decides", "[krylov]") {
  const netlists::Crossbar xb(test::random_array(devices::CellKind::resistor_1r, 40, 30, {1.0, 1.0, 0.0, 0.0}, 62));
  const Matrix inputs = test::random_inputs(xb.spec(), 2, 0.5, 8);
  solver::NewtonOptions options;
  options.method = solver::Method::grid;
  const engine::ArrayResults full = engine::ArraySolver(xb, options).solve(inputs);
  CHECK(full.summary.unconverged_linear == 0);
  options.max_linear_iterations = 1;
  engine::ArraySolver limited(xb, options);
  REQUIRE(limited.method() == solver::Method::grid);
  const engine::ArrayResults cut = limited.solve(inputs);
  CHECK(cut.summary.unconverged_linear > 0);
  // Whatever solved it in the end (more Newton steps, or the general fallback), KCL holds and the
  // column currents are those of the full solve.
  for (std::size_t k = 0; k < full.column_current.data.size(); ++k)
    CHECK(std::abs(cut.column_current.data[k] - full.column_current.data[k]) <=
          1e-9 * std::abs(full.column_current.data[k]));
  CHECK(test::worst_kcl_ratio(xb.circuit(), cut.voltages) <= 1.0);
}

namespace {

// The grid's Krylov path gives KLU's column currents to 1e-9 relative, and KCL holds at every node.
void grid_matches_klu(const netlists::Crossbar& xb, const Matrix& inputs) {
  solver::NewtonOptions klu, grid;
  klu.method = solver::Method::klu;
  grid.method = solver::Method::grid;
  const engine::ArrayResults a = engine::ArraySolver(xb, klu).solve(inputs);
  const engine::ArrayResults b = engine::ArraySolver(xb, grid).solve(inputs);
  CHECK(b.summary.methods == "newton");
  CHECK(b.summary.linear_iterations > 0);  // the Krylov path, not a direct one
  // A linear circuit: one Newton step per vector (one assembly and one linear solve; the second
  // assembly only evaluates the residual for the certificate, on the matrix of the first).
  if (xb.circuit().is_linear()) CHECK(b.summary.newton_iterations == static_cast<long>(inputs.rows));
  for (std::size_t k = 0; k < a.column_current.data.size(); ++k)
    REQUIRE(std::abs(a.column_current.data[k] - b.column_current.data[k]) <=
            1e-9 * std::max(std::abs(a.column_current.data[k]), std::abs(b.column_current.data[k])) + 1e-21);
  REQUIRE(test::worst_kcl_ratio(xb.circuit(), b.voltages) <= 1.0);
}

}  // namespace

TEST_CASE("1r grids with both line resistances (CG on the Schur complement of the row lines) agree with KLU", "[krylov]") {
  // Random 1r arrays (linear law, and the sinh law: a nonlinear two-terminal cell keeps S
  // symmetric), square and not, random analog inputs: column currents to 1e-9 relative of KLU's,
  // KCL at every node.
  struct Case { int rows, cols; double v0; unsigned seed; };  // v0 = 0: linear law
  for (const Case& c : {Case{32, 32, 0.0, 71}, Case{57, 23, 0.0, 72}, Case{20, 64, 0.05, 73}, Case{48, 48, 0.05, 74}}) {
    CAPTURE(c.rows, c.cols, c.v0);
    netlists::ArraySpec spec = test::random_array(devices::CellKind::resistor_1r, c.rows, c.cols, {1.0, 2.0, 0.0, 0.0}, c.seed);
    if (c.v0 > 0) spec.cell.resistor.v0 = c.v0;
    const netlists::Crossbar xb(spec);
    grid_matches_klu(xb, test::random_inputs(xb.spec(), 3, 1.0, c.seed));
  }
}

TEST_CASE("1r grids with many modes smooth along both line families (two-level CG) agree with KLU", "[krylov]") {
  // Where the cells tie the two line families together over many wire segments (about
  // rows cols g_cell / (pi^2 g_wire) modes, here ~4), the Schur CG adds a coarse correction
  // (bilinear functions on blocks of cells, line_coarse.hpp). Its answer must still be KLU's:
  // column currents to 1e-9 relative, KCL at every node. Non-square, unequal wires, analog
  // inputs, then the same with nine rows in ten switched to 0 V; the linear law, and the sinh
  // law (S stays symmetric, a new coarse matrix every Newton step) on a smaller array with
  // thinner wires.
  struct Case { int rows, cols; double r_row, r_col, v0; unsigned seed; };
  for (const Case& c : {Case{224, 240, 10.0, 20.0, 0.0, 81}, Case{100, 110, 50.0, 100.0, 0.05, 82}}) {
    CAPTURE(c.rows, c.cols, c.v0);
    netlists::ArraySpec spec =
        test::random_array(devices::CellKind::resistor_1r, c.rows, c.cols, {c.r_row, c.r_col, 0.0, 0.0}, c.seed);
    if (c.v0 > 0) spec.cell.resistor.v0 = c.v0;
    const netlists::Crossbar xb(spec);
    Matrix inputs = test::random_inputs(xb.spec(), 2, 1.0, c.seed);
    for (int j = 0; j < spec.rows; ++j)
      if (j % 10 != 3) inputs(1, j) = 0.0;
    grid_matches_klu(xb, inputs);
  }
}
