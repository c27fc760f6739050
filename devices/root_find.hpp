#pragma once
// Safeguarded Newton for one monotone scalar equation f(x) = 0 on a bracket [lo, hi] where f
// changes sign: a Newton step that would leave the bracket (or does not shrink it fast enough)
// is replaced by bisection, so the iteration always converges and every loop is bounded.
#include <cmath>

namespace xbar::devices {

struct RootResult {
  double x;
  int iterations;
  bool converged;
};

/// `f(x)` returns {value, derivative}. Stops when the bracket is below x_tol or |f| is exactly 0.
template <class Fn>
RootResult find_root(Fn&& f, double lo, double hi, double x_tol, int max_iterations = 200) {
  auto [f_lo, d_lo] = f(lo);
  (void)d_lo;
  if (f_lo == 0) return {lo, 0, true};
  double x = 0.5 * (lo + hi);
  for (int it = 1; it <= max_iterations; ++it) {
    const auto [fx, dfx] = f(x);
    if (fx == 0) return {x, it, true};
    if ((fx > 0) == (f_lo > 0)) {
      lo = x;
      f_lo = fx;
    } else {
      hi = x;
    }
    if (std::abs(hi - lo) <= x_tol) return {0.5 * (lo + hi), it, true};
    const double step = fx / dfx;
    const double newton = x - step;
    const bool inside = dfx != 0 && std::isfinite(newton) && (newton - lo) * (newton - hi) < 0;
    if (inside && std::abs(step) <= 0.25 * x_tol) return {newton, it, true};
    x = inside ? newton : 0.5 * (lo + hi);
  }
  return {x, max_iterations, false};
}

}  // namespace xbar::devices
