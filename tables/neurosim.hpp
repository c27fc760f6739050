#pragma once
// NeuroSim V1.5's measured output error (`--output_noise_file`): a CSV with the columns
// output,mean,std, one row per ideal ADC code (at most 2^adc_bits + 1 rows, codes 0..2^adc_bits).
//
// Each physical column current I of a sampled solve, and its ideal I_ideal (no line resistance),
// are read by an ADC spanning [0, full_scale] in 2^bits steps of size q = full_scale / 2^bits:
//   code = lround(I_ideal / q), clipped to [0, 2^bits],    error e = (I - I_ideal) / q  (LSB)
// and each row holds the mean and the (population) standard deviation of e over the columns
// whose ideal code is `output`. Codes no column reached have no row.
#include <span>
#include <string>
#include <vector>

namespace xbar::tables {

struct NeurosimRow {
  int code;
  double mean, std;  ///< of (I - I_ideal) / q, in ADC steps (LSB)
  std::size_t count;
};

/// Rows in increasing code order. full_scale <= 0: the largest |I_ideal|.
std::vector<NeurosimRow> neurosim_rows(std::span<const double> current, std::span<const double> ideal,
                                       int adc_bits, double full_scale = 0);

/// The CSV text: a header line "output,mean,std" and one line per row (%.17g).
std::string neurosim_csv(const std::vector<NeurosimRow>& rows);

}  // namespace xbar::tables
