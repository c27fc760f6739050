// The ideal reference, the one definition every output uses (/columns/current_ideal, tables,
// sweeps; docs/conventions.md): each active cell's current when isolated at nominal bias (row
// node at V_row(i), bit line at v_sense, select on, no line resistance); inactive cells add
// nothing. Select cells read the isolated currents the builder solved once per cell. With
// [variation] the reference is the nominal array (ArraySpec::ideal_weights), not the programmed one.
#include "netlists/crossbar.hpp"

#include <algorithm>

#include "solver/parallel.hpp"

namespace xbar::netlists {

double Crossbar::ideal_cell_current(std::span<const double> input, int row, int col) const {
  const std::size_t k = static_cast<std::size_t>(row) * spec_.cols + col;
  return spec_.cell.has_select()
             ? isolated_current_[k]
             : devices::isolated_cell(spec_.cell, spec_.ideal_weights()[k], row_voltage(input, row), spec_.v_sense).current;
}

std::vector<double> Crossbar::programmed_cell_currents() const {
  if (spec_.cell.has_select()) return programmed_current_;
  std::vector<double> out(spec_.weights.size());
  solver::parallel_for(spec_.rows, rows_per_task(), [&](int, std::int64_t i0, std::int64_t i1) {
    for (std::size_t k = i0 * spec_.cols, end = i1 * spec_.cols; k < end; ++k)
      out[k] = devices::isolated_cell(spec_.cell, spec_.weights[k], spec_.v_read, spec_.v_sense).current;
  });
  return out;
}

std::vector<double> Crossbar::ideal_cell_currents(std::span<const double> input) const {
  std::vector<double> out(spec_.weights.size());
  ideal_cell_currents(input, out);
  return out;
}

void Crossbar::ideal_cell_currents(std::span<const double> input, std::span<double> out) const {
  solver::parallel_for(spec_.rows, rows_per_task(), [&](int, std::int64_t i0, std::int64_t i1) {
    for (int i = static_cast<int>(i0); i < i1; ++i) {
      const std::span<double> row = out.subspan(static_cast<std::size_t>(i) * spec_.cols, spec_.cols);
      if (!row_active(input, i)) std::fill(row.begin(), row.end(), 0.0);
      else
        for (int j = 0; j < spec_.cols; ++j) row[j] = ideal_cell_current(input, i, j);
    }
  });
}

std::vector<double> Crossbar::ideal_column_currents(std::span<const double> input) const {
  std::vector<double> out(spec_.cols, 0.0);
  for (int i = 0; i < spec_.rows; ++i) {
    if (!row_active(input, i)) continue;
    for (int j = 0; j < spec_.cols; ++j) out[j] += ideal_cell_current(input, i, j);
  }
  return out;
}

}  // namespace xbar::netlists
