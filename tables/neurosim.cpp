#include "tables/neurosim.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "io/errors.hpp"
#include "tables/table_builder.hpp"

namespace xbar::tables {

namespace {

// Linear interpolation of the sampled codes' values at every code (constant beyond the ends).
void fill_unsampled(std::vector<NeurosimRow>& rows, double NeurosimRow::*value) {
  std::vector<std::size_t> sampled;
  for (std::size_t k = 0; k < rows.size(); ++k)
    if (rows[k].count > 0) sampled.push_back(k);
  if (sampled.empty()) return;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k].count > 0) continue;
    const auto hi = std::ranges::lower_bound(sampled, k);
    if (hi == sampled.begin()) rows[k].*value = rows[*hi].*value;
    else if (hi == sampled.end()) rows[k].*value = rows[sampled.back()].*value;
    else {
      const std::size_t a = *(hi - 1), b = *hi;
      const double t = static_cast<double>(k - a) / static_cast<double>(b - a);
      rows[k].*value = (1 - t) * rows[a].*value + t * rows[b].*value;
    }
  }
}

}  // namespace

std::vector<NeurosimRow> neurosim_rows(std::span<const NeurosimSample> samples, int adc_bits) {
  const long top = 1L << adc_bits;
  std::vector<NeurosimRow> rows(static_cast<std::size_t>(top) + 1);
  std::vector<std::vector<double>> errors(rows.size());  // y - c, by clipped ideal code
  for (const NeurosimSample& s : samples)
    errors[static_cast<std::size_t>(std::clamp(std::lround(s.ideal_code), 0L, top))].push_back(s.output - s.ideal_code);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::vector<double>& e = errors[k];
    const auto n = static_cast<double>(e.size());
    double mean = 0, var = 0;
    for (double x : e) mean += x / n;
    for (double x : e) var += (x - mean) * (x - mean) / n;
    rows[k] = {static_cast<int>(k), e.empty() ? 0.0 : mean, e.empty() ? 0.0 : std::sqrt(var), e.size()};
  }
  fill_unsampled(rows, &NeurosimRow::mean);  // still the mean error here
  fill_unsampled(rows, &NeurosimRow::std);
  for (NeurosimRow& r : rows) r.mean += r.code;
  return rows;
}

void require_binary_inputs(bool has_select) {
  if (!has_select)
    throw io::InputError("--neurosim-csv: NeuroSim indexes its output error by the MAC of binary inputs: "
                         "it needs select cells (array.cell = \"1t1r\" or \"2t-sonos\"), not 1r");
}

std::vector<NeurosimSample> neurosim_samples(const EffectiveWeightTable& t) {
  const std::vector<double>& level = t.device.current;
  const double i_0 = level.front(), step = (level.back() - i_0) / static_cast<double>(level.size() - 1);
  const std::size_t cols = t.column_mac.size() / std::max<std::size_t>(t.active_rows.size(), 1);
  std::vector<NeurosimSample> samples;
  for (std::size_t k = 0; k < t.column_current.size(); ++k)
    samples.push_back({t.column_mac[k], (t.column_current[k] - t.active_rows[k / cols] * i_0) / step});
  return samples;
}

std::string neurosim_csv(const std::vector<NeurosimRow>& rows) {
  std::string text = "output,mean,std\n";
  for (const NeurosimRow& r : rows) text += fmt::format("{},{:.17g},{:.17g}\n", r.code, r.mean, r.std);
  return text;
}

}  // namespace xbar::tables
