#pragma once
// The weights and inputs an array is given, drawn from seeds, and the physical weight of each
// level. Draws are portable: the same seed gives the same numbers with any standard library.
//
//   uniform levels:       level = floor(u L), u uniform in [0, 1), L levels
//   zero-peaked weights:  w ~ Laplace or normal; w / q, clipped to [-1, 1], where q is the
//                         clip_quantile quantile of |w| over the matrix; as levels:
//                         round(|w| (L - 1))
//   uniform real weights: 2u - 1 in [-1, 1]
//   inputs:               select cells: bit 1 with probability `activity`; 1r: u in [0, 1)
//   physical weight:      SONOS: the V_T that program-verify finds for the level's target
//                         current; resistor cells: the level's conductance
#include <cstdint>
#include <string>

#include "base/matrix.hpp"
#include "devices/cell.hpp"
#include "devices/levels.hpp"

namespace xbar::engine {

/// How random weights are drawn.
struct WeightDraw {
  std::uint64_t seed = 1;
  std::string distribution = "uniform";  ///< uniform | laplace | normal
  double clip_quantile = 0.999;          ///< of |w|, for laplace and normal
};

/// Signed weights in [-1, 1], [rows, cols]: uniform, or zero-peaked.
Matrix random_real_weights(std::size_t rows, std::size_t cols, const WeightDraw& draw);
/// Levels in [0, levels - 1], [rows, cols]: uniform over the levels, or zero-peaked magnitudes.
Matrix random_levels(std::size_t rows, std::size_t cols, int levels, const WeightDraw& draw);
/// [count, rows]: bits at the given activity (select cells), or uniform reals in [0, 1) (1r).
Matrix random_inputs(std::size_t count, std::size_t rows, std::uint64_t seed, double activity, bool bits);

/// The physical weight of each cell from its level: V_T (V) by program-verify for SONOS cells
/// (levels of `spec` at row voltage v_read), G (S) for resistor cells. Throws
/// devices::ModelError when the levels cannot be programmed at this bias.
Matrix physical_weights(const devices::CellModel& cell, const devices::LevelSpec& spec, double v_read,
                        const Matrix& levels);

}  // namespace xbar::engine
