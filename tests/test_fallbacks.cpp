// Newton's fallbacks: from a far-off starting point with few iterations per run, plain Newton
// cannot arrive and source stepping (each run a short walk) does; the method that succeeded is
// reported and the answer meets KCL like any other.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "engine/array_solver.hpp"
#include "random_arrays.hpp"

using namespace xbar;

namespace {

netlists::Crossbar sonos_array() {
  netlists::ArraySpec spec;
  spec.rows = spec.cols = 8;
  spec.lines = {1.0, 1.0, 0.0, 0.0};
  for (int k = 0; k < 64; ++k) spec.weights.push_back(test::default_level_vts()[(k * 37) % 128]);
  return netlists::Crossbar(spec);
}

solver::SolveStats solve_from(const netlists::Crossbar& xb, double start, solver::NewtonOptions options,
                              std::vector<double>& v) {
  options.method = solver::Method::klu;
  solver::NewtonSolver newton(xb.circuit(), solver::make_klu_solver(), options);
  const std::vector<double> input(8, 1.0);
  v.assign(xb.circuit().n_free, start);
  const std::vector<double> fixed = xb.fixed_voltages(input);
  const solver::SolveStats stats = newton.solve(fixed, v);
  v = solver::full_voltages(v, fixed);
  return stats;
}

}  // namespace

TEST_CASE("source stepping rescues a start far from the answer and says so", "[solver]") {
  // Gmin stepping restarts from the same far point under the same step limit, so it cannot help
  // here (it is for Jacobians that go singular or oscillate); source stepping starts from 0 V
  // and walks the sources up in 20 short runs.
  const netlists::Crossbar xb = sonos_array();
  solver::NewtonOptions options;
  options.max_iterations = 8;  // plain Newton must travel 5 V in steps of max_step = 0.2 V
  std::vector<double> v;
  const solver::SolveStats stats = solve_from(xb, 5.0, options, v);
  INFO(solver::to_string(stats.method) << ": " << stats.detail);
  REQUIRE(stats.converged);
  CHECK(solver::to_string(stats.method) == "source-stepping");
  CHECK(stats.detail.find("newton: no convergence") != std::string::npos);
  CHECK(stats.detail.find("gmin-stepping: no convergence") != std::string::npos);
  CHECK(test::worst_kcl_ratio(xb.circuit(), v) <= 1.0);
  solver::NewtonOptions plain;
  plain.max_iterations = 8;
  plain.gmin_stepping = plain.source_stepping = false;
  CHECK_FALSE(solve_from(xb, 5.0, plain, v).converged);  // the rescue was needed
}

TEST_CASE("a grid Newton that fails hands over to the general solver, and says so", "[solver]") {
  const netlists::Crossbar xb = sonos_array();
  solver::NewtonOptions options;
  options.max_iterations = 8;
  options.method = solver::Method::grid;
  engine::ArraySolver array(xb, options);
  REQUIRE(array.method() == solver::Method::grid);
  const std::vector<double> input(8, 1.0);
  std::vector<double> v(xb.circuit().n_free, 5.0);  // 5 V from the answer: 8 steps cannot get there
  solver::SolveStats stats;
  array.solve_vector(input, v, stats);
  INFO(solver::to_string(stats.method) << ": " << stats.detail);
  CHECK(solver::to_string(stats.method) == "general-source-stepping");
  CHECK(stats.method == solver::MethodUsed{solver::Newton::general, solver::Stage::source_stepping, true});
  CHECK(stats.detail.find("grid newton: no convergence") != std::string::npos);
  CHECK(array.info().method == stats.method);  // info() tells which answered, and why the grid did not
  CHECK(array.info().detail == stats.detail);
  CHECK(test::worst_kcl_ratio(xb.circuit(), v) <= 1.0);
}

TEST_CASE("a vector with no solution leaves every node in the caller's vector, as Newton left it",
          "[solver]") {
  // Plain Newton alone, 8 steps of at most max_step from 5 V: it fails, and the caller's vector
  // then holds the fixed nodes at their driven values and the free ones where it stopped.
  const netlists::Crossbar xb = sonos_array();
  solver::NewtonOptions options;
  options.max_iterations = 8;
  options.gmin_stepping = options.source_stepping = false;
  options.method = solver::Method::klu;
  engine::ArraySolver array(xb, options);
  const std::vector<double> input(8, 1.0);
  const std::size_t n_free = xb.circuit().n_free;
  std::vector<double> v(n_free, 5.0);
  solver::SolveStats stats;
  CHECK_THROWS_AS(array.solve_vector(input, v, stats), engine::SolveFailure);
  CHECK_FALSE(stats.converged);
  const std::vector<double> fixed = xb.fixed_voltages(input);
  REQUIRE(v.size() == n_free + fixed.size());
  CHECK(std::equal(fixed.begin(), fixed.end(), v.begin() + n_free));
  double moved = 0;
  for (std::size_t n = 0; n < n_free; ++n) moved = std::max(moved, std::abs(v[n] - 5.0));
  CHECK(moved > 0.1);                            // Newton's last iterate, not the start
  CHECK(moved <= 8 * options.max_step + 1e-12);  // eight limited steps from it
  CHECK(test::worst_kcl_ratio(xb.circuit(), v) > 1.0);  // and not a solution
}

TEST_CASE("the reported methods name each method once in any order of the vectors", "[solver]") {
  // "general-newton" contains "newton" as a substring: neither may hide the other.
  using solver::MethodUsed, solver::Newton, solver::Stage;
  const MethodUsed general_newton{Newton::general, Stage::newton, true}, grid_newton{Newton::grid, Stage::newton, false};
  std::vector<solver::SolveStats> stats(3);
  stats[0].method = general_newton;
  stats[1].method = grid_newton;
  stats[2].method = general_newton;
  CHECK(engine::distinct_methods(stats) == "general-newton,newton");
  std::swap(stats[0], stats[1]);
  CHECK(engine::distinct_methods(stats) == "newton,general-newton");
  stats[2].method = {Newton::general, Stage::gmin_stepping, false};
  CHECK(engine::distinct_methods(stats) == "newton,general-newton,gmin-stepping");
}

TEST_CASE("solver methods and their spellings map one to one", "[solver]") {
  for (const solver::Method m : {solver::Method::automatic, solver::Method::grid, solver::Method::klu, solver::Method::lines})
    CHECK(solver::parse_method(solver::to_string(m)) == m);
  CHECK(solver::to_string(solver::Method::automatic) == "auto");
  CHECK_FALSE(solver::parse_method("superlu"));
  CHECK_FALSE(solver::parse_method("Grid"));
}

TEST_CASE("a batch the grid cannot finish is solved again vector by vector, with the fallbacks", "[solver]") {
  // Rows fixed: the grid takes the batch block by block. With 1 Newton iteration per run no
  // vector can converge there (convergence needs an evaluation after a step), so the batch goes
  // vector by vector, where every fallback is tried (and fails too, with 1 iteration per run): the
  // error names the vector and each method tried.
  netlists::ArraySpec spec = sonos_array().spec();
  spec.lines = {0.0, 1.0, 0.0, 0.0};
  const netlists::Crossbar xb(spec);
  solver::NewtonOptions options;
  options.max_iterations = 1;
  options.method = solver::Method::grid;
  engine::ArraySolver array(xb, options);
  Matrix inputs(4, 8);
  for (std::size_t v = 0; v < inputs.rows; ++v)
    for (int i = 0; i < 8; ++i) inputs(v, i) = (v + i) % 3 == 0;
  try {
    array.solve(inputs);
    FAIL("no SolveFailure");
  } catch (const engine::SolveFailure& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("input vector 0 of 4: no solution: grid newton: no convergence in 1 iteration") == 0);
    CHECK(what.find("gmin-stepping") != std::string::npos);
    CHECK(what.find("source-stepping") != std::string::npos);
  }
  // With enough iterations the same batch solves on the grid alone, as KLU does.
  options.max_iterations = 100;
  const engine::ArrayResults r = engine::ArraySolver(xb, options).solve(inputs);
  CHECK(r.summary.methods == "newton");  // plain Newton, no stepping
  options.method = solver::Method::klu;
  const engine::ArrayResults klu = engine::ArraySolver(xb, options).solve(inputs);
  for (std::size_t k = 0; k < klu.column_current.data.size(); ++k)
    CHECK(r.column_current.data[k] == Approx(klu.column_current.data[k]).epsilon(1e-9).margin(1e-21));
  CHECK(test::worst_kcl_ratio(xb.circuit(), r.voltages) <= 1.0);
}

TEST_CASE("an observer sees each vector once when the grid's batch gives up after a part", "[solver]") {
  // Rows fixed: the grid takes the batch in parts of k_batch_vectors, and the observer sees each
  // part's vectors when the part is done. The first part repeats one input (its vectors converge
  // within 2 iterations from the one before); the second alternates all rows on and all off,
  // which 2 iterations cannot follow: the batch gives up there, the vectors are solved again one
  // by one (vector 258 fails that way too), and the observer has seen vectors 0 to 257 once each.
  netlists::ArraySpec spec = sonos_array().spec();
  spec.lines = {0.0, 1.0, 0.0, 0.0};
  const netlists::Crossbar xb(spec);
  solver::NewtonOptions options;
  options.method = solver::Method::grid;
  options.max_iterations = 2;
  const std::size_t count = engine::k_batch_vectors + 4;
  Matrix inputs(count, 8);
  for (std::size_t v = 0; v < count; ++v)
    for (int i = 0; i < 8; ++i) inputs(v, i) = v < engine::k_batch_vectors ? i % 2 == 0 : v % 2 == 0;
  std::vector<std::size_t> seen;
  try {
    engine::ArraySolver(xb, options).solve(inputs, {}, [&](std::size_t v, std::span<const double> volts) {
      seen.push_back(v);
      CHECK(test::worst_kcl_ratio(xb.circuit(), volts) <= 1.0);
    });
    FAIL("no SolveFailure");
  } catch (const engine::SolveFailure& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("input vector 258 of 260") == 0);
  }
  REQUIRE(seen.size() == 258);
  for (std::size_t v = 0; v < seen.size(); ++v) CHECK(seen[v] == v);
}
