#pragma once
// Safeguarded Newton for one monotone scalar equation f(x) = 0 on a bracket [lo, hi] where f
// changes sign: a Newton step that would leave the bracket, or follows a step that did not halve
// it, is replaced by bisection. The bracket thus halves at least every second iteration, so the
// iteration converges even where rounding noise makes f flat or ragged (strongly-on transistors
// at absurd bias), and every loop is bounded. A NaN of f (overflow) ends it, unconverged.
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
  if (std::isnan(f_lo)) return {lo, 0, false};
  double x = 0.5 * (lo + hi);
  double last_width = std::abs(hi - lo);
  for (int it = 1; it <= max_iterations; ++it) {
    const auto [fx, dfx] = f(x);
    if (fx == 0) return {x, it, true};
    if (std::isnan(fx)) return {x, it, false};
    if ((fx > 0) == (f_lo > 0)) {
      lo = x;
      f_lo = fx;
    } else {
      hi = x;
    }
    const double width = std::abs(hi - lo);
    if (width <= x_tol) return {0.5 * (lo + hi), it, true};
    const double step = fx / dfx;
    const double newton = x - step;
    const bool inside = dfx != 0 && std::isfinite(newton) && (newton - lo) * (newton - hi) < 0;
    if (inside && std::abs(step) <= 0.25 * x_tol) return {newton, it, true};
    const bool creeping = width > 0.5 * last_width;
    last_width = width;
    x = inside && !creeping ? newton : 0.5 * (lo + hi);
  }
  return {x, max_iterations, false};
}

}  // namespace xbar::devices
