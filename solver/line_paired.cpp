// Paired line matrix (rows [0, N) and [N, 2N), row p coupled only with its partner p +- N):
//
//   S = [ T_0  C_0 ]     T_f: the chains of family f (tridiagonal),
//       [ C_1  T_1 ]     C_f: diagonal, C_f[p] = cross_val[p].
//
// Preconditioner: symmetric block Gauss-Seidel, z = M^{-1} w,
//   forward:   z_0 = T_0^{-1} w_0,   z_1 = T_1^{-1} (w_1 - C_1 z_0)
//   backward:  z_0 = T_0^{-1} (w_0 - C_0 z_1)
// (the backward step written from w_0: the same as z_0 += T_0^{-1} (-C_0 z_1) after the forward
// one, one vector less to read). M = (D + L) D^{-1} (D + U) with D = diag(T_0, T_1) in the float
// factors: symmetric when S is, as CG requires.
//
// A symmetric paired S that is the cell grid of a large crossbar adds a coarse correction to that
// CG (two_level_conjugate_gradients, coarse space in line_coarse.hpp).
//
// The solvers are bound by memory bandwidth, so their vector updates ride on the sweeps and
// products around them: each pass over memory does all the work that needs no global result in
// between (CG: three sweeps and one product per iteration, instead of a dozen separate loops).
#include "solver/line_paired.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "solver/line_sweeps.hpp"

namespace xbar::solver {

namespace {

using sweeps::Partial;

// 1 when |residual| > tolerance or either is NaN (a row that still fails).
inline double fails(double residual, double tolerance) { return std::abs(residual) <= tolerance ? 0.0 : 1.0; }

// Forward half of the preconditioner: z_0 = T_0^{-1} w_0, z_1 = T_1^{-1} (w_1 - C_1 z_0).
// rhs0 / rhs1(begin, end, partial) write w (rhs1: w_1 - C_1 z_0) into z; done1 sees final z_1.
template <bool SymmetricChains, class Rhs0, class Rhs1, class Done1>
Partial forward_sweeps(const LineMatrix& m, double* z, Rhs0&& rhs0, Rhs1&& rhs1, Done1&& done1) {
  Partial sum = sweeps::sweep_family<SymmetricChains>(m, m.approx, 0, z, rhs0, sweeps::nothing);
  sum += sweeps::sweep_family<SymmetricChains>(m, m.approx, 1, z, rhs1, done1);
  return sum;
}

// Backward half: z_0 = T_0^{-1} (w_0 - C_0 z_1), with w_0 = w[0, N); done0 sees final z_0.
template <bool SymmetricChains, class Done0>
Partial backward_sweep(const LineMatrix& m, const double* w, double* z, Done0&& done0) {
  const std::int32_t n_pair = m.paired;
  const double* cross = m.cross_val.data();
  auto rhs = [&](std::int32_t begin, std::int32_t end, Partial&) {
#pragma omp simd
    for (std::int32_t q = begin; q < end; ++q) z[q] = w[q] - cross[q] * z[q + n_pair];
  };
  return sweeps::sweep_family<SymmetricChains>(m, m.approx, 0, z, rhs, done0);
}

// y = S u, u_q = in(q), over the cells [begin, end) (rows k and N + k together); out(p, u_p, y_p,
// dot, dot2) stores and reduces. Guard: near the ends of [0, N), where neighbours may be missing.
// Stored chains rely on lower = 0 at a chain's start and upper = 0 at its end.
template <bool Guard, bool SymmetricChains, bool SymmetricPairs, class In, class Out>
void multiply_range(const LineMatrix& m, std::int32_t begin, std::int32_t end, In& in, Out& out,
                    Partial& acc) {
  const std::int32_t n_pair = m.paired, s0 = m.family_stride[0], s1 = m.family_stride[1];
  const double *diag = m.diag.data(), *lower = m.lower.data(), *upper = m.upper.data();
  const double* cross = m.cross_val.data();
  double dot = 0, dot2 = 0;
#pragma omp simd reduction(+ : dot, dot2)
  for (std::int32_t k = begin; k < end; ++k) {
    const std::int32_t p0 = k, p1 = n_pair + k;
    const double u0 = in(p0), u1 = in(p1);
    const double c0 = cross[p0], c1 = SymmetricPairs ? c0 : cross[p1];
    double y0 = diag[p0] * u0 + c0 * u1, y1 = diag[p1] * u1 + c1 * u0;
    if (!Guard || k >= s0) y0 += (SymmetricChains ? upper[p0 - s0] : lower[p0]) * in(p0 - s0);
    if (!Guard || k + s0 < n_pair) y0 += upper[p0] * in(p0 + s0);
    if (!Guard || k >= s1) y1 += (SymmetricChains ? upper[p1 - s1] : lower[p1]) * in(p1 - s1);
    if (!Guard || k + s1 < n_pair) y1 += upper[p1] * in(p1 + s1);
    out(p0, u0, y0, dot, dot2);
    out(p1, u1, y1, dot, dot2);
  }
  acc.dot += dot;
  acc.dot2 += dot2;
}

template <bool SymmetricChains, bool SymmetricPairs, class In, class Out>
Partial multiply_as(const LineMatrix& m, In& in, Out& out) {
  const std::int32_t n_pair = m.paired;
  const std::int32_t reach = std::max(m.family_stride[0], m.family_stride[1]);
  return sweeps::parallel_reduce(n_pair, [&](std::int32_t begin, std::int32_t end, Partial& acc) {
    const std::int32_t lo = std::clamp(reach, begin, end), hi = std::clamp(n_pair - reach, lo, end);
    multiply_range<true, SymmetricChains, SymmetricPairs>(m, begin, lo, in, out, acc);
    multiply_range<false, SymmetricChains, SymmetricPairs>(m, lo, hi, in, out, acc);
    multiply_range<true, SymmetricChains, SymmetricPairs>(m, hi, end, in, out, acc);
  });
}

// y = S u with u_q = in(q), cell by cell, in parallel; out(p, u_p, y_p, dot, dot2).
template <bool SymmetricChains, class In, class Out>
Partial multiply(const LineMatrix& m, In&& in, Out&& out) {
  return m.symmetric_pairs ? multiply_as<SymmetricChains, true>(m, in, out)
                           : multiply_as<SymmetricChains, false>(m, in, out);
}

// fn(begin, end, partial) over [0, n) in parallel; the summed partials.
template <class Fn>
Partial for_rows(std::int32_t n, Fn&& fn) {
  return sweeps::parallel_reduce(n, fn);
}

// a . b over [begin, end).
inline double dot(const double* a, const double* b, std::int32_t begin, std::int32_t end) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int32_t q = begin; q < end; ++q) sum += a[q] * b[q];
  return sum;
}

// CG's step over rows [begin, end): x += a p, r -= a v, z = r (- C z_partner when Coupled: rows
// of family 1; no z when not StoreZ). Returns the rows with |r_q| > tol_q.
template <bool Coupled, bool StoreZ = true>
double cg_update(double* x, double* r, double* z, const double* p, const double* v, const double* tolerance,
                 const double* cross, std::int32_t n_pair, double alpha, std::int32_t begin, std::int32_t end) {
  double failed = 0;
#pragma omp simd reduction(+ : failed)
  for (std::int32_t q = begin; q < end; ++q) {
    x[q] += alpha * p[q];
    const double residual = r[q] - alpha * v[q];
    r[q] = residual;
    failed += fails(residual, tolerance[q]);
    if constexpr (StoreZ) z[q] = Coupled ? residual - cross[q] * z[q - n_pair] : residual;
  }
  return failed;
}

// Preconditioned CG, one iteration in four passes (a: alpha, b: beta):
//   1. forward sweeps: x += a p, r -= a v, count |r_p| > tol_p, z_0 = T_0^{-1} r_0, z_1 (final)
//   2. (stop when no row failed) backward sweep: z_0; rz = r . z on the way
//   3. p = z + b p, v = S p, p . v (p written to p_next, then swapped)
template <bool SymmetricChains>
int conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  const std::int32_t n_pair = m.paired;
  w.p_next.resize(m.n);
  std::copy(w.b.begin(), w.b.end(), w.r.begin());
  std::fill(w.p.begin(), w.p.end(), 0.0);
  std::fill(w.v.begin(), w.v.end(), 0.0);
  double *x = w.x.data(), *r = w.r.data(), *z = w.z.data(), *v = w.v.data();
  const double *tolerance = w.tolerance.data(), *cross = m.cross_val.data();
  double alpha = 0, rz = 0;
  for (int it = 0;; ++it) {
    const double* p = w.p.data();
    // x += a p, r -= a v over [begin, end); z = r (family 0) or r - C_1 z_0 (family 1).
    auto update = [&](std::int32_t begin, std::int32_t end, Partial& acc) {
      acc.failed += begin < n_pair ? cg_update<false>(x, r, z, p, v, tolerance, cross, n_pair, alpha, begin, end)
                                   : cg_update<true>(x, r, z, p, v, tolerance, cross, n_pair, alpha, begin, end);
    };
    auto dot_rz = [&](std::int32_t begin, std::int32_t end, Partial& acc) { acc.dot += dot(r, z, begin, end); };
    const Partial forward = forward_sweeps<SymmetricChains>(m, z, update, update, dot_rz);
    if ((w.converged = forward.failed == 0) || it == max_iterations) return it;
    const Partial backward = backward_sweep<SymmetricChains>(m, r, z, dot_rz);
    const double rz_next = forward.dot + backward.dot;
    const double beta = it == 0 ? 0.0 : rz_next / rz;
    rz = rz_next;
    double* p_next = w.p_next.data();
    const Partial pv = multiply<SymmetricChains>(
        m, [&](std::int32_t q) { return z[q] + beta * p[q]; },
        [&](std::int32_t q, double u, double y, double& dot, double&) {
          p_next[q] = u;
          v[q] = y;
          dot += u * y;
        });
    std::swap(w.p, w.p_next);
    if (!(pv.dot > 0)) return it + 1;  // breakdown: not positive definite (Newton will notice)
    alpha = rz / pv.dot;
  }
}

// The row-line unknowns from the bit-line ones: x_0 = T_0^{-1} (b_0 - C_0 x_1) (exact factors).
template <bool SymmetricChains>
void back_substitute_rows(const LineMatrix& m, const double* b, double* x) {
  const std::int32_t n_pair = m.paired;
  const double* cross = m.cross_val.data();
  auto back = [&](std::int32_t begin, std::int32_t end, Partial&) {
#pragma omp simd
    for (std::int32_t q = begin; q < end; ++q) x[q] = b[q] - cross[q] * x[q + n_pair];
  };
  sweeps::sweep_family<SymmetricChains>(m, m.exact, 0, x, back, sweeps::nothing);
}

// CG on the Schur complement of family 0 (S symmetric, T_0 factored exactly):
//
//   S_1 = T_1 - C_1 T_0^{-1} C_0,   S_1 x_1 = b_1 - C_1 T_0^{-1} b_0,   x_0 = T_0^{-1} (b_0 - C_0 x_1),
//
// preconditioned by T_1 (its float factors). S_1 is SPD when S is. Block Gauss-Seidel CG on S
// needs about as many iterations (both are governed by the spectrum of T_1^{-1} C_1 T_0^{-1} C_0),
// but each one here works on half the vector: two sweeps and one product over family 1, against
// three sweeps and a product over both families. One iteration in three passes:
//   1. T_0 sweep: p = z + b p (family 1), t_0 = T_0^{-1} C_0 p (t_0 kept in z's family-0 half)
//   2. v = T_1 p - C_1 t_0, p . v
//   3. T_1 sweep: x += a p, r -= a v, count |r_q| > tol_q, z = T_1^{-1} r, r . z
// The family-0 rows are solved exactly at the end, so their residual is rounding only; the
// residual of the family-1 rows is that of S_1 (x_0 eliminated exactly).
template <bool SymmetricChains>
int schur_conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  const std::int32_t n_pair = m.paired, s1 = m.family_stride[1];
  double *x = w.x.data(), *r = w.r.data(), *z = w.z.data(), *v = w.v.data(), *p = w.p.data();
  const double *b = w.b.data(), *tolerance = w.tolerance.data(), *cross = m.cross_val.data();
  const double *diag = m.diag.data(), *lower = m.lower.data(), *upper = m.upper.data();
  // z_0 = T_0^{-1} b_0; r_1 = b_1 - C_1 z_0, x_1 = 0; then z_1 = T_1^{-1} r_1, rz = r . z.
  auto copy_b0 = [&](std::int32_t begin, std::int32_t end, Partial&) { std::copy(b + begin, b + end, z + begin); };
  sweeps::sweep_family<SymmetricChains>(m, m.exact, 0, z, copy_b0, sweeps::nothing);
  auto start = [&](std::int32_t begin, std::int32_t end, Partial& acc) {
    double failed = 0;
#pragma omp simd reduction(+ : failed)
    for (std::int32_t q = begin; q < end; ++q) {
      x[q] = 0.0;
      r[q] = z[q] = b[q] - cross[q] * z[q - n_pair];
      failed += fails(r[q], tolerance[q]);
    }
    acc.failed += failed;
  };
  auto dot_rz = [&](std::int32_t begin, std::int32_t end, Partial& acc) { acc.dot += dot(r, z, begin, end); };
  Partial sweep = sweeps::sweep_family<SymmetricChains>(m, m.approx, 1, z, start, dot_rz);
  double alpha = 0, beta = 0, rz = sweep.dot;
  int it = 0;
  for (; sweep.failed > 0 && it < max_iterations; ++it) {
    // 1. p = z + b p on family 1; t_0 = T_0^{-1} C_0 p into z[0, N).
    auto direction = [&](std::int32_t begin, std::int32_t end, Partial&) {
#pragma omp simd
      for (std::int32_t q = begin; q < end; ++q) {
        const double pq = z[q + n_pair] + beta * p[q + n_pair];
        p[q + n_pair] = pq;
        z[q] = cross[q] * pq;
      }
    };
    sweeps::sweep_family<SymmetricChains>(m, m.exact, 0, z, direction, sweeps::nothing);
    // 2. v = T_1 p - C_1 t_0 on family 1, p . v.
    const Partial pv = sweeps::parallel_reduce(n_pair, [&](std::int32_t begin, std::int32_t end, Partial& acc) {
      double sum = 0;
      for (std::int32_t k = begin; k < end; ++k) {
        const std::int32_t q = n_pair + k;
        double y = diag[q] * p[q] - cross[q] * z[k];
        if (k >= s1) y += (SymmetricChains ? upper[q - s1] : lower[q]) * p[q - s1];
        if (k + s1 < n_pair) y += upper[q] * p[q + s1];
        v[q] = y;
        sum += p[q] * y;
      }
      acc.dot += sum;
    });
    if (!(pv.dot > 0)) break;  // breakdown: not positive definite (Newton will notice)
    alpha = rz / pv.dot;
    // 3. x += a p, r -= a v, z = T_1^{-1} r, r . z.
    auto update = [&](std::int32_t begin, std::int32_t end, Partial& acc) {
      acc.failed += cg_update<false>(x, r, z, p, v, tolerance, cross, n_pair, alpha, begin, end);
    };
    sweep = sweeps::sweep_family<SymmetricChains>(m, m.approx, 1, z, update, dot_rz);
    beta = sweep.dot / rz;
    rz = sweep.dot;
  }
  back_substitute_rows<SymmetricChains>(m, b, x);
  w.converged = sweep.failed == 0;
  return it;
}

// Two-level CG on the same Schur complement (S_1 as above, B = T_1^{-1} in float factors, Q the
// coarse correction of line_coarse.hpp), balancing preconditioner
//
//   M^{-1} = Q + (I - Q S_1) B (I - S_1 Q)      (symmetric, positive definite for any such Q, B)
//
// applied to r as: y_1 = Q r, z_2 = B (r - S_1 y_1), z = z_2 + Q (r - S_1 z_2); and
// r . z = r . z_2 + g . y_3 (g = Z_C^T r, y_3 the coarse values of the second Q). The coarse
// correction removes the modes smooth along both families, which the line preconditioner leaves
// one CG iteration each. One iteration: three T_0 sweeps (the products S_1 y_1, S_1 z_2 and
// S_1 p; the first two with T_0 in float factors), one T_1 sweep and three passes over the
// bit-line half.
template <bool SymmetricChains>
int two_level_conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  const CoarseSpace& coarse = m.coarse;
  const std::int32_t n_pair = m.paired, cols = coarse.cols(), rows = coarse.rows();
  double *x = w.x.data(), *r = w.r.data(), *z = w.z.data(), *v = w.v.data(), *p = w.p.data();
  const double *b = w.b.data(), *tolerance = w.tolerance.data(), *cross = m.cross_val.data();
  const double *diag = m.diag.data(), *upper = m.upper.data();
  const int threads = std::max(parallel_threads(), 1);
  std::vector<std::vector<double>> parts(threads);
  std::vector<double> g, y, profile1, profile3;
  // fn(part, k0, k1) over the cells in parallel, each part's expanded restriction zeroed first.
  auto cells = [&](auto&& fn) {
    std::vector<sweeps::Partial> partial(threads);
    const int used = parallel_for(n_pair, sweeps::k_grain, [&](int part, std::int64_t k0, std::int64_t k1) {
      parts[part].assign(coarse.expanded_size(), 0.0);
      fn(parts[part].data(), static_cast<std::int32_t>(k0), static_cast<std::int32_t>(k1), partial[part]);
    });
    for (int k = used; k < threads; ++k) parts[k].clear();
    partial.resize(used);
    return sweeps::sum_parts(partial);
  };
  // fn(i, k0, k1) over the row segments of cells [begin, end) (row i, cells k0..k1-1).
  auto segments = [&](std::int32_t begin, std::int32_t end, auto&& fn) {
    while (begin < end) {
      const std::int32_t i = begin / cols, stop = std::min(end, (i + 1) * cols);
      fn(i, begin, stop);
      begin = stop;
    }
  };
  // (T_1 u)_q at bit-line row q = N + k of cell k in row i; u_k = u(k).
  auto t1_times = [&](std::int32_t k, std::int32_t i, auto&& u) {
    const std::int32_t q = n_pair + k;
    double y_q = diag[q] * u(k);
    if (i > 0) y_q += upper[q - cols] * u(k - cols);
    if (i + 1 < rows) y_q += upper[q] * u(k + cols);
    return y_q;
  };
  // The coarse function of a profile on row i's cells (and its neighbour rows): u(k).
  auto coarse_row = [&](const std::vector<double>& profile, std::int32_t i) {
    const CoarseSpace::Row at = coarse.row(profile.data(), i);
    return [at, cols](std::int32_t k) { return at.value(k, cols); };
  };
  // The same on interior rows, vectorisable: coarse value c(j) of row i = (1 - w) lo[j] + w hi[j]
  // (also the two rows of an expanded restriction that row i adds to).
  struct Line {
    double *lo, *hi;
    double w;
  };
  auto line_in = [&](double* expanded, std::int32_t i) {
    const CoarseSpace::RowHat h = coarse.row_hat(i);
    double* lo = expanded + static_cast<std::size_t>(h.level) * cols;
    return Line{lo, lo + cols, h.w};
  };
  auto line_of = [&](std::vector<double>& profile, std::int32_t i) { return line_in(profile.data(), i); };
  // Inside M^{-1}: t_0 = T_0^{-1} C_0 u into z[0, N), u(i) the cell function of row i, with T_0's
  // float factors (S_1 so approximated in both places it enters M^{-1} keeps M^{-1} symmetric
  // positive definite, and the sweep reads half the factor bytes; S_1 p, which makes the
  // residual, stays exact).
  auto t0_solve = [&](auto&& u_of_row) {
    auto rhs = [&](std::int32_t begin, std::int32_t end, Partial&) {
      segments(begin, end, [&](std::int32_t i, std::int32_t k0, std::int32_t k1) {
        const auto u = u_of_row(i);
        for (std::int32_t k = k0; k < k1; ++k) z[k] = cross[k] * u(k);
      });
    };
    sweeps::sweep_family<SymmetricChains>(m, m.approx, 0, z, rhs, sweeps::nothing);
  };
  // Start: z_0 = T_0^{-1} b_0; r_1 = b_1 - C_1 z_0, x_1 = 0; g = Z_C^T r.
  auto copy_b0 = [&](std::int32_t begin, std::int32_t end, Partial&) { std::copy(b + begin, b + end, z + begin); };
  sweeps::sweep_family<SymmetricChains>(m, m.exact, 0, z, copy_b0, sweeps::nothing);
  Partial state = cells([&](double* e, std::int32_t k0, std::int32_t k1, Partial& acc) {
    double failed = 0;
    for (std::int32_t k = k0; k < k1; ++k) {
      const std::int32_t q = n_pair + k;
      x[q] = 0.0;
      r[q] = b[q] - cross[q] * z[k];
      failed += fails(r[q], tolerance[q]);
    }
    acc.failed += failed;
    coarse.restrict_add(k0, k1, [&](std::int64_t k) { return r[n_pair + k]; }, e);
  });
  double rz = 0;
  int it = 0;
  for (; state.failed > 0 && it < max_iterations; ++it) {
    // y_1 = Q r; z_2 = T_1^{-1} (r - S_1 y_1) = T_1^{-1} (r - T_1 y_1 + C_1 T_0^{-1} C_0 y_1).
    coarse.solve(parts, g, y, profile1);
    auto y1_rhs = [&](std::int32_t begin, std::int32_t end, Partial&) {
      segments(begin, end, [&](std::int32_t i, std::int32_t k0, std::int32_t k1) {
        const Line c = line_of(profile1, i);
        const std::int32_t base = i * cols;
#pragma omp simd
        for (std::int32_t k = k0; k < k1; ++k) z[k] = cross[k] * ((1 - c.w) * c.lo[k - base] + c.w * c.hi[k - base]);
      });
    };
    sweeps::sweep_family<SymmetricChains>(m, m.approx, 0, z, y1_rhs, sweeps::nothing);
    auto smooth_rhs = [&](std::int32_t begin, std::int32_t end, Partial&) {
      segments(begin - n_pair, end - n_pair, [&](std::int32_t i, std::int32_t k0, std::int32_t k1) {
        if (i == 0 || i + 1 == rows) {
          const auto y1 = coarse_row(profile1, i);
          for (std::int32_t k = k0; k < k1; ++k)
            z[n_pair + k] = r[n_pair + k] - t1_times(k, i, y1) + cross[n_pair + k] * z[k];
          return;
        }
        const Line a = line_of(profile1, i - 1), c = line_of(profile1, i), d = line_of(profile1, i + 1);
        const std::int32_t base = i * cols;
        const double *rq = r + n_pair, *dq = diag + n_pair, *uq = upper + n_pair, *cq = cross + n_pair;
        double* zq = z + n_pair;
#pragma omp simd
        for (std::int32_t k = k0; k < k1; ++k) {
          const std::int32_t j = k - base;
          const double above = (1 - a.w) * a.lo[j] + a.w * a.hi[j], here = (1 - c.w) * c.lo[j] + c.w * c.hi[j];
          const double below = (1 - d.w) * d.lo[j] + d.w * d.hi[j];
          zq[k] = rq[k] - (dq[k] * here + uq[k - cols] * above + uq[k] * below) + cq[k] * z[k];
        }
      });
    };
    sweeps::sweep_family<SymmetricChains>(m, m.approx, 1, z, smooth_rhs, sweeps::nothing);
    // S_1 z_2 = T_1 z_2 - C_1 T_0^{-1} C_0 z_2; restrict r - S_1 z_2; r . z_2.
    const auto z2 = [&](std::int32_t k) { return z[n_pair + k]; };
    t0_solve([&](std::int32_t) { return z2; });
    const Partial rz2 = cells([&](double* e, std::int32_t k0, std::int32_t k1, Partial& acc) {
      double dot_rz = 0;
      const double *rq = r + n_pair, *dq = diag + n_pair, *uq = upper + n_pair, *cq = cross + n_pair, *zq = z + n_pair;
      segments(k0, k1, [&](std::int32_t i, std::int32_t s0, std::int32_t s1) {
        if (i == 0 || i + 1 == rows) {
          coarse.restrict_add(s0, s1, [&](std::int64_t k) {
            const auto c = static_cast<std::int32_t>(k);
            return r[n_pair + c] - t1_times(c, i, z2) + cross[n_pair + c] * z[c];
          }, e);
          for (std::int32_t k = s0; k < s1; ++k) dot_rz += rq[k] * zq[k];
          return;
        }
        const Line c = line_in(e, i);
        double *lo = c.lo, *hi = c.hi;
        const double w = c.w;
        const std::int32_t base = i * cols;
        double dot_part = 0;
#pragma omp simd reduction(+ : dot_part)
        for (std::int32_t k = s0; k < s1; ++k) {
          const double t1_z2 = dq[k] * zq[k] + uq[k - cols] * zq[k - cols] + uq[k] * zq[k + cols];
          const double residual = rq[k] - t1_z2 + cq[k] * z[k];
          lo[k - base] += (1 - w) * residual;
          hi[k - base] += w * residual;
          dot_part += rq[k] * zq[k];
        }
        dot_rz += dot_part;
      });
      acc.dot += dot_rz;
    });
    const std::vector<double> g_r = g;  // Z_C^T r, for r . Q (r - S_1 z_2)
    coarse.solve(parts, g, y, profile3);
    double rz_next = rz2.dot;
    for (std::size_t c = 0; c < y.size(); ++c) rz_next += g_r[c] * y[c];
    const double beta = it == 0 ? 0.0 : rz_next / rz;
    rz = rz_next;
    // p = z_2 + Q(...) + b p; t_0 = T_0^{-1} C_0 p; v = T_1 p - C_1 t_0, p . v.
    auto direction = [&](std::int32_t begin, std::int32_t end, Partial&) {
      segments(begin, end, [&](std::int32_t i, std::int32_t k0, std::int32_t k1) {
        const Line c = line_of(profile3, i);
        const std::int32_t base = i * cols;
        double* pq = p + n_pair;
        const double* zq = z + n_pair;
#pragma omp simd
        for (std::int32_t k = k0; k < k1; ++k) {
          const double value = zq[k] + (1 - c.w) * c.lo[k - base] + c.w * c.hi[k - base] + beta * pq[k];
          pq[k] = value;
          z[k] = cross[k] * value;
        }
      });
    };
    sweeps::sweep_family<SymmetricChains>(m, m.exact, 0, z, direction, sweeps::nothing);
    const auto pk = [&](std::int32_t k) { return p[n_pair + k]; };
    const Partial pv = cells([&](double*, std::int32_t k0, std::int32_t k1, Partial& acc) {
      double sum = 0;
      segments(k0, k1, [&](std::int32_t i, std::int32_t s0, std::int32_t s1) {
        if (i == 0 || i + 1 == rows) {
          for (std::int32_t k = s0; k < s1; ++k) {
            const double y_q = t1_times(k, i, pk) - cross[n_pair + k] * z[k];
            v[n_pair + k] = y_q;
            sum += pk(k) * y_q;
          }
          return;
        }
        const double *pq = p + n_pair, *dq = diag + n_pair, *uq = upper + n_pair, *cq = cross + n_pair;
        double* vq = v + n_pair;
        double part = 0;
#pragma omp simd reduction(+ : part)
        for (std::int32_t k = s0; k < s1; ++k) {
          const double y_q = dq[k] * pq[k] + uq[k - cols] * pq[k - cols] + uq[k] * pq[k + cols] - cq[k] * z[k];
          vq[k] = y_q;
          part += pq[k] * y_q;
        }
        sum += part;
      });
      acc.dot += sum;
    });
    if (!(pv.dot > 0)) break;  // breakdown: not positive definite (Newton will notice)
    const double alpha = rz / pv.dot;
    // x += a p, r -= a v, count |r_q| > tol_q; g = Z_C^T r (z is rewritten before it is read).
    state = cells([&](double* e, std::int32_t k0, std::int32_t k1, Partial& acc) {
      acc.failed += cg_update<false, false>(x, r, z, p, v, tolerance, cross, n_pair, alpha, n_pair + k0, n_pair + k1);
      coarse.restrict_add(k0, k1, [&](std::int64_t k) { return r[n_pair + k]; }, e);
    });
  }
  back_substitute_rows<SymmetricChains>(m, b, x);
  w.converged = state.failed == 0;
  return it;
}

// BiCGSTAB's new direction over rows [begin, end): p = r + b (p - w v), y = p (- C y_partner
// when Coupled).
template <bool Coupled>
void bicgstab_direction(double* p, double* y, const double* r, const double* v, const double* cross,
                        std::int32_t n_pair, double beta, double omega, std::int32_t begin, std::int32_t end) {
#pragma omp simd
  for (std::int32_t q = begin; q < end; ++q) {
    p[q] = r[q] + beta * (p[q] - omega * v[q]);
    y[q] = Coupled ? p[q] - cross[q] * y[q - n_pair] : p[q];
  }
}

// BiCGSTAB's half step over rows [begin, end): x += a y, s = r - a v, z = s (- C z_partner when
// Coupled). Returns the rows with |s_q| > tol_q.
template <bool Coupled>
double bicgstab_half_step(double* x, double* s, double* z, const double* r, const double* v, const double* y,
                          const double* tolerance, const double* cross, std::int32_t n_pair, double alpha,
                          std::int32_t begin, std::int32_t end) {
  double failed = 0;
#pragma omp simd reduction(+ : failed)
  for (std::int32_t q = begin; q < end; ++q) {
    x[q] += alpha * y[q];
    s[q] = r[q] - alpha * v[q];
    failed += fails(s[q], tolerance[q]);
    z[q] = Coupled ? s[q] - cross[q] * z[q - n_pair] : s[q];
  }
  return failed;
}

// Right-preconditioned BiCGSTAB (van der Vorst 1992), iterates x = M^{-1} u, residuals of S:
//   p = r + b (p - w v),  y = M^{-1} p,  v = S y,  a = rho / (r^ . v),
//   x += a y,  s = r - a v  (stop when s is within tolerance),
//   z = M^{-1} s,  t = S z,  w = (t . s) / (t . t),  x += w z,  r = s - w t,  rho = r^ . r.
// p rides on the sweeps of y, x and s on those of z, and the dots on the products.
template <bool SymmetricChains>
int bicgstab(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  const std::int32_t n_pair = m.paired;
  for (std::vector<double>* vec : {&w.r_hat, &w.y, &w.s, &w.t}) vec->resize(m.n);
  double *x = w.x.data(), *r = w.r.data(), *r_hat = w.r_hat.data(), *p = w.p.data(), *v = w.v.data();
  double *y = w.y.data(), *s = w.s.data(), *z = w.z.data(), *t = w.t.data();
  const double *tolerance = w.tolerance.data(), *cross = m.cross_val.data();
  auto restart = [&](std::int32_t begin, std::int32_t end, Partial& acc) {  // r^ = r, p = v = 0
    double failed = 0, rr = 0;
#pragma omp simd reduction(+ : failed, rr)
    for (std::int32_t q = begin; q < end; ++q) {
      r_hat[q] = r[q];
      p[q] = v[q] = 0.0;
      failed += fails(r[q], tolerance[q]);
      rr += r[q] * r[q];
    }
    acc.failed += failed;
    acc.dot += rr;
  };
  std::copy(w.b.begin(), w.b.end(), w.r.begin());
  const Partial start = for_rows(m.n, restart);
  if ((w.converged = start.failed == 0)) return 0;
  double rho = 1, alpha = 1, omega = 1, rho_next = start.dot;
  for (int it = 1; it <= max_iterations; ++it) {
    if (rho_next == 0 || omega == 0) {  // breakdown: restart from the current residual
      rho_next = for_rows(m.n, restart).dot;
      rho = alpha = omega = 1;
    }
    const double beta = (rho_next / rho) * (alpha / omega);
    rho = rho_next;
    // p = r + b (p - w v), into y (minus C_1 y_0 on family 1).
    auto direction = [&](std::int32_t begin, std::int32_t end, Partial&) {
      if (begin < n_pair) bicgstab_direction<false>(p, y, r, v, cross, n_pair, beta, omega, begin, end);
      else bicgstab_direction<true>(p, y, r, v, cross, n_pair, beta, omega, begin, end);
    };
    forward_sweeps<SymmetricChains>(m, y, direction, direction, sweeps::nothing);
    backward_sweep<SymmetricChains>(m, p, y, sweeps::nothing);
    const Partial rv = multiply<SymmetricChains>(
        m, [&](std::int32_t q) { return y[q]; },
        [&](std::int32_t q, double, double product, double& dot, double&) {
          v[q] = product;
          dot += r_hat[q] * product;
        });
    alpha = rho / rv.dot;
    if (!std::isfinite(alpha)) return it;
    // x += a y, s = r - a v, into z (minus C_1 z_0 on family 1).
    auto half_step = [&](std::int32_t begin, std::int32_t end, Partial& acc) {
      acc.failed += begin < n_pair
                        ? bicgstab_half_step<false>(x, s, z, r, v, y, tolerance, cross, n_pair, alpha, begin, end)
                        : bicgstab_half_step<true>(x, s, z, r, v, y, tolerance, cross, n_pair, alpha, begin, end);
    };
    const Partial half = forward_sweeps<SymmetricChains>(m, z, half_step, half_step, sweeps::nothing);
    if ((w.converged = half.failed == 0)) return it;
    backward_sweep<SymmetricChains>(m, s, z, sweeps::nothing);
    const Partial ts = multiply<SymmetricChains>(
        m, [&](std::int32_t q) { return z[q]; },
        [&](std::int32_t q, double, double product, double& dot, double& dot2) {
          t[q] = product;
          dot += product * s[q];
          dot2 += product * product;
        });
    omega = ts.dot2 > 0 ? ts.dot / ts.dot2 : 0.0;
    const Partial end = for_rows(m.n, [&](std::int32_t begin, std::int32_t end, Partial& acc) {
      double failed = 0, rho_part = 0;
#pragma omp simd reduction(+ : failed, rho_part)
      for (std::int32_t q = begin; q < end; ++q) {
        x[q] += omega * z[q];
        r[q] = s[q] - omega * t[q];
        failed += fails(r[q], tolerance[q]);
        rho_part += r_hat[q] * r[q];
      }
      acc.failed += failed;
      acc.dot += rho_part;
    });
    if ((w.converged = end.failed == 0)) return it;
    rho_next = end.dot;
  }
  return max_iterations;
}

}  // namespace

int paired_conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  if (m.exact_family0 && m.coarse.active())
    return m.symmetric_chains ? two_level_conjugate_gradients<true>(m, max_iterations, w)
                              : two_level_conjugate_gradients<false>(m, max_iterations, w);
  if (m.exact_family0)
    return m.symmetric_chains ? schur_conjugate_gradients<true>(m, max_iterations, w)
                              : schur_conjugate_gradients<false>(m, max_iterations, w);
  return m.symmetric_chains ? conjugate_gradients<true>(m, max_iterations, w)
                            : conjugate_gradients<false>(m, max_iterations, w);
}

int paired_bicgstab(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  return m.symmetric_chains ? bicgstab<true>(m, max_iterations, w) : bicgstab<false>(m, max_iterations, w);
}

}  // namespace xbar::solver
