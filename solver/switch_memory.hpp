#pragma once
// What a chain of warm-started solves remembers of cells whose state switches between solves (a
// select gate on or off): per cell and state, where the cell's internal node m was against its
// bit-line node (m - c) the last time it was solved in that state. The vector-by-vector engine and
// the grid's batches keep one each, and move a switched cell's m by the same rule (switch_state).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

namespace xbar::solver {

/// std::allocator whose value-less construct leaves a double unset: a resize that forget() then
/// fills range by range, so that each thread touches its own cells' pages first.
template <class T>
struct UnsetAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UnsetAllocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::allocator_traits<std::allocator<T>>::construct(*this, p, std::forward<Args>(args)...);
  }
};

struct SwitchMemory {
  using Values = std::vector<double, UnsetAllocator<double>>;
  Values offset[2];  ///< [state][cell]: m - c as last solved in that state; NaN: never solved in it

  /// The cells remembered.
  std::size_t size() const { return offset[0].size(); }
  /// `cells` cells, none solved in either state yet.
  void reset(std::size_t cells) {
    size_unset(cells);
    forget(0, cells);
  }
  /// Room for `cells` cells in no defined state: forget() must cover each cell before it is used.
  void size_unset(std::size_t cells) {
    for (Values& a : offset) a.resize(cells);
  }
  /// Cells [k, k + n) were never solved in either state.
  void forget(std::size_t k, std::size_t n) {
    for (Values& a : offset) std::fill_n(a.data() + k, n, std::numeric_limits<double>::quiet_NaN());
  }

  /// Whether cell k was solved in `state` since the last reset.
  bool solved_in(std::size_t k, int state) const { return !std::isnan(offset[state][k]); }

  /// Cell k leaves state `left`, where it was solved with internal node m and bit-line node c,
  /// for state `entered` (!= left); returns where its m starts: as far from its bit-line node as
  /// the last time it was in `entered` (m moves with c), or `first` if it never was.
  double switch_state(std::size_t k, int left, int entered, double m, double c, double first) {
    switch_states(k, 1, left, entered, &m, &c, &first);
    return m;
  }

  /// switch_state for cells [k, k + n) that all leave state `left` for `entered` (!= left): m[t]
  /// (in: as solved in `left`; out: where it starts), c[t] and first[t] as there. One loop
  /// without a branch per cell, over restrict pointers (a block row of the grid's batches).
  void switch_states(std::size_t k, std::size_t n, int left, int entered, double* __restrict m,
                     const double* __restrict c, const double* __restrict first) {
    double* __restrict left_offset = offset[left].data() + k;
    const double* __restrict last = offset[entered].data() + k;
    for (std::size_t t = 0; t < n; ++t) {
      left_offset[t] = m[t] - c[t];
      m[t] = last[t] != last[t] ? first[t] : c[t] + last[t];  // NaN: never solved there
    }
  }
};

}  // namespace xbar::solver
