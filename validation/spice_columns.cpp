#include "validation/spice_columns.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "netlists/spice_deck.hpp"
#include "validation/ngspice_session.hpp"

namespace xbar::validation {

SpiceColumns spice_column_currents(const netlists::Crossbar& crossbar, std::span<const double> input,
                                   const std::string& title) {
  const SpiceOperatingPoint op =
      NgspiceSession::instance().run_operating_point(netlists::spice_deck(crossbar, input, title));
  SpiceColumns out{std::vector<double>(crossbar.spec().cols), op.elapsed_s};
  // VSENSE_j's + node is the sense node: current into it from the column is positive.
  for (int j = 0; j < crossbar.spec().cols; ++j) out.current[j] = op.source_current(netlists::sense_source_name(j));
  return out;
}

double column_difference(std::span<const double> xbar, std::span<const double> spice) {
  if (xbar.size() != spice.size()) throw std::invalid_argument("column_difference: sizes differ");
  double worst = 0, scale = 0;
  for (std::size_t j = 0; j < spice.size(); ++j) {
    worst = std::max(worst, std::abs(xbar[j] - spice[j]));
    scale = std::max(scale, std::abs(spice[j]));
  }
  return worst == 0 ? 0.0 : worst / scale;
}

}  // namespace xbar::validation
