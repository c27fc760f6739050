#pragma once
// The Thomas kernel of every tridiagonal solve in the solver (the line kernels, line_kernels.cpp
// and line_paired.cpp, and the grid's column blocks, grid_columns.cpp): chain groups, the
// factorisation of a group, the sweep over a group with the work around it fused in, and
// deterministic per-part reductions.
//
// A sweep solves T_f z = w for the chains of one family with T = L D U (L, U unit triangular,
// factors as in line_kernels.hpp's ChainFactors):
//   forward  (L y = w):      y_p = w_p - lower_scaled_p y_{p-s}
//   backward (D U z = y):    z_p = y_p inv_pivot_p - upper_scaled_p z_{p+s}
// where s is the family's stride. The caller supplies w_p = rhs(p) (read once, in the forward
// sweep: it may update vectors as it goes) and done(p) (called once z_p is final). A group holds
// a few chains, small enough that the backward sweep finds y in cache.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver::sweeps {

constexpr std::int64_t k_grain = 1 << 16;  // rows below which a loop stays on one thread
constexpr std::int32_t k_overlap = 4;      // stored chains swept together (their recurrences overlap)
constexpr std::int32_t k_block_bytes = 1 << 30;  // interleaved chains per block: all of a part (measured)

/// Reductions of one part of a loop: rows over their tolerance and two dot products.
struct Partial {
  double failed = 0, dot = 0, dot2 = 0;
  Partial& operator+=(const Partial& o) {
    failed += o.failed;
    dot += o.dot;
    dot2 += o.dot2;
    return *this;
  }
};

/// Sums per-part results in part order (the same for the same split: deterministic).
inline Partial sum_parts(const std::vector<Partial>& parts) {
  Partial total;
  for (const Partial& p : parts) total += p;
  return total;
}

/// count chains of one length: chain c's position t is row first + c * spacing + t * stride.
struct ChainGroup {
  std::int32_t first, count, spacing, length, stride;
  std::int32_t row(std::int32_t c, std::int32_t t) const { return first + c * spacing + t * stride; }
};

/// fn(group) over the groups of part `part` of family f: blocks of interleaved chains, a few
/// stored chains of one length at a time, or one run of stored chains of mixed lengths (their
/// lower = 0 at every chain start and upper = 0 at every end decouple them).
template <class Fn>
void for_each_group(const LineMatrix& m, std::size_t f, std::size_t part, Fn&& fn) {
  const std::int32_t lo = m.family_parts[f][part], hi = m.family_parts[f][part + 1];
  const std::int32_t begin = m.family_begin[f], stride = m.family_stride[f];
  const std::int32_t length = m.family_chain_length[f];
  if (lo == hi) return;
  if (stride > 1) {
    const std::int32_t block = std::max(k_overlap, k_block_bytes / (8 * std::max(length, 1)));
    for (std::int32_t c = lo; c < hi; c += block) fn(ChainGroup{begin + c, std::min(block, hi - c), 1, length, stride});
  } else if (length > 0) {
    for (std::int32_t c = lo; c < hi; c += k_overlap * length)
      fn(ChainGroup{c, std::min(k_overlap, (hi - c) / length), length, length, 1});
  } else {
    fn(ChainGroup{lo, 1, 0, hi - lo, 1});
  }
}

// Whether a stored 1 / pivot is usable: nonzero and finite (a zero, infinite or NaN pivot, or
// one out of Real's range, is not).
template <class Real>
inline bool usable(Real inv_pivot) {
  return inv_pivot != 0 && inv_pivot - inv_pivot == 0;
}

// L D U of one group of chains (pivots carried in double, stored as Real), position by position
// across the chains (vectorised for interleaved ones); the first row with an unusable pivot, or -1.
// symmetric &= (l_p == u_{p-s} along the group's chains). Given w, the forward sweep runs along:
// z_p = w_p - lower_scaled_p z_{p-s} (backward_group then finishes z = T^{-1} w).
template <class Real>
std::int32_t factor_group(const Tridiagonal& m, const ChainGroup& g, FactorRows<Real> out, bool& symmetric,
                          const double* w = nullptr, double* z = nullptr) {
  thread_local std::vector<double> previous_upper_scaled, previous_inv_pivot;  // of every chain
  previous_upper_scaled.assign(g.count, 0.0);
  previous_inv_pivot.assign(g.count, 0.0);
  double* __restrict prev_us = previous_upper_scaled.data();
  double* __restrict prev_inv = previous_inv_pivot.data();
  const double *__restrict diag = m.diag, *__restrict lower = m.lower, *__restrict upper = m.upper;
  Real *__restrict lower_scaled = out.lower_scaled, *__restrict inv_pivot = out.inv_pivot;
  Real* __restrict upper_scaled = out.upper_scaled;
  double unusable = 0, asymmetric = 0;
  // Position k of every chain. Interleaved: the chains' rows are one run (spacing 1); Start:
  // k = 0, no lower neighbour. Both compile-time, so that the loops have no branch and vectorise
  // (the counts are selects of doubles for the same reason).
  auto position = [&](std::int32_t k, auto interleaved, auto start) {
    constexpr bool Start = decltype(start)::value;
    const std::int32_t row = g.row(0, k), spacing = decltype(interleaved)::value ? 1 : g.spacing;
    const std::int32_t stride = g.stride;
    double bad = 0, asym = 0;  // locals: a reduction over captured references does not vectorise
#pragma omp simd reduction(+ : bad, asym)
    for (std::int32_t c = 0; c < g.count; ++c) {
      const std::int32_t p = row + c * spacing;
      double l = 0;
      if constexpr (!Start) {
        l = lower[p];
        asym += l != upper[p - stride] ? 1.0 : 0.0;
      }
      const double inv = 1.0 / (diag[p] - l * prev_us[c]);
      const Real stored = static_cast<Real>(inv);
      lower_scaled[p] = static_cast<Real>(l * prev_inv[c]);
      inv_pivot[p] = stored;
      upper_scaled[p] = static_cast<Real>(upper[p] * inv);
      bad += (stored != 0) & (stored - stored == 0) ? 0.0 : 1.0;  // as usable(), without a branch
      prev_inv[c] = inv;
      prev_us[c] = upper[p] * inv;
    }
    unusable += bad;
    asymmetric += asym;
    if (!w) return;
#pragma omp simd
    for (std::int32_t c = 0; c < g.count; ++c) {
      const std::int32_t p = row + c * spacing;
      if constexpr (Start) z[p] = w[p];
      else z[p] = w[p] - double(lower_scaled[p]) * z[p - stride];
    }
  };
  auto chains = [&](auto interleaved) {
    if (g.length > 0) position(0, interleaved, std::true_type{});
    for (std::int32_t k = 1; k < g.length; ++k) position(k, interleaved, std::false_type{});
  };
  if (g.spacing == 1) chains(std::true_type{});
  else chains(std::false_type{});
  if (asymmetric > 0) symmetric = false;
  if (unusable == 0) return -1;
  for (std::int32_t k = 0; k < g.length; ++k)
    for (std::int32_t c = 0; c < g.count; ++c)
      if (!usable(inv_pivot[g.row(c, k)])) return g.row(c, k);
  return -1;
}

/// The forward sweep that factor_group runs along, on factors it stored earlier (a matrix that
/// has not changed since): z_p = w_p - lower_scaled_p z_{p-s}, position by position across the
/// chains, as there.
template <class Real>
void forward_group(FactorRows<const Real> t, const ChainGroup& g, const double* w, double* z) {
  for (std::int32_t c = 0; c < g.count; ++c) z[g.row(c, 0)] = w[g.row(c, 0)];
  for (std::int32_t k = 1; k < g.length; ++k)
    for (std::int32_t c = 0; c < g.count; ++c) {
      const std::int32_t p = g.row(c, k);
      z[p] = w[p] - double(t.lower_scaled[p]) * z[p - g.stride];
    }
}

/// The backward half of z = T^{-1} w over one group: on entry z holds the forward sweep's y,
/// on exit z; done(begin, end, partial) sees final z over a contiguous range of rows.
template <class Real, class Done>
void backward_group(FactorRows<const Real> t, const ChainGroup& g, double* z, Done& done, Partial& acc) {
  const std::int32_t s = g.stride, last = g.length - 1;
  const Real *inv_pivot = t.inv_pivot, *upper_scaled = t.upper_scaled;
  if (g.spacing == 1) {  // interleaved
    for (std::int32_t k = last; k >= 0; --k) {
      const std::int32_t row = g.row(0, k);
      if (k == last)
        for (std::int32_t p = row; p < row + g.count; ++p) z[p] *= double(inv_pivot[p]);
      else
        for (std::int32_t p = row; p < row + g.count; ++p)
          z[p] = z[p] * double(inv_pivot[p]) - double(upper_scaled[p]) * z[p + s];
      done(row, row + g.count, acc);
    }
    return;
  }
  for (std::int32_t c = 0; c < g.count; ++c) z[g.row(c, last)] *= double(inv_pivot[g.row(c, last)]);
  for (std::int32_t k = last - 1; k >= 0; --k)
    for (std::int32_t c = 0; c < g.count; ++c) {
      const std::int32_t p = g.row(c, k);
      z[p] = z[p] * double(inv_pivot[p]) - double(upper_scaled[p]) * z[p + s];
    }
  done(g.first, g.row(g.count - 1, last) + 1, acc);
}

/// z = T^{-1} w over one group (equations above); Real: the factors' precision. rhs(begin, end,
/// partial) writes w into z over a contiguous range of rows, done as in backward_group.
/// Interleaved chains go row by row (vectorised across chains); stored chains gather w in memory
/// order first, then run their recurrences in cache. SymmetricChains: l_p = u_{p-s}, so
/// lower_scaled_p = upper_scaled_{p-s} (one array less to read).
template <bool SymmetricChains, class Real, class Rhs, class Done>
void solve_group(FactorRows<const Real> t, const ChainGroup& g, double* z, Rhs& rhs, Done& done, Partial& acc) {
  const std::int32_t s = g.stride, last = g.length - 1;
  auto lower_scaled = [&](std::int32_t p) -> double {
    return SymmetricChains ? t.upper_scaled[p - s] : t.lower_scaled[p];
  };
  if (g.spacing == 1) {  // interleaved
    for (std::int32_t k = 0; k <= last; ++k) {
      const std::int32_t row = g.row(0, k);
      rhs(row, row + g.count, acc);
      if (k > 0)
        for (std::int32_t p = row; p < row + g.count; ++p) z[p] -= lower_scaled(p) * z[p - s];
    }
  } else {
    rhs(g.first, g.row(g.count - 1, last) + 1, acc);  // stored chains: their rows in one run
    for (std::int32_t k = 1; k <= last; ++k)
      for (std::int32_t c = 0; c < g.count; ++c) {
        const std::int32_t p = g.row(c, k);
        z[p] -= lower_scaled(p) * z[p - s];
      }
  }
  backward_group(t, g, z, done, acc);
}

/// z_f = T_f^{-1} w over family f, its parts in parallel, rhs and done as in solve_group.
/// Returns the sum of the parts' reductions.
template <bool SymmetricChains, class Real, class Rhs, class Done>
Partial sweep_family(const LineMatrix& m, const ChainFactors<Real>& t, std::size_t f, double* z, Rhs&& rhs,
                     Done&& done) {
  const std::size_t parts = m.family_parts[f].size() - 1;
  std::vector<Partial> partial(parts);
  auto sweep_parts = [&](int, std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) {
      Partial acc;
      for_each_group(m, f, k, [&](const ChainGroup& g) { solve_group<SymmetricChains>(t.rows(), g, z, rhs, done, acc); });
      partial[k] = acc;
    }
  };
  if (m.family_begin[f + 1] - m.family_begin[f] < k_grain) sweep_parts(0, 0, static_cast<std::int64_t>(parts));
  else parallel_for(static_cast<std::int64_t>(parts), 1, sweep_parts);
  return sum_parts(partial);
}

/// No work at the end of a sweep.
inline void nothing(std::int32_t, std::int32_t, Partial&) {}

/// fn(begin, end, partial) over [0, n) split into parts, in parallel; returns the summed partials.
template <class Fn>
Partial parallel_reduce(std::int64_t n, Fn&& fn) {
  std::vector<Partial> partial(static_cast<std::size_t>(std::max(parallel_threads(), 1)));
  const int parts = parallel_for(n, k_grain, [&](int part, std::int64_t b, std::int64_t e) {
    Partial acc;
    fn(static_cast<std::int32_t>(b), static_cast<std::int32_t>(e), acc);
    partial[part] = acc;
  });
  partial.resize(static_cast<std::size_t>(parts));
  return sum_parts(partial);
}

}  // namespace xbar::solver::sweeps
