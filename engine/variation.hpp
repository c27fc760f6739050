#pragma once
// Programming error ([variation]): each cell's physical weight as programmed is its nominal
// weight (from program-verify, or given) plus a normal draw,
//   w_programmed = w_nominal + sigma(w_nominal) * z,   z ~ N(0, 1), one per cell, row-major,
// drawn once per array from `seed`. The circuit is solved with the programmed weights; the ideal
// reference stays the nominal array.
//
// sigma, by cell kind:
//   2t-sonos, vt_sigma (V):  a constant V_T error;
//   2t-sonos, "sonos-fit":   sigma_VT = sigma_I(I) / g_m(I), with I the nominal cell's isolated
//                            current and g_m = |dI/dV_T| of the isolated cell (select in series);
//   resistor, g_sigma:       a constant fraction of G_max - G_min; programmed conductances are
//                            clipped to [G_min, G_max], the range the device can be set to;
//   resistor, "sonos-fit":   the same current error at the read voltage, sigma_G = sigma_I(G v_read)
//                            / v_read (the approximate linear cell of a SONOS array, with the
//                            SONOS cell's programming error); clipped only at G_min / 1000 > 0.
// The measured SONOS fit: sigma_I(I) = B (1 - exp(-A I)), A = 0.00188704 /nA, B = 39.5656 nA.
#include <cstdint>
#include <span>
#include <vector>

#include "devices/cell.hpp"
#include "devices/levels.hpp"

namespace xbar::engine {

/// One sigma: a number, or the measured SONOS fit.
struct VariationSigma {
  double value = 0;       ///< V (vt_sigma) or fraction of G_max - G_min (g_sigma)
  bool sonos_fit = false;
  bool active() const { return sonos_fit || value > 0; }
};

struct VariationSpec {
  VariationSigma vt;      ///< 2t-sonos cells
  VariationSigma g;       ///< resistor cells (1r, 1t1r)
  std::uint64_t seed = 3;
  /// The sigma that applies to this cell kind (the other one is ignored, so that a sweep over
  /// array.cell can carry both).
  const VariationSigma& for_cell(const devices::CellModel& cell) const { return cell.is_sonos() ? vt : g; }
};

/// The measured SONOS programming-error fit sigma_I(I) (A) at cell current i (A).
double sonos_fit_sigma_current(double i);

/// Everything the draw needs to know about the array's cells.
struct CellContext {
  devices::CellModel cell;
  devices::LevelSpec levels;  ///< the cell kind's levels (G_min, G_max for resistors)
  double v_read = 0.1;        ///< V: the row at nominal bias
  double v_sense = 0.0;       ///< V: the bit line at nominal bias
};

/// Standard deviation (V for SONOS, S for resistors) of the programming error of a cell whose
/// nominal weight is `nominal`. Throws devices::ModelError where the isolated cell has no solution.
double weight_sigma(const VariationSpec& spec, const CellContext& ctx, double nominal);

/// The programmed weights of an array (row-major, one per cell) from its nominal weights.
/// Without an active sigma for this cell kind, the nominal weights unchanged.
std::vector<double> programmed_weights(const VariationSpec& spec, const CellContext& ctx,
                                       std::span<const double> nominal);

}  // namespace xbar::engine
