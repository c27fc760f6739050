#pragma once
// A user's transistor model (devices::ModelCard) run in ngspice: tabulated over a grid of
// terminal voltages (`xbar characterize`), evaluated at arbitrary bias points, and compared
// against its table.
//
// Tabulation loads one deck with one instance of the card per variant (below) and runs one
// nested dc sweep per V_S node on it. Instances are few because ngspice copies a subcircuit's
// models into every instance: a binned PDK subckt (180 bins) costs seconds per instance to load,
// superlinearly in the number of instances. The swept sources count integers k, exact in
// floating point, and controlled sources turn them into the grid's voltages:
//
//   V_G = v_g[0] + h_g k_g,  V_S = v_s[0] + h_s k_s,  V_D = V_S + v_ds[0] + h_ds k_ds  (bulk = 0)
//
// with k_ds the inner counter and k_o = n_g k_s + k_g the outer one (k_s = floor(k_o / n_g)).
// Each instance's drain current is the current of a voltage source in series with its drain.
// Variants give the partials by central differences of step delta:
//   dI/dV_x = (I(V_x + delta) - I(V_x - delta)) / (2 delta),   x = G, D, S (the others fixed),
// six more instances (a gate, drain or source offset source), same sweeps.
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "devices/ekv_fit.hpp"
#include "devices/model_card.hpp"
#include "devices/table_device.hpp"

namespace xbar::validation {

/// Told after each part of a long ngspice run: `done` of `total` parts are finished.
using Progress = std::function<void(std::size_t done, std::size_t total)>;

/// Tabulates the card on make_table_grid(spec); partials too when fd_step > 0 (V). Progress is
/// told once per V_S node. Throws SpiceError if ngspice fails, std::invalid_argument for a grid
/// that is not uniform.
devices::TableSamples characterize(const devices::ModelCard& card, const devices::TableGridSpec& spec,
                                   double fd_step, const Progress& progress = {});

struct BiasPoint {
  double v_g, v_d, v_s;  ///< V, bulk at 0
};

/// The card's drain current (A, into the drain) at every bias point: one instance, driven
/// through the points by dc sweeps of a counter (each point an op point of the instance, solved
/// from the previous point's solution). Progress is told every 50 points.
std::vector<double> card_currents(const devices::ModelCard& card, std::span<const BiasPoint> points,
                                  const Progress& progress = {});

/// `count` bias points drawn uniformly (fixed seed) from the spec's box: V_G in [vg_lo, vg_hi],
/// V_D and V_S in [v_lo, v_hi]; every fourth point at a gate node (v_off, v_on) if any.
std::vector<BiasPoint> random_bias_points(const devices::TableGridSpec& spec, int count);

/// The grid nodes whose V_G lies in [vg_lo, vg_hi] and whose V_D lies in [v_lo, v_hi] (the
/// read bias range), as I-V samples for an EKV fit.
std::vector<devices::IvSample> samples_in_range(const devices::TableSamples& samples, double vg_lo,
                                                double vg_hi, double v_lo, double v_hi);

/// The table's interpolation envelope: EKV fitted to the samples in the spec's read range,
/// or the default select-FET law if the fit fails (any positive envelope interpolates exactly).
devices::EkvParams table_envelope_for(const devices::TableSamples& samples, const devices::TableGridSpec& spec);

/// |I_table / I_card - 1| at the given points (points where the card's current is 0 are skipped).
devices::RelativeError table_error(const devices::TableDevice& table, const devices::ModelCard& card,
                                   std::span<const BiasPoint> points, const Progress& progress = {});

}  // namespace xbar::validation
