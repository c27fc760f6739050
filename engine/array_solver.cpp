#include "engine/array_solver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "netlists/solver_views.hpp"
#include "solver/line_solver.hpp"
#include "solver/parallel.hpp"

using xbar::solver::NodeIndex;

namespace xbar::engine {

solver::Method choose_method(const netlists::Crossbar& crossbar, solver::Method requested) {
  using solver::Method;
  if (requested == Method::klu || requested == Method::lines) return requested;
  const bool grid_fits = netlists::grid_fits(crossbar);
  if (requested == Method::grid) {
    if (!grid_fits)
      throw std::invalid_argument(
          "solver.method 'grid': this array does not have the grid's shape (a tabulated select, or a "
          "zero-resistance line behind a driver or sense resistance); use auto, klu or lines");
    return requested;
  }
  if (grid_fits) return Method::grid;
  // KLU wins only on tiny systems, where its factorisation costs less than setting up the lines.
  return crossbar.free_nodes() <= k_auto_klu_max_unknowns ? Method::klu : Method::lines;
}

ArraySolver::ArraySolver(const netlists::Crossbar& crossbar, solver::NewtonOptions options)
    : crossbar_(crossbar), options_(std::move(options)), method_(choose_method(crossbar, options_.method)) {
  using solver::Method, solver::Newton;
  if (method_ == Method::grid)
    candidates_ = {{Newton::grid, Method::grid}, {Newton::general, Method::lines}};
  else
    candidates_ = {{Newton::general, method_}};
  worker_ = make_worker();
}

ArraySolver::Worker ArraySolver::make_worker() const {
  Worker w;
  w.solvers.resize(candidates_.size());
  candidate(w, 0);  // the first is needed at once; the fallbacks only where it fails
  return w;
}

solver::CircuitSolver& ArraySolver::candidate(Worker& w, std::size_t index) const {
  std::unique_ptr<solver::CircuitSolver>& slot = w.solvers[index];
  if (!slot) {
    const Candidate& c = candidates_[index];
    if (c.newton == solver::Newton::grid)
      slot = std::make_unique<solver::GridNewton>(crossbar_.cell_circuit(), *netlists::grid_layout(crossbar_), options_);
    else
      slot = std::make_unique<solver::NewtonSolver>(
          crossbar_.circuit(),
          c.linear == solver::Method::klu ? solver::make_klu_solver()
                                          : solver::make_line_solver(netlists::line_partition(crossbar_)),
          options_);
  }
  return *slot;
}

void ArraySolver::solve_vector(std::span<const double> input, std::vector<double>& voltages,
                               solver::SolveStats& stats) {
  solve_into(worker_, input, stats, voltages);
}

// Solves in place: the free part of voltages (its first free_nodes() values) is the starting
// point when voltages holds every node or just the free ones, else the initial guess is; on
// return, or on SolveFailure, voltages holds every node (solve_vector). One vector for both, so
// a solve writes no copy of the array's nodes and touches no fresh memory beyond its result.
void ArraySolver::solve_into(Worker& worker, std::span<const double> input, solver::SolveStats& stats,
                             std::vector<double>& voltages) const {
  const std::vector<double> fixed = crossbar_.fixed_voltages(input);
  const std::size_t n_free = crossbar_.free_nodes();
  const bool started = voltages.size() == n_free || voltages.size() == n_free + fixed.size();
  voltages.resize(n_free + fixed.size());
  std::copy(fixed.begin(), fixed.end(), voltages.begin() + n_free);
  const std::span<double> guess(voltages.data(), n_free);
  if (!started) crossbar_.initial_guess(input, guess);
  // The candidates in order from the same guess; the report adds up what each tried.
  solver::SolveStats tried;
  for (std::size_t i = 0; i < candidates_.size(); ++i) {
    stats = candidate(worker, i).solve(fixed, guess);
    stats.method.fallback = i > 0;
    stats.detail = tried.detail + stats.detail;
    stats.iterations += tried.iterations;
    stats.linear_iterations += tried.linear_iterations;
    stats.unconverged_linear += tried.unconverged_linear;
    if (stats.converged) break;
    tried = stats;
  }
  worker.last = stats;
  if (!stats.converged) {
    const std::string where =
        stats.worst_node >= 0 ? crossbar_.describe(stats.worst_node) : std::string("unknown node");
    std::string what = stats.detail;  // "newton: no convergence; gmin-stepping: ...; "
    while (!what.empty() && (what.back() == ' ' || what.back() == ';')) what.pop_back();
    throw SolveFailure(fmt::format(
        "no solution: {} ({} Newton iterations in all); worst node {}, residual {:.3g} A (tolerance {:.3g} A)",
        what.empty() ? to_string(stats.method) : what, stats.iterations, where, stats.worst_residual, stats.worst_tolerance));
  }
}

void ArraySolver::warm_start(std::span<const double> previous, std::span<const double> input,
                             std::span<double> guess, SelectMemory& memory) const {
  using netlists::NodeKind;
  if (!crossbar_.has_real_select()) return;
  const netlists::ArraySpec& spec = crossbar_.spec();
  const NodeIndex n_free = crossbar_.free_nodes();
  const std::size_t cells = static_cast<std::size_t>(spec.rows) * spec.cols;
  if (memory.size() != cells) memory.reset(cells);
  for (int i = 0; i < spec.rows; ++i) {
    const bool active = crossbar_.row_active(input, i);
    if (active == crossbar_.row_active(previous, i)) continue;
    for (int j = 0; j < spec.cols; ++j) {
      const NodeIndex m = crossbar_.node(NodeKind::internal, i, j), c = crossbar_.node(NodeKind::column, i, j);
      if (m < 0 || m >= n_free) continue;
      const std::size_t k = static_cast<std::size_t>(i) * spec.cols + j;
      const double v_c = c < n_free ? guess[c] : spec.v_sense;
      // The isolated cell's m only where used: the first time the cell is in that state.
      const double first = memory.solved_in(k, active) ? 0.0
                           : active ? crossbar_.isolated_v_m(i, j, true)
                                    : v_c + crossbar_.isolated_v_m(i, j, false) - spec.v_sense;
      // The state left: as solved for `previous`.
      guess[m] = memory.switch_state(k, !active, active, guess[m], v_c, first);
    }
  }
}

// The chains of a batch (k_chain_vectors), handed out in order to whichever worker asks. The
// first k_cold_chains start from the initial guess and are handed out at once; a later one waits
// for vector 0's solution (its start): which worker solves a chain, and when, changes nothing.
class ArraySolver::ChainQueue {
 public:
  explicit ChainQueue(std::size_t count) : count_(count) {}
  /// Vector 0 is solved: the chains that start from it may go.
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    ready_.notify_all();
  }
  /// The next chain: its vectors [first, end) and whether it starts from the initial guess;
  /// nullopt when none is left or the queue is closed.
  std::optional<Chain> take() {
    std::unique_lock lock(mutex_);
    if (closed_ || next_ >= count_) return std::nullopt;
    const Chain chain{next_, std::min(count_, next_ + k_chain_vectors), next_ < k_cold_chains * k_chain_vectors};
    next_ = chain.end;
    if (!chain.cold) ready_.wait(lock, [&] { return open_ || closed_; });
    if (closed_) return std::nullopt;
    return chain;
  }
  /// Hands out nothing more (a worker failed: the other stops after its current vector).
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  const std::size_t count_;
  std::size_t next_ = 0;
  bool open_ = false, closed_ = false;
};

// Solves vector v from what `voltages` holds, stores its results and reports it (done).
void ArraySolver::solve_stored(Worker& worker, const Matrix& inputs, std::size_t v, std::vector<double>& voltages,
                               const Destination& to) {
  ArrayResults& out = to.out;
  try {
    solve_into(worker, inputs.row(v), to.stats[v], voltages);
  } catch (const SolveFailure& e) {
    throw SolveFailure(fmt::format("input vector {} of {}: {}", v, inputs.rows, e.what()));
  }
  const std::vector<double> columns = crossbar_.column_currents(voltages);
  std::copy(columns.begin(), columns.end(), out.column_current.row(v).begin());
  if (v == 0 && to.cells == CellResults::vector0) {
    store_cells(inputs.row(v), voltages, out);
  } else {
    const std::vector<double> ideal = crossbar_.ideal_column_currents(inputs.row(v));
    std::copy(ideal.begin(), ideal.end(), out.column_current_ideal.row(v).begin());
  }
  to.done(v, voltages);
}

// Chains from the queue on one Newton solver, each vector warm-started from the one before it
// in its chain, with a select memory of the chain's own. A chain starts from the initial guess
// (cold) or from vector 0's voltages (out.voltages, read only by then) moved by warm_start.
void ArraySolver::solve_chains(Worker& worker, const Matrix& inputs, ChainQueue& queue, const Destination& to) {
  ArrayResults& out = to.out;
  std::vector<double> voltages;  // reused from chain to chain
  SelectMemory memory;            // reused too, forgotten at each chain's start
  const std::size_t n_free = crossbar_.free_nodes();
  while (const std::optional<Chain> chain = queue.take()) {
    if (chain->cold) voltages.clear();  // solve_into starts from the initial guess
    else voltages.assign(out.voltages.begin(), out.voltages.end());
    memory.reset(memory.size());  // warm_start sizes it on first use
    for (std::size_t v = chain->first; v < chain->end; ++v) {
      if (v > chain->first || !chain->cold)
        warm_start(inputs.row(v > chain->first ? v - 1 : 0), inputs.row(v), std::span(voltages).first(n_free), memory);
      // Vector 0's voltages are kept whole (the result's, and the later chains' start).
      solve_stored(worker, inputs, v, v == 0 ? out.voltages : voltages, to);
      if (v == 0) {
        voltages.assign(out.voltages.begin(), out.voltages.end());
        queue.open();
      }
    }
  }
}

// Vector 0's per-cell results; its ideal column currents as the column sums of its ideal cells.
void ArraySolver::store_cells(std::span<const double> input, std::span<const double> voltages,
                              ArrayResults& out) const {
  const std::size_t rows = crossbar_.spec().rows, cols = crossbar_.spec().cols;
  // The five matrices on whichever thread is free, each whole on one: a matrix's fresh pages are
  // zeroed where it is allocated, so the threads share that cost too.
  const std::function<void()> parts[] = {
      [&] { out.cell_current = Matrix(rows, cols, crossbar_.cell_currents(voltages)); },
      [&] { out.cell_current_ideal = Matrix(rows, cols, crossbar_.ideal_cell_currents(input)); },
      [&] { out.cell_current_programmed = Matrix(rows, cols, crossbar_.programmed_cell_currents()); },
      [&] { out.v_col = Matrix(rows, cols, crossbar_.line_voltages(netlists::NodeKind::column, voltages)); },
      [&] { out.v_row = Matrix(rows, cols, crossbar_.line_voltages(netlists::NodeKind::row, voltages)); }};
  solver::parallel_each(std::size(parts), [&](std::int64_t p) { parts[p](); });
  std::span<double> ideal_columns = out.column_current_ideal.row(0);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) ideal_columns[j] += out.cell_current_ideal(i, j);
}

std::string distinct_methods(std::span<const solver::SolveStats> stats) {
  std::vector<solver::MethodUsed> seen;
  std::string methods;
  for (const solver::SolveStats& st : stats) {
    if (std::find(seen.begin(), seen.end(), st.method) != seen.end()) continue;
    seen.push_back(st.method);
    methods += (methods.empty() ? "" : ",") + to_string(st.method);
  }
  return methods;
}

bool ArraySolver::vectors_in_parallel(std::size_t count) const {
  // A second solver doubles the matrices; worth it when there are vectors enough to share and the
  // array is small enough that its kernels would not use both cores well anyway.
  return count >= 4 && solver::parallel_threads() >= 2 &&
         crossbar_.free_nodes() <= k_parallel_vectors_max_unknowns;
}

ArrayResults ArraySolver::solve(const Matrix& inputs,
                                const std::function<void(std::size_t, std::size_t)>& progress,
                                const VectorObserver& observe, CellResults cells) {
  const std::size_t cols = crossbar_.spec().cols;
  std::vector<solver::SolveStats> stats(inputs.rows);
  const auto start = std::chrono::steady_clock::now();
  std::size_t observed = 0;  // vectors the batch path showed the observer before it gave up
  std::optional<ArrayResults> batched = solve_as_batch(inputs, progress, stats, cells, observe, observed);
  if (batched) {
    batched->summary = summarize(stats, start);
    return std::move(*batched);
  }
  ArrayResults out;  // the per-cell matrices: from vector 0 (store_cells)
  out.column_current = Matrix(inputs.rows, cols);
  out.column_current_ideal = Matrix(inputs.rows, cols);
  std::mutex progress_mutex;
  std::size_t finished = 0;
  const VectorObserver done = [&](std::size_t v, std::span<const double> voltages) {
    if (observe && v >= observed) observe(v, voltages);  // each vector once
    std::lock_guard lock(progress_mutex);
    ++finished;
    if (progress) progress(finished, inputs.rows);
  };
  ChainQueue queue(inputs.rows);
  const Destination to{out, stats, done, cells};
  if (observe || !vectors_in_parallel(inputs.rows)) {  // observers need not be thread-safe
    solve_chains(worker_, inputs, queue, to);
  } else {
    std::exception_ptr failure;
    std::thread helper([&] {
      const solver::SerialRegion serial;  // one core each: no nested parallel kernels
      try {
        if (!second_) second_ = std::make_unique<Worker>(make_worker());  // while the first worker solves
        solve_chains(*second_, inputs, queue, to);
      } catch (...) {
        failure = std::current_exception();
        queue.close();
      }
    });
    {
      const solver::SerialRegion serial;
      try {
        solve_chains(worker_, inputs, queue, to);
      } catch (...) {
        queue.close();
        helper.join();
        throw;
      }
    }
    helper.join();
    if (failure) std::rethrow_exception(failure);
  }
  if (cells == CellResults::none) out.voltages = {};  // the later chains' start, no longer needed
  out.summary = summarize(stats, start);
  return out;
}

SolverSummary ArraySolver::summarize(std::span<const solver::SolveStats> stats,
                                     std::chrono::steady_clock::time_point start) const {
  SolverSummary summary;
  summary.methods = distinct_methods(stats);
  for (const solver::SolveStats& st : stats) {
    summary.newton_iterations += st.iterations;
    summary.linear_iterations += st.linear_iterations;
    summary.unconverged_linear += st.unconverged_linear;
    summary.max_residual = std::max(summary.max_residual, st.max_residual);
  }
  summary.backend = to_string(method_);
  summary.solve_time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

// The grid's batch path: with fixed rows and free bit lines every block of bit lines goes
// through all the vectors in turn (solver::GridNewton::solve_batch). nullopt where it does not
// apply, or where a vector does not converge there: the vectors are then solved one by one, with
// the fallbacks (and the reasons, should they fail too). With an observer each part keeps its
// vectors' voltages, which the observer sees when the part is done; `observed` counts them.
std::optional<ArrayResults> ArraySolver::solve_as_batch(const Matrix& inputs,
                                                        const std::function<void(std::size_t, std::size_t)>& progress,
                                                        std::vector<solver::SolveStats>& stats, CellResults cells,
                                                        const VectorObserver& observe, std::size_t& observed) {
  if (method_ != solver::Method::grid || inputs.rows < 2) return std::nullopt;
  auto* grid = dynamic_cast<solver::GridNewton*>(&candidate(worker_, 0));
  if (!grid || !grid->solves_batches()) return std::nullopt;
  const netlists::ArraySpec& spec = crossbar_.spec();
  const std::size_t count = inputs.rows, rows = spec.rows, cols = spec.cols;
  const bool selects = crossbar_.has_real_select();
  ArrayResults out;
  out.column_current = Matrix(count, cols);
  out.column_current_ideal = Matrix(count, cols);
  // Vector 0's voltages: the free nodes', then (at the end) the fixed ones', in one allocation.
  const solver::Circuit& circuit = crossbar_.cell_circuit();
  std::vector<double> voltages;
  voltages.reserve(circuit.n_nodes());
  voltages.resize(circuit.n_free);
  crossbar_.initial_guess(inputs.row(0), voltages);
  std::vector<double> first_fixed;
  std::mutex progress_mutex;
  // In parts, each continuing the one before (the same answer as one batch).
  const std::size_t n_nodes = circuit.n_nodes();
  const std::size_t part = observe ? std::clamp<std::size_t>(k_observed_part_bytes / (sizeof(double) * n_nodes), 1,
                                                             k_batch_vectors)
                                   : k_batch_vectors;
  // A part's voltages, every node's (written before they are read: not zeroed first).
  const auto solutions = std::make_unique_for_overwrite<double[]>(observe ? std::min(part, count) * n_nodes : 0);
  for (std::size_t start = 0; start < count; start += part) {
    const std::size_t n = std::min(part, count - start);
    std::vector<std::vector<double>> fixed(n);
    std::vector<std::uint8_t> row_state(selects ? n * rows : 0);
    for (std::size_t v = 0; v < n; ++v) {
      fixed[v] = crossbar_.fixed_voltages(inputs.row(start + v));
      if (selects)
        for (std::size_t i = 0; i < rows; ++i) row_state[v * rows + i] = crossbar_.row_active(inputs.row(start + v), int(i));
    }
    solver::GridNewton::Batch batch;
    batch.fixed = fixed;
    batch.row_state = row_state;
    if (selects) {  // a cell's m the first time in a state: the isolated cell's, as in warm_start
      batch.start_on = crossbar_.isolated_v_m_cells(true);
      batch.start_off = crossbar_.isolated_v_m_cells(false);
      batch.start_off_reference = spec.v_sense;
    }
    batch.continues = start > 0;
    if (progress)
      batch.block_done = [&](std::size_t done, std::size_t total) {
        const std::lock_guard lock(progress_mutex);
        progress(start + n * done / total, count);
      };
    if (observe) batch.solutions = std::span(solutions.get(), n * n_nodes);
    const std::span<double> first = start == 0 ? std::span(voltages) : std::span<double>();  // vector 0's
    solver::GridNewton::BatchResult r = grid->solve_batch(batch, first);
    if (!r.converged) return std::nullopt;
    for (std::size_t v = 0; v < n && observe; ++v) {
      observe(start + v, batch.solutions.subspan(v * n_nodes, n_nodes));
      observed = start + v + 1;
    }
    std::copy(r.sink_current.begin(), r.sink_current.end(), out.column_current.data.begin() + start * cols);
    std::copy(r.stats.begin(), r.stats.end(), stats.begin() + start);
    worker_.last = r.stats.back();
    if (start == 0) first_fixed = std::move(fixed[0]);
  }
  const std::int64_t stored = cells == CellResults::vector0 ? 1 : 0;  // vector 0's ideal: store_cells
  solver::parallel_for(static_cast<std::int64_t>(count), 16, [&](int, std::int64_t v0, std::int64_t v1) {
    for (std::int64_t v = std::max(v0, stored); v < v1; ++v) {
      const std::vector<double> ideal = crossbar_.ideal_column_currents(inputs.row(v));
      std::copy(ideal.begin(), ideal.end(), out.column_current_ideal.row(v).begin());
    }
  });
  if (cells == CellResults::none) return out;
  voltages.insert(voltages.end(), first_fixed.begin(), first_fixed.end());
  store_cells(inputs.row(0), voltages, out);
  out.voltages = std::move(voltages);
  return out;
}

}  // namespace xbar::engine
