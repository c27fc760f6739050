// Every structured solver (the line backend under the general Newton solver, and the grid
// Newton) gives the answer of the KLU reference: column currents and node voltages to 1e-9
// relative, for every cell kind, several sizes and line resistances (0 ohm merges included), and
// KCL to rounding at every node of the circuit (node_currents: independent of either solver).
#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <random>

#include "devices/levels.hpp"
#include "engine/array_solver.hpp"
#include "netlists/solver_views.hpp"
#include "random_arrays.hpp"
#include "solver/grid_newton.hpp"
#include "solver/line_solver.hpp"
#include "solver/parallel.hpp"
#include "solver/twisted_chains.hpp"

using namespace xbar;
using netlists::ArraySpec;
using netlists::Crossbar;
using netlists::LineResistance;

namespace {

using test::random_array;
using test::random_inputs;

solver::NewtonOptions with_method(const std::string& method) {
  solver::NewtonOptions options;
  options.method = *solver::parse_method(method);
  return options;
}

// |a - b| <= 1e-9 max(|a|, |b|) + floor, element by element.
void check_close(std::span<const double> a, std::span<const double> b, double floor) {
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    INFO(k << " " << std::setprecision(17) << a[k] << " " << b[k]);
    REQUIRE(std::abs(a[k] - b[k]) <= 1e-9 * std::max(std::abs(a[k]), std::abs(b[k])) + floor);
  }
}

void check_kcl(const Crossbar& xb, std::span<const double> v) { REQUIRE(test::worst_kcl_ratio(xb.circuit(), v) <= 1.0); }

// Solves with KLU and with `method`, compares every vector's column currents and vector 0's
// node voltages, and checks KCL of the method's solution.
void check_agreement(const ArraySpec& spec, const std::string& method, int vectors, double activity) {
  const Crossbar xb(spec);
  if (method == "grid" && !netlists::grid_layout(xb)) {  // a line merged behind a driver / sense resistance
    CHECK_THROWS_AS(engine::choose_method(xb, solver::Method::grid), std::invalid_argument);
    return;
  }
  const Matrix inputs = random_inputs(spec, vectors, activity, 5);
  engine::ArraySolver reference(xb, with_method("klu")), candidate(xb, with_method(method));
  REQUIRE(solver::to_string(candidate.method()) == method);
  const engine::ArrayResults a = reference.solve(inputs), b = candidate.solve(inputs);
  check_close(a.column_current.data, b.column_current.data, 1e-21);
  check_close(a.voltages, b.voltages, 1e-15);
  check_kcl(xb, b.voltages);
}

const devices::CellKind k_all_kinds[] = {devices::CellKind::resistor_1r,
                                         devices::CellKind::select_resistor_1t1r,
                                         devices::CellKind::select_sonos_2t};

// {r_row, r_col, r_driver, r_sense} in ohm.
const LineResistance k_line_cases[] = {
    {1.0, 1.0, 0.0, 0.0},    // both lines
    {2.0, 3.0, 10.0, 50.0},  // with driver and sense resistance
    {2.0, 0.0, 0.0, 0.0},    // row only: rows decouple
    {0.0, 2.0, 0.0, 0.0},    // bit line only: columns decouple
    {0.0, 1.0, 0.0, 20.0},   // bit line and sense
    {0.0, 0.0, 5.0, 5.0},    // lines merged to one node each, driver and sense resistive
    {0.01, 0.02, 0.0, 0.0},  // very low wire resistance
    {100.0, 100.0, 0.0, 0.0}, // very high wire resistance
    {0.0, 0.0, 0.0, 0.0},     // no line resistance: only the cell nodes are unknown
};

const char* const k_structured[] = {"lines", "grid"};

}  // namespace

TEST_CASE("the structured solvers agree with KLU for every cell kind and line resistance", "[backends]") {
  for (const char* method : k_structured)
    for (devices::CellKind kind : k_all_kinds)
      for (const LineResistance& lines : k_line_cases) {
        CAPTURE(method, static_cast<int>(kind), lines.r_row, lines.r_col, lines.r_driver, lines.r_sense);
        check_agreement(random_array(kind, 13, 9, lines, 41), method, 2, 0.5);
      }
}

TEST_CASE("the structured solvers agree with KLU on larger, non-square and one-line arrays", "[backends]") {
  for (const char* method : k_structured)
    for (devices::CellKind kind : k_all_kinds) {
      CAPTURE(method, static_cast<int>(kind));
      check_agreement(random_array(kind, 48, 20, {1.0, 1.0, 0.0, 0.0}, 43), method, 2, 0.3);
      check_agreement(random_array(kind, 20, 48, {1.0, 2.0, 3.0, 4.0}, 44), method, 1, 0.7);
      check_agreement(random_array(kind, 64, 16, {0.0, 1.0, 0.0, 0.0}, 45), method, 3, 0.2);
      check_agreement(random_array(kind, 1, 17, {1.0, 1.0, 2.0, 0.0}, 48), method, 2, 1.0);
      check_agreement(random_array(kind, 17, 1, {1.0, 1.0, 0.0, 2.0}, 49), method, 2, 1.0);
    }
}

TEST_CASE("the structured solvers agree with KLU for nonlinear (sinh) resistor cells", "[backends]") {
  ArraySpec spec = random_array(devices::CellKind::resistor_1r, 16, 16, {1.0, 1.0, 0.0, 0.0}, 46);
  spec.cell.resistor.v0 = 0.05;
  for (const char* method : k_structured) check_agreement(spec, method, 2, 1.0);
}

TEST_CASE("the structured solvers agree with KLU for an ideal select (switched storage elements)", "[backends]") {
  for (const char* method : k_structured)
    for (devices::CellKind kind : {devices::CellKind::select_resistor_1t1r, devices::CellKind::select_sonos_2t})
      for (const LineResistance& lines : {LineResistance{1.0, 1.0, 0.0, 0.0}, LineResistance{0.0, 2.0, 0.0, 5.0}}) {
        ArraySpec spec = random_array(kind, 24, 12, lines, 47);
        spec.cell.select_model = devices::SelectModel::ideal;
        CAPTURE(method, static_cast<int>(kind), lines.r_row, lines.r_col);
        check_agreement(spec, method, 3, 0.4);
      }
}

TEST_CASE("auto picks the grid where the array has its shape, else KLU (tiny) or the lines", "[backends]") {
  const Crossbar tiny(random_array(devices::CellKind::resistor_1r, 4, 4, {1, 1, 0, 0}, 1));
  const Crossbar large(random_array(devices::CellKind::resistor_1r, 64, 64, {1, 1, 0, 0}, 1));
  const Crossbar tiny_merged(random_array(devices::CellKind::resistor_1r, 4, 4, {0, 0, 5, 5}, 1));
  const Crossbar large_merged(random_array(devices::CellKind::select_resistor_1t1r, 64, 64, {0, 0, 5, 5}, 1));
  CHECK(engine::choose_method(tiny, solver::Method::automatic) == solver::Method::grid);
  CHECK(engine::choose_method(large, solver::Method::automatic) == solver::Method::grid);
  CHECK(engine::choose_method(tiny_merged, solver::Method::automatic) == solver::Method::klu);
  CHECK(engine::choose_method(large_merged, solver::Method::automatic) == solver::Method::lines);
  CHECK(engine::choose_method(large, solver::Method::klu) == solver::Method::klu);
  CHECK(engine::choose_method(large, solver::Method::lines) == solver::Method::lines);
  CHECK_THROWS_AS(engine::choose_method(large_merged, solver::Method::grid), std::invalid_argument);
}

TEST_CASE("a line partition that breaks its contract is refused", "[backends]") {
  // Three nodes in a path 0 - 1 - 2, declared as a chain in the wrong order (0, 2, 1).
  solver::CscPattern path;
  path.n = 3;
  path.col_ptr = {0, 2, 5, 7};
  path.row_idx = {0, 1, 0, 1, 2, 1, 2};
  auto wrong = solver::make_line_solver({{{{0, 2, 1}}}});
  CHECK_THROWS_AS(wrong->analyze(path), std::logic_error);
  auto right = solver::make_line_solver({{{{0, 1, 2}}}});
  CHECK_NOTHROW(right->analyze(path));
}

TEST_CASE("the batched EKV law equals the scalar law to a few ulp", "[backends]") {
  const devices::EkvParams law = devices::sonos_defaults();
  std::vector<double> vt, vg, vd, vs;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> volt(-1.5, 1.5);
  for (int k = 0; k < 1000; ++k) {
    vt.push_back(volt(rng) / 3), vg.push_back(volt(rng)), vd.push_back(volt(rng) / 10), vs.push_back(volt(rng) / 10);
  }
  vd.back() = vs.back();  // zero current
  std::vector<double> i(1000), gg(1000), gd(1000), gs(1000);
  devices::ekv_current_batch(law, {vt, vg, vd, vs, i, gg, gd, gs});
  for (int k = 0; k < 1000; ++k) {
    devices::EkvParams p = law;
    p.vt = vt[k];
    const devices::EkvCurrent e = devices::ekv_current(p, vg[k], vd[k], vs[k]);
    const double scale = law.i_s * 1e-12;  // below any current that matters
    CHECK(std::abs(i[k] - e.i_ds) <= 1e-13 * std::abs(e.i_ds) + 1e-14 * scale);
    CHECK(gg[k] == Approx(e.di_dvg).epsilon(1e-13).margin(1e-30));
    CHECK(gd[k] == Approx(e.di_dvd).epsilon(1e-13).margin(1e-30));
    CHECK(gs[k] == Approx(e.di_dvs).epsilon(1e-13).margin(1e-30));
  }
}

TEST_CASE("input vectors solved on two threads with warm starts match cold one-by-one solves", "[backends]") {
  const Crossbar xb(random_array(devices::CellKind::select_sonos_2t, 24, 12, {1.0, 2.0, 0.0, 0.0}, 47));
  const Matrix inputs = random_inputs(xb.spec(), 6, 0.4, 48);
  const int threads = solver::parallel_threads();
  solver::set_parallel_threads(2);  // two threads over the vectors even on a one-core runner
  engine::ArraySolver batch(xb, with_method("lines")), single(xb, with_method("lines"));
  REQUIRE(batch.vector_threads(inputs.rows) == 2);
  const engine::ArrayResults r = batch.solve(inputs);
  solver::set_parallel_threads(threads);
  for (std::size_t v = 0; v < inputs.rows; ++v) {
    std::vector<double> volts;
    solver::SolveStats stats;
    single.solve_vector(inputs.row(v), volts, stats);
    check_close(r.column_current.row(v), xb.column_currents(volts), 1e-21);
  }
}

namespace {

// ArraySolver::solve's vector-by-vector order rebuilt from its public parts on one thread:
// chains of `chain` consecutive vectors, each vector warm-started from the one before (warm_start,
// a memory per chain); the first k_cold_chains chains from the initial guess, the others from
// vector 0's solution.
struct Chained {
  Matrix columns;              ///< [count, cols] A
  std::vector<double> first;   ///< vector 0's voltages
  long newton_iterations = 0;  ///< over all vectors
};
Chained solve_in_chains(const Crossbar& xb, const std::string& method, const Matrix& inputs, std::size_t chain) {
  const solver::SerialRegion serial;  // as each of the engine's two workers
  engine::ArraySolver solver(xb, with_method(method));
  Chained out{Matrix(inputs.rows, xb.spec().cols), {}, 0};
  solver::SolveStats stats;
  std::vector<double> volts;
  engine::ArraySolver::SelectMemory memory;
  for (std::size_t v = 0; v < inputs.rows; ++v) {
    const bool starts_chain = v % chain == 0, cold = v < engine::k_cold_chains * chain;
    if (starts_chain) volts = cold ? std::vector<double>() : out.first, memory = {};
    if (!starts_chain || !cold)
      solver.warm_start(inputs.row(starts_chain ? 0 : v - 1), inputs.row(v), std::span(volts).first(xb.free_nodes()),
                        memory);
    solver.solve_vector(inputs.row(v), volts, stats);
    if (v == 0) out.first = volts;
    out.newton_iterations += stats.iterations;
    std::ranges::copy(xb.column_currents(volts), out.columns.row(v).begin());
  }
  return out;
}

}  // namespace

TEST_CASE("vectors solved one by one give the same bits on one or two threads and from run to run",
          "[backends]") {
  // Rows with resistance keep the grid off its batch path; the line backend and KLU always solve
  // one vector at a time. Two cold chains and eight from vector 0 (the last one short), shared
  // by two threads in an order that timing decides: the answer must not depend on it.
  const std::size_t count = 10 * engine::k_chain_vectors - 3;
  for (const std::string method : {"grid", "lines", "klu"}) {
    for (devices::CellKind kind : {devices::CellKind::select_sonos_2t, devices::CellKind::select_resistor_1t1r}) {
      CAPTURE(method, static_cast<int>(kind));
      const Crossbar xb(random_array(kind, 24, 12, {1.0, 2.0, 0.0, 5.0}, 58));
      const Matrix inputs = random_inputs(xb.spec(), count, 0.4, 59);
      const int threads = solver::parallel_threads();
      std::vector<engine::ArrayResults> runs;
      for (int t : {2, 2, 2, 1}) {
        solver::set_parallel_threads(t);
        engine::ArraySolver solver(xb, with_method(method));
        REQUIRE(solver.vector_threads(count) == t);
        runs.push_back(solver.solve(inputs));
      }
      solver::set_parallel_threads(threads);
      for (const engine::ArrayResults& run : runs) {
        CHECK(run.column_current.data == runs[0].column_current.data);
        CHECK(run.voltages == runs[0].voltages);
        CHECK(run.v_col.data == runs[0].v_col.data);
      }
      // An observer keeps every vector on the calling thread, in order: the same bits again.
      std::vector<std::size_t> seen;
      engine::ArraySolver observed(xb, with_method(method));
      const engine::ArrayResults in_order =
          observed.solve(inputs, {}, [&](std::size_t v, std::span<const double>) { seen.push_back(v); });
      CHECK(in_order.column_current.data == runs[0].column_current.data);
      CHECK(seen.size() == count);
      CHECK(std::ranges::is_sorted(seen));
      // And the chains as the contract states them, rebuilt from the public parts.
      const Chained by_hand = solve_in_chains(xb, method, inputs, engine::k_chain_vectors);
      CHECK(by_hand.columns.data == runs[0].column_current.data);
      CHECK(by_hand.first == runs[0].voltages);
      CHECK(by_hand.newton_iterations == runs[0].summary.newton_iterations);
    }
  }
}

TEST_CASE("the grid agrees with the line backend on arrays large enough for the threaded kernels", "[backends]") {
  // Above the kernels' parallel grain (2^16 rows of the reduced system) the grid's paired
  // Krylov kernels and the line backend's general ones run split over threads; both must give
  // the same answer, and KCL must hold at every node of the circuit.
  const std::pair<devices::CellKind, int> cases[] = {{devices::CellKind::resistor_1r, 256},
                                                     {devices::CellKind::select_sonos_2t, 192}};
  for (const auto& [kind, size] : cases) {
    CAPTURE(static_cast<int>(kind), size);
    const Crossbar xb(random_array(kind, size, size, {1.0, 1.0, 0.0, 0.0}, 50));
    const Matrix inputs = random_inputs(xb.spec(), 1, 0.3, 6);
    engine::ArraySolver lines(xb, with_method("lines")), grid(xb, with_method("grid"));
    const engine::ArrayResults a = lines.solve(inputs), b = grid.solve(inputs);
    check_close(a.column_current.data, b.column_current.data, 1e-21);
    check_close(a.voltages, b.voltages, 1e-15);
    check_kcl(xb, b.voltages);
  }
}

namespace {

// A batch whose vectors have the given activities, in order: bits for select cells; for 1r a
// fraction `activity` of the rows at a uniform input in (0, 1], the others at 0.
Matrix batch_with_activities(const ArraySpec& spec, std::span<const double> activities, unsigned seed) {
  Matrix in(activities.size(), spec.rows);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (std::size_t v = 0; v < activities.size(); ++v)
    for (double& x : in.row(v)) {
      const bool on = u(rng) < activities[v];
      const double level = 1.0 - u(rng);
      x = on ? (spec.cell.has_select() ? 1.0 : level) : 0.0;
    }
  return in;
}

// The grid on a batch that turns most rows on, then most off, then back (each vector warm-starts
// from the one before, so the order matters): every vector's column currents as KLU's, and KCL
// at every node of every vector's solution.
void check_batch(const ArraySpec& spec) {
  const double activities[] = {0.0, 0.0, 1.0, 0.01, 0.01, 0.1, 0.1, 1.0, 0.9, 0.01, 0.0, 0.1, 1.0, 0.0};
  const Crossbar xb(spec);
  const Matrix inputs = batch_with_activities(spec, activities, 7);
  engine::ArraySolver reference(xb, with_method("klu")), grid(xb, with_method("grid"));
  const engine::ArrayResults a = reference.solve(inputs);
  double worst_kcl = 0;
  // The grid's batch path takes the vectors in order: the switches above are the ones it sees.
  // Its observer gets every vector's voltages, at whose every node KCL must hold.
  const engine::ArrayResults b = grid.solve(inputs, {}, [&](std::size_t, std::span<const double> v) {
    worst_kcl = std::max(worst_kcl, test::worst_kcl_ratio(xb.circuit(), v));
  });
  // Floor: the certificate's absolute 1e-18 A at each node of a column (a 1r vector with every
  // input 0 has currents of 1e-24..1e-18 A in either solver, of either sign).
  const double floor = 1e-18 * spec.rows;
  check_close(a.column_current.data, b.column_current.data, floor);
  CHECK(worst_kcl <= 1.0);
  // And on two threads from both ends of the batch (no observer).
  const int threads = solver::parallel_threads();
  solver::set_parallel_threads(2);
  engine::ArraySolver shared(xb, with_method("grid"));
  const engine::ArrayResults c = shared.solve(inputs);
  solver::set_parallel_threads(threads);
  check_close(a.column_current.data, c.column_current.data, floor);
}

}  // namespace

TEST_CASE("the grid agrees with KLU on batches that switch most rows on and off", "[backends]") {
  for (devices::CellKind kind : k_all_kinds)
    for (const LineResistance& lines : {LineResistance{0.0, 1.0, 0.0, 0.0}, LineResistance{0.0, 2.0, 0.0, 30.0}}) {
      CAPTURE(static_cast<int>(kind), lines.r_col, lines.r_sense);
      check_batch(random_array(kind, 96, 11, lines, 51));
    }
  for (devices::CellKind kind : {devices::CellKind::select_resistor_1t1r, devices::CellKind::select_sonos_2t}) {
    ArraySpec spec = random_array(kind, 96, 11, {0.0, 1.0, 0.0, 0.0}, 52);
    spec.cell.select_model = devices::SelectModel::ideal;  // off rows carry exactly nothing
    CAPTURE(static_cast<int>(kind));
    check_batch(spec);
  }
}

TEST_CASE("a batch on the grid with fixed rows gives the vector-by-vector answers, whatever the thread count",
          "[backends]") {
  // The grid takes each block of bit lines through the whole batch (its first evaluation of a
  // vector redoing only the rows that switched). Against the vectors solved one by one in a single
  // chain, the same warm starts as the batch: the column currents agree to rounding, vector 0's
  // voltages exactly, and the batch's answer does not depend on the threads. With an observer the
  // batch keeps each vector's voltages for it: the same answer, KCL at every node of every vector.
  const double activities[] = {0.1, 0.1, 1.0, 0.0, 0.1, 0.5, 0.01, 0.9, 0.1};
  for (devices::CellKind kind : k_all_kinds) {
    CAPTURE(static_cast<int>(kind));
    const ArraySpec spec = random_array(kind, 70, 21, {0.0, 1.0, 0.0, 10.0}, 57);
    const Crossbar xb(spec);
    const Matrix inputs = batch_with_activities(spec, activities, 8);
    engine::ArraySolver observed(xb, with_method("grid"));
    std::vector<double> column_kcl;
    std::vector<std::size_t> seen;
    Matrix observed_columns(inputs.rows, spec.cols);
    std::vector<double> observed_first;
    const engine::ArrayResults a = observed.solve(inputs, {}, [&](std::size_t v, std::span<const double> volts) {
      seen.push_back(v);
      column_kcl.push_back(test::worst_kcl_ratio(xb.circuit(), volts));
      std::ranges::copy(xb.column_currents(volts), observed_columns.row(v).begin());
      if (v == 0) observed_first.assign(volts.begin(), volts.end());
    });
    const int threads = solver::parallel_threads();
    std::vector<engine::ArrayResults> batches;
    std::size_t last_done = 0;
    for (int t : {2, 1}) {
      solver::set_parallel_threads(t);
      engine::ArraySolver batch(xb, with_method("grid"));
      batches.push_back(batch.solve(inputs, [&](std::size_t done, std::size_t total) {
        CHECK(total == inputs.rows);
        CHECK(done >= last_done);
        last_done = done;
      }));
      CHECK(last_done == inputs.rows);
      last_done = 0;
    }
    solver::set_parallel_threads(threads);
    const engine::ArrayResults& b = batches[0];
    const Chained chain = solve_in_chains(xb, "grid", inputs, inputs.rows);
    for (std::size_t k = 0; k < chain.columns.data.size(); ++k) {
      CAPTURE(k);
      CHECK(std::abs(chain.columns.data[k] - b.column_current.data[k]) <=
            1e-12 * std::abs(chain.columns.data[k]) + 1e-21);
    }
    // The engine's own chains (two cold, the rest from vector 0's solution): to 1e-9.
    check_close(solve_in_chains(xb, "grid", inputs, engine::k_chain_vectors).columns.data, b.column_current.data,
                1e-21);
    CHECK(b.column_current.data == batches[1].column_current.data);
    CHECK(b.voltages == batches[1].voltages);
    CHECK(chain.newton_iterations == b.summary.newton_iterations);
    // Observed: the same bits, every vector seen once and in order, with the voltages it was
    // solved to (the sink currents the batch reports follow from them, to rounding).
    CHECK(a.column_current.data == b.column_current.data);
    CHECK(a.voltages == b.voltages);
    CHECK(a.column_current_ideal.data == b.column_current_ideal.data);
    CHECK(a.cell_current.data == b.cell_current.data);
    CHECK(a.summary.newton_iterations == b.summary.newton_iterations);
    CHECK(seen.size() == inputs.rows);
    CHECK(std::ranges::is_sorted(seen));
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
    CHECK(observed_first == b.voltages);
    for (std::size_t k = 0; k < observed_columns.data.size(); ++k) {
      CAPTURE(k);
      CHECK(std::abs(observed_columns.data[k] - b.column_current.data[k]) <=
            1e-9 * std::abs(b.column_current.data[k]) + 1e-21);
    }
    CHECK(*std::max_element(column_kcl.begin(), column_kcl.end()) <= 1.0);
    check_kcl(xb, b.voltages);
  }
}

TEST_CASE("select-cell batches on the grid are certified by the devices' series, and KCL holds at every node",
          "[backends]") {
  // 2T SONOS and 1T1R with bit-line resistance: after a vector's exact evaluation of a block and
  // a full step, the block's next evaluation is each device's Taylor series about it, with a bound
  // on the remainder; node_currents, which knows nothing of it, evaluates the law at every node.
  for (devices::CellKind kind : {devices::CellKind::select_sonos_2t, devices::CellKind::select_resistor_1t1r})
    for (double activity : {0.01, 0.1, 0.5}) {
      CAPTURE(static_cast<int>(kind), activity);
      const ArraySpec spec = random_array(kind, 160, 16, {0.0, 1.0, 0.0, 0.0}, 61);
      const Crossbar xb(spec);
      const Matrix inputs = random_inputs(spec, 24, activity, 8);
      const std::size_t count = inputs.rows, rows = spec.rows, blocks = 2;  // 16 bit lines: two blocks
      solver::GridNewton grid(xb.cell_circuit(), *netlists::grid_layout(xb), with_method("grid"));
      REQUIRE(grid.solves_batches());
      std::vector<std::vector<double>> fixed(count);
      std::vector<std::uint8_t> row_state(count * rows);
      for (std::size_t v = 0; v < count; ++v) {
        fixed[v] = xb.fixed_voltages(inputs.row(v));
        for (std::size_t i = 0; i < rows; ++i) row_state[v * rows + i] = xb.row_active(inputs.row(v), int(i));
      }
      const std::size_t n_nodes = xb.cell_circuit().n_nodes();
      std::vector<double> solutions(count * n_nodes), first(xb.cell_circuit().n_free);
      xb.initial_guess(inputs.row(0), first);
      solver::GridNewton::Batch batch;
      batch.fixed = fixed;
      batch.row_state = row_state;
      batch.start_on = xb.isolated_v_m_cells(true);
      batch.start_off = xb.isolated_v_m_cells(false);
      batch.start_off_reference = spec.v_sense;
      batch.solutions = solutions;
      const solver::GridNewton::BatchResult r = grid.solve_batch(batch, first);
      REQUIRE(r.converged);
      // Vector 0 starts cold; after it, every block's vector ends with the series (a failing row
      // is evaluated anew, so a block may still need its law).
      CHECK(r.series_certified >= (count - 1) * blocks * 3 / 4);
      CHECK(r.series_certified <= count * blocks);
      double worst = 0;
      for (std::size_t v = 0; v < count; ++v)
        worst = std::max(worst, test::worst_kcl_ratio(xb.circuit(),
                                                      std::span<const double>(solutions).subspan(v * n_nodes, n_nodes)));
      CHECK(worst <= 1.0);
    }
}

TEST_CASE("a batch longer than one part of the grid's batches gives the vector-by-vector answers", "[backends]") {
  // 2 * k_batch_vectors + 9 vectors: three parts, each continuing the one before (the warm start of
  // the internal nodes included), against the same vectors solved one after the other.
  const ArraySpec spec = random_array(devices::CellKind::select_sonos_2t, 30, 10, {0.0, 1.0, 0.0, 0.0}, 58);
  const Crossbar xb(spec);
  std::vector<double> activities(2 * engine::k_batch_vectors + 9);
  for (std::size_t v = 0; v < activities.size(); ++v) activities[v] = (v * 37 % 11) / 10.0;
  const Matrix inputs = batch_with_activities(spec, activities, 9);
  const Chained a = solve_in_chains(xb, "grid", inputs, inputs.rows);  // one chain: 0, 1, 2, ...
  engine::ArraySolver batch(xb, with_method("grid"));
  std::size_t reported = 0;
  const engine::ArrayResults b = batch.solve(inputs, [&](std::size_t done, std::size_t) { reported = done; });
  CHECK(reported == inputs.rows);
  // A part's first vector is evaluated whole, where the chain has the series evaluation that
  // certified the vector before: both answers hold KCL, and differ within its absolute 1e-18 A
  // per node where a column carries only leakage (~2e-11 A here, when every row is off).
  const double floor = 1e-18 * spec.rows;
  for (std::size_t k = 0; k < a.columns.data.size(); ++k) {
    CAPTURE(k);
    CHECK(std::abs(a.columns.data[k] - b.column_current.data[k]) <= 1e-12 * std::abs(a.columns.data[k]) + floor);
  }
  CHECK(a.first == b.voltages);
  CHECK(a.newton_iterations == b.summary.newton_iterations);
  // Observed, part after part: the same bits, each vector seen once, in order, KCL at its nodes.
  engine::ArraySolver observed(xb, with_method("grid"));
  std::size_t next = 0;
  double worst_kcl = 0;
  const engine::ArrayResults c = observed.solve(inputs, {}, [&](std::size_t v, std::span<const double> volts) {
    CHECK(v == next++);
    worst_kcl = std::max(worst_kcl, test::worst_kcl_ratio(xb.circuit(), volts));
  });
  CHECK(next == inputs.rows);
  CHECK(worst_kcl <= 1.0);
  CHECK(c.column_current.data == b.column_current.data);
  CHECK(c.voltages == b.voltages);
}

TEST_CASE("a cell switched back to a select state starts where it was last solved in it, moved with its bit line",
          "[backends]") {
  const Crossbar xb(random_array(devices::CellKind::select_sonos_2t, 40, 6, {0.0, 1.0, 0.0, 0.0}, 53));
  const ArraySpec& spec = xb.spec();
  // A: every other row on; B: the other half on (every row switches); then A again.
  Matrix inputs(2, spec.rows);
  for (int i = 0; i < spec.rows; ++i) inputs(0, i) = i % 2, inputs(1, i) = 1 - i % 2;
  engine::ArraySolver grid(xb, with_method("grid"));
  engine::ArraySolver::SelectMemory memory;
  std::vector<double> guess;  // the warm start on entry, every node's voltage on return
  solver::SolveStats stats;
  grid.solve_vector(inputs.row(0), guess, stats);
  const std::vector<double> solved_a = guess;
  grid.warm_start(inputs.row(0), inputs.row(1), guess, memory);  // B: no cell was solved in its new state
  for (int i = 0; i < spec.rows; ++i)
    for (int j = 0; j < spec.cols; ++j) {
      const solver::NodeIndex m = xb.node(netlists::NodeKind::internal, i, j), c = xb.node(netlists::NodeKind::column, i, j);
      const bool on = inputs(1, i) != 0;
      CHECK(guess[m] == (on ? xb.isolated_v_m(i, j, true) : solved_a[c] + xb.isolated_v_m(i, j, false) - spec.v_sense));
    }
  grid.solve_vector(inputs.row(1), guess, stats);
  const std::vector<double> solved_b = guess;
  grid.warm_start(inputs.row(1), inputs.row(0), guess, memory);  // back to A: every cell was solved so
  double moved = 0;
  for (int i = 0; i < spec.rows; ++i)
    for (int j = 0; j < spec.cols; ++j) {
      const solver::NodeIndex m = xb.node(netlists::NodeKind::internal, i, j), c = xb.node(netlists::NodeKind::column, i, j);
      CAPTURE(i, j);
      CHECK(guess[m] == solved_b[c] + (solved_a[m] - solved_a[c]));  // as far from its bit line as in A
      moved = std::max(moved, std::abs(solved_b[c] - solved_a[c]));
    }
  CHECK(moved > 1e-5);  // the bit lines moved (by ~50 uV) between A and B: the shift is tested
  // And the solve from there is A's solution again (KLU's, KCL at every node).
  grid.solve_vector(inputs.row(0), guess, stats);
  engine::ArraySolver klu(xb, with_method("klu"));
  std::vector<double> klu_volts;
  klu.solve_vector(inputs.row(0), klu_volts, stats);
  check_close(xb.column_currents(klu_volts), xb.column_currents(guess), 1e-21);
  check_kcl(xb, guess);
}

namespace {

// A linear circuit's grid Newton builds and factors its matrix once a solve; later iterations
// reassemble f and b only. Two vectors, the second warm-started from the first with 7 inputs in
// 8 switched to 0 V; with the default step limit (one step a solve), and with `damped_step`, so
// small that every solve takes damped steps on the factors of its first. Column currents as
// KLU's to 1e-12 relative, KCL at every node.
void check_kept_factors(const Crossbar& xb, double damped_step) {
  Matrix inputs = random_inputs(xb.spec(), 2, 1.0, 10);
  for (int i = 0; i < xb.spec().rows; ++i)
    if (i % 8 != 0) inputs(1, i) = 0.0;
  engine::ArraySolver klu(xb, with_method("klu"));
  for (const double max_step : {0.2, damped_step}) {
    solver::NewtonOptions options = with_method("grid");
    options.max_step = max_step;
    engine::ArraySolver grid(xb, options);
    std::vector<double> v;  // vector 1 starts from vector 0's answer
    for (std::size_t k = 0; k < inputs.rows; ++k) {
      CAPTURE(max_step, k);
      solver::SolveStats stats, klu_stats;
      grid.solve_vector(inputs.row(k), v, stats);
      CHECK(stats.method == solver::MethodUsed{solver::Newton::grid, solver::Stage::newton, false});
      if (max_step < 0.2 && k == 1) CHECK(stats.iterations > 2);  // damped steps on kept factors
      std::vector<double> reference;
      klu.solve_vector(inputs.row(k), reference, klu_stats);
      const std::vector<double> expected = xb.column_currents(reference);
      const std::vector<double> columns = xb.column_currents(v);
      for (std::size_t j = 0; j < columns.size(); ++j) {
        INFO("column " << j << std::setprecision(17) << ": " << expected[j] << " " << columns[j]);
        CHECK(std::abs(columns[j] - expected[j]) <= 1e-12 * std::abs(expected[j]));
      }
      check_kcl(xb, v);
    }
  }
}

}  // namespace

TEST_CASE("1r, bit-line resistance only: column blocks keeping matrix and factors match KLU",
          "[backends]") {
  // Rows without resistance: every block of bit lines is its own Newton loop, in its thread's
  // scratch (the next block on the thread overwrites it).
  const Crossbar xb(random_array(devices::CellKind::resistor_1r, 64, 21, {0.0, 1.0, 0.0, 0.0}, 57));
  REQUIRE_FALSE(netlists::grid_layout(xb)->rows_free());
  check_kept_factors(xb, 1e-4);  // the bit lines move by mV
}

TEST_CASE("1r, row and bit-line resistance: the grid keeping matrix and factors matches KLU",
          "[backends]") {
  const Crossbar xb(random_array(devices::CellKind::resistor_1r, 64, 21, {1.0, 1.0, 0.0, 0.0}, 58));
  REQUIRE(netlists::grid_layout(xb)->rows_free());
  check_kept_factors(xb, 1e-2);  // the rows move by up to V_read
}

TEST_CASE("the grid's report over column blocks names a node of the array and its residual at the answer", "[backends]") {
  // Rows fixed: every block of 8 bit lines is solved on its own and reports its worst node; the
  // solve's report is the worst of all blocks (here 3: 8, 8 and 3 bit lines). The node it names
  // is a free node of the circuit whose tolerance node_currents computes alike, and at the answer
  // its residual and every other are within their tolerances.
  for (devices::CellKind kind : k_all_kinds) {
    CAPTURE(static_cast<int>(kind));
    const Crossbar xb(random_array(kind, 30, 19, {0.0, 1.0, 0.0, 0.0}, 55));
    const Matrix inputs = random_inputs(xb.spec(), 1, 0.3, 9);
    engine::ArraySolver grid(xb, with_method("grid"));
    std::vector<double> v;
    solver::SolveStats stats;
    grid.solve_vector(inputs.row(0), v, stats);
    REQUIRE(stats.converged);
    REQUIRE(stats.worst_node >= 0);
    REQUIRE(stats.worst_node < xb.circuit().n_free);
    const solver::NodeCurrents kcl = solver::node_currents(xb.circuit(), v);
    CHECK(std::abs(stats.worst_tolerance - test::kcl_tolerance(kcl, stats.worst_node)) <= 1e-6 * stats.worst_tolerance);
    CHECK(stats.worst_residual <= stats.worst_tolerance);
    CHECK(stats.max_residual >= stats.worst_residual);
    double largest_tolerance = 0;
    for (solver::NodeIndex n = 0; n < xb.circuit().n_free; ++n)
      largest_tolerance = std::max(largest_tolerance, test::kcl_tolerance(kcl, n));
    CHECK(stats.max_residual <= largest_tolerance);
    check_kcl(xb, v);
  }
}

TEST_CASE("the twisted solve of 8 interleaved chains equals a dense LU solve of each chain", "[backends]") {
  // Bit-line chains as the grid builds them: -g between neighbours (0 past either end), the
  // diagonal the wires plus a cell conductance that spans many decades, and a right-hand side of
  // mixed signs. Every length from 1 to 9 (the middle row and the odd row of each half), and
  // longer chains: each row's equation holds to rounding (backward error), and up to 64 rows
  // (condition number below 1e4) the solution is the dense one to 1e-12.
  constexpr int W = 8;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 64, 1152}) {
    const std::size_t cells = std::size_t(n) * W;
    std::vector<double> diag(cells), lower(cells), upper(cells), rhs(cells), x(cells);
    for (std::size_t p = W; p < cells; ++p) lower[p] = upper[p - W] = -(0.5 + unit(rng));  // one wire, both ends
    for (std::size_t p = 0; p < cells; ++p) {
      const double sink = p + W >= cells ? 1.0 : 0.0;  // the last row's wire to the sense node
      const double cell = std::pow(10.0, -15 + 14 * unit(rng));
      diag[p] = -lower[p] - upper[p] + sink + cell;
      rhs[p] = unit(rng) - 0.5;
    }
    solver::ChainFactors<double> factors;
    for (auto* a : {&factors.lower_scaled, &factors.inv_pivot, &factors.upper_scaled}) a->resize(cells);
    solver::twisted::factor<W>({diag.data(), lower.data(), upper.data()}, n, factors.rows());
    std::vector<int> order;
    solver::twisted::forward<W>(std::as_const(factors).rows(), n, rhs.data(), x.data());
    solver::twisted::backward<W>(std::as_const(factors).rows(), n, x.data(), [&](int row) { order.push_back(row); });
    // Every row reported once, the middle first, each only after its neighbour towards the middle.
    REQUIRE(order.size() == std::size_t(n));
    CHECK(order.front() == n / 2);
    for (std::size_t k = 1; k < order.size(); ++k) {
      const int r = order[k], inner = r < n / 2 ? r + 1 : r - 1;
      CHECK(std::find(order.begin(), order.begin() + k, inner) != order.begin() + k);
    }
    auto at = [&](const std::vector<double>& v, int r, int c) { return v[std::size_t(r) * W + c]; };
    for (int c = 0; c < W; ++c)
      for (int r = 0; r < n; ++r) {
        INFO("n " << n << " lane " << c << " row " << r);
        double row = at(diag, r, c) * at(x, r, c), scale = std::abs(row) + std::abs(at(rhs, r, c));
        for (const int k : {r - 1, r + 1}) {
          if (k < 0 || k >= n) continue;
          const double term = at(k < r ? lower : upper, r, c) * at(x, k, c);
          row += term, scale += std::abs(term);
        }
        CHECK(std::abs(row - at(rhs, r, c)) <= 1e-14 * scale);
      }
    if (n > 64) continue;
    for (int c = 0; c < W; ++c) {
      Eigen::MatrixXd t = Eigen::MatrixXd::Zero(n, n);
      Eigen::VectorXd b(n);
      for (int r = 0; r < n; ++r) {
        t(r, r) = at(diag, r, c);
        if (r > 0) t(r, r - 1) = at(lower, r, c);
        if (r + 1 < n) t(r, r + 1) = at(upper, r, c);
        b(r) = at(rhs, r, c);
      }
      const Eigen::VectorXd expected = t.partialPivLu().solve(b);
      for (int r = 0; r < n; ++r) {
        INFO("n " << n << " lane " << c << " row " << r);
        CHECK(std::abs(at(x, r, c) - expected(r)) <= 1e-12 * expected.cwiseAbs().maxCoeff());
      }
    }
  }
}

TEST_CASE("on bit-line blocks of SONOS cells a warm vector takes three evaluations, and matches KLU", "[backends]") {
  // Chebyshev's correction makes each step cubic: from the last vector's answer (a few mV away),
  // the first step (of the rows that switched) lands within ~1e-6 V, the second within rounding,
  // and the third evaluation certifies. Plain Newton needs a fourth. The count is deterministic.
  const ArraySpec spec = random_array(devices::CellKind::select_sonos_2t, 288, 16, {0.0, 1.0, 0.0, 0.0}, 61);
  const Crossbar xb(spec);
  const double activities[] = {0.1, 0.1, 0.2, 0.1, 0.05, 0.1, 0.1, 0.3, 0.1, 0.1};
  const Matrix inputs = batch_with_activities(spec, activities, 9);
  Matrix first(1, spec.rows);
  std::copy(inputs.row(0).begin(), inputs.row(0).end(), first.row(0).begin());
  const long cold = engine::ArraySolver(xb, with_method("grid")).solve(first).summary.newton_iterations;
  const engine::ArrayResults grid = engine::ArraySolver(xb, with_method("grid")).solve(inputs);
  CHECK(grid.summary.newton_iterations <= cold + 3 * long(inputs.rows - 1));
  const engine::ArrayResults klu = engine::ArraySolver(xb, with_method("klu")).solve(inputs);
  check_close(klu.column_current.data, grid.column_current.data, 1e-21);
  check_kcl(xb, grid.voltages);
}

TEST_CASE("a solve that keeps no per-cell results gives the same column currents", "[backends]") {
  // CellResults::none (the Python module's solve) skips vector 0's per-cell matrices and voltages,
  // on the grid's batch path and on the vector-by-vector one (KLU), and nothing else: the column
  // currents are the same bits, and vector 0's ideal ones its isolated cells' sum as before.
  const double activities[] = {0.1, 1.0, 0.0, 0.5};
  for (const std::string method : {"grid", "klu"}) {
    CAPTURE(method);
    const ArraySpec spec = random_array(devices::CellKind::select_sonos_2t, 40, 13, {0.0, 1.0, 0.0, 0.0}, 61);
    const Crossbar xb(spec);
    const Matrix inputs = batch_with_activities(spec, activities, 9);
    engine::ArraySolver whole(xb, with_method(method)), columns(xb, with_method(method));
    const engine::ArrayResults a = whole.solve(inputs);
    const engine::ArrayResults b = columns.solve(inputs, {}, {}, engine::CellResults::none);
    CHECK(a.column_current.data == b.column_current.data);
    check_close(a.column_current_ideal.data, b.column_current_ideal.data, 0.0);
    CHECK(a.summary.newton_iterations == b.summary.newton_iterations);
    CHECK(a.cell_current.data.size() == std::size_t(spec.rows * spec.cols));
    for (const Matrix* m : {&b.cell_current, &b.cell_current_ideal, &b.cell_current_programmed, &b.v_col, &b.v_row})
      CHECK(m->data.empty());
    CHECK(b.voltages.empty());
  }
}
