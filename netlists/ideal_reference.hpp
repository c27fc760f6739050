#pragma once
// Which currents a relative error against the ideal reference counts (docs/conventions.md, study
// metrics): those whose ideal current is above 1e-3 of the largest ideal current of the set
// compared. Smaller ones are mostly leakage, and their relative errors say little. The one rule
// for the study metrics (studies/metrics), the solve summary, and the per-column figure of
// `xbar check` (validation/cross_check); the Python readers (xbar.plots, xbar.tables) apply the
// same 1e-3 to the files' /columns/current_ideal.
#include <cmath>

namespace xbar::netlists {

inline constexpr double k_counted_fraction = 1e-3;

/// Whether a pair with ideal current `ideal` (A) counts, `largest` being the largest |ideal| of
/// the set compared (when that is 0, nothing counts).
inline bool counts_against_ideal(double ideal, double largest) {
  return std::abs(ideal) > k_counted_fraction * largest;
}

}  // namespace xbar::netlists
