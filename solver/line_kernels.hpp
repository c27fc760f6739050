#pragma once
// Kernels of the line backend on the reduced matrix S (see line_solver.hpp): products, the
// tridiagonal (Thomas) factorisation of every chain, the block Gauss-Seidel preconditioner and
// the two Krylov methods. Kept apart from the analysis so that they read as the textbook
// algorithms they are.
#include <cstdint>
#include <span>
#include <vector>

#include "solver/line_coarse.hpp"

namespace xbar::solver {

/// Thomas factors of the chains, T = L D U with L, U unit triangular (s: the stride):
///   pivot_p = d_p - l_p u_{p-s} / pivot_{p-s},
///   lower_scaled_p = l_p / pivot_{p-s},  inv_pivot_p = 1 / pivot_p,  upper_scaled_p = u_p / pivot_p.
template <class Real>
struct FactorRows;

template <class Real>
struct ChainFactors {
  std::vector<Real> lower_scaled, inv_pivot, upper_scaled;
  FactorRows<Real> rows() { return {lower_scaled.data(), inv_pivot.data(), upper_scaled.data()}; }
  FactorRows<const Real> rows() const { return {lower_scaled.data(), inv_pivot.data(), upper_scaled.data()}; }
};

/// The Thomas factors of a range of rows, row p at [p] (the same three arrays, unowned).
template <class Real>
struct FactorRows {
  Real *lower_scaled, *inv_pivot, *upper_scaled;
};

/// The three diagonals of the chains, row p at [p] (unowned): T_pp, T_p,p-s and T_p,p+s.
struct Tridiagonal {
  const double *diag, *lower, *upper;
};

struct LineMatrix {
  std::int32_t n = 0;
  std::vector<std::int32_t> family_begin;  ///< F + 1 offsets; chains never straddle them
  /// Distance between neighbours of a chain: 1 (chains stored one after another) or the chain
  /// count (chains of equal length stored interleaved: position t of every chain together).
  std::vector<std::int32_t> family_stride;
  /// Length of every chain of the family, or 0 when the lengths differ (stride 1 only).
  std::vector<std::int32_t> family_chain_length;
  std::span<const double> diag, lower, upper, cross_val;  ///< values, owned by the backend
  Tridiagonal chains() const { return {diag.data(), lower.data(), upper.data()}; }
  std::vector<std::int32_t> cross_ptr, cross_col;         ///< CSR of couplings between families
  /// Nonzero when rows pair up (the crossbar's R(i,j) <-> C(i,j)): two families [0, paired) and
  /// [paired, 2 paired) of chains of one length, row p coupled only with p +- paired through
  /// cross_val[p]. The Krylov kernels then fuse their passes and skip cross_ptr / cross_col.
  std::int32_t paired = 0;
  /// Thomas factors of the chains: exact for the direct solve (no couplings between families),
  /// in float for the preconditioner (the Krylov vectors stay in double; the preconditioner only
  /// needs to be a fixed operator, symmetric when S is, and halving its bytes saves bandwidth).
  ChainFactors<double> exact;
  ChainFactors<float> approx;
  /// Set by factor_tridiagonal: l_p = u_{p-s} along every chain, and (paired) cross_val[p] =
  /// cross_val[p + paired]; the kernels then read one array of each pair.
  bool symmetric_chains = false, symmetric_pairs = false;
  /// Set by factor_tridiagonal on a paired S with symmetric chains and pairs: `exact` also holds
  /// family 0's factors, and CG works on the Schur complement of family 0 (line_paired.cpp).
  bool exact_family0 = false;
  /// Set by factor_tridiagonal with exact_family0 on a large enough array whose cells are
  /// family 1's chain length x family 0's (row-major): the coarse space of the two-level CG.
  CoarseSpace coarse;
  /// Per family, its split into one part per thread: rows at chain starts (stride 1) or ranges
  /// of chains (interleaved).
  std::vector<std::vector<std::int32_t>> family_parts;

  /// Splits every family (chain_begin: first row of every chain of the stride-1 families).
  void split_families(const std::vector<std::int32_t>& chain_begin, int parts);

  std::size_t family_count() const { return family_begin.size() - 1; }
  bool has_cross() const { return !cross_col.empty() || paired > 0; }
  /// Whether the paired kernels apply (paired set and the layout it promises).
  bool is_paired() const;
  /// L D U of the tridiagonal part without pivoting (the chains are diagonally dominant
  /// M-matrices in practice): `exact` without couplings, else `approx`. Returns the reduced
  /// index of a zero or non-finite pivot (in the precision stored), or -1.
  std::int32_t factor_tridiagonal();
  /// Sizes the factors factor_tridiagonal fills (it does so itself otherwise): for callers that
  /// allocate once, before their first solve.
  void allocate_factors();
  /// w_f = T_f^{-1} w_f for family f with the given factors, its chains in parallel.
  template <class Real>
  void solve_family(const ChainFactors<Real>& factors, std::size_t f, std::span<double> w) const;
  /// y = S x; returns x . y.
  double multiply_dot(std::span<const double> x, std::span<double> y) const;
};

struct KrylovWork {
  std::vector<double> b, tolerance, x;             ///< in: b, tolerance; out: x
  std::vector<double> r, r_hat, p, v, y, s, z, t;  ///< Krylov vectors
  std::vector<double> p_next;                      ///< paired CG: the next search direction
  std::vector<double> scratch;                     ///< preconditioner
  /// Whether the last solve_reduced met every row's tolerance (false: it stopped at
  /// max_iterations or on a breakdown, and x is the last iterate).
  bool converged = false;
  void resize(std::int32_t n);
  /// resize(m.n) and the vectors that solve_reduced(m, symmetric, ...) will use, allocated now
  /// rather than on first use (paired matrices; other methods size theirs as they go).
  void prepare(const LineMatrix& m, bool symmetric);
};

/// Solves S x = b until |(b - S x)_p| <= tolerance_p at every row (or max_iterations): directly
/// when S has no couplings between families, else by CG (symmetric S) or BiCGSTAB, both
/// preconditioned by symmetric block Gauss-Seidel over the families (a paired symmetric S: CG
/// on the Schur complement of family 0, line_paired.cpp). Returns the iterations; whether the
/// tolerances were met is in work.converged.
int solve_reduced(const LineMatrix& matrix, bool symmetric, int max_iterations, KrylovWork& work);

}  // namespace xbar::solver
