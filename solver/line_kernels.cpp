#include "solver/line_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "solver/line_paired.hpp"
#include "solver/line_sweeps.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver {

namespace {

using sweeps::k_grain;

// Sum over parts of a per-part partial result, in part order (deterministic).
template <class PartFn>
double parallel_sum(std::int64_t n, PartFn&& fn) {
  return sweeps::parallel_reduce(n, [&](std::int32_t b, std::int32_t e, sweeps::Partial& acc) {
           acc.dot = fn(b, e);
         }).dot;
}

template <class Real>
void allocate(ChainFactors<Real>& factors, std::int32_t n) {
  for (std::vector<Real>* v : {&factors.lower_scaled, &factors.inv_pivot, &factors.upper_scaled}) v->resize(n);
}

// Factors the first `families` families (all by default), parts in parallel; the first bad row
// (in part order) or -1. Sets m.symmetric_chains when it factors them all.
template <class Real>
std::int32_t factor_families(LineMatrix& m, ChainFactors<Real>& out, std::size_t families = SIZE_MAX) {
  families = std::min(families, m.family_count());
  allocate(out, m.family_begin[families]);  // the rows of the families factored
  std::int32_t bad = -1;
  bool symmetric = true;
  for (std::size_t f = 0; f < families; ++f) {
    const std::size_t parts = m.family_parts[f].size() - 1;
    std::vector<std::int32_t> bad_of(parts, -1);
    std::vector<char> symmetric_of(parts, 1);
    auto factor_parts = [&](int, std::int64_t b, std::int64_t e) {
      for (std::int64_t k = b; k < e; ++k) {
        bool part_symmetric = true;
        sweeps::for_each_group(m, f, k, [&](const sweeps::ChainGroup& g) {
          const std::int32_t row = sweeps::factor_group(m.chains(), g, out.rows(), part_symmetric);
          if (row >= 0 && bad_of[k] < 0) bad_of[k] = row;
        });
        symmetric_of[k] = part_symmetric;
      }
    };
    if (m.family_begin[f + 1] - m.family_begin[f] < k_grain) factor_parts(0, 0, static_cast<std::int64_t>(parts));
    else parallel_for(static_cast<std::int64_t>(parts), 1, factor_parts);
    for (std::size_t k = 0; k < parts; ++k) {
      if (bad_of[k] >= 0 && bad < 0) bad = bad_of[k];
      symmetric = symmetric && symmetric_of[k];
    }
  }
  if (families == m.family_count()) m.symmetric_chains = symmetric;
  return bad;
}

// Whether cross_val[p] == cross_val[p + paired] for every pair.
bool pairs_symmetric(const LineMatrix& m) {
  const double* cross = m.cross_val.data();
  return sweeps::parallel_reduce(m.paired, [&](std::int32_t begin, std::int32_t end, sweeps::Partial& acc) {
           for (std::int32_t k = begin; k < end; ++k) acc.failed += cross[k] != cross[k + m.paired];
         }).failed == 0;
}

}  // namespace

// Thomas algorithm along every chain, chains of a family in parallel (equations: line_kernels.hpp).
std::int32_t LineMatrix::factor_tridiagonal() {
  symmetric_pairs = is_paired() && pairs_symmetric(*this);
  exact_family0 = false;
  coarse = {};
  if (!has_cross()) return factor_families(*this, exact);
  const std::int32_t bad = factor_families(*this, approx);
  if (bad >= 0 || !symmetric_pairs || !symmetric_chains) return bad;
  exact_family0 = true;
  const std::int32_t bad_exact = factor_families(*this, exact, 1);
  const std::int32_t rows = family_chain_length[1], cols = family_chain_length[0];
  if (bad_exact < 0 && family_stride[1] == cols && std::int64_t(rows) * cols == paired) coarse.build(*this, rows, cols);
  return bad_exact;
}

void LineMatrix::allocate_factors() {
  if (has_cross()) allocate(approx, n);
  if (!has_cross()) allocate(exact, n);
  else if (is_paired()) allocate(exact, paired);  // family 0 only (exact_family0)
}

bool LineMatrix::is_paired() const {
  return paired > 0 && family_count() == 2 && family_begin[1] == paired && n == 2 * paired &&
         family_chain_length[0] > 0 && family_chain_length[1] > 0 && cross_val.size() >= std::size_t(n);
}

void LineMatrix::split_families(const std::vector<std::int32_t>& chain_begin, int parts) {
  family_parts.assign(family_count(), {});
  for (std::size_t f = 0; f < family_count(); ++f) {
    const bool interleaved = family_stride[f] > 1;
    const std::int32_t begin = interleaved ? 0 : family_begin[f];
    const std::int32_t end = interleaved ? family_stride[f] : family_begin[f + 1];
    std::vector<std::int32_t>& split = family_parts[f];
    split.push_back(begin);
    for (int k = 1; k < parts; ++k) {
      std::int64_t at = begin + std::int64_t(end - begin) * k / parts;
      if (!interleaved) {  // move to the next chain start
        const auto it = std::lower_bound(chain_begin.begin(), chain_begin.end(), at);
        at = it == chain_begin.end() ? end : *it;
      }
      split.push_back(std::clamp<std::int32_t>(static_cast<std::int32_t>(at), split.back(), end));
    }
    split.push_back(end);
  }
}

template <class Real>
void LineMatrix::solve_family(const ChainFactors<Real>& factors, std::size_t f, std::span<double> w) const {
  auto in_place = [](std::int32_t, std::int32_t, sweeps::Partial&) {};  // w is already in z
  sweeps::sweep_family<false>(*this, factors, f, w.data(), in_place, sweeps::nothing);
}

template void LineMatrix::solve_family(const ChainFactors<double>&, std::size_t, std::span<double>) const;
template void LineMatrix::solve_family(const ChainFactors<float>&, std::size_t, std::span<double>) const;

double LineMatrix::multiply_dot(std::span<const double> x, std::span<double> y) const {
  double dot = 0;
  for (std::size_t f = 0; f < family_count(); ++f) {
    const std::int32_t begin = family_begin[f], end = family_begin[f + 1], s = family_stride[f];
    dot += parallel_sum(end - begin, [&](std::int32_t b, std::int32_t e) {
      double part = 0;
      for (std::int32_t p = begin + b; p < begin + e; ++p) {
        double sum = diag[p] * x[p];
        if (p - s >= begin) sum += lower[p] * x[p - s];
        if (p + s < end) sum += upper[p] * x[p + s];
        for (std::int32_t k = cross_ptr[p]; k < cross_ptr[p + 1]; ++k) sum += cross_val[k] * x[cross_col[k]];
        y[p] = sum;
        part += x[p] * sum;
      }
      return part;
    });
  }
  return dot;
}

void KrylovWork::resize(std::int32_t n) {
  for (std::vector<double>* v : {&b, &tolerance, &x, &r, &p, &v, &z}) v->assign(n, 0.0);
  for (std::vector<double>* v : {&r_hat, &y, &s, &t, &p_next, &scratch}) v->clear();  // on first use
}

void KrylovWork::prepare(const LineMatrix& m, bool symmetric) {
  resize(m.n);
  if (!m.is_paired()) return;  // as solve_reduced dispatches (paired implies couplings)
  // Symmetric: CG on the Schur complement, which needs no more vectors (the block Gauss-Seidel
  // CG, used should the chains or pairs turn out asymmetric, sizes p_next itself).
  if (!symmetric)
    for (std::vector<double>* v : {&r_hat, &y, &s, &t}) v->assign(m.n, 0.0);
}

namespace {

double dot(std::span<const double> a, std::span<const double> b) {
  return parallel_sum(static_cast<std::int64_t>(a.size()), [&](std::int32_t begin, std::int32_t end) {
    double sum = 0;
    for (std::int32_t k = begin; k < end; ++k) sum += a[k] * b[k];
    return sum;
  });
}

// Applies fn(k) to every k in [0, n), in parallel.
template <class Fn>
void for_each_row(std::int64_t n, Fn&& fn) {
  parallel_for(n, k_grain, [&](int, std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) fn(static_cast<std::int32_t>(k));
  });
}

// Whether |r_k| <= tolerance_k everywhere (counts the rows that fail).
bool within_tolerance(std::span<const double> r, std::span<const double> tolerance) {
  return parallel_sum(static_cast<std::int64_t>(r.size()), [&](std::int32_t begin, std::int32_t end) {
           double failed = 0;
           for (std::int32_t k = begin; k < end; ++k) failed += !(std::abs(r[k]) <= tolerance[k]);
           return failed;
         }) == 0;
}

// w_p = r_p - sum of C_pq z_q over the cross couplings of row p whose column q lies before
// (forward) or after (backward) family f; rows of family f only.
void cross_residual(const LineMatrix& m, std::size_t f, bool before, std::span<const double> r,
                    std::span<const double> z, std::span<double> w) {
  const std::int32_t begin = m.family_begin[f], end = m.family_begin[f + 1];
  parallel_for(end - begin, k_grain, [&](int, std::int64_t b, std::int64_t e) {
    for (std::int32_t p = begin + std::int32_t(b); p < begin + std::int32_t(e); ++p) {
      double sum = r.empty() ? 0.0 : r[p];
      for (std::int32_t k = m.cross_ptr[p]; k < m.cross_ptr[p + 1]; ++k) {
        const std::int32_t q = m.cross_col[k];
        if (before ? q < begin : q >= end) sum -= m.cross_val[k] * z[q];
      }
      w[p] = sum;
    }
  });
}

// z = M^{-1} r, symmetric block Gauss-Seidel from z = 0 (L_S, U_S: couplings to earlier and
// later families):
//   forward  f = 0..F-1:   z_f  = T_f^{-1} (r_f - sum_{g<f} C_fg z_g)
//   backward f = F-2..0:   z_f += T_f^{-1} (    - sum_{g>f} C_fg z_g)
// (in the backward step the rest of the residual, r_f - T_f z_f - sum_{g<f} C_fg z_g, is zero by
// the forward step). M is symmetric when S is, as CG requires.
void precondition(const LineMatrix& m, std::span<const double> r, std::span<double> z,
                  std::span<double> scratch) {
  const std::size_t families = m.family_count();
  for (std::size_t f = 0; f < families; ++f) {
    cross_residual(m, f, true, r, z, z);
    m.solve_family(m.approx, f, z);
  }
  for (std::size_t f = families - 1; f-- > 0;) {
    const std::int32_t begin = m.family_begin[f], end = m.family_begin[f + 1];
    cross_residual(m, f, false, {}, z, scratch);
    m.solve_family(m.approx, f, scratch);
    for (std::int32_t p = begin; p < end; ++p) z[p] += scratch[p];
  }
}

int conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  w.scratch.resize(m.n);
  std::copy(w.b.begin(), w.b.end(), w.r.begin());
  if ((w.converged = within_tolerance(w.r, w.tolerance))) return 0;
  precondition(m, w.r, w.z, w.scratch);
  std::copy(w.z.begin(), w.z.end(), w.p.begin());
  double rz = dot(w.r, w.z);
  for (int it = 1; it <= max_iterations; ++it) {
    const double pv = m.multiply_dot(w.p, w.v);
    if (!(pv > 0)) return it;  // breakdown: not positive definite (Newton will notice)
    const double alpha = rz / pv;
    for_each_row(m.n, [&](std::int32_t k) {
      w.x[k] += alpha * w.p[k];
      w.r[k] -= alpha * w.v[k];
    });
    if ((w.converged = within_tolerance(w.r, w.tolerance))) return it;
    precondition(m, w.r, w.z, w.scratch);
    const double rz_next = dot(w.r, w.z);
    const double beta = rz_next / rz;
    rz = rz_next;
    for_each_row(m.n, [&](std::int32_t k) { w.p[k] = w.z[k] + beta * w.p[k]; });
  }
  return max_iterations;
}

// Right-preconditioned BiCGSTAB (van der Vorst 1992): iterates x = M^{-1} u, residuals of S.
int bicgstab(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  for (std::vector<double>* v : {&w.r_hat, &w.y, &w.s, &w.t, &w.scratch}) v->resize(m.n);
  std::copy(w.b.begin(), w.b.end(), w.r.begin());
  if ((w.converged = within_tolerance(w.r, w.tolerance))) return 0;
  std::copy(w.r.begin(), w.r.end(), w.r_hat.begin());
  std::fill(w.p.begin(), w.p.end(), 0.0);
  std::fill(w.v.begin(), w.v.end(), 0.0);
  double rho = 1, alpha = 1, omega = 1;
  for (int it = 1; it <= max_iterations; ++it) {
    double rho_next = dot(w.r_hat, w.r);
    if (rho_next == 0 || omega == 0) {  // breakdown: restart from the current residual
      std::copy(w.r.begin(), w.r.end(), w.r_hat.begin());
      std::fill(w.p.begin(), w.p.end(), 0.0);
      std::fill(w.v.begin(), w.v.end(), 0.0);
      rho_next = dot(w.r, w.r);
      rho = alpha = omega = 1;
    }
    const double beta = (rho_next / rho) * (alpha / omega);
    rho = rho_next;
    for_each_row(m.n, [&](std::int32_t k) { w.p[k] = w.r[k] + beta * (w.p[k] - omega * w.v[k]); });
    precondition(m, w.p, w.y, w.scratch);
    m.multiply_dot(w.y, w.v);
    alpha = rho / dot(w.r_hat, w.v);
    if (!std::isfinite(alpha)) return it;
    for_each_row(m.n, [&](std::int32_t k) {
      w.x[k] += alpha * w.y[k];
      w.s[k] = w.r[k] - alpha * w.v[k];
    });
    if ((w.converged = within_tolerance(w.s, w.tolerance))) return it;
    precondition(m, w.s, w.z, w.scratch);
    m.multiply_dot(w.z, w.t);
    const double ts = dot(w.t, w.s);
    const double tt = dot(w.t, w.t);
    omega = tt > 0 ? ts / tt : 0.0;
    for_each_row(m.n, [&](std::int32_t k) {
      w.x[k] += omega * w.z[k];
      w.r[k] = w.s[k] - omega * w.t[k];
    });
    if ((w.converged = within_tolerance(w.r, w.tolerance))) return it;
  }
  return max_iterations;
}

}  // namespace

int solve_reduced(const LineMatrix& m, bool symmetric, int max_iterations, KrylovWork& w) {
  std::fill(w.x.begin(), w.x.end(), 0.0);
  w.converged = false;
  if (!m.has_cross()) {  // the chains are the whole matrix: direct
    std::copy(w.b.begin(), w.b.end(), w.x.begin());
    for (std::size_t f = 0; f < m.family_count(); ++f) m.solve_family(m.exact, f, w.x);
    w.converged = true;
    return 1;
  }
  if (m.is_paired())
    return symmetric ? paired_conjugate_gradients(m, max_iterations, w) : paired_bicgstab(m, max_iterations, w);
  return symmetric ? conjugate_gradients(m, max_iterations, w) : bicgstab(m, max_iterations, w);
}

}  // namespace xbar::solver
