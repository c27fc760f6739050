#pragma once
// Krylov solvers for a LineMatrix whose rows pair up (LineMatrix::paired: the crossbar's
// R(i,j) <-> C(i,j)), with their passes fused: each pass over the vectors does all the work that
// needs no global result in between (see line_paired.cpp).
#include "solver/line_kernels.hpp"

namespace xbar::solver {

/// CG on a paired S (symmetric); as solve_reduced. Returns the iterations.
int paired_conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w);
/// Right-preconditioned BiCGSTAB on a paired S; as solve_reduced. Returns the iterations.
int paired_bicgstab(const LineMatrix& m, int max_iterations, KrylovWork& w);

}  // namespace xbar::solver
