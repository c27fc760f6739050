#pragma once
// Least-squares fit of the EKV law (ekv.hpp) to sampled I-V points of a transistor:
//
//   minimise  sum_k r_k^2,   r_k = ln( I_EKV(theta; V_G,k, V_D,k, V_S,k) / I_k ),
//   theta = (V_T, n, ln I_S, eta)
//
// i.e. relative error with every decade weighted alike (leakage as much as on-current).
// Levenberg-Marquardt: (J^T J + lambda diag(J^T J)) dtheta = -J^T r, lambda shrunk after a step
// that lowers the cost and grown otherwise. The partials come from the law itself:
//   dI/dV_T = -dI/dV_G,  dI/deta = V_DS dI/dV_G,  dI/dn = -V_P dI/dV_G,  dI/d(ln I_S) = I.
// Start: a scan over V_T and n (eta = 0) with ln I_S in closed form (the mean log ratio).
// Bounds (k_fit_bounds): steps are projected onto n >= 0.3 and eta in [0, 1] (drain-induced
// barrier lowering raises the current); the result says which parameter ended on a bound.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "devices/ekv.hpp"

namespace xbar::devices {

struct IvSample {
  double v_g, v_d, v_s;  ///< V
  double i_ds;           ///< drain -> source current (A)
};

/// |I_EKV / I - 1| over the usable samples (see fit_ekv).
struct RelativeError {
  double max = 0, rms = 0;
  std::size_t points = 0;
  IvSample worst{};  ///< the sample with the largest error
};

/// The range the fit keeps a parameter in.
struct FitBound {
  const char* name;
  double EkvParams::*value;
  double lo, hi;
};
inline constexpr FitBound k_fit_bounds[] = {{"n", &EkvParams::n, 0.3, 1e3}, {"eta", &EkvParams::eta, 0.0, 1.0}};

struct EkvFitResult {
  EkvParams params;
  RelativeError error;
  int iterations = 0;
  bool converged = false;
  std::size_t excluded = 0;               ///< samples the law cannot match (see fit_ekv)
  std::vector<const FitBound*> at_bound;  ///< parameters within 1e-6 of a bound of k_fit_bounds
};

/// Whether EKV can match the sample at all: I != 0 with the sign of V_DS (EKV's current has it).
bool ekv_can_match(const IvSample& sample);

/// Fits theta to the usable samples; throws std::invalid_argument if fewer than 4 are usable.
EkvFitResult fit_ekv(std::span<const IvSample> samples);

/// |I_EKV - I| / |I| over the usable samples; with i_ref > 0, |I_EKV - I| / i_ref instead (the
/// error as a share of a reference current, e.g. the on current).
RelativeError ekv_relative_error(const EkvParams& params, std::span<const IvSample> samples, double i_ref = 0);

/// A fit's error where it matters, as shares of the on current I_on (the largest |I| at V_G =
/// v_on, of every sample when none is there): what a column current makes of each cell's error.
/// The fit's own figure, the relative error at every point alike, is dominated by the smallest
/// currents (sub-fA off-state points), which no column current notices.
struct OnCurrentErrors {
  double i_on = 0;                 ///< A
  RelativeError on, read, off;     ///< |I_EKV - I| / I_on at V_G = v_on, at every sample, at V_G = v_off
};
OnCurrentErrors ekv_on_current_errors(const EkvParams& params, std::span<const IvSample> samples, double v_on,
                                      double v_off);

}  // namespace xbar::devices
