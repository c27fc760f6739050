#include "devices/resistor.hpp"

#include <fmt/format.h>

namespace xbar::devices {

std::string resistor_spice_current(const ResistorLaw& law, double g, const std::string& node_a,
                                   const std::string& node_b) {
  if (law.is_linear()) return fmt::format("{:.17g}*(V({})-V({}))", g, node_a, node_b);
  return fmt::format("{:.17g}*{:.17g}*sinh((V({})-V({}))/{:.17g})", g, law.v0, node_a, node_b,
                     law.v0);
}

}  // namespace xbar::devices
