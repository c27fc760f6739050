#include "tables/table_builder.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "engine/array_solver.hpp"
#include "io/problem.hpp"

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

io::Problem draw_sample(const io::RunConfig& base, int s) {
  io::RunConfig c = base;
  c.weights.seed = sample_seed(base.weights.seed, s);
  c.inputs.seed = sample_seed(base.inputs.seed, s);
  c.inputs.count = base.table.vectors;
  io::Problem p = io::build_problem(c);
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

// Ideal currents of one input vector (design brief section 1): each active cell's isolated
// current at nominal bias, 0 for inactive cells; select cells read the per-level table.
class IdealCurrents {
 public:
  IdealCurrents(const DeviceTable& device, double full_scale)
      : device_(device), full_scale_(full_scale) {}

  /// [rows * cols] row-major.
  std::vector<double> cells(const netlists::Crossbar& xb, const engine::Matrix& levels,
                            std::span<const double> input) const {
    const netlists::ArraySpec& s = xb.spec();
    std::vector<double> out(levels.data.size(), 0.0);
    for (int i = 0; i < s.rows; ++i) {
      if (!xb.row_active(input, i)) continue;
      for (int j = 0; j < s.cols; ++j) {
        const std::size_t k = static_cast<std::size_t>(i) * s.cols + j;
        out[k] = s.cell.has_select()
                     ? device_.current[static_cast<int>(levels.data[k])]
                     : devices::isolated_cell(s.cell, s.weights[k], xb.row_voltage(input, i), s.v_sense).current;
      }
    }
    return out;
  }

  /// load(j) = sum_i I_ideal(i, j) / I_max.
  std::vector<double> loads(std::span<const double> ideal, int cols) const {
    std::vector<double> load(cols, 0.0);
    for (std::size_t k = 0; k < ideal.size(); ++k) load[k % cols] += ideal[k] / full_scale_;
    return load;
  }

 private:
  const DeviceTable& device_;
  double full_scale_;
};

// Runs job(s) for s = 0..count-1 on `threads` threads; the first exception stops the others
// (after their current job) and is rethrown here.
void parallel_for(int count, int threads, const std::function<void(int)>& job) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (int s; !failed && (s = next++) < count;) {
      try {
        job(s);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::jthread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  pool.clear();  // joins
  if (error) std::rethrow_exception(error);
}

// Pass 1: the load of every (sample, vector, column), without solving, for the load edges.
std::vector<double> all_loads(const io::RunConfig& config, const IdealCurrents& ideal, int threads,
                              std::size_t& vectors) {
  std::vector<std::vector<double>> per_sample(sample_count(config));
  parallel_for(sample_count(config), threads, [&](int s) {
    const io::Problem p = draw_sample(config, s);
    const netlists::Crossbar xb(p.spec);
    for (std::size_t v = 0; v < p.inputs.rows; ++v) {
      const std::vector<double> l = ideal.loads(ideal.cells(xb, *p.levels, p.inputs.row(v)), p.spec.cols);
      per_sample[s].insert(per_sample[s].end(), l.begin(), l.end());
    }
  });
  vectors = per_sample[0].size() / config.physical_cols();
  std::vector<double> loads;
  for (const std::vector<double>& l : per_sample) loads.insert(loads.end(), l.begin(), l.end());
  return loads;
}

// Solves every vector of one sample and returns the ratio I_actual / I_ideal of each cell with a
// non-zero ideal current, in (vector, row, column) order.
std::vector<CellRatio> solve_sample(const io::RunConfig& config, int s, const IdealCurrents& ideal,
                                    const CorrectionBins& bins, const std::function<void()>& vector_done) {
  const io::Problem p = draw_sample(config, s);
  const netlists::Crossbar xb(p.spec);
  engine::ArraySolver solver(xb, config.newton);
  const int cols = p.spec.cols;
  std::vector<CellRatio> ratios;
  for (std::size_t v = 0; v < p.inputs.rows; ++v) {
    std::vector<double> guess;  // cold start: the select pattern changes from vector to vector
    solver::SolveStats stats;
    const std::vector<double> actual = xb.cell_currents(solver.solve_vector(p.inputs.row(v), guess, stats));
    const std::vector<double> nominal = ideal.cells(xb, *p.levels, p.inputs.row(v));
    const std::vector<double> load = ideal.loads(nominal, cols);
    for (std::size_t k = 0; k < nominal.size(); ++k)
      if (nominal[k] != 0)
        ratios.push_back({bins.index(static_cast<int>(k / cols), static_cast<int>(k % cols),
                                     static_cast<int>(p.levels->data[k]), load[k % cols]),
                          actual[k] / nominal[k]});
    vector_done();
  }
  return ratios;
}

// Samples finish in any order; their ratios enter the statistics in sample order.
class OrderedMerge {
 public:
  explicit OrderedMerge(CorrectionStats& stats) : stats_(stats) {}
  std::size_t cells() const { return cells_; }
  void submit(int sample, std::vector<CellRatio> ratios) {
    std::lock_guard lock(mutex_);
    pending_.emplace(sample, std::move(ratios));
    for (auto it = pending_.begin(); it != pending_.end() && it->first == next_; it = pending_.begin()) {
      stats_.add(it->second);
      cells_ += it->second.size();
      pending_.erase(it);
      ++next_;
    }
  }

 private:
  CorrectionStats& stats_;
  std::mutex mutex_;
  std::map<int, std::vector<CellRatio>> pending_;
  int next_ = 0;
  std::size_t cells_ = 0;
};

int thread_count(const io::RunConfig& c) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::clamp(c.table.threads > 0 ? c.table.threads : cores, 1, sample_count(c));
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

namespace {

// Pass 2: every sample solved, its ratios merged in sample order into t.mean, t.std, t.count.
void sample_corrections(const io::RunConfig& config, const IdealCurrents& ideal, int threads,
                        const ProgressFn& progress, EffectiveWeightTable& t) {
  CorrectionStats stats(t.bins.size());
  OrderedMerge merge(stats);
  std::mutex progress_mutex;
  std::size_t done = 0;
  const auto vector_done = [&, total = t.vectors * t.samples] {
    std::lock_guard lock(progress_mutex);
    if (progress) progress(++done, total);
  };
  parallel_for(t.samples, threads, [&](int s) {
    merge.submit(s, solve_sample(config, s, ideal, t.bins, vector_done));
  });
  t.cells = merge.cells();
  t.mean = stats.mean();
  t.std = stats.std();
  t.count = stats.count();
}

}  // namespace

EffectiveWeightTable build_table(const io::RunConfig& config, const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  EffectiveWeightTable t;
  const std::vector<double> weights = level_weights(config.cell, config.levels(), config.v_read);
  t.device = build_device_table(config.cell, weights, config.v_read, config.v_sense);
  t.cell = cell_grid(config, weights);
  t.full_scale = config.g_max() * config.v_read;  // I_max (SONOS), G_max v_read (resistor cells)
  t.samples = sample_count(config);
  const IdealCurrents ideal(t.device, t.full_scale);
  const int threads = thread_count(config);
  t.bins = {CorrectionBins::even_edges(config.rows, config.table.row_bins),
            CorrectionBins::even_edges(config.physical_cols(), config.table.col_bins),
            CorrectionBins::quantile_edges(all_loads(config, ideal, threads, t.vectors),
                                           config.table.load_bins),
            config.levels().levels};
  sample_corrections(config, ideal, threads, progress, t);
  t.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

}  // namespace xbar::tables
