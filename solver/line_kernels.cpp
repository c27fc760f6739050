#include "solver/line_kernels.hpp"

#include <algorithm>
#include <cmath>

namespace xbar::solver {

// Thomas algorithm: T = L U with  pivot_p = d_p - l_p u_{p-1} / pivot_{p-1},
// upper_scaled_p = u_p / pivot_p. A chain start has l_p = 0, so chains factor independently.
std::int32_t LineMatrix::factor_tridiagonal() {
  inv_pivot.resize(n);
  upper_scaled.resize(n);
  double previous = 0;
  for (std::int32_t p = 0; p < n; ++p) {
    const double pivot = diag[p] - lower[p] * previous;
    if (!(pivot != 0.0 && std::isfinite(pivot))) return p;
    inv_pivot[p] = 1.0 / pivot;
    upper_scaled[p] = previous = upper[p] * inv_pivot[p];
  }
  return -1;
}

void LineMatrix::solve_tridiagonal(std::int32_t begin, std::int32_t end, std::span<double> w) const {
  if (begin >= end) return;
  w[begin] *= inv_pivot[begin];
  for (std::int32_t p = begin + 1; p < end; ++p) w[p] = (w[p] - lower[p] * w[p - 1]) * inv_pivot[p];
  for (std::int32_t p = end - 2; p >= begin; --p) w[p] -= upper_scaled[p] * w[p + 1];
}

namespace {

// (S x)_p for one row; `lower`/`upper` are 0 at chain ends, but x[p -/+ 1] must exist.
inline double row_product(const LineMatrix& m, std::int32_t p, std::span<const double> x) {
  double sum = m.diag[p] * x[p];
  if (p > 0) sum += m.lower[p] * x[p - 1];
  if (p + 1 < m.n) sum += m.upper[p] * x[p + 1];
  for (std::int32_t k = m.cross_ptr[p]; k < m.cross_ptr[p + 1]; ++k) sum += m.cross_val[k] * x[m.cross_col[k]];
  return sum;
}

}  // namespace

void LineMatrix::multiply(std::int32_t begin, std::int32_t end, std::span<const double> x,
                          std::span<double> y) const {
  for (std::int32_t p = begin; p < end; ++p) y[p] = row_product(*this, p, x);
}

void LineMatrix::residual(std::int32_t begin, std::int32_t end, std::span<const double> b,
                          std::span<const double> x, std::span<double> w) const {
  for (std::int32_t p = begin; p < end; ++p) w[p] = b[p] - row_product(*this, p, x);
}

void KrylovWork::resize(std::int32_t n) {
  for (std::vector<double>* v : {&b, &tolerance, &x, &r, &r_hat, &p, &v, &y, &s, &z, &t, &scratch})
    v->assign(n, 0.0);
}

namespace {

double dot(std::span<const double> a, std::span<const double> b) {
  double sum = 0;
  for (std::size_t k = 0; k < a.size(); ++k) sum += a[k] * b[k];
  return sum;
}

// y += alpha x
void axpy(double alpha, std::span<const double> x, std::span<double> y) {
  for (std::size_t k = 0; k < x.size(); ++k) y[k] += alpha * x[k];
}

bool within_tolerance(std::span<const double> r, std::span<const double> tolerance) {
  for (std::size_t k = 0; k < r.size(); ++k)
    if (!(std::abs(r[k]) <= tolerance[k])) return false;
  return true;
}

// z = M^{-1} r: symmetric block Gauss-Seidel from z = 0 over the families 0..F-1..0,
// each step z_f += T_f^{-1} (r - S z)_f.
void precondition(const LineMatrix& m, std::span<const double> r, std::span<double> z,
                  std::span<double> scratch) {
  const auto families = static_cast<std::int32_t>(m.family_count());
  std::fill(z.begin(), z.end(), 0.0);
  bool first = true;
  for (std::int32_t step = 0; step < 2 * families - 1; ++step) {
    const std::int32_t f = step < families ? step : 2 * families - 2 - step;
    const std::int32_t begin = m.family_begin[f], end = m.family_begin[f + 1];
    if (begin == end) continue;
    if (first) {
      std::copy(r.begin() + begin, r.begin() + end, z.begin() + begin);
      m.solve_tridiagonal(begin, end, z);
      first = false;
      continue;
    }
    m.residual(begin, end, r, z, scratch);
    m.solve_tridiagonal(begin, end, scratch);
    for (std::int32_t p = begin; p < end; ++p) z[p] += scratch[p];
  }
}

int conjugate_gradients(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  const std::int32_t n = m.n;
  std::copy(w.b.begin(), w.b.end(), w.r.begin());
  if (within_tolerance(w.r, w.tolerance)) return 0;
  precondition(m, w.r, w.z, w.scratch);
  std::copy(w.z.begin(), w.z.end(), w.p.begin());
  double rz = dot(w.r, w.z);
  for (int it = 1; it <= max_iterations; ++it) {
    m.multiply(0, n, w.p, w.v);
    const double pv = dot(w.p, w.v);
    if (!(pv > 0)) return it;  // breakdown: not positive definite (Newton will notice)
    const double alpha = rz / pv;
    axpy(alpha, w.p, w.x);
    axpy(-alpha, w.v, w.r);
    if (within_tolerance(w.r, w.tolerance)) return it;
    precondition(m, w.r, w.z, w.scratch);
    const double rz_next = dot(w.r, w.z);
    const double beta = rz_next / rz;
    rz = rz_next;
    for (std::int32_t k = 0; k < n; ++k) w.p[k] = w.z[k] + beta * w.p[k];
  }
  return max_iterations;
}

// Right-preconditioned BiCGSTAB (van der Vorst 1992): x_k = M^{-1} u_k, residuals of S itself.
int bicgstab(const LineMatrix& m, int max_iterations, KrylovWork& w) {
  const std::int32_t n = m.n;
  std::copy(w.b.begin(), w.b.end(), w.r.begin());
  if (within_tolerance(w.r, w.tolerance)) return 0;
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
    for (std::int32_t k = 0; k < n; ++k) w.p[k] = w.r[k] + beta * (w.p[k] - omega * w.v[k]);
    precondition(m, w.p, w.y, w.scratch);
    m.multiply(0, n, w.y, w.v);
    alpha = rho / dot(w.r_hat, w.v);
    if (!std::isfinite(alpha)) return it;
    axpy(alpha, w.y, w.x);
    for (std::int32_t k = 0; k < n; ++k) w.s[k] = w.r[k] - alpha * w.v[k];
    if (within_tolerance(w.s, w.tolerance)) return it;
    precondition(m, w.s, w.z, w.scratch);
    m.multiply(0, n, w.z, w.t);
    const double tt = dot(w.t, w.t);
    omega = tt > 0 ? dot(w.t, w.s) / tt : 0.0;
    axpy(omega, w.z, w.x);
    for (std::int32_t k = 0; k < n; ++k) w.r[k] = w.s[k] - omega * w.t[k];
    if (within_tolerance(w.r, w.tolerance)) return it;
  }
  return max_iterations;
}

}  // namespace

int solve_reduced(const LineMatrix& m, bool symmetric, int max_iterations, KrylovWork& w) {
  std::fill(w.x.begin(), w.x.end(), 0.0);
  if (!m.has_cross()) {  // the chains are the whole matrix: direct
    std::copy(w.b.begin(), w.b.end(), w.x.begin());
    m.solve_tridiagonal(0, m.n, w.x);
    return 1;
  }
  return symmetric ? conjugate_gradients(m, max_iterations, w) : bicgstab(m, max_iterations, w);
}

}  // namespace xbar::solver
