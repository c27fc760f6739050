#include "devices/levels.hpp"

namespace xbar::devices {

std::vector<double> sonos_level_vts(const CellModel& cell, const LevelSpec& spec, double v_read) {
  std::vector<double> vts(spec.levels);
  for (int k = 0; k < spec.levels; ++k) vts[k] = sonos_vt_for_current(cell, spec.value(k), v_read);
  return vts;
}

}  // namespace xbar::devices
