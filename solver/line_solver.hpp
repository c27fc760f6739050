#pragma once
// Line-structured backend of the LinearSolver interface (measured on the 2-core machine). The matrix is
// first reduced to the chain unknowns of a LinePartition by eliminating every internal unknown
// locally (A_ii is diagonal, so the Schur complement stays sparse):
//
//   S = A_cc - A_ci A_ii^{-1} A_ic,     S x_c = b_c - A_ci A_ii^{-1} b_i,
//   x_i = A_ii^{-1} (b_i - A_ic x_c).
//
// S is block tridiagonal within a family (T_f: one tridiagonal per chain) plus sparse couplings
// between families. With one family S = T_0 and the solve is direct (O(n) Thomas algorithm: the
// per-column chain path of a crossbar whose rows are ideal). Otherwise S is solved by Krylov
// iteration preconditioned by a symmetric block Gauss-Seidel sweep over the families
// (f = 0, 1, ..., F-1, ..., 1, 0; each step z_f += T_f^{-1} (r - S z)_f): conjugate gradients
// when S is symmetric (linear cells: S is SPD), BiCGSTAB otherwise (EKV devices).
#include <memory>

#include "solver/line_partition.hpp"
#include "solver/linear_solver.hpp"

namespace xbar::solver {

struct LineSolverOptions {
  int max_iterations = 2000;     ///< Krylov iterations per solve
  double default_reltol = 1e-13; ///< solve(rhs) without tolerances: |r|_inf <= this |rhs|_inf
};

std::unique_ptr<LinearSolver> make_line_solver(LinePartition partition,
                                               LineSolverOptions options = {});

}  // namespace xbar::solver
