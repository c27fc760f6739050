#pragma once
// ngspice as the reference for one input vector of a crossbar: the deck xbar emits
// (netlists::spice_deck) run in the in-process session, and the comparison figure of design
// brief section 4. What `xbar check` needs per vector; used by the tabulated-device tests.
#include <span>
#include <string>
#include <vector>

#include "netlists/crossbar.hpp"

namespace xbar::validation {

struct SpiceColumns {
  std::vector<double> current;  ///< A, column j's current into its sense source, i(VSENSE_j)
  double elapsed_s = 0;         ///< ngspice load + op (s)
};

/// Runs the crossbar's deck for `input` (one input vector, length rows). Throws SpiceError.
SpiceColumns spice_column_currents(const netlists::Crossbar& crossbar, std::span<const double> input,
                                   const std::string& title = "xbar cross-check");

/// max_j |I_xbar,j - I_spice,j| / max_j |I_spice,j| (0 when every reference current is 0 and
/// the two agree).
double column_difference(std::span<const double> xbar, std::span<const double> spice);

}  // namespace xbar::validation
