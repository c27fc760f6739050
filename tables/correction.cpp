#include "tables/correction.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace xbar::tables {

std::vector<double> CorrectionBins::even_edges(int count, int bins) {
  bins = std::clamp(bins, 1, count);
  std::vector<double> edges(bins + 1);
  for (int b = 0; b <= bins; ++b) edges[b] = static_cast<double>(b) * count / bins;
  return edges;
}

std::vector<double> CorrectionBins::quantile_edges(std::vector<double> loads, int bins) {
  std::erase_if(loads, [](double x) { return !(x > 0); });
  if (loads.empty()) return {0.0, 0.0};
  std::sort(loads.begin(), loads.end());
  std::vector<double> edges{loads.front()};
  for (int b = 1; b < bins; ++b) {
    const double q = loads[static_cast<std::size_t>(static_cast<double>(b) * loads.size() / bins)];
    if (q > edges.back()) edges.push_back(q);
  }
  if (loads.back() > edges.back() || edges.size() == 1) edges.push_back(loads.back());
  return edges;
}

int CorrectionBins::bin_of(std::span<const double> edges, double x) {
  // Largest b with edges[b] <= x, clamped to [0, n_bins - 1] (numpy: searchsorted(.., 'right') - 1).
  const auto above = std::upper_bound(edges.begin(), edges.end(), x);
  const int b = static_cast<int>(above - edges.begin()) - 1;
  return std::clamp(b, 0, static_cast<int>(edges.size()) - 2);
}

std::uint32_t CorrectionBins::index(int row, int col, int level, double load) const {
  const std::size_t r = bin_of(row_edges, row), c = bin_of(col_edges, col);
  const std::size_t l = bin_of(load_edges, load);
  return static_cast<std::uint32_t>(((r * n_col() + c) * levels + level) * n_load() + l);
}

void CorrectionStats::add(std::span<const CellRatio> ratios) {
  for (const CellRatio& x : ratios) {
    const double n = static_cast<double>(++count_[x.bin]);
    const double delta = x.ratio - mean_[x.bin];
    mean_[x.bin] += delta / n;
    m2_[x.bin] += delta * (x.ratio - mean_[x.bin]);
  }
}

std::vector<double> CorrectionStats::mean() const {
  std::vector<double> out(mean_);
  for (std::size_t b = 0; b < out.size(); ++b)
    if (count_[b] == 0) out[b] = std::numeric_limits<double>::quiet_NaN();
  return out;
}

std::vector<double> CorrectionStats::std() const {
  std::vector<double> out(m2_.size());
  for (std::size_t b = 0; b < out.size(); ++b)
    out[b] = count_[b] == 0 ? std::numeric_limits<double>::quiet_NaN()
                            : std::sqrt(m2_[b] / static_cast<double>(count_[b]));
  return out;
}

}  // namespace xbar::tables
