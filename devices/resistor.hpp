#pragma once
// Resistor cell law (docs/conventions.md):
//   linear:  I = G V
//   sinh:    I = G V0 sinh(V / V0)      (V0 > 0; tends to the linear law as V0 -> infinity)
// with V = V_a - V_b the voltage across the cell, I flowing a -> b.
#include <cmath>
#include <string>

namespace xbar::devices {

struct ResistorLaw {
  double v0 = 0.0;  ///< sinh scale voltage (V); 0 selects the linear law
  bool is_linear() const { return v0 == 0.0; }
};

struct TwoTerminalCurrent {
  double i;      ///< current a -> b (A)
  double di_dv;  ///< dI/dV (S)
};

// Inline: every per-cell loop over a 1r array (cell currents, the ideal reference) calls it.
inline TwoTerminalCurrent resistor_current(const ResistorLaw& law, double g, double v) {
  if (law.is_linear()) return {g * v, g};
  const double x = v / law.v0;
  return {g * law.v0 * std::sinh(x), g * std::cosh(x)};
}

/// B-source current expression of the law between nodes a and b (decks use plain R elements
/// for linear cells unless they are switched).
std::string resistor_spice_current(const ResistorLaw& law, double g, const std::string& node_a,
                                   const std::string& node_b);

}  // namespace xbar::devices
