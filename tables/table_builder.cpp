#include "tables/table_builder.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "engine/array_solver.hpp"
#include "io/config_schema.hpp"
#include "io/problem.hpp"
#include "io/results.hpp"

namespace xbar::tables {

std::uint64_t sample_seed(std::uint64_t seed, int sample) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(sample) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;
}

std::pair<double, double> bias_range(const io::RunConfig& c) {
  double lo = std::min(c.v_read, c.v_sense), hi = std::max(c.v_read, c.v_sense);
  if (!c.cell.has_select()) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  return {lo, hi};
}

namespace {

// Weights and inputs both from files leave nothing to draw: one sample, not table.samples
// identical ones.
int sample_count(const io::RunConfig& c) {
  return c.weights.source == "file" && c.inputs.source == "file" ? 1 : c.table.samples;
}

io::Problem draw_sample(const io::RunConfig& base, int s, const DrawFn& draw) {
  io::RunConfig c = base;
  c.weights.seed = sample_seed(base.weights.seed, s);
  c.inputs.seed = sample_seed(base.inputs.seed, s);
  c.inputs.count = base.table.vectors;
  io::Problem p = draw(c);
  // Inputs from a file: its first table.vectors vectors, as random inputs have that many.
  const std::size_t vectors = std::min<std::size_t>(p.inputs.rows, static_cast<std::size_t>(base.table.vectors));
  p.inputs.data.resize(vectors * p.inputs.cols);
  p.inputs.rows = vectors;
  if (!p.levels)
    throw io::InputError(fmt::format("{}: key 'weights.kind' = \"{}\": xbar table bins cells by level; "
                                     "give weights as levels (random, or kind = \"level\")",
                                     base.path, base.weights.kind));
  return p;
}

// The column loads of one input vector: load(j) = sum_i I_ideal(i, j) / I_max, the ideal
// currents being the crossbar's own reference (Crossbar::ideal_cell_currents).
class IdealCurrents {
 public:
  explicit IdealCurrents(double full_scale) : full_scale_(full_scale) {}

  /// [rows * cols] row-major.
  std::vector<double> cells(const netlists::Crossbar& xb, std::span<const double> input) const {
    return xb.ideal_cell_currents(input);
  }

  std::vector<double> loads(std::span<const double> ideal, int cols) const {
    std::vector<double> load(cols, 0.0);
    for (std::size_t k = 0; k < ideal.size(); ++k) load[k % cols] += ideal[k] / full_scale_;
    return load;
  }

 private:
  double full_scale_;
};

// One sample's solves: the column loads of each vector, [vector, column], and for each active
// cell (non-zero ideal current) of each vector its ratio I_actual / I_ideal, in (vector, row,
// column) order. Bins are assigned on the root once the load edges (quantiles over every sample)
// are known, so each sample is drawn and solved once.
struct CellRecord {
  std::uint32_t vector, cell, level;
  double ratio;
};
struct SampleResult {
  std::vector<double> loads;
  std::vector<CellRecord> cells;
  std::vector<double> current;  ///< column currents [vector, column] (A), full solve
  std::vector<double> active;   ///< fraction of active rows per vector
};

parallel::Bytes to_bytes(const SampleResult& r) {
  parallel::ByteWriter out;
  out.put_span<double>(r.loads);
  out.put_span<CellRecord>(r.cells);
  out.put_span<double>(r.current);
  out.put_span<double>(r.active);
  return out.take();
}

SampleResult sample_from_bytes(const parallel::Bytes& bytes) {
  parallel::ByteReader in(bytes);
  SampleResult r;
  r.loads = in.get_vector<double>();
  r.cells = in.get_vector<CellRecord>();
  r.current = in.get_vector<double>();
  r.active = in.get_vector<double>();
  return r;
}

SampleResult solve_sample(const io::RunConfig& config, int s, const IdealCurrents& ideal, const DrawFn& draw) {
  const io::Problem p = draw_sample(config, s, draw);
  const netlists::Crossbar xb(p.spec);
  engine::ArraySolver solver(xb, config.newton);
  const int cols = p.spec.cols;
  SampleResult r;
  for (std::size_t v = 0; v < p.inputs.rows; ++v) {
    std::vector<double> voltages;  // cold start: the select pattern changes from vector to vector
    solver::SolveStats stats;
    solver.solve_vector(p.inputs.row(v), voltages, stats);
    const std::vector<double> actual = xb.cell_currents(voltages);
    const std::vector<double> nominal = ideal.cells(xb, p.inputs.row(v));
    const std::vector<double> load = ideal.loads(nominal, cols);
    r.loads.insert(r.loads.end(), load.begin(), load.end());
    std::vector<double> column(cols, 0.0);
    for (std::size_t k = 0; k < actual.size(); ++k) column[k % cols] += actual[k];
    r.current.insert(r.current.end(), column.begin(), column.end());
    const std::span<const double> input = p.inputs.row(v);
    r.active.push_back(static_cast<double>(std::ranges::count_if(input, [](double x) { return x != 0; })) /
                       static_cast<double>(input.size()));
    for (std::size_t k = 0; k < nominal.size(); ++k)
      if (nominal[k] != 0)
        r.cells.push_back({static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(k),
                           static_cast<std::uint32_t>(p.levels->data[k]), actual[k] / nominal[k]});
  }
  return r;
}

// The statistics of every sample's ratios, added in sample order (the same bits for any thread
// or rank count).
void merge_samples(const std::vector<SampleResult>& samples, int cols, EffectiveWeightTable& t) {
  CorrectionStats stats(t.bins.size());
  std::vector<CellRatio> ratios;
  t.cells = 0;
  for (const SampleResult& r : samples) {
    ratios.clear();
    for (const CellRecord& c : r.cells) {
      const int row = static_cast<int>(c.cell) / cols, col = static_cast<int>(c.cell) % cols;
      ratios.push_back({t.bins.index(row, col, static_cast<int>(c.level), r.loads[c.vector * cols + col]), c.ratio});
    }
    stats.add(ratios);
    t.cells += ratios.size();
  }
  t.mean = stats.mean();
  t.std = stats.std();
  t.count = stats.count();
}

// The sampled column currents, their ideal (load times I_max), each column's sum of active levels
// (its ideal MAC) and active rows, and the domain they span.
void collect_columns(const std::vector<SampleResult>& samples, int rows, int cols, EffectiveWeightTable& t) {
  TableDomain& d = t.domain;
  for (const SampleResult& r : samples) {
    t.column_current.insert(t.column_current.end(), r.current.begin(), r.current.end());
    for (double load : r.loads) t.column_ideal.push_back(load * t.full_scale);
    for (double a : r.active) {
      d.activity = {std::min(d.activity[0], a), std::max(d.activity[1], a)};
      t.active_rows.push_back(std::round(a * rows));
    }
    const std::size_t first = t.column_mac.size();
    t.column_mac.resize(first + r.current.size(), 0.0);
    for (const CellRecord& c : r.cells) {
      d.levels = {std::min(d.levels[0], double(c.level)), std::max(d.levels[1], double(c.level))};
      t.column_mac[first + c.vector * static_cast<std::size_t>(cols) + c.cell % static_cast<std::uint32_t>(cols)] += c.level;
    }
  }
  if (d.levels[0] > d.levels[1]) d.levels = {std::nan(""), std::nan("")};  // no active cell sampled
  const auto [lo, hi] = std::ranges::minmax(t.column_ideal);
  d.load = {lo / t.full_scale, hi / t.full_scale};
  d.deviation = max_column_deviation(t.column_current, t.column_ideal);
}

CellGrid cell_grid(const io::RunConfig& c, const std::vector<double>& weights) {
  const auto [lo, hi] = bias_range(c);
  const io::TableConfig& t = c.table;
  const double bl_lo = t.v_bl_min.value_or(lo), bl_hi = t.v_bl_max.value_or(hi);
  const double sup_lo = t.v_sup_min.value_or(lo), sup_hi = t.v_sup_max.value_or(hi);
  if (!(bl_lo < bl_hi) || !(sup_lo < sup_hi))
    throw io::InputError(fmt::format(
        "{}: cell grid v_bl [{}, {}] V, v_sup [{}, {}] V is empty (the bias range of v_read and "
        "v_sense is [{}, {}] V): set table.v_bl_min/max and table.v_sup_min/max",
        c.path, bl_lo, bl_hi, sup_lo, sup_hi, lo, hi));
  return build_cell_grid(c.cell, weights, linear_axis(bl_lo, bl_hi, t.v_bl_points),
                         linear_axis(sup_lo, sup_hi, t.v_sup_points));
}

}  // namespace

double max_column_deviation(std::span<const double> current, std::span<const double> ideal) {
  double top = 0, worst = 0;
  for (double i : ideal) top = std::max(top, std::abs(i));
  for (std::size_t k = 0; k < ideal.size(); ++k)
    if (std::abs(ideal[k]) > k_counted_fraction * top) worst = std::max(worst, std::abs(current[k] / ideal[k] - 1));
  return worst;
}

unsigned thread_count(const io::RunConfig& c) {
  const int cores = static_cast<int>(parallel::available_cores());
  return static_cast<unsigned>(std::clamp(c.table.threads > 0 ? c.table.threads : cores, 1, sample_count(c)));
}

std::string journal_identity(const io::RunConfig& config) {
  return fmt::format("xbar table, version {}, sample record {}, config fnv1a {:016x}, {} samples", io::k_xbar_version,
                     k_sample_record_version, parallel::fnv1a(config.text), sample_count(config));
}

io::Problem default_draw(const io::RunConfig& sample_config) { return io::build_problem(sample_config); }

EffectiveWeightTable build_table(const io::RunConfig& config, parallel::JobPool& pool, parallel::Journal* journal,
                                 const ProgressFn& progress, const DrawFn& draw) {
  const auto start = std::chrono::steady_clock::now();
  EffectiveWeightTable t;
  const std::vector<double> weights = level_weights(config.cell, config.levels(), config.v_read);
  t.device = build_device_table(config.cell, weights, config.v_read, config.v_sense);
  t.cell = cell_grid(config, weights);
  t.full_scale = io::derived_number(config, "i_max");  // I_max (SONOS), G_max v_read (resistor cells)
  t.samples = sample_count(config);
  const IdealCurrents ideal(t.full_scale);

  const auto samples = static_cast<std::size_t>(t.samples);
  std::vector<SampleResult> results(pool.is_root() ? samples : 0);
  std::vector<std::size_t> todo;
  std::size_t done = 0;
  for (std::size_t s = 0; s < results.size(); ++s)
    if (journal && journal->finished().contains(s)) results[s] = sample_from_bytes(journal->finished().at(s)), ++done;
    else todo.push_back(s);
  if (progress && pool.is_root()) progress(done, samples);
  pool.run(
      todo, [&](std::size_t s) { return to_bytes(solve_sample(config, static_cast<int>(s), ideal, draw)); },
      [&](std::size_t s, const parallel::Bytes& bytes) {
        if (journal) journal->record(s, bytes);
        results[s] = sample_from_bytes(bytes);
        if (progress) progress(++done, samples);
      },
      [](std::size_t s) { return fmt::format("table sample {}", s); });
  if (!pool.is_root()) return t;

  const int cols = config.physical_cols();
  std::vector<double> loads;
  for (const SampleResult& r : results) loads.insert(loads.end(), r.loads.begin(), r.loads.end());
  t.vectors = results[0].loads.size() / static_cast<std::size_t>(cols);
  t.bins = {CorrectionBins::even_edges(config.rows, config.table.row_bins),
            CorrectionBins::even_edges(cols, config.table.col_bins),
            CorrectionBins::quantile_edges(std::move(loads), config.table.load_bins), config.levels().levels};
  merge_samples(results, cols, t);
  collect_columns(results, config.rows, cols, t);
  t.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

EffectiveWeightTable build_table(const io::RunConfig& config, const ProgressFn& progress, const DrawFn& draw) {
  const std::unique_ptr<parallel::Transport> one = parallel::single_process();
  parallel::JobPool pool(*one, thread_count(config));
  return build_table(config, pool, nullptr, progress, draw);
}

}  // namespace xbar::tables
