#pragma once
// NeuroSim V1.5's measured output error: the CSV its inference run reads with `--output_noise -1
// --output_noise_file PATH`, columns output,mean,std.
//
// NeuroSim's ADC reads a column in steps of one level's current over an off-state reference: the
// ideal code of a column is its MAC c = sum over the active rows of the cell levels, clipped to
// 0..2^adc_bits. With the file it takes the output code from a normal distribution whose mean and
// standard deviation are those of the file's row at position c (rows in file order, from 0), then
// rounds and clips it. So the file holds one row per code k = 0..2^adc_bits, in order:
//   output = k,   mean = k + mean(y - c),   std = std(y - c)   (population, in ADC steps)
// over the sampled columns whose clipped ideal code is k, where y = (I - n_active I_0) / dI is the
// solved column current read in the same steps (dI = (I_{L-1} - I_0) / (L - 1) of /device/current,
// n_active the active rows of the vector). A code no column reached takes the error of the nearest
// codes that were, interpolated linearly between them (constant beyond the first and last).
#include <span>
#include <string>
#include <vector>

namespace xbar::tables {

struct EffectiveWeightTable;

/// One physical column of one vector, in ADC steps: its ideal MAC and its solved output.
struct NeurosimSample {
  double ideal_code;  ///< sum over the active rows of the cell levels
  double output;      ///< (I - n_active I_0) / dI
};

struct NeurosimRow {
  int code;
  double mean, std;   ///< of the output code, in ADC steps
  std::size_t count;  ///< columns with this ideal code (0: interpolated)
};

/// Rows for every code 0..2^adc_bits, in order. Empty samples: every row exact (mean = code, std 0).
std::vector<NeurosimRow> neurosim_rows(std::span<const NeurosimSample> samples, int adc_bits);

/// Throws io::InputError for cells without a select FET (1r): their inputs are not bits.
void require_binary_inputs(bool has_select);

/// The table's sampled solves (/samples/*) as NeuroSim reads them (require_binary_inputs first).
std::vector<NeurosimSample> neurosim_samples(const EffectiveWeightTable& table);

/// The CSV text: a header line "output,mean,std" and one line per row (%.17g).
std::string neurosim_csv(const std::vector<NeurosimRow>& rows);

}  // namespace xbar::tables
