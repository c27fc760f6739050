#pragma once
// Weight levels (docs/conventions.md): L equally spaced currents (SONOS) or conductances
// (resistor cells) between a minimum and a maximum, level 0 the lowest.
//   SONOS:     I_k = I_min + k (I_max - I_min)/(L-1),  I_min = I_max / on_off
//   resistor:  G_k = G_min + k (G_max - G_min)/(L-1),  G_min = G_max / on_off
// A SONOS level is stored as the V_T that program-verify finds for I_k.
#include <vector>

#include "devices/cell.hpp"

namespace xbar::devices {

struct LevelSpec {
  int levels = 128;
  double max = 1.6e-6;    ///< I_max (A) or G_max (S)
  double on_off = 1e7;    ///< max / min
  double min() const { return max / on_off; }
  /// Value of level k in [0, levels-1].
  double value(int level) const {
    return levels == 1 ? max : min() + level * (max - min()) / (levels - 1);
  }
};

/// The default levels (docs/conventions.md): SONOS currents, 128 levels up to 1.6 uA with
/// on/off 1e7 (LevelSpec's own defaults); resistor conductances, 128 levels up to 100 uS with
/// on/off 100.
inline LevelSpec sonos_level_defaults() { return {}; }
inline LevelSpec resistor_level_defaults() { return {.levels = 128, .max = 1e-4, .on_off = 100}; }

/// V_T of every SONOS level, by program-verify at row voltage v_read.
std::vector<double> sonos_level_vts(const CellModel& cell, const LevelSpec& spec, double v_read);

}  // namespace xbar::devices
