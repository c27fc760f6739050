#include "solver/newton.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace xbar::solver {

NewtonSolver::NewtonSolver(const Circuit& circuit, std::unique_ptr<LinearSolver> linear,
                           NewtonOptions options)
    : system_(circuit), linear_(std::move(linear)), options_(options) {
  const auto n = static_cast<std::size_t>(circuit.n_free);
  residual_.resize(n);
  scale_.resize(n);
  update_.resize(n);
  linear_tolerance_.resize(n);
  linear_circuit_ = circuit.is_linear();
  jacobian_.resize(system_.pattern().nnz());
  if (n > 0) linear_->analyze(system_.pattern());
}

NewtonRun NewtonSolver::run(std::span<const double> fixed, std::vector<double>& v, double gmin) {
  const NodeIndex n = system_.circuit().n_free;
  std::copy(fixed.begin(), fixed.end(), v.begin() + n);
  auto assemble = [&] {
    system_.assemble(v, gmin, residual_, jacobian_, scale_);
    residual_is_current_ = gmin == 0;  // residual_ and scale_ belong to v (until v moves)
    return residual_ratio();
  };
  auto step = [&](double ratio, double& largest) {
    linear_->factor(jacobian_);
    for (NodeIndex i = 0; i < n; ++i) update_[i] = -residual_[i];
    set_linear_tolerance(ratio);
    linear_->solve(update_, linear_tolerance_);
    const LinearInfo info = linear_->info();
    linear_iterations_ += info.iterations;
    unconverged_linear_ += !info.converged;
    largest = 0;
    for (NodeIndex i = 0; i < n; ++i) largest = std::max(largest, std::abs(update_[i]));
    return std::isfinite(largest);
  };
  auto small = [&] {
    const std::span<const std::int32_t> diagonal = system_.diagonal_slots();
    for (NodeIndex i = 0; i < n; ++i)
      if (!options_.update_small(update_[i], v[i], jacobian_[diagonal[i]], scale_[i])) return false;
    return true;
  };
  auto apply = [&](double alpha) {
    for (NodeIndex i = 0; i < n; ++i) v[i] += alpha * update_[i];
    residual_is_current_ = false;
  };
  return newton_loop(options_, linear_circuit_, assemble, step, small, apply);
}

double NewtonSolver::residual_ratio() const {
  double worst = 0;
  for (std::size_t i = 0; i < residual_.size(); ++i) {
    const double ratio = options_.residual_ratio(residual_[i], scale_[i]);
    if (!(ratio <= worst)) worst = ratio;  // NaN propagates
  }
  return worst;
}

void NewtonSolver::set_linear_tolerance(double ratio) {
  // Far from the solution a fixed relative reduction suffices; once that would land inside the
  // KCL tolerance anyway, solve to well inside it (the answer should be as exact as a direct
  // solve: the sum of the residuals along a bit line is the column current's conservation error).
  const double fraction = options_.linear_fraction(ratio, linear_circuit_);
  for (std::size_t i = 0; i < residual_.size(); ++i) linear_tolerance_[i] = fraction * options_.kcl_tolerance(scale_[i]);
}

void NewtonSolver::measure(SolveStats& stats, std::span<const double> v) {
  if (!(stats.converged && residual_is_current_)) system_.assemble(v, 0.0, residual_, jacobian_, scale_);
  double worst_ratio = -1;
  stats.max_residual = 0;
  for (NodeIndex i = 0; i < system_.circuit().n_free; ++i)
    record_residual(stats, worst_ratio, i, residual_[i], options_.kcl_tolerance(scale_[i]));
}

SolveStats NewtonSolver::solve(std::span<const double> fixed, std::span<double> v_free) {
  const NodeIndex n = system_.circuit().n_free;
  SolveStats stats;
  linear_iterations_ = 0;
  unconverged_linear_ = 0;
  residual_is_current_ = false;
  std::vector<double> v = full_voltages(v_free, fixed);
  const std::vector<double> initial = v;
  stats.method.newton = Newton::general;
  auto attempt = [&](Stage stage, auto&& body) {
    if (stats.converged) return;
    bool singular = false;
    try {
      stats.converged = body();
    } catch (const SingularMatrix& e) {
      stats.detail += fmt::format("{}: {}; ", to_string(stage), e.what());
      if (e.column >= 0) stats.worst_node = e.column;
      stats.converged = false;
      singular = true;
    }
    stats.method.stage = stage;
    if (!stats.converged && !singular) stats.detail += fmt::format("{}: no convergence; ", to_string(stage));
  };
  auto newton_run = [&](std::span<const double> f, double gmin) {
    const NewtonRun r = run(f, v, gmin);
    stats.iterations += r.iterations;
    return r.converged;
  };
  if (n == 0) {
    stats.converged = true;
    stats.method.stage = Stage::none;
    return info_ = stats;
  }
  attempt(Stage::newton, [&] { return newton_run(fixed, 0.0); });
  if (options_.gmin_stepping)
    attempt(Stage::gmin_stepping, [&] {
      v = initial;
      for (double gmin = 1e-2; gmin >= 1e-15; gmin *= 0.1)
        if (!newton_run(fixed, gmin)) return false;
      return newton_run(fixed, 0.0);
    });
  if (options_.source_stepping)
    attempt(Stage::source_stepping, [&] {
      std::fill(v.begin(), v.begin() + n, 0.0);
      std::vector<double> scaled(fixed.size());
      for (int step = 1; step <= 20; ++step) {
        for (std::size_t k = 0; k < fixed.size(); ++k) scaled[k] = fixed[k] * step / 20.0;
        if (!newton_run(scaled, 0.0)) return false;
      }
      return true;
    });
  measure(stats, v);
  stats.linear_iterations = linear_iterations_;
  stats.unconverged_linear = unconverged_linear_;
  std::copy(v.begin(), v.begin() + n, v_free.begin());
  return info_ = stats;
}

}  // namespace xbar::solver
