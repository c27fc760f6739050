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
#include <cstddef>
#include <span>

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

struct EkvFitResult {
  EkvParams params;
  RelativeError error;
  int iterations = 0;
  bool converged = false;
  std::size_t excluded = 0;  ///< samples the law cannot match (see fit_ekv)
};

/// Whether EKV can match the sample at all: I != 0 with the sign of V_DS (EKV's current has it).
bool ekv_can_match(const IvSample& sample);

/// Fits theta to the usable samples; throws std::invalid_argument if fewer than 4 are usable.
EkvFitResult fit_ekv(std::span<const IvSample> samples);

RelativeError ekv_relative_error(const EkvParams& params, std::span<const IvSample> samples);

}  // namespace xbar::devices
