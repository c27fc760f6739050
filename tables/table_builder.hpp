#pragma once
// `xbar table`: effective-weight lookup tables (docs/tables.md) from full circuit solves.
//
// Sample s (0 <= s < table.samples) is the config's own array and inputs with both seeds
// replaced by seeds derived from (seed, s): weights as [weights] draws them (distribution,
// mapping), table.vectors input vectors as [inputs] draws them (activity). Each sample is solved
// vector by vector on its own Crossbar/ArraySolver; samples run on table.threads threads and
// their ratios are merged in sample order, so the table is the same bits for any thread count.
#include <cstdint>
#include <functional>
#include <string>

#include "io/config.hpp"
#include "io/problem.hpp"
#include "tables/correction.hpp"
#include "tables/device_table.hpp"

namespace xbar::tables {

struct EffectiveWeightTable {
  DeviceTable device;
  CellGrid cell;
  CorrectionBins bins;
  std::vector<double> mean, std, count;  ///< [row bin, col bin, level, load bin], row-major
  int samples = 0;                       ///< random arrays solved
  std::size_t vectors = 0;               ///< input vectors per array
  std::size_t cells = 0;                 ///< active-cell ratios recorded
  double full_scale = 0;                 ///< I_max (A): load unit
  double elapsed = 0;                    ///< s, wall clock of the whole build
};

/// Seed of sample s, derived from a config seed (splitmix64; 63 bits, a valid config seed).
std::uint64_t sample_seed(std::uint64_t seed, int sample);

/// The bias range every node voltage lies in: [min, max] of v_read, v_sense (and 0 for 1r,
/// whose rows are driven at input * v_read).
std::pair<double, double> bias_range(const io::RunConfig& config);

using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;
/// Draws one sample's array and inputs from a config carrying the sample's seeds.
using DrawFn = std::function<io::Problem(const io::RunConfig& sample_config)>;

/// Builds every dataset. progress(done, total) counts solved input vectors (called from worker
/// threads, one call at a time). draw makes each sample's array (program-verify included), once
/// per sample, from worker threads. Throws io::InputError, engine::SolveFailure.
EffectiveWeightTable build_table(const io::RunConfig& config, const ProgressFn& progress = {},
                                 const DrawFn& draw = io::build_problem);

}  // namespace xbar::tables
