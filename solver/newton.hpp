#pragma once
// Newton-Raphson on the nodal equations f(v) = 0 (see nodal_system.hpp):
//
//   J(v_k) dv = -f(v_k),   v_{k+1} = v_k + alpha dv,   alpha = min(1, max_step / max|dv|)
//
// The step is damped so that no node moves more than max_step volts at once (the exponential
// device laws overshoot otherwise). Converged when, at the same point, every free node has
//   |f_i| <= abstol + residual_reltol * scale_i        (KCL to rounding, scale_i as in node_currents)
//   |dv_i| <= vntol + reltol * |v_i|  or  |J_ii dv_i| <= abstol + residual_reltol * scale_i
//                                                      (the last full, undamped update; the second
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
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "solver/linear_solver.hpp"
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
  /// Linear backend: "auto" | "klu" | "lines" (line-preconditioned Krylov, direct per chain when
  /// the lines decouple). Chosen by the caller that builds the LinearSolver (engine/).
  std::string method = "auto";
};

struct SolveStats {
  bool converged = false;
  std::string method;        ///< "newton", "gmin-stepping", "source-stepping" or what failed
  int iterations = 0;        ///< Newton iterations, all stages
  long linear_iterations = 0; ///< Krylov iterations, all stages (0 for a direct backend)
  double max_residual = 0;   ///< A, largest |f_i| at the returned point
  NodeIndex worst_node = -1; ///< node with the largest residual relative to its tolerance
  double worst_residual = 0;  ///< A, |f| at that node
  double worst_tolerance = 0; ///< A, that node's residual tolerance (abstol + residual_reltol * scale)
  std::string detail;        ///< what was tried, for failure messages
};

class NewtonSolver {
 public:
  NewtonSolver(const Circuit& circuit, std::unique_ptr<LinearSolver> linear, NewtonOptions options);

  /// Solves for the free voltages; v_free holds the initial guess on entry and the solution
  /// (or the last iterate, if !converged) on exit.
  SolveStats solve(std::span<const double> fixed_voltages, std::span<double> v_free);

  const NodalSystem& system() const { return system_; }
  const NewtonOptions& options() const { return options_; }

 private:
  struct RunResult {
    bool converged;
    int iterations;
  };
  RunResult run(std::span<const double> fixed_voltages, std::vector<double>& v, double gmin);
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
  std::vector<double> residual_, jacobian_, scale_, update_, linear_tolerance_;
};

}  // namespace xbar::solver
