// xbar_bench CONFIG [--set KEY=VALUE]... [--dump-matrix FILE.mtx] [--vectors K]
//
// Times the phases of one `xbar solve` run (config + weights, array -> circuit, solver set-up,
// the solves) in wall-clock and CPU seconds and prints them as one JSON object. With
// --dump-matrix it also writes the Newton Jacobian J and right-hand side -f at the initial guess
// of input vector 0 (Matrix Market, b appended as FILE.rhs), so that another solver (SciPy's
// SuperLU in bench/run.py) can be timed on the very matrix xbar factors. Never a test.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/array_solver.hpp"
#include "io/config.hpp"
#include "io/problem.hpp"
#include "solver/nodal_system.hpp"

using namespace xbar;

namespace {

struct Clock {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  /// {wall s, cpu s} since the last lap.
  std::pair<double, double> lap() {
    const auto now = std::chrono::steady_clock::now();
    const std::clock_t c = std::clock();
    const std::pair<double, double> out{std::chrono::duration<double>(now - wall).count(),
                                        double(c - cpu) / CLOCKS_PER_SEC};
    wall = now, cpu = c;
    return out;
  }
};

void dump_matrix(const netlists::Crossbar& xb, std::span<const double> input, const std::string& path) {
  const solver::NodalSystem system(xb.circuit());
  const std::size_t n = xb.circuit().n_free;
  std::vector<double> f(n), scale(n), jac(system.pattern().nnz());
  const std::vector<double> v =
      solver::full_voltages(xb.initial_guess(input), xb.fixed_voltages(input));
  system.assemble(v, 0.0, f, jac, scale);
  std::ofstream out(path);
  const solver::CscPattern& p = system.pattern();
  out << "%%MatrixMarket matrix coordinate real general\n" << n << ' ' << n << ' ' << p.nnz() << '\n';
  for (std::int32_t col = 0; col < p.n; ++col)
    for (std::int32_t k = p.col_ptr[col]; k < p.col_ptr[col + 1]; ++k)
      out << fmt::format("{} {} {:.17g}\n", p.row_idx[k] + 1, col + 1, jac[k]);
  std::ofstream rhs(path + ".rhs");
  for (double x : f) rhs << fmt::format("{:.17g}\n", -x);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, dump;
  std::vector<std::string> overrides;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if ((arg == "--set" || arg == "-s") && a + 1 < argc) overrides.push_back(argv[++a]);
    else if (arg == "--dump-matrix" && a + 1 < argc) dump = argv[++a];
    else config_path = arg;
  }
  if (config_path.empty()) {
    fmt::print(stderr, "usage: xbar_bench CONFIG [--set KEY=VALUE]... [--dump-matrix FILE.mtx]\n");
    return 2;
  }
  Clock clock;
  const io::RunConfig config = io::load_config(config_path, overrides);
  const io::Problem problem = io::build_problem(config);
  const auto t_problem = clock.lap();
  const netlists::Crossbar crossbar(problem.spec);
  const auto t_circuit = clock.lap();
  engine::ArraySolver solver(crossbar, config.newton);
  const auto t_setup = clock.lap();
  const engine::ArrayResults r = solver.solve(problem.inputs);
  const auto t_solve = clock.lap();
  if (!dump.empty()) dump_matrix(crossbar, problem.inputs.row(0), dump);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  fmt::print(
      "{{\"rows\": {}, \"cols\": {}, \"vectors\": {}, \"unknowns\": {}, \"backend\": \"{}\", "
      "\"methods\": \"{}\", \"newton_iterations\": {}, \"linear_iterations\": {}, \"unconverged_linear\": {}, "
      "\"problem_s\": [{:.6f}, {:.6f}], \"circuit_s\": [{:.6f}, {:.6f}], \"setup_s\": [{:.6f}, {:.6f}], "
      "\"solve_s\": [{:.6f}, {:.6f}], \"peak_rss_mb\": {:.1f}, \"column0\": {:.17g}}}\n",
      config.rows, config.cols, problem.inputs.rows, crossbar.free_nodes(), solver::to_string(solver.method()),
      r.summary.methods, r.summary.newton_iterations, r.summary.linear_iterations, r.summary.unconverged_linear, t_problem.first,
      t_problem.second, t_circuit.first, t_circuit.second, t_setup.first, t_setup.second,
      t_solve.first, t_solve.second, usage.ru_maxrss / 1024.0, r.column_current(0, 0));
  return 0;
}
