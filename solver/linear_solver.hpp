#pragma once
// The linear-solver layer has the shape of KLU's life cycle: analyse the pattern once,
// factor the numbers (refactor on every later Newton step, same pattern), solve. Backends are
// interchangeable behind this interface.
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "solver/nodal_system.hpp"

namespace xbar::solver {

/// The matrix is singular or too ill-conditioned to trust (a floating node, a lost pivot).
struct SingularMatrix : std::runtime_error {
  SingularMatrix(const std::string& what, std::int32_t column)
      : std::runtime_error(what), column(column) {}
  std::int32_t column;  ///< unknown where the factorisation broke down, or -1
};

/// The last solve of a LinearSolver: its Krylov iterations, and whether it met every tolerance
/// (an iterative backend may stop at its iteration limit: x is then only its last iterate).
struct LinearInfo {
  int iterations = 0;
  bool converged = true;
};

class LinearSolver {
 public:
  virtual ~LinearSolver() = default;
  /// Symbolic work that depends only on the pattern. Called once per geometry.
  virtual void analyze(const CscPattern& pattern) = 0;
  /// Numeric factorisation of values in pattern order. Throws SingularMatrix.
  virtual void factor(std::span<const double> values) = 0;
  /// Overwrites rhs with the solution of A x = rhs.
  virtual void solve(std::span<double> rhs) = 0;
  /// As solve(rhs), but an iterative backend may stop once |(A x - rhs)_i| <= tolerance_i at
  /// every unknown (inexact Newton); a direct backend ignores the tolerance.
  virtual void solve(std::span<double> rhs, std::span<const double> tolerance) {
    (void)tolerance;
    solve(rhs);
  }
  /// What the last solve did (a direct backend: no iterations, converged).
  virtual LinearInfo info() const { return {}; }
  virtual std::string name() const = 0;
};

std::unique_ptr<LinearSolver> make_klu_solver();

}  // namespace xbar::solver
