#pragma once
// What a chain of warm-started solves remembers of cells whose state switches between solves (a
// select gate on or off): per cell and state, the cell's internal node m and its bit-line node the
// last time it was solved in that state. The vector-by-vector engine and the grid's batches keep
// one each, and move a switched cell's m by the same rule (switch_state).
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace xbar::solver {

struct SwitchMemory {
  std::vector<double> v_m[2], v_c[2];  ///< [state][cell]; NaN: never solved in that state

  /// `cells` cells, none solved in either state yet.
  void reset(std::size_t cells) {
    for (int s = 0; s < 2; ++s)
      for (auto* a : {&v_m[s], &v_c[s]}) a->assign(cells, std::numeric_limits<double>::quiet_NaN());
  }

  /// Cell k leaves state `left`, where it was solved with internal node m and bit-line node c,
  /// for state `entered`; returns where its m starts: where it last was in `entered`, moved by as
  /// much as its bit-line node has moved since, or `first` if it never was.
  double switch_state(std::size_t k, int left, int entered, double m, double c, double first) {
    v_m[left][k] = m;
    v_c[left][k] = c;
    const double last = v_m[entered][k];
    return std::isnan(last) ? first : last + (c - v_c[entered][k]);
  }
};

}  // namespace xbar::solver
