#pragma once
// Newton-Raphson on the nodal equations f(v) = 0 (see nodal_system.hpp), for every backend: the
// general one here (NewtonSolver, over any LinearSolver) and the grid (grid_newton.hpp) share the
// loop (newton_loop), the tolerances, the update test, the damping and the forcing below.
//
//   J(v_k) dv = -f(v_k),   v_{k+1} = v_k + alpha dv,   alpha = min(1, max_step / max|dv|)
//
// The step is damped so that no node moves more than max_step volts at once (the exponential
// device laws overshoot otherwise). Converged at v when every free node has
//   |f_i| <= abstol + residual_reltol * scale_i        (KCL to rounding, scale_i as in node_currents)
//   |dv_i| <= vntol + reltol * |v_i|  or  |J_ii dv_i| <= abstol + residual_reltol * scale_i
//                                                      (dv the full Newton step from v; the second
//                                                      form: the step moves no current by more than
//                                                      the KCL tolerance, for nodes held by leakage)
// For a linear circuit (f affine) the update test is dropped after an undamped step: the
// residual test alone then certifies the solution, and one linear solve suffices.
// If plain Newton fails, gmin stepping and then source stepping are tried; the method that
// succeeded is reported, never silently.
//
// An iterative linear backend is inexact Newton: it is asked for a linear residual of at most
//   tol_i = (abstol + residual_reltol scale_i) * (linear_forcing w >= 1 ? linear_forcing w : linear_safety),
//   w = max_i |f_i| / (abstol + residual_reltol scale_i),
// i.e. a fixed fraction of the residual early on, and well inside the KCL criterion at the end;
// for a linear circuit (no transistors, linear resistors) linear_forcing is ignored (0), so one
// solve lands inside the criterion. The final answer meets the same criterion for every backend.
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "solver/linear_solver.hpp"
#include "solver/method.hpp"
#include "solver/nodal_system.hpp"

namespace xbar::solver {

struct NewtonOptions {
  int max_iterations = 100;        ///< per Newton run (each gmin / source step is one run)
  double vntol = 1e-9;             ///< V
  double reltol = 1e-9;            ///< relative update tolerance
  double abstol = 1e-18;           ///< A
  double residual_reltol = 1e-12;  ///< of each node's rounding scale
  double max_step = 0.2;           ///< V per iteration
  bool gmin_stepping = true;
  bool source_stepping = true;
  double linear_safety = 1e-3;      ///< final linear residual, as a fraction of the KCL tolerance
  double linear_forcing = 1e-4;    ///< linear residual relative to the Newton residual (nonlinear)
  int max_linear_iterations = 2000; ///< Krylov iterations per linear solve (the grid's)
  /// The solver asked for: the grid, or the general Newton over KLU or the line solver
  /// (line-preconditioned Krylov, direct per chain when the lines decouple). Chosen by the caller
  /// that builds the solvers (engine/).
  Method method = Method::automatic;

  // The arithmetic of the iteration, written once for every backend (the file comment above).
  /// KCL tolerance of a node with rounding scale `scale` (A): abstol + residual_reltol * scale.
  struct KclTolerance {
    double abstol, residual_reltol;
    double operator()(double scale) const { return abstol + residual_reltol * scale; }
  };
  /// The same as a value, for loops that must not reload the options (vectorised kernels).
  KclTolerance kcl_tolerance() const { return {abstol, residual_reltol}; }
  double kcl_tolerance(double scale) const { return kcl_tolerance()(scale); }
  /// |f| / kcl_tolerance(scale): <= 1 where KCL holds (NaN stays NaN).
  double residual_ratio(double f, double scale) const { return std::abs(f) / kcl_tolerance(scale); }
  /// The update test at one node: dv small in volts, or too small to move the node's own
  /// current (J_ii dv) by its KCL tolerance (a node held only by leakage, ~1e-12 S, is not pinned
  /// to 1e-9 V by KCL to 1e-18 A). False for NaN.
  bool update_small(double dv, double v, double j_ii, double scale) const {
    // | rather than ||: no branch, so that loops over nodes vectorise
    return (std::abs(dv) <= vntol + reltol * std::abs(v)) | (std::abs(j_ii * dv) <= kcl_tolerance(scale));
  }
  /// The damping factor for a step whose largest node update is `largest` (V).
  double damping(double largest) const { return largest > max_step ? max_step / largest : 1.0; }
  /// Inexact Newton: the linear residual allowed at a node, as a fraction of its KCL tolerance,
  /// when the Newton residual is `ratio` times the tolerance (forcing, or the final safety margin).
  double linear_fraction(double ratio, bool linear_circuit) const {
    const double forcing = linear_circuit ? 0.0 : linear_forcing * ratio;
    return forcing >= 1 ? forcing : linear_safety;
  }
};

struct SolveStats {
  bool converged = false;
  MethodUsed method;         ///< the solver and run that answered, or the last one tried
  int iterations = 0;        ///< Newton iterations, all stages
  long linear_iterations = 0; ///< Krylov iterations, all stages (0 for a direct backend)
  /// Linear solves that stopped short of their tolerance (iteration limit or breakdown): Newton
  /// went on from their last iterate, and its own KCL test still decides convergence.
  long unconverged_linear = 0;
  double max_residual = 0;   ///< A, largest |f_i| at the returned point
  NodeIndex worst_node = -1; ///< node with the largest residual relative to its tolerance
  double worst_residual = 0;  ///< A, |f| at that node
  double worst_tolerance = 0; ///< A, that node's residual tolerance (abstol + residual_reltol * scale)
  std::string detail;        ///< what was tried, for failure messages
};

/// Adds node `node`'s residual f (A) to the report: the largest |f| (NaN shows, never vanishes)
/// and the worst node relative to its tolerance. worst_ratio starts below 0.
inline void record_residual(SolveStats& stats, double& worst_ratio, NodeIndex node, double f, double tolerance) {
  const double r = std::abs(f);
  if (std::isnan(r) || r > stats.max_residual) stats.max_residual = r;
  const double ratio = r / tolerance;
  if (!(ratio <= worst_ratio)) {  // also catches NaN
    worst_ratio = ratio;
    stats.worst_node = node;
    stats.worst_residual = r;
    stats.worst_tolerance = tolerance;
  }
}

struct NewtonRun {
  bool converged;
  int iterations;
};

/// The damped Newton loop of every backend, on four operations:
///   assemble() -> max_i |f_i| / tolerance_i at v;  step(ratio, largest) -> dv, largest = max|dv|
///   (false: breakdown);  small() -> whether dv passes the update test;  apply(alpha): v += alpha dv.
/// Converged at v when KCL holds there (ratio <= 1) and the undamped Newton step from v is small:
/// the step is computed but not taken, so the point returned is the one whose residual was
/// checked. A linear circuit (f affine) is solved after one undamped step, confirmed by the
/// residual alone. A template, so the grid's kernels stay inlined (no virtual call per step).
template <class Assemble, class Step, class Small, class Apply>
NewtonRun newton_loop(const NewtonOptions& options, bool linear_circuit, Assemble&& assemble, Step&& step,
                      Small&& small, Apply&& apply) {
  bool full_step = false;
  for (int it = 0; it <= options.max_iterations; ++it) {
    const double ratio = assemble();
    if (ratio <= 1 && linear_circuit && full_step) return {true, it};
    if (it == options.max_iterations) break;
    double largest = 0;
    if (!step(ratio, largest)) return {false, it + 1};
    const double alpha = options.damping(largest);
    full_step = alpha == 1.0;
    if (ratio <= 1 && full_step && small()) return {true, it + 1};
    apply(alpha);
  }
  return {false, options.max_iterations};
}

/// A Newton solver of a whole circuit (Eigen's shape: solve, then info() about that solve): the
/// grid's and the general one are interchangeable behind it (the engine's fallback list).
class CircuitSolver {
 public:
  virtual ~CircuitSolver() = default;
  /// Solves for the free voltages: v_free holds the initial guess on entry and the solution on
  /// exit (when not converged: see each solver). Returns the report that info() keeps.
  virtual SolveStats solve(std::span<const double> fixed_voltages, std::span<double> v_free) = 0;
  /// The report of the last solve: converged or not, the method, iterations, Krylov solves that
  /// stopped short (unconverged_linear), the worst node, and what was tried.
  const SolveStats& info() const { return info_; }
  virtual Newton kind() const = 0;

 protected:
  SolveStats info_;
};

class NewtonSolver final : public CircuitSolver {
 public:
  NewtonSolver(const Circuit& circuit, std::unique_ptr<LinearSolver> linear, NewtonOptions options);

  /// Newton, then gmin stepping, then source stepping (as enabled); if none converges, v_free
  /// holds the last iterate on exit.
  SolveStats solve(std::span<const double> fixed_voltages, std::span<double> v_free) override;
  Newton kind() const override { return Newton::general; }

  const NodalSystem& system() const { return system_; }
  const NewtonOptions& options() const { return options_; }

 private:
  NewtonRun run(std::span<const double> fixed_voltages, std::vector<double>& v, double gmin);
  void measure(SolveStats& stats, std::span<const double> v);

  /// Largest |f_i| / (abstol + residual_reltol scale_i) over the free nodes.
  double residual_ratio() const;
  void set_linear_tolerance(double ratio);

  NodalSystem system_;
  std::unique_ptr<LinearSolver> linear_;
  NewtonOptions options_;
  bool linear_circuit_ = false;
  bool residual_is_current_ = false;  ///< residual_ was assembled at the last returned point
  long linear_iterations_ = 0;
  long unconverged_linear_ = 0;
  std::vector<double> residual_, jacobian_, scale_, update_, linear_tolerance_;
};

}  // namespace xbar::solver
