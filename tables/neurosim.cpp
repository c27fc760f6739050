#include "tables/neurosim.hpp"

#include <algorithm>
#include <vector>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace xbar::tables {

std::vector<NeurosimRow> neurosim_rows(std::span<const double> current, std::span<const double> ideal,
                                       int adc_bits, double full_scale) {
  if (full_scale <= 0)
    for (double i : ideal) full_scale = std::max(full_scale, std::abs(i));
  const long top = 1L << adc_bits;
  const double step = full_scale > 0 ? full_scale / static_cast<double>(top) : 1.0;
  std::map<long, std::vector<double>> errors;  // by ideal code
  for (std::size_t k = 0; k < ideal.size(); ++k)
    errors[std::clamp(std::lround(ideal[k] / step), 0L, top)].push_back((current[k] - ideal[k]) / step);
  std::vector<NeurosimRow> rows;
  for (const auto& [code, e] : errors) {
    const auto n = static_cast<double>(e.size());
    double mean = 0, var = 0;
    for (double x : e) mean += x / n;
    for (double x : e) var += (x - mean) * (x - mean) / n;
    rows.push_back({static_cast<int>(code), mean, std::sqrt(var), e.size()});
  }
  return rows;
}

std::string neurosim_csv(const std::vector<NeurosimRow>& rows) {
  std::string text = "output,mean,std\n";
  for (const NeurosimRow& r : rows) text += fmt::format("{},{:.17g},{:.17g}\n", r.code, r.mean, r.std);
  return text;
}

}  // namespace xbar::tables
