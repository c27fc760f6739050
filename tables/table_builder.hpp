#pragma once
// `xbar table`: effective-weight lookup tables (docs/tables.md) from full circuit solves.
//
// Sample s (0 <= s < table.samples) is the config's own array and inputs with both seeds
// replaced by seeds derived from (seed, s): weights as [weights] draws them (distribution,
// mapping), table.vectors input vectors as [inputs] draws them (activity). Each sample is drawn
// and solved once, vector by vector, on its own Crossbar/ArraySolver, as one job of a
// parallel::JobPool (table.threads threads on each machine; MPI ranks across machines); the root
// collects every sample's loads and ratios, sets the load edges, and merges the ratios in sample
// order, so the table is the same bits for any thread or rank count.
#include <array>
#include <cstdint>
#include <span>
#include <functional>
#include <string>

#include "io/config.hpp"
#include "io/problem.hpp"
#include "parallel/job_pool.hpp"
#include "parallel/journal.hpp"
#include "tables/correction.hpp"
#include "tables/device_table.hpp"

namespace xbar::tables {

/// What the samples covered (/domain/*): [min, max] of each quantity. Predictions outside it
/// extrapolate (docs/tables.md, "Domain").
struct TableDomain {
  std::array<double, 2> levels{1e300, -1e300};    ///< levels of the active cells sampled
  std::array<double, 2> load{0, 0};               ///< column loads, sum of I_ideal / I_max
  std::array<double, 2> activity{1e300, -1e300};  ///< fraction of active rows per vector
  double deviation = 0;                           ///< largest |I / I_ideal - 1| of a counted column
};

/// The largest relative change of a column current the table method is used for without a
/// warning, in xbar table (on the sampled solves) and xbar.tables (on its predictions) alike:
/// beyond it the method's error grows past a few % of the current (docs/tables.md).
inline constexpr double k_deviation_limit = 0.5;
/// Columns counted in deviations: ideal current above this fraction of the largest.
inline constexpr double k_counted_fraction = 1e-3;

/// max |current / ideal - 1| over the entries whose |ideal| exceeds k_counted_fraction of the largest.
double max_column_deviation(std::span<const double> current, std::span<const double> ideal);

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
  std::vector<double> column_current;    ///< [samples * vectors, cols] full solves (A)
  std::vector<double> column_ideal;      ///< the same without line resistance (A)
  std::vector<double> column_mac;        ///< [samples * vectors, cols] sum of the active cells' levels
  std::vector<double> active_rows;       ///< [samples * vectors] active rows of each sampled vector
  TableDomain domain;
};

/// Seed of sample s, derived from a config seed (splitmix64; 63 bits, a valid config seed).
std::uint64_t sample_seed(std::uint64_t seed, int sample);

/// The bias range every node voltage lies in: [min, max] of v_read, v_sense (and 0 for 1r,
/// whose rows are driven at input * v_read).
std::pair<double, double> bias_range(const io::RunConfig& config);

using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;
/// Draws one sample's array and inputs from a config carrying the sample's seeds.
using DrawFn = std::function<io::Problem(const io::RunConfig& sample_config)>;
/// The config's own draw: io::build_problem.
io::Problem default_draw(const io::RunConfig& sample_config);

/// Jobs at once on each machine or rank: table.threads, or (0) one per core; at most the samples.
unsigned thread_count(const io::RunConfig& config);

/// The layout of a sample's journal record (loads, active-cell ratios, column currents, active
/// rows per vector): raised whenever it changes, so that --resume refuses a journal of an older
/// layout instead of misreading it.
inline constexpr int k_sample_record_version = 2;

/// What a journal of this table is: the command, xbar's version, the sample record layout, the
/// hash of the effective config and the number of samples (--resume refuses a journal of anything
/// else).
std::string journal_identity(const io::RunConfig& config);

/// Builds every dataset, the samples spread over the pool; samples already in the journal are read
/// back, the others journaled as they finish. progress(done, total) counts samples (on the root,
/// one call at a time). The table is complete on the root only. Throws io::InputError,
/// engine::SolveFailure (a failing sample named, and its rank).
/// draw makes each sample's array (program-verify included) from a config carrying the sample's
/// seeds, once per sample, on the rank and thread that solves it.
EffectiveWeightTable build_table(const io::RunConfig& config, parallel::JobPool& pool,
                                 parallel::Journal* journal = nullptr, const ProgressFn& progress = {},
                                 const DrawFn& draw = default_draw);
/// The same on thread_count(config) threads of this process, without a journal.
EffectiveWeightTable build_table(const io::RunConfig& config, const ProgressFn& progress = {},
                                 const DrawFn& draw = default_draw);

}  // namespace xbar::tables
