#include "tables/neurosim.hpp"

#include <algorithm>
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
  struct Sums { double n = 0, sum = 0, sum2 = 0; };
  std::map<long, Sums> by_code;
  for (std::size_t k = 0; k < ideal.size(); ++k) {
    const long code = std::clamp(std::lround(ideal[k] / step), 0L, top);
    const double error = (current[k] - ideal[k]) / step;
    Sums& s = by_code[code];
    s.n += 1, s.sum += error, s.sum2 += error * error;
  }
  std::vector<NeurosimRow> rows;
  for (const auto& [code, s] : by_code) {
    const double mean = s.sum / s.n;
    rows.push_back({static_cast<int>(code), mean, std::sqrt(std::max(0.0, s.sum2 / s.n - mean * mean)),
                    static_cast<std::size_t>(s.n)});
  }
  return rows;
}

std::string neurosim_csv(const std::vector<NeurosimRow>& rows) {
  std::string text = "output,mean,std\n";
  for (const NeurosimRow& r : rows) text += fmt::format("{},{:.17g},{:.17g}\n", r.code, r.mean, r.std);
  return text;
}

}  // namespace xbar::tables
