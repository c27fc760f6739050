#pragma once
// The SPICE deck of a crossbar for one input vector: the same circuit xbar solves (same merged
// nodes, same laws via the device files' SPICE text), runnable as-is by `ngspice -b` or
// libngspice. Column j's current is i(VSENSE_j) (current into the sense source).
#include <span>
#include <string>

#include "netlists/crossbar.hpp"

namespace xbar::netlists {

/// `.option` line shared by every deck xbar emits (README, SPICE decks).
inline constexpr const char* k_spice_options =
    ".option abstol=1e-18 reltol=1e-6 vntol=1e-9 gmin=1e-20";

/// Name of the source whose current is column j's current.
std::string sense_source_name(int col);

/// The deck text; title goes on the first line. Ends with `.op` and `.end`, no `.control` block.
std::string spice_deck(const Crossbar& crossbar, std::span<const double> input,
                       const std::string& title);

}  // namespace xbar::netlists
