#include "devices/resistor.hpp"

#include <cmath>

#include <fmt/format.h>

namespace xbar::devices {

TwoTerminalCurrent resistor_current(const ResistorLaw& law, double g, double v) {
  if (law.is_linear()) return {g * v, g};
  const double x = v / law.v0;
  return {g * law.v0 * std::sinh(x), g * std::cosh(x)};
}

std::string resistor_spice_current(const ResistorLaw& law, double g, const std::string& node_a,
                                   const std::string& node_b) {
  if (law.is_linear()) return fmt::format("{:.17g}*(V({})-V({}))", g, node_a, node_b);
  return fmt::format("{:.17g}*{:.17g}*sinh((V({})-V({}))/{:.17g})", g, law.v0, node_a, node_b,
                     law.v0);
}

}  // namespace xbar::devices
