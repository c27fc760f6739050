#pragma once
// Twisted (two-ended) Thomas solve of W interleaved tridiagonal chains of one length: the grid's
// column blocks (grid_columns.cpp), whose W bit lines are one short vector of lanes. In a plain
// Thomas sweep each row's pivot waits on the row before (a multiply, a subtraction and a
// division), and W lanes fill few SIMD registers. Factoring from both ends at once, the top half
// downward and the bottom half upward, runs two independent recurrences side by side, which meet
// in the middle row; a row pair's two pivots share one division.
//
// Rows r = 0..n-1, lane c at position p = r W + c; T_{p,p-W} = lower, T_{p,p+W} = upper. With the
// middle row h = n / 2, top rows r < h and bottom rows r > h:
//   top pivots     P_r = d_r - (l_r u_{r-1}) / P_{r-1}        (downward)
//   bottom pivots  Q_r = d_r - (u_r l_{r+1}) / Q_{r+1}        (upward)
//   middle         G_h = d_h - (l_h u_{h-1}) / P_{h-1} - (u_h l_{h+1}) / Q_{h+1}
// Stored per position: inv_pivot = 1 / (P, Q or G); lower_scaled = the coefficient of the
// neighbour above, upper_scaled = of the neighbour below, as each half uses them:
//   top:    lower_scaled = l_r / P_{r-1} (forward),   upper_scaled = u_r / P_r (backward)
//   bottom: upper_scaled = u_r / Q_{r+1} (forward),   lower_scaled = l_r / Q_r (backward)
//   middle: lower_scaled = l_h / P_{h-1},             upper_scaled = u_h / Q_{h+1}
// Forward:  y_r = w_r - lower_scaled_r y_{r-1} (top, downward), y_r = w_r - upper_scaled_r y_{r+1}
//           (bottom, upward), z_h = (w_h - lower_scaled_h y_{h-1} - upper_scaled_h y_{h+1}) / G_h.
// Backward: z_r = y_r / P_r - upper_scaled_r z_{r+1} (top, upward from h),
//           z_r = y_r / Q_r - lower_scaled_r z_{r-1} (bottom, downward from h).
// For a bit line (each diagonal its two wires plus a non-negative cell conductance) every pivot
// is at least its diagonal less the wire towards its half's start, as in plain Thomas: positive,
// and the product of two neither overflows nor underflows for any wire the solver accepts.
#include <cstdint>

#include "solver/line_kernels.hpp"

namespace xbar::solver::twisted {

// The helpers below are always inlined: no vector crosses a call, whatever the ABI would say.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

/// W lanes as one GCC vector (W a power of two): the compiler keeps each half's running pivot in
/// registers (as many as the instruction set needs for W doubles), not in memory between rows.
template <int W>
struct Lanes {
  typedef double type __attribute__((vector_size(W * sizeof(double))));
};
template <int W>
using Row = typename Lanes<W>::type;

template <int W>
[[gnu::always_inline]] inline Row<W> load(const double* p) {
  Row<W> v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
[[gnu::always_inline]] inline void store(double* p, V v) {
  __builtin_memcpy(p, &v, sizeof v);
}

/// Factors the chains of m (n rows of W lanes) into out. The two halves' pivots of a row pair
/// share one division: 1 / (P Q), then 1/P = Q / (P Q) and 1/Q = P / (P Q). A zero pivot makes
/// an infinite 1 / pivot, a NaN one a NaN: both reach the solution, which the caller checks.
template <int W>
void factor(const Tridiagonal& m, std::int32_t n, FactorRows<double> out) {
  using V = Row<W>;
  if (n <= 0) return;
  const double *__restrict d = m.diag, *__restrict l = m.lower, *__restrict u = m.upper;
  double *__restrict ls = out.lower_scaled, *__restrict inv = out.inv_pivot, *__restrict us = out.upper_scaled;
  const std::int32_t h = n / 2, below = n - 1 - h;  // top rows [0, h), bottom rows (h, n)
  const V one = V{} + 1.0;
  V inv_top{}, inv_bottom{};
  if (h > 0) {
    inv_top = one / load<W>(d);
    store(inv, inv_top), store(ls, V{}), store(us, load<W>(u) * inv_top);
  }
  if (below > 0) {
    const std::int32_t p = (n - 1) * W;
    inv_bottom = one / load<W>(d + p);
    store(inv + p, inv_bottom), store(us + p, V{}), store(ls + p, load<W>(l + p) * inv_bottom);
  }
  // Both halves in one loop: two independent recurrences in flight.
  std::int32_t t = 1;
  for (; t < below; ++t) {
    const std::int32_t pt = t * W, pb = (n - 1 - t) * W;  // pt - W above, pb + W below
    const V lt = load<W>(l + pt), ut = load<W>(u + pt), lb = load<W>(l + pb), ub = load<W>(u + pb);
    store(ls + pt, lt * inv_top), store(us + pb, ub * inv_bottom);
    const V p_top = load<W>(d + pt) - (lt * load<W>(u + pt - W)) * inv_top;
    const V p_bottom = load<W>(d + pb) - (ub * load<W>(l + pb + W)) * inv_bottom;
    const V both = one / (p_top * p_bottom);
    inv_top = p_bottom * both, inv_bottom = p_top * both;
    store(inv + pt, inv_top), store(us + pt, ut * inv_top);
    store(inv + pb, inv_bottom), store(ls + pb, lb * inv_bottom);
  }
  for (; t < h; ++t) {  // at most one row
    const std::int32_t pt = t * W;
    const V lt = load<W>(l + pt);
    store(ls + pt, lt * inv_top);
    inv_top = one / (load<W>(d + pt) - (lt * load<W>(u + pt - W)) * inv_top);
    store(inv + pt, inv_top), store(us + pt, load<W>(u + pt) * inv_top);
  }
  const std::int32_t p = h * W;
  const V lp = load<W>(l + p), up = load<W>(u + p);
  V pivot = load<W>(d + p), scaled_l{}, scaled_u{};
  if (h > 0) scaled_l = lp * inv_top, pivot -= (lp * load<W>(u + p - W)) * inv_top;
  if (below > 0) scaled_u = up * inv_bottom, pivot -= (up * load<W>(l + p + W)) * inv_bottom;
  store(ls + p, scaled_l), store(us + p, scaled_u), store(inv + p, one / pivot);
}

/// The forward sweep on the factors: z_h final, every other z the forward value y.
template <int W>
void forward(FactorRows<const double> t, std::int32_t n, const double* w, double* z) {
  using V = Row<W>;
  if (n <= 0) return;
  const double *__restrict ls = t.lower_scaled, *__restrict inv = t.inv_pivot, *__restrict us = t.upper_scaled;
  const std::int32_t h = n / 2, below = n - 1 - h;
  V z_top{}, z_bottom{};
  if (h > 0) store(z, z_top = load<W>(w));
  if (below > 0) store(z + (n - 1) * W, z_bottom = load<W>(w + (n - 1) * W));
  auto top = [&](std::int32_t p) { store(z + p, z_top = load<W>(w + p) - load<W>(ls + p) * z_top); };
  auto bottom = [&](std::int32_t p) { store(z + p, z_bottom = load<W>(w + p) - load<W>(us + p) * z_bottom); };
  std::int32_t r = 1;
  for (; r < below; ++r) top(r * W), bottom((n - 1 - r) * W);
  for (; r < h; ++r) top(r * W);
  const std::int32_t p = h * W;
  V rhs = load<W>(w + p);
  if (h > 0) rhs -= load<W>(ls + p) * z_top;
  if (below > 0) rhs -= load<W>(us + p) * z_bottom;
  store(z + p, rhs * load<W>(inv + p));
}

/// The backward half: on entry z holds the forward sweep's values (z_h final), on exit the
/// solution. done(row) is called once the row's W values are final: the middle row first, then
/// outward, a top row and a bottom row at a time.
template <int W, class Done>
void backward(FactorRows<const double> t, std::int32_t n, double* z, Done&& done) {
  using V = Row<W>;
  if (n <= 0) return;
  const double *__restrict ls = t.lower_scaled, *__restrict inv = t.inv_pivot, *__restrict us = t.upper_scaled;
  const std::int32_t h = n / 2;
  V z_top = load<W>(z + h * W), z_bottom = z_top;
  done(h);
  auto top = [&](std::int32_t r) {
    const std::int32_t p = r * W;
    store(z + p, z_top = load<W>(z + p) * load<W>(inv + p) - load<W>(us + p) * z_top);
  };
  auto bottom = [&](std::int32_t r) {
    const std::int32_t p = r * W;
    store(z + p, z_bottom = load<W>(z + p) * load<W>(inv + p) - load<W>(ls + p) * z_bottom);
  };
  std::int32_t k = 1;
  for (; h - k >= 0 && h + k < n; ++k) top(h - k), bottom(h + k), done(h - k), done(h + k);
  for (; h - k >= 0; ++k) top(h - k), done(h - k);
  for (; h + k < n; ++k) bottom(h + k), done(h + k);
}

/// z = T^{-1} w on the factors (forward, then backward; done as there). w may be z.
template <int W, class Done>
void solve(FactorRows<const double> t, std::int32_t n, const double* w, double* z, Done&& done) {
  forward<W>(t, n, w, z);
  backward<W>(t, n, z, done);
}

#pragma GCC diagnostic pop

}  // namespace xbar::solver::twisted
